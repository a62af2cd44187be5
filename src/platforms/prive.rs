//! Prive (Recurly Commerce): REST under `{base}/api/v1`, from their OpenAPI file. A skip names
//! the upcoming order by its date and answers with the order, so the new date is read back.

use async_trait::async_trait;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use reqwest::Method;
use serde_json::Value;

use super::{Platform, PreparedWrite};
use crate::domain::{PlatformKind, Shopper, Subscription, instant_for, parse_platform_date};
use crate::outbound::{Account, OutboundError};

/// Prive's wire format (doc: their OpenAPI file, possibly stale).
pub mod wire {
    use secrecy::SecretString;

    pub fn auth(token: &SecretString) -> reqwest::header::HeaderMap {
        crate::outbound::secret_header("authorization", "Bearer ", token)
    }

    fn enc(s: &str) -> String {
        url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
    }
    /// `page` and `limit` are required (the spec's defaults are 1 and 10); keyroute asks for
    /// 50 a page and follows `totalPages`.
    pub const PAGE_SIZE: u32 = 50;
    /// More pages than any shopper has; a runaway `totalPages` stops here.
    pub const MAX_PAGES: u32 = 20;

    pub fn by_customer(shopify_customer_id: &str, page: u32) -> String {
        format!(
            "/api/v1/subscriptions?subscriberExternalId={}&status=ACTIVE&page={page}&limit={PAGE_SIZE}",
            enc(shopify_customer_id)
        )
    }
    pub fn by_email(email: &str, page: u32) -> String {
        format!(
            "/api/v1/subscriptions?subscriberEmail={}&status=ACTIVE&page={page}&limit={PAGE_SIZE}",
            enc(email)
        )
    }
    pub fn one(id: &str) -> String {
        format!("/api/v1/subscriptions/{id}")
    }
    /// `day` is the date part of the upcoming order's `scheduledDate`, as Prive wrote it.
    pub fn skip(id: &str, day: &str) -> String {
        format!("/api/v1/subscriptions/{id}/upcomingOrders/{day}/skip")
    }
    pub const SKIP_BODY: &str = r#"{"skip":true}"#;
    pub fn set_date(id: &str) -> String {
        format!("/api/v1/subscriptions/{id}/nextBillingAndDeliveryDate")
    }
    /// Both fields are required and independent: keyroute moves both by the same number of
    /// days, keeping the subscription's gap between billing and delivery.
    pub fn set_date_body(billing: &str, delivery: &str) -> serde_json::Value {
        serde_json::json!({ "nextBillingDate": billing, "nextDeliveryDate": delivery })
    }
}

/// The date part of the order a skip must name.
const SKIP_DAY: &str = "skip_day";
/// The subscription's next billing and delivery instants as Prive wrote them.
const BILLING: &str = "next_billing";
const DELIVERY: &str = "next_delivery";

pub struct Prive {
    client: Account,
    tz: TimeZone,
}

impl Prive {
    pub fn new(client: Account, tz: TimeZone) -> Self {
        Self { client, tz }
    }

    fn to_subscription(&self, v: &Value) -> Option<Subscription> {
        to_subscription(&self.tz, v)
    }

    async fn read(&self, id: &str) -> Result<Option<Subscription>, OutboundError> {
        let v = self
            .client
            .json_call("get", Method::GET, &wire::one(id), None)
            .await?;
        Ok(self.to_subscription(&v))
    }
}

