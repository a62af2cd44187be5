//! Prive (Recurly Commerce): REST under `{base}/api/v1`, from their OpenAPI file. A skip names
//! the upcoming order by its date and answers with the order, so the new date is read back.

use async_trait::async_trait;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use reqwest::Method;
use serde_json::Value;

use super::{Platform, WriteResult};
use crate::domain::{
    NextDate, PlatformKind, Shopper, Subscription, instant_for, parse_platform_date,
};
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
    pub fn by_customer(shopify_customer_id: &str) -> String {
        format!(
            "/api/v1/subscriptions?subscriberExternalId={}&status=ACTIVE",
            enc(shopify_customer_id)
        )
    }
    pub fn by_email(email: &str) -> String {
        format!(
            "/api/v1/subscriptions?subscriberEmail={}&status=ACTIVE",
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
    /// Both fields are required; keyroute moves billing and delivery together.
    pub fn set_date_body(iso: &str) -> serde_json::Value {
        serde_json::json!({ "nextBillingDate": iso, "nextDeliveryDate": iso })
    }
}

/// The date part of the order a skip must name.
const SKIP_DAY: &str = "skip_day";

pub struct Prive {
    client: Account,
    tz: TimeZone,
}

impl Prive {
    pub fn new(client: Account, tz: TimeZone) -> Self {
        Self { client, tz }
    }

    /// The next order is the first upcoming order not already skipped; without an upcoming
    /// list, the next billing date.
    fn to_subscription(&self, v: &Value) -> Option<Subscription> {
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
        let next = parse_platform_date(scheduled, &self.tz)?;
        let mut extra = std::collections::HashMap::new();
        extra.insert(SKIP_DAY.to_owned(), scheduled.chars().take(10).collect());
        Some(Subscription {
            platform: PlatformKind::Prive,
            id,
            next,
            extra,
        })
    }

    async fn read(&self, id: &str) -> Result<Option<Subscription>, OutboundError> {
        let v = self
            .client
            .json_call("get", Method::GET, &wire::one(id), None)
            .await?;
        Ok(self.to_subscription(&v))
    }
}

#[async_trait]
impl Platform for Prive {
    fn kind(&self) -> PlatformKind {
        PlatformKind::Prive
    }

    async fn find_active(&self, shopper: &Shopper) -> Result<Vec<Subscription>, OutboundError> {
        let path = match (&shopper.shopify_customer_id, &shopper.email) {
            (Some(id), _) => wire::by_customer(id),
            (None, Some(email)) => wire::by_email(email),
            (None, None) => return Ok(Vec::new()),
        };
        let page = self
            .client
            .json_call("lookup", Method::GET, &path, None)
            .await?;
        Ok(page
            .get("subscriptions")
            .and_then(Value::as_array)
            .map(|subs| {
                subs.iter()
                    .filter_map(|s| self.to_subscription(s))
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn get(
        &self,
        _shopper: &Shopper,
        sub: &Subscription,
    ) -> Result<Option<Subscription>, OutboundError> {
        self.read(&sub.id).await
    }

    async fn skip_next(&self, sub: &Subscription) -> WriteResult {
        let day = sub
            .extra
            .get(SKIP_DAY)
            .cloned()
            .unwrap_or_else(|| sub.next.date.to_string());
        let body: Value = serde_json::from_str(wire::SKIP_BODY).expect("static JSON");
        self.client
            .json_call(
                "skip",
                Method::PATCH,
                &wire::skip(&sub.id, &day),
                Some(body),
            )
            .await?;
        // The answer is the skipped order, not the subscription: read the new date back.
        Ok(None)
    }

    async fn set_next_date(&self, sub: &Subscription, date: Date) -> WriteResult {
        let at = instant_for(date, &sub.next, &self.tz);
        let answer = self
            .client
            .json_call(
                "set_date",
                Method::PATCH,
                &wire::set_date(&sub.id),
                Some(wire::set_date_body(&at.to_string())),
            )
            .await?;
        Ok(self
            .to_subscription(&answer)
            .map(|s| s.next)
            .or(Some(NextDate { date, at: Some(at) })))
    }
}
