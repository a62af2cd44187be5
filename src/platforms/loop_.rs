//! Loop Subscriptions: REST under `{base}/admin/2023-10`, answers wrapped in
//! `{"success", "message", "data", "code"}`. The least certain of the platforms; every guess is
//! in [`wire`].

use async_trait::async_trait;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use super::{Platform, PreparedWrite};
use crate::cache::TtlCache;
use crate::domain::{PlatformKind, Shopper, Subscription, epoch_to_next, instant_for};
use crate::outbound::{Account, Answer, OutboundError};

/// Loop's wire format. Unverified (platforms.md): the skip path, and the reschedule field name
/// (the doc says `nextBillingDateEpoch`, working code sends `newBillingDateEpoch`; we send both).
pub mod wire {
    use secrecy::SecretString;

    pub const PREFIX: &str = "/admin/2023-10";

    pub fn auth(token: &SecretString) -> reqwest::header::HeaderMap {
        crate::outbound::secret_header("x-loop-token", "", token)
    }

    pub fn by_customer(shopify_customer_id: &str) -> String {
        format!(
            "{PREFIX}/subscription?customerShopifyId={}",
            urlencode(shopify_customer_id)
        )
    }
    pub fn customer_by_email(email: &str) -> String {
        format!("{PREFIX}/customer?email={}", urlencode(email))
    }
    pub fn one(id: &str) -> String {
        format!("{PREFIX}/subscription/{id}")
    }
    pub fn skip(id: &str) -> String {
        format!("{PREFIX}/subscription/{id}/skipNext")
    }
    pub fn reschedule(id: &str) -> String {
        format!("{PREFIX}/subscription/{id}/reschedule")
    }
    /// Loop's overall limit per store is 10 requests/s (doc); keyroute paces at 9/s. Every
    /// Loop limit is counted by Loop over windows of its own clock, and two requests paced
    /// exactly at the limit can arrive closer together than they left: the margin absorbs it.
    pub const REQUESTS_PER_SECOND: u32 = 9;
    /// The same margin on the per-endpoint limits.
    const MARGIN: f64 = 1.07;

    /// Loop's per-endpoint limits per store (doc), on top of the overall one: 5/s on
    /// reschedule and read-one; list subscriptions 2 per 3 s; list customers 1/s. Paced, never
    /// bursting, so no window of the vendor's ever holds more than its limit. A configured
    /// `requests_per_second` scales them all by the same factor (`scale` = configured / 9).
    pub fn limits(account: crate::outbound::Account, scale: f64) -> crate::outbound::Account {
        use std::time::Duration;
        let every = |ms: f64| {
            let d = Duration::from_secs_f64(ms * MARGIN / scale.max(1e-3) / 1000.0)
                .max(Duration::from_micros(1));
            governor::Quota::with_period(d)
                .expect("a non-zero period")
                .allow_burst(std::num::NonZeroU32::MIN)
        };
        account
            .with_op_limit(&["get", "set_date"], "loop:per-subscription", every(200.0))
            .with_op_limit(&["lookup"], "loop:list-subscriptions", every(1500.0))
            .with_op_limit(&["customer"], "loop:list-customers", every(1000.0))
    }

    pub fn reschedule_body(epoch: i64) -> serde_json::Value {
        serde_json::json!({
            "nextBillingDateEpoch": epoch,
            "newBillingDateEpoch": epoch,
            "rescheduleFutureOrders": true,
        })
    }

    fn urlencode(s: &str) -> String {
        url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
    }
}

pub struct Loop {
    client: Account,
    tz: TimeZone,
    /// Shopify customer ids found by email: Loop's customer list allows 1 call a second, so a
    /// wave of SKIPs must not ask twice for the same shopper (kept as long as the Postscript
    /// subscriber is).
    customers: TtlCache<String, Option<String>>,
}

