//! Recharge: REST at `{base}`, version 2021-11. A skip acts on the queued charge holding the
//! subscription, looked up fresh every time (a skip or a new date replaces the queued charge
//! under a new id), and answers with the charge, so the new date is read back.

use async_trait::async_trait;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use reqwest::Method;
use serde_json::{Value, json};

use super::{Platform, PreparedWrite};
use crate::domain::{PlatformKind, Shopper, Subscription, parse_platform_date};
use crate::outbound::{Account, OutboundError};

/// Recharge's wire format (doc for headers and limits; code for the calls).
pub mod wire {
    use reqwest::header::{HeaderName, HeaderValue};
    use secrecy::SecretString;

    pub const VERSION: &str = "2021-11";

    pub fn auth(token: &SecretString) -> reqwest::header::HeaderMap {
        let mut h = crate::outbound::secret_header("x-recharge-access-token", "", token);
        h.insert(
            HeaderName::from_static("x-recharge-version"),
            HeaderValue::from_static(VERSION),
        );
        h
    }

    fn enc(s: &str) -> String {
        url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
    }
    /// Records per list page: the most 2021-11 allows (its default is 50).
    pub const PAGE: usize = 250;
    pub fn customers_by_email(email: &str) -> String {
        format!("/customers?email={}&limit={PAGE}", enc(email))
    }
    pub fn active_subscriptions(customer_id: &str) -> String {
        format!(
            "/subscriptions?customer_id={}&status=active&limit={PAGE}",
            enc(customer_id)
        )
    }
    pub fn queued_charges(customer_id: &str) -> String {
        format!(
            "/charges?customer_id={}&status=queued&limit={PAGE}",
            enc(customer_id)
        )
    }
    /// The next page of a list: the cursor carries the filters and the order.
    pub fn next_page(resource: &str, cursor: &str) -> String {
        format!("/{resource}?cursor={}&limit={PAGE}", enc(cursor))
    }
    pub fn skip_charge(charge_id: &str) -> String {
        format!("/charges/{charge_id}/skip")
    }
    pub fn one(id: &str) -> String {
        format!("/subscriptions/{id}")
    }
    pub fn set_date(id: &str) -> String {
        format!("/subscriptions/{id}/set_next_charge_date")
    }
}

const CUSTOMER: &str = "customer_id";

pub struct Recharge {
    client: Account,
    tz: TimeZone,
}

fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn to_subscription(tz: &TimeZone, v: &Value) -> Option<Subscription> {
    if !v.get("status")?.as_str()?.eq_ignore_ascii_case("active") {
        return None;
    }
    let mut extra = std::collections::HashMap::new();
    if let Some(c) = v.get("customer_id").and_then(id_of) {
        extra.insert(CUSTOMER.to_owned(), c);
    }
    Some(Subscription {
        platform: PlatformKind::Recharge,
        id: id_of(v.get("id")?)?,
        next: parse_platform_date(v.get("next_charge_scheduled_at")?.as_str()?, tz)?,
        extra,
    })
}

const SERVICE: &str = "recharge";

/// Recharge ids are integers; send them as numbers when they are.
fn id_value(id: &str) -> Value {
    id.parse::<i64>().map_or_else(|_| json!(id), |n| json!(n))
}

/// Pages a shopper's list may span before the lookup gives up (250 records each).
const MAX_PAGES: usize = 20;

impl Recharge {
    pub fn new(client: Account, tz: TimeZone) -> Self {
        Self { client, tz }
    }

    /// Every record of a list, following `next_cursor` page by page. A list longer than
    /// [`MAX_PAGES`] is an error rather than a silent cut: the record the shopper means may
    /// be on a page not read.
    async fn list_all(
        &self,
        op: &'static str,
        resource: &str,
        first: String,
    ) -> Result<Vec<Value>, OutboundError> {
        let mut out = Vec::new();
        let mut path = first;
        for _ in 0..MAX_PAGES {
            let v = self.client.json_call(op, Method::GET, &path, None).await?;
            if let Some(list) = v.get(resource).and_then(Value::as_array) {
                out.extend(list.iter().cloned());
            }
            match v.get("next_cursor").and_then(Value::as_str) {
                Some(c) if !c.is_empty() => path = wire::next_page(resource, c),
                _ => return Ok(out),
            }
        }
        Err(OutboundError::operator(
            SERVICE,
            op,
            format!("{resource}: more than {MAX_PAGES} pages of {}", wire::PAGE),
        ))
    }

