//! Smartrr: REST under `{base}/vendor`. Finds a shopper by email through their orders (which
//! carry the customer relationship id), then lists that customer's purchase states.

use std::collections::BTreeSet;

use async_trait::async_trait;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use reqwest::Method;
use serde_json::Value;

use super::{Platform, PreparedWrite};
use crate::domain::{PlatformKind, Shopper, Subscription, parse_platform_date};
use crate::outbound::{Account, OutboundError};

/// Smartrr's wire format. Unverified (platforms.md): the purchase-state field names
/// (`purchaseStateStatus`, `nextBillingDate`) and the set-date body field.
pub mod wire {
    use secrecy::SecretString;

    pub fn auth(token: &SecretString) -> reqwest::header::HeaderMap {
        crate::outbound::secret_header("x-smartrr-access-token", "", token)
    }

    /// Orders per page asked for (unverified paging: `pageNumber` from 0, `pageSize`, and
    /// `totalCount` in the answer), and how many pages at most.
    pub const PAGE_SIZE: usize = 100;
    pub const MAX_PAGES: usize = 10;

    /// `filterLike` is a substring match on email or name: the caller keeps only exact
    /// (case-insensitive) email matches.
    pub fn orders_by_email(email: &str, page: usize) -> String {
        let email: String = url::form_urlencoded::byte_serialize(email.as_bytes()).collect();
        format!(
            "/vendor/order/formatted?filterLike%5BemailOrName%5D={email}&pageNumber={page}&pageSize={PAGE_SIZE}"
        )
    }
    pub fn purchase_states(cust_rel: &str) -> String {
        format!("/vendor/customer/{cust_rel}/purchase-state/")
    }
    pub fn skip(cust_rel: &str, id: &str) -> String {
        format!("/vendor/customer/{cust_rel}/purchase-state/{id}/skip")
    }
    pub fn set_date(cust_rel: &str, id: &str) -> String {
        format!("/vendor/customer/{cust_rel}/purchase-state/{id}/next-billing-date")
    }
    pub fn set_date_body(date: &str) -> serde_json::Value {
        serde_json::json!({ "nextBillingDate": date })
    }
    pub const STATUS: &str = "purchaseStateStatus";
    pub const NEXT: &str = "nextBillingDate";
    pub const ACTIVE: &str = "ACTIVE";
}

/// The customer relationship a purchase state belongs to; writes need it in the path.
const CUST_REL: &str = "cust_rel_id";

pub struct Smartrr {
    client: Account,
    tz: TimeZone,
}

/// Writes answer with the updated purchase state (bare, or wrapped in `data`).
fn written(tz: &TimeZone, answer: Value) -> Option<crate::domain::NextDate> {
    let state = match answer {
        Value::Object(mut o) if o.contains_key("data") => o.remove("data")?,
        v => v,
    };
    parse_platform_date(state.get(wire::NEXT)?.as_str()?, tz)
}

/// List answers are documented as `{"data": [...]}`; accept a bare array too.
fn items(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        Value::Object(mut o) => match o.remove("data") {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

fn str_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Smartrr {
    pub fn new(client: Account, tz: TimeZone) -> Self {
        Self { client, tz }
    }

    fn to_subscription(&self, cust_rel: &str, v: &Value) -> Option<Subscription> {
        if !v
            .get(wire::STATUS)?
            .as_str()?
            .eq_ignore_ascii_case(wire::ACTIVE)
        {
            return None;
        }
        Some(Subscription {
            platform: PlatformKind::Smartrr,
            id: str_of(v.get("id")?)?,
            next: parse_platform_date(v.get(wire::NEXT)?.as_str()?, &self.tz)?,
            extra: [(CUST_REL.to_owned(), cust_rel.to_owned())].into(),
        })
    }

    async fn purchase_states(&self, cust_rel: &str) -> Result<Vec<Subscription>, OutboundError> {
        let list = self
            .client
            .json_call("list", Method::GET, &wire::purchase_states(cust_rel), None)
            .await?;
        Ok(items(list)
            .iter()
            .filter_map(|v| self.to_subscription(cust_rel, v))
            .collect())
    }

    fn cust_rel<'a>(
        &self,
        sub: &'a Subscription,
        op: &'static str,
    ) -> Result<&'a str, OutboundError> {
        sub.extra
            .get(CUST_REL)
            .map(String::as_str)
            .ok_or(OutboundError::operator(
                "smartrr",
                op,
                "subscription without its customer relationship id",
            ))
    }
}