#[derive(Deserialize)]
struct Wrapped {
    #[serde(default)]
    success: Option<bool>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    data: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoopSubscription {
    id: Value,
    #[serde(default)]
    status: String,
    next_billing_date_epoch: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoopCustomer {
    shopify_id: Value,
    #[serde(default)]
    email: Option<String>,
}

/// Loop ids arrive as numbers or strings; writes take the bare internal number.
fn id_string(v: &Value) -> Option<String> {
    let s = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim_start_matches("loop-").to_owned(),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

fn to_subscription(tz: &TimeZone, v: Value) -> Option<Subscription> {
    let s: LoopSubscription = serde_json::from_value(v).ok()?;
    if !s.status.eq_ignore_ascii_case("ACTIVE") {
        return None;
    }
    Some(Subscription {
        platform: PlatformKind::Loop,
        id: id_string(&s.id)?,
        next: epoch_to_next(s.next_billing_date_epoch?, tz)?,
        extra: Default::default(),
    })
}

/// Loop's envelope: `data` of a 2xx, with `success: false` as a refusal.
fn unwrap(op: &'static str, answer: &Answer) -> Result<Value, OutboundError> {
    if !answer.status.is_success() {
        return Err(answer.refusal());
    }
    // Writes may answer with an empty body; that is success too.
    if answer.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    let w: Wrapped = answer.json()?;
    if w.success == Some(false) {
        return Err(OutboundError::refused(
            "loop",
            op,
            w.message.unwrap_or_else(|| "success: false".to_owned()),
        ));
    }
    Ok(w.data)
}

impl Loop {
    pub fn new(client: Account, tz: TimeZone, cache_ttl: std::time::Duration) -> Self {
        Self {
            client,
            tz,
            customers: TtlCache::new(cache_ttl),
        }
    }

    /// A read: as [`Loop::call`], but a 404 (Loop's answer for a customer or subscription it
    /// does not know) is "not there", not an error.
    async fn read(&self, op: &'static str, path: &str) -> Result<Option<Value>, OutboundError> {
        let answer = self
            .client
            .send(op, self.client.request(Method::GET, path))
            .await?;
        if answer.status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        unwrap(op, &answer).map(Some)
    }

    fn to_subscription(&self, v: Value) -> Option<Subscription> {
        to_subscription(&self.tz, v)
    }

    fn list(&self, data: Value) -> Vec<Subscription> {
        let items = match data {
            Value::Array(items) => items,
            Value::Object(_) => vec![data],
            _ => Vec::new(),
        };
        items
            .into_iter()
            .filter_map(|v| self.to_subscription(v))
            .collect()
    }

    /// The Shopify customer id: from the shopper, else Loop's customer search by email.
    async fn customer_id(&self, shopper: &Shopper) -> Result<Option<String>, OutboundError> {
        if let Some(id) = &shopper.shopify_customer_id {
            return Ok(Some(id.clone()));
        }
        let Some(email) = &shopper.email else {
            return Ok(None);
        };
        let key = email.to_lowercase();
        if let Some(hit) = self.customers.get(&key) {
            return Ok(hit);
        }
        let found = match self
            .read("customer", &wire::customer_by_email(email))
            .await?
        {
            Some(Value::Array(a)) => a,
            Some(v @ Value::Object(_)) => vec![v],
            _ => Vec::new(),
        };
        // Only the customer with exactly this email is the shopper: a search that also
        // matches other addresses ("ann@" in "joann@") must not pick the first hit.
        // A lone record that does not say its email is taken as the search's answer.
        let customers: Vec<LoopCustomer> = found
            .into_iter()
            .filter_map(|c| serde_json::from_value::<LoopCustomer>(c).ok())
            .collect();
        let lone = customers.len() == 1 && customers[0].email.is_none();
        let id = customers
            .iter()
            .find(|c| {
                lone || c
                    .email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(email))
            })
            .and_then(|c| id_string(&c.shopify_id));
        self.customers.insert(key, id.clone());
        Ok(id)
    }
}

#[async_trait]
impl Platform for Loop {
    fn kind(&self) -> PlatformKind {
        PlatformKind::Loop
    }

    async fn find_active(&self, shopper: &Shopper) -> Result<Vec<Subscription>, OutboundError> {
        let Some(customer) = self.customer_id(shopper).await? else {
            return Ok(Vec::new());
        };
        let data = self.read("lookup", &wire::by_customer(&customer)).await?;
        Ok(data.map(|d| self.list(d)).unwrap_or_default())
    }

    async fn get(
        &self,
        _shopper: &Shopper,
        sub: &Subscription,
    ) -> Result<Option<Subscription>, OutboundError> {
        let data = self.read("get", &wire::one(&sub.id)).await?;
        Ok(data.and_then(|d| self.to_subscription(d)))
    }

    async fn prepare_skip(&self, sub: &Subscription) -> Result<PreparedWrite, OutboundError> {
        let req = self.client.request(Method::POST, &wire::skip(&sub.id));
        Ok(PreparedWrite::new(
            self.client.ready("skip", req).await,
            |answer| {
                unwrap("skip", &answer)?;
                // The answer's shape is unknown (assume no date): the caller reads back.
                Ok(None)
            },
        ))
    }

    async fn prepare_set_date(
        &self,
        sub: &Subscription,
        date: Date,
    ) -> Result<PreparedWrite, OutboundError> {
        let at = instant_for(date, &sub.next, &self.tz);
        let req = self
            .client
            .request(Method::POST, &wire::reschedule(&sub.id))
            .json(&wire::reschedule_body(at.as_second()));
        let tz = self.tz.clone();
        Ok(PreparedWrite::new(
            self.client.ready("set_date", req).await,
            move |answer| {
                let data = unwrap("set_date", &answer)?;
                // The date Loop holds when the answer carries the subscription; otherwise the
                // caller reads it back (never the date we asked for).
                Ok(to_subscription(&tz, data).map(|s| s.next))
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_normalise() {
        assert_eq!(id_string(&json!(41001)).as_deref(), Some("41001"));
        assert_eq!(id_string(&json!("loop-41001")).as_deref(), Some("41001"));
        assert_eq!(id_string(&json!(null)), None);
    }
}