    fn to_subscription(&self, v: &Value) -> Option<Subscription> {
        to_subscription(&self.tz, v)
    }

    async fn read(&self, id: &str) -> Result<Option<Subscription>, OutboundError> {
        let v = self
            .client
            .json_call("get", Method::GET, &wire::one(id), None)
            .await?;
        Ok(v.get("subscription").and_then(|s| self.to_subscription(s)))
    }

    /// The queued charge that holds this subscription's next order.
    async fn queued_charge(&self, sub: &Subscription) -> Result<Option<String>, OutboundError> {
        let Some(customer) = sub.extra.get(CUSTOMER) else {
            return Ok(None);
        };
        let charges = self
            .list_all("charges", "charges", wire::queued_charges(customer))
            .await?;
        let holds = |c: &Value| {
            c.get("line_items")
                .and_then(Value::as_array)
                .is_some_and(|items| {
                    items.iter().any(|i| {
                        i.get("purchase_item_id").and_then(id_of).as_deref() == Some(&sub.id)
                    })
                })
        };
        // Only the charge on the subscription's next date is the order the shopper means; a
        // later queued charge holding the same subscription is a later order.
        let on_date = |c: &Value| {
            c.get("scheduled_at")
                .and_then(Value::as_str)
                .and_then(|d| parse_platform_date(d, &self.tz))
                .is_some_and(|d| d.date == sub.next.date)
        };
        Ok(charges
            .iter()
            .find(|c| holds(c) && on_date(c))
            .and_then(|c| c.get("id").and_then(id_of)))
    }
}

#[async_trait]
impl Platform for Recharge {
    fn kind(&self) -> PlatformKind {
        PlatformKind::Recharge
    }

    fn needs_identity(&self, shopper: &Shopper) -> bool {
        shopper.email.is_none()
    }

    async fn find_active(&self, shopper: &Shopper) -> Result<Vec<Subscription>, OutboundError> {
        let Some(email) = &shopper.email else {
            return Ok(Vec::new());
        };
        let customers: Vec<String> = self
            .list_all("customer", "customers", wire::customers_by_email(email))
            .await?
            .iter()
            .filter_map(|c| c.get("id").and_then(id_of))
            .collect();
        let mut subs = Vec::new();
        for customer in customers {
            let list = self
                .list_all(
                    "lookup",
                    "subscriptions",
                    wire::active_subscriptions(&customer),
                )
                .await?;
            subs.extend(list.iter().filter_map(|s| {
                let mut sub = self.to_subscription(s)?;
                sub.extra
                    .entry(CUSTOMER.to_owned())
                    .or_insert_with(|| customer.clone());
                Some(sub)
            }));
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
        let Some(charge) = self.queued_charge(sub).await? else {
            // Recharge regenerates queued charges after changes; until the charge for this date
            // is there, the skip cannot name it. Never skip another (later) charge instead.
            return Err(OutboundError::retryable(
                SERVICE,
                "skip",
                format!(
                    "no queued charge on the subscription's next date {}",
                    sub.next.date
                ),
            ));
        };
        let req = self
            .client
            .request(Method::POST, &wire::skip_charge(&charge))
            .json(&json!({ "purchase_item_ids": [id_value(&sub.id)] }));
        Ok(PreparedWrite::new(
            self.client.ready("skip", req).await,
            |answer| {
                answer.json::<Value>()?;
                // The answer is the skipped charge: read the subscription for its new date.
                Ok(None)
            },
        ))
    }

    async fn prepare_set_date(
        &self,
        sub: &Subscription,
        date: Date,
    ) -> Result<PreparedWrite, OutboundError> {
        let req = self
            .client
            .request(Method::POST, &wire::set_date(&sub.id))
            .json(&json!({ "date": date.to_string() }));
        let tz = self.tz.clone();
        Ok(PreparedWrite::new(
            self.client.ready("set_date", req).await,
            move |answer| {
                let v: Value = answer.json()?;
                Ok(v.get("subscription")
                    .and_then(|s| to_subscription(&tz, s))
                    .map(|s| s.next))
            },
        ))
    }
}