#[async_trait]
impl Platform for Smartrr {
    fn kind(&self) -> PlatformKind {
        PlatformKind::Smartrr
    }

    fn needs_identity(&self, shopper: &Shopper) -> bool {
        shopper.email.is_none()
    }

    async fn find_active(&self, shopper: &Shopper) -> Result<Vec<Subscription>, OutboundError> {
        let Some(email) = &shopper.email else {
            return Ok(Vec::new());
        };
        // Every order names its customer relationship; a shopper has one, rarely more. The
        // filter also finds other people whose email contains this one (ann@ finds joann@):
        // only exact matches are this shopper.
        let mut rels = BTreeSet::new();
        for page in 0..wire::MAX_PAGES {
            let answer = self
                .client
                .json_call(
                    "lookup",
                    Method::GET,
                    &wire::orders_by_email(email, page),
                    None,
                )
                .await?;
            let total = answer.get("totalCount").and_then(Value::as_u64);
            let orders = items(answer);
            let n = orders.len();
            rels.extend(
                orders
                    .iter()
                    .filter(|o| {
                        o.pointer("/custRel/email")
                            .and_then(Value::as_str)
                            .is_some_and(|e| e.eq_ignore_ascii_case(email))
                    })
                    .filter_map(|o| o.pointer("/custRel/id").and_then(str_of)),
            );
            let seen = (page * wire::PAGE_SIZE + n) as u64;
            if n < wire::PAGE_SIZE || total.is_none_or(|t| seen >= t) {
                break;
            }
        }
        let mut subs = Vec::new();
        for rel in rels {
            subs.extend(self.purchase_states(&rel).await?);
        }
        Ok(subs)
    }

    async fn get(
        &self,
        _shopper: &Shopper,
        sub: &Subscription,
    ) -> Result<Option<Subscription>, OutboundError> {
        let rel = self.cust_rel(sub, "list")?;
        Ok(self
            .purchase_states(rel)
            .await?
            .into_iter()
            .find(|s| s.id == sub.id))
    }

    async fn prepare_skip(&self, sub: &Subscription) -> Result<PreparedWrite, OutboundError> {
        let rel = self.cust_rel(sub, "skip")?;
        let req = self.client.request(Method::PUT, &wire::skip(rel, &sub.id));
        let (tz, before) = (self.tz.clone(), sub.next.date);
        Ok(PreparedWrite::new(
            self.client.ready("skip", req).await,
            move |answer| {
                // Whether a skip moves nextBillingDate or only marks the order skipped is
                // undocumented: a date that did not move is not reported; the caller reads
                // the purchase state back.
                Ok(written(&tz, answer.json()?).filter(|d| d.date > before))
            },
        ))
    }

    async fn prepare_set_date(
        &self,
        sub: &Subscription,
        date: Date,
    ) -> Result<PreparedWrite, OutboundError> {
        let rel = self.cust_rel(sub, "set_date")?;
        let req = self
            .client
            .request(Method::PUT, &wire::set_date(rel, &sub.id))
            .json(&wire::set_date_body(&date.to_string()));
        let tz = self.tz.clone();
        Ok(PreparedWrite::new(
            self.client.ready("set_date", req).await,
            move |answer| Ok(written(&tz, answer.json()?)),
        ))
    }
}