/// The next order is the first upcoming order not already skipped; without an upcoming list,
/// the next billing date.
fn to_subscription(tz: &TimeZone, v: &Value) -> Option<Subscription> {
    let v = v.get("subscription").unwrap_or(v);
    if !v.get("status")?.as_str()?.eq_ignore_ascii_case("ACTIVE") {
        return None;
    }
    let id = match v.get("id")? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let upcoming = v
        .get("upcomingOrders")
        .and_then(Value::as_array)
        .and_then(|orders| {
            orders
                .iter()
                .filter(|o| !o.get("isSkipped").and_then(Value::as_bool).unwrap_or(false))
                .filter_map(|o| o.get("scheduledDate").and_then(Value::as_str))
                .min()
        });
    let scheduled = upcoming.or_else(|| v.get("nextBillingDate").and_then(Value::as_str))?;
    let next = parse_platform_date(scheduled, tz)?;
    let mut extra = std::collections::HashMap::new();
    extra.insert(SKIP_DAY.to_owned(), scheduled.chars().take(10).collect());
    for (key, field) in [(BILLING, "nextBillingDate"), (DELIVERY, "nextDeliveryDate")] {
        if let Some(d) = v.get(field).and_then(Value::as_str) {
            extra.insert(key.to_owned(), d.to_owned());
        }
    }
    Some(Subscription {
        platform: PlatformKind::Prive,
        id,
        next,
        extra,
    })
}

#[async_trait]
impl Platform for Prive {
    fn kind(&self) -> PlatformKind {
        PlatformKind::Prive
    }

    async fn find_active(&self, shopper: &Shopper) -> Result<Vec<Subscription>, OutboundError> {
        let path = |page| match (&shopper.shopify_customer_id, &shopper.email) {
            (Some(id), _) => Some(wire::by_customer(id, page)),
            (None, Some(email)) => Some(wire::by_email(email, page)),
            (None, None) => None,
        };
        let mut subs = Vec::new();
        let mut page = 1;
        while let Some(p) = path(page) {
            let answer = self
                .client
                .json_call("lookup", Method::GET, &p, None)
                .await?;
            subs.extend(
                answer
                    .get("subscriptions")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|s| self.to_subscription(s)),
            );
            let pages = answer
                .get("totalPages")
                .and_then(Value::as_u64)
                .unwrap_or(1);
            if u64::from(page) >= pages.min(u64::from(wire::MAX_PAGES)) {
                break;
            }
            page += 1;
        }
        Ok(subs)
    }

    async fn get(
        &self,
        _shopper: &Shopper,
        sub: &Subscription,
    ) -> Result<Option<Subscription>, OutboundError> {
        self.read(&sub.id).await
    }

    async fn prepare_skip(&self, sub: &Subscription) -> Result<PreparedWrite, OutboundError> {
        let day = sub
            .extra
            .get(SKIP_DAY)
            .cloned()
            .unwrap_or_else(|| sub.next.date.to_string());
        let body: Value = serde_json::from_str(wire::SKIP_BODY).expect("static JSON");
        let req = self
            .client
            .request(Method::PATCH, &wire::skip(&sub.id, &day))
            .json(&body);
        Ok(PreparedWrite::new(
            self.client.ready("skip", req).await,
            |answer| {
                answer.json::<Value>()?;
                // The answer is the skipped order, not the subscription: read the new date back.
                Ok(None)
            },
        ))
    }

    async fn prepare_set_date(
        &self,
        sub: &Subscription,
        date: Date,
    ) -> Result<PreparedWrite, OutboundError> {
        // Move billing and delivery by the same number of days, so the gap between them stays.
        let shift = (date - sub.next.date).get_days();
        let moved = |key: &str| -> Option<String> {
            let old = parse_platform_date(sub.extra.get(key)?, &self.tz)?;
            let at = instant_for(add_days_signed(old.date, shift)?, &old, &self.tz);
            Some(at.to_string())
        };
        let billing =
            moved(BILLING).unwrap_or_else(|| instant_for(date, &sub.next, &self.tz).to_string());
        let delivery = moved(DELIVERY).unwrap_or_else(|| billing.clone());
        let req = self
            .client
            .request(Method::PATCH, &wire::set_date(&sub.id))
            .json(&wire::set_date_body(&billing, &delivery));
        let tz = self.tz.clone();
        Ok(PreparedWrite::new(
            self.client.ready("set_date", req).await,
            move |answer| {
                // The answer is the subscription with its new dates: report those.
                let v: Value = answer.json()?;
                Ok(to_subscription(&tz, &v).map(|s| s.next))
            },
        ))
    }
}

/// `date` moved by `days` (either way).
fn add_days_signed(date: Date, days: i32) -> Option<Date> {
    date.checked_add(jiff::Span::new().days(i64::from(days)))
        .ok()
}
