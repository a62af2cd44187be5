//! Simulated Recharge REST API, version 2021-11 (`X-Recharge-Access-Token: <token>` and
//! `X-Recharge-Version: 2021-11`, paths at the root).
//!
//! Recharge skips a *charge*, not a subscription: every active subscription sits in one queued
//! charge on its `next_charge_scheduled_at`, and subscriptions of one customer billed on the same
//! day to the same address share that charge as several line items. Skipping some line items of
//! a charge moves those subscriptions one interval on, and a new queued charge, under a new id,
//! is made for the new date; a new date does the same. So a charge id goes stale after any write,
//! which is what `shared/platforms.md` warns clients about. Errors are `{"errors": "..."}` or
//! `{"errors": {"field": ["..."]}}`; the rate limit is a leaky bucket of 40 draining 2 per second.
//!
//! Guesses of this simulator where `shared/platforms.md` is silent: a missing or other API
//! version is refused with 400 (the real API may fall back to an older version instead); skipping
//! part of a shared charge moves the skipped line items to a new skipped charge and leaves the
//! rest queued under the old id; a charge emptied by a new date is deleted (its id then answers
//! 404); `purchase_item_ids` is required; writes need an `active` subscription; status filters
//! are exact and case-sensitive.

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use jiff::SignedDuration;
use jiff::civil::Date;
use serde_json::{Value, json};

use super::common::{Incoming, Platform, RateLimit, Reply, Simulator, parse_ymd};

/// The only API version the simulator speaks, and the one keyroute must send.
const API_VERSION: &str = "2021-11";

/// Recharge's documented limit: a leaky bucket of 40 requests, draining 2 per second.
const RATE_LIMIT: RateLimit = RateLimit::LeakyBucket {
    capacity: 40,
    drain_per_second: 2,
};

/// Recharge's answer to skipping a charge that is not queued, also used for the refusal fault.
const ONLY_QUEUED: &str = "Only charges with status queued and error can be skipped";

/// First charge id handed out: far from any seeded subscription id, so a client that sends a
/// subscription id where a charge id belongs gets a 404 rather than a lucky match.
const FIRST_CHARGE_ID: i64 = 880_000_001;

/// A Recharge subscription as seeded into and read back from [`RechargeSim`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RechargeSub {
    /// Also the `purchase_item_id` of its line item in a charge.
    pub id: i64,
    /// The customer, created implicitly from the first subscription that names it.
    pub customer_id: i64,
    /// The customer's email, found by `GET /customers?email=` (case-insensitively).
    pub email: String,
    pub address_id: i64,
    /// `active` or `cancelled` (lower case). Only active ones have a queued charge.
    pub status: String,
    pub next_charge: Date,
    /// How far a skip moves `next_charge`.
    pub interval_days: i64,
}

/// Simulated Recharge; see the module docs.
pub type RechargeSim = Simulator<RechargeState>;

/// Recharge's state: subscriptions, their charges and the writes each subscription received.
pub struct RechargeState {
    api_token: String,
    subscriptions: Vec<RechargeSub>,
    /// Queued charges are derived from the active subscriptions (see [`Self::reconcile`]);
    /// skipped ones are kept as history, so a stale id answers 422 rather than 404.
    charges: Vec<Charge>,
    writes: HashMap<i64, Writes>,
    next_charge_id: i64,
}

/// One charge. Its line items are subscription ids.
#[derive(Clone, Debug)]
struct Charge {
    id: i64,
    customer_id: i64,
    address_id: i64,
    scheduled_at: Date,
    status: ChargeStatus,
    purchase_item_ids: Vec<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChargeStatus {
    Queued,
    Skipped,
}

impl ChargeStatus {
    fn as_str(self) -> &'static str {
        match self {
            ChargeStatus::Queued => "queued",
            ChargeStatus::Skipped => "skipped",
        }
    }
}

/// What puts subscriptions in the same charge: customer, address and day.
#[derive(Clone, Copy, PartialEq, Eq)]
struct ChargeKey {
    customer_id: i64,
    address_id: i64,
    scheduled_at: Date,
}

/// Effective writes on one subscription.
#[derive(Clone, Copy, Debug, Default)]
struct Writes {
    skips: u32,
    dates_set: u32,
}

/// A Recharge call, with path ids and query values as sent (decoded).
pub enum RechargeCall {
    /// Any request without `X-Recharge-Version: 2021-11`.
    BadVersion,
    /// `GET /customers?email=`.
    Customers {
        email: Option<String>,
    },
    /// `GET /subscriptions?customer_id=&status=`.
    Lookup {
        customer_id: Option<String>,
        status: Option<String>,
    },
    /// `GET /charges?customer_id=&status=`.
    Charges {
        customer_id: Option<String>,
        status: Option<String>,
    },
    /// `POST /charges/{id}/skip` with its body.
    Skip {
        charge_id: String,
        body: Option<Value>,
    },
    /// `GET /subscriptions/{id}`.
    Get(String),
    /// `POST /subscriptions/{id}/set_next_charge_date` with its body.
    SetDate {
        id: String,
        body: Option<Value>,
    },
    Unknown,
}

impl RechargeSim {
    /// Starts a Recharge simulator that accepts `X-Recharge-Access-Token: <api_token>` with
    /// `X-Recharge-Version: 2021-11`, with Recharge's leaky bucket (40, draining 2/s) on. Tests
    /// that need more use `set_rate_limit(None)` or `set_rate_limiter`.
    ///
    /// # Panics
    /// If `127.0.0.1:0` cannot be bound; see [`RechargeSim::try_start`].
    pub async fn start(api_token: &str) -> RechargeSim {
        Self::try_start(api_token)
            .await
            .expect("bind the Recharge simulator on 127.0.0.1")
    }

    /// Like [`RechargeSim::start`], returning the bind error instead of panicking.
    pub async fn try_start(api_token: &str) -> std::io::Result<RechargeSim> {
        Simulator::serve(RechargeState {
            api_token: api_token.to_owned(),
            subscriptions: Vec::new(),
            charges: Vec::new(),
            writes: HashMap::new(),
            next_charge_id: FIRST_CHARGE_ID,
        })
        .await
    }

    /// Adds a subscription, replacing any with the same id, and puts it in a queued charge if
    /// it is active (joining one of the same customer, address and day when there is one).
    pub fn add_subscription(&self, sub: RechargeSub) {
        self.with_state(|s| {
            match s.subscriptions.iter_mut().find(|x| x.id == sub.id) {
                Some(existing) => *existing = sub,
                None => s.subscriptions.push(sub),
            }
            s.reconcile();
        });
    }

    /// The subscription as it is now.
    pub fn subscription(&self, id: i64) -> Option<RechargeSub> {
        self.with_state(|s| s.find(id).cloned())
    }

    /// The id of the queued charge that holds this subscription now (`None` when it is not
    /// active or unknown). It changes after every skip or new date.
    pub fn queued_charge_id(&self, sub_id: i64) -> Option<i64> {
        self.with_state(|s| s.queued_charge_of(sub_id).map(|c| c.id))
    }

    /// How many skips were really applied to this subscription (faulted calls that applied
    /// count; refused, rejected and unauthorised ones do not).
    pub fn skips_applied(&self, id: i64) -> u32 {
        self.with_state(|s| s.writes.get(&id).map_or(0, |w| w.skips))
    }

    /// How many new next-charge dates were really applied to this subscription.
    pub fn dates_set(&self, id: i64) -> u32 {
        self.with_state(|s| s.writes.get(&id).map_or(0, |w| w.dates_set))
    }
}

impl ChargeKey {
    fn of(sub: &RechargeSub) -> ChargeKey {
        ChargeKey {
            customer_id: sub.customer_id,
            address_id: sub.address_id,
            scheduled_at: sub.next_charge,
        }
    }
}

impl Charge {
    fn key(&self) -> ChargeKey {
        ChargeKey {
            customer_id: self.customer_id,
            address_id: self.address_id,
            scheduled_at: self.scheduled_at,
        }
    }

    fn is_queued(&self) -> bool {
        self.status == ChargeStatus::Queued
    }

    fn json(&self) -> Value {
        let line_items: Vec<Value> = self
            .purchase_item_ids
            .iter()
            .map(|id| json!({ "purchase_item_id": id, "purchase_item_type": "subscription" }))
            .collect();
        json!({
            "id": self.id,
            "customer_id": self.customer_id,
            "address_id": self.address_id,
            "status": self.status.as_str(),
            "scheduled_at": self.scheduled_at.to_string(),
            "line_items": line_items,
        })
    }
}

fn subscription_json(sub: &RechargeSub) -> Value {
    json!({
        "id": sub.id,
        "customer_id": sub.customer_id,
        "address_id": sub.address_id,
        "status": sub.status,
        "next_charge_scheduled_at": sub.next_charge.to_string(),
        "order_interval_unit": "day",
        "order_interval_frequency": sub.interval_days,
    })
}

impl RechargeState {
    fn find(&self, id: i64) -> Option<&RechargeSub> {
        self.subscriptions.iter().find(|s| s.id == id)
    }

    fn queued_charge_of(&self, sub_id: i64) -> Option<&Charge> {
        self.charges
            .iter()
            .find(|c| c.is_queued() && c.purchase_item_ids.contains(&sub_id))
    }

    fn new_charge_id(&mut self) -> i64 {
        let id = self.next_charge_id;
        self.next_charge_id += 1;
        id
    }

    /// Brings the queued charges in line with the subscriptions: a line item leaves a queued
    /// charge when its subscription is gone, inactive or now due another day (or address);
    /// emptied queued charges are deleted; an active subscription without a queued charge
    /// joins the one for its customer, address and day, or gets a new one under a new id.
    fn reconcile(&mut self) {
        let subscriptions = &self.subscriptions;
        let belongs = |id: i64, key: ChargeKey| {
            subscriptions
                .iter()
                .any(|s| s.id == id && s.status == "active" && ChargeKey::of(s) == key)
        };
        for charge in self.charges.iter_mut().filter(|c| c.is_queued()) {
            let key = charge.key();
            charge.purchase_item_ids.retain(|&id| belongs(id, key));
        }
        self.charges
            .retain(|c| !c.is_queued() || !c.purchase_item_ids.is_empty());

        let unplaced: Vec<(i64, ChargeKey)> = self
            .subscriptions
            .iter()
            .filter(|s| s.status == "active")
            .filter(|s| self.queued_charge_of(s.id).is_none())
            .map(|s| (s.id, ChargeKey::of(s)))
            .collect();
        for (sub_id, key) in unplaced {
            match self
                .charges
                .iter_mut()
                .find(|c| c.is_queued() && c.key() == key)
            {
                Some(charge) => charge.purchase_item_ids.push(sub_id),
                None => {
                    let id = self.new_charge_id();
                    self.charges.push(Charge {
                        id,
                        customer_id: key.customer_id,
                        address_id: key.address_id,
                        scheduled_at: key.scheduled_at,
                        status: ChargeStatus::Queued,
                        purchase_item_ids: vec![sub_id],
                    });
                }
            }
        }
    }

    /// Customers are implied by subscriptions: one per `customer_id`, with the first email seen.
    fn customers(&self, email: Option<&str>) -> Reply {
        let mut customers: Vec<(i64, &str)> = Vec::new();
        for sub in &self.subscriptions {
            if !customers.iter().any(|(id, _)| *id == sub.customer_id) {
                customers.push((sub.customer_id, &sub.email));
            }
        }
        let found: Vec<Value> = customers
            .into_iter()
            .filter(|(_, e)| email.is_none_or(|wanted| e.eq_ignore_ascii_case(wanted)))
            .map(|(id, email)| json!({ "id": id, "email": email }))
            .collect();
        Reply::json(StatusCode::OK, json!({ "customers": found }))
    }

    /// A `customer_id` query value: absent (no filter), a number, or a 422 to answer.
    fn customer_filter(&self, raw: Option<&str>) -> Result<Option<i64>, Reply> {
        raw.map(|raw| {
            raw.parse::<i64>().map_err(|_| {
                self.field_error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "customer_id",
                    "is invalid",
                )
            })
        })
        .transpose()
    }

    fn lookup(&self, customer_id: Option<&str>, status: Option<&str>) -> Reply {
        let customer_id = match self.customer_filter(customer_id) {
            Ok(id) => id,
            Err(reply) => return reply,
        };
        let found: Vec<Value> = self
            .subscriptions
            .iter()
            .filter(|s| customer_id.is_none_or(|id| s.customer_id == id))
            .filter(|s| status.is_none_or(|wanted| s.status == wanted))
            .map(subscription_json)
            .collect();
        Reply::json(StatusCode::OK, json!({ "subscriptions": found }))
    }

    fn charges(&self, customer_id: Option<&str>, status: Option<&str>) -> Reply {
        let customer_id = match self.customer_filter(customer_id) {
            Ok(id) => id,
            Err(reply) => return reply,
        };
        let mut found: Vec<&Charge> = self
            .charges
            .iter()
            .filter(|c| customer_id.is_none_or(|id| c.customer_id == id))
            .filter(|c| status.is_none_or(|wanted| c.status.as_str() == wanted))
            .collect();
        found.sort_by_key(|c| (c.scheduled_at, c.id));
        let found: Vec<Value> = found.into_iter().map(Charge::json).collect();
        Reply::json(StatusCode::OK, json!({ "charges": found }))
    }

    fn get(&self, raw_id: &str) -> Reply {
        match raw_id.parse().ok().and_then(|id| self.find(id)) {
            Some(sub) => Reply::json(
                StatusCode::OK,
                json!({ "subscription": subscription_json(sub) }),
            ),
            None => self.not_found(),
        }
    }

    fn skip(&mut self, raw_charge_id: &str, body: Option<&Value>) -> Reply {
        let Some(index) = raw_charge_id
            .parse::<i64>()
            .ok()
            .and_then(|id| self.charges.iter().position(|c| c.id == id))
        else {
            return self.not_found();
        };
        if !self.charges[index].is_queued() {
            return self.error(StatusCode::UNPROCESSABLE_ENTITY, ONLY_QUEUED);
        }
        let mut ids = match purchase_item_ids(body) {
            Some(ids) if !ids.is_empty() => ids,
            _ => {
                return self.field_error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "purchase_item_ids",
                    "must be a non-empty list of subscription ids",
                );
            }
        };
        ids.sort_unstable();
        ids.dedup();
        let charge = &self.charges[index];
        if let Some(stranger) = ids.iter().find(|id| !charge.purchase_item_ids.contains(id)) {
            let message = format!("Purchase item {stranger} is not in charge {}", charge.id);
            return self.error(StatusCode::UNPROCESSABLE_ENTITY, &message);
        }

        let skipped = if ids.len() == charge.purchase_item_ids.len() {
            let charge = &mut self.charges[index];
            charge.status = ChargeStatus::Skipped;
            charge.clone()
        } else {
            // Part of a shared charge: the skipped items leave for a skipped charge of their
            // own, the rest stay queued under the old id.
            self.charges[index]
                .purchase_item_ids
                .retain(|id| !ids.contains(id));
            let skipped = Charge {
                id: self.new_charge_id(),
                status: ChargeStatus::Skipped,
                purchase_item_ids: ids.clone(),
                ..self.charges[index].clone()
            };
            self.charges.push(skipped.clone());
            skipped
        };
        for sub in self
            .subscriptions
            .iter_mut()
            .filter(|s| ids.contains(&s.id))
        {
            // Saturates at jiff's last day rather than failing a skip already half applied.
            sub.next_charge = sub
                .next_charge
                .checked_add(SignedDuration::from_hours(24 * sub.interval_days))
                .unwrap_or(Date::MAX);
            self.writes.entry(sub.id).or_default().skips += 1;
        }
        self.reconcile();
        Reply::json(StatusCode::OK, json!({ "charge": skipped.json() }))
    }

    fn set_date(&mut self, raw_id: &str, body: Option<&Value>) -> Reply {
        let Some(index) = raw_id
            .parse::<i64>()
            .ok()
            .and_then(|id| self.subscriptions.iter().position(|s| s.id == id))
        else {
            return self.not_found();
        };
        if self.subscriptions[index].status != "active" {
            return self.error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Subscription is not active",
            );
        }
        let date = body
            .and_then(|b| b.get("date"))
            .and_then(Value::as_str)
            .and_then(parse_ymd);
        let Some(date) = date else {
            return self.field_error(StatusCode::UNPROCESSABLE_ENTITY, "date", "invalid");
        };
        let sub_id = self.subscriptions[index].id;
        self.subscriptions[index].next_charge = date;
        // The subscription leaves its queued charge even for the same day, so a charge of its
        // own is replaced under a new id; a shared one it rejoins by customer, address and day.
        for charge in self.charges.iter_mut().filter(|c| c.is_queued()) {
            charge.purchase_item_ids.retain(|&id| id != sub_id);
        }
        self.reconcile();
        self.writes.entry(sub_id).or_default().dates_set += 1;
        let answer = subscription_json(&self.subscriptions[index]);
        Reply::json(StatusCode::OK, json!({ "subscription": answer }))
    }

    fn not_found(&self) -> Reply {
        self.error(StatusCode::NOT_FOUND, "Not Found")
    }

    /// `{"errors": {field: [message]}}`, Recharge's validation answer.
    fn field_error(&self, status: StatusCode, field: &str, message: &str) -> Reply {
        Reply::json(status, json!({ "errors": { field: [message] } }))
    }
}

/// `purchase_item_ids` from a skip body, when it is a list of integers.
fn purchase_item_ids(body: Option<&Value>) -> Option<Vec<i64>> {
    body?
        .get("purchase_item_ids")?
        .as_array()?
        .iter()
        .map(Value::as_i64)
        .collect()
}

impl Platform for RechargeState {
    type Call = RechargeCall;
    const NAME: &'static str = "recharge";

    fn authorized(&self, req: &Incoming) -> bool {
        req.header_is("x-recharge-access-token", "", &self.api_token)
    }

    fn parse(&self, req: &Incoming) -> RechargeCall {
        if req.header("x-recharge-version") != Some(API_VERSION) {
            return RechargeCall::BadVersion;
        }
        let segments = req.segments();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        match (&req.method, segments.as_slice()) {
            (&Method::GET, ["customers"]) => RechargeCall::Customers {
                email: req.query_param("email"),
            },
            (&Method::GET, ["subscriptions"]) => RechargeCall::Lookup {
                customer_id: req.query_param("customer_id"),
                status: req.query_param("status"),
            },
            (&Method::GET, ["charges"]) => RechargeCall::Charges {
                customer_id: req.query_param("customer_id"),
                status: req.query_param("status"),
            },
            (&Method::POST, ["charges", id, "skip"]) => RechargeCall::Skip {
                charge_id: (*id).to_owned(),
                body: req.json().cloned(),
            },
            (&Method::GET, ["subscriptions", id]) => RechargeCall::Get((*id).to_owned()),
            (&Method::POST, ["subscriptions", id, "set_next_charge_date"]) => {
                RechargeCall::SetDate {
                    id: (*id).to_owned(),
                    body: req.json().cloned(),
                }
            }
            _ => RechargeCall::Unknown,
        }
    }

    fn op(call: &RechargeCall) -> &'static str {
        match call {
            RechargeCall::BadVersion => "bad_version",
            RechargeCall::Customers { .. } => "customer",
            RechargeCall::Lookup { .. } => "lookup",
            RechargeCall::Charges { .. } => "charges",
            RechargeCall::Skip { .. } => "skip",
            RechargeCall::Get(_) => "get",
            RechargeCall::SetDate { .. } => "set_date",
            RechargeCall::Unknown => "unknown",
        }
    }

    fn apply(&mut self, call: &RechargeCall) -> Reply {
        match call {
            RechargeCall::BadVersion => self.error(
                StatusCode::BAD_REQUEST,
                "X-Recharge-Version must be 2021-11",
            ),
            RechargeCall::Customers { email } => self.customers(email.as_deref()),
            RechargeCall::Lookup {
                customer_id,
                status,
            } => self.lookup(customer_id.as_deref(), status.as_deref()),
            RechargeCall::Charges {
                customer_id,
                status,
            } => self.charges(customer_id.as_deref(), status.as_deref()),
            RechargeCall::Skip { charge_id, body } => self.skip(charge_id, body.as_ref()),
            RechargeCall::Get(id) => self.get(id),
            RechargeCall::SetDate { id, body } => self.set_date(id, body.as_ref()),
            RechargeCall::Unknown => self.not_found(),
        }
    }

    fn error(&self, status: StatusCode, message: &str) -> Reply {
        Reply::json(status, json!({ "errors": message }))
    }

    fn refusal(&self, call: &RechargeCall) -> Reply {
        let message = match call {
            RechargeCall::SetDate { .. } => "Next charge date cannot be changed",
            _ => ONLY_QUEUED,
        };
        self.error(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    fn rate_limiter(&self) -> Option<RateLimit> {
        Some(RATE_LIMIT)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::common::{Fault, FaultKind};
    use super::*;

    const TOKEN: &str = "recharge-test-token";

    fn date(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn sub(id: i64, status: &str, next: &str) -> RechargeSub {
        RechargeSub {
            id,
            customer_id: 123,
            email: "Shopper@Example.com".to_owned(),
            address_id: 789,
            status: status.to_owned(),
            next_charge: date(next),
            interval_days: 30,
        }
    }

    /// Customer 123: 456 and 457 active on the same day and address (one shared charge),
    /// 458 cancelled. Customer 124: 460 active.
    async fn sim() -> RechargeSim {
        let sim = RechargeSim::start(TOKEN).await;
        sim.add_subscription(sub(456, "active", "2026-11-24"));
        sim.add_subscription(sub(457, "active", "2026-11-24"));
        sim.add_subscription(sub(458, "cancelled", "2026-11-24"));
        sim.add_subscription(RechargeSub {
            customer_id: 124,
            email: "other@example.com".to_owned(),
            ..sub(460, "active", "2026-11-30")
        });
        sim
    }

    async fn call(
        sim: &RechargeSim,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = reqwest::Client::new()
            .request(method, format!("{}{path}", sim.base_url()))
            .header("X-Recharge-Access-Token", TOKEN)
            .header("X-Recharge-Version", API_VERSION);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn skip(sim: &RechargeSim, charge_id: i64, items: &[i64]) -> (u16, Value) {
        let path = format!("/charges/{charge_id}/skip");
        call(
            sim,
            Method::POST,
            &path,
            Some(json!({ "purchase_item_ids": items })),
        )
        .await
    }

    async fn queued(sim: &RechargeSim, customer_id: i64) -> Vec<Value> {
        let path = format!("/charges?customer_id={customer_id}&status=queued");
        let (status, body) = call(sim, Method::GET, &path, None).await;
        assert_eq!(status, 200);
        body["charges"].as_array().unwrap().clone()
    }

    fn items(charge: &Value) -> Vec<i64> {
        charge["line_items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["purchase_item_id"].as_i64().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn rejects_wrong_or_missing_auth_and_version_without_effect() {
        let sim = sim().await;
        let charge = sim.queued_charge_id(456).unwrap();
        let url = format!("{}/charges/{charge}/skip", sim.base_url());
        let client = reqwest::Client::new();
        let body = json!({"purchase_item_ids": [456, 457]});
        for req in [
            client.post(&url).header("X-Recharge-Access-Token", "nope"),
            client.post(&url),
            client.post(&url).bearer_auth(TOKEN),
        ] {
            let resp = req
                .header("X-Recharge-Version", API_VERSION)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), 401);
            let answer: Value = resp.json().await.unwrap();
            assert_eq!(answer, json!({"errors": "Unauthorized"}));
        }
        for version in [None, Some("2021-01")] {
            let mut req = client.post(&url).header("X-Recharge-Access-Token", TOKEN);
            if let Some(version) = version {
                req = req.header("X-Recharge-Version", version);
            }
            let resp = req.json(&body).send().await.unwrap();
            assert_eq!(resp.status().as_u16(), 400);
            let answer: Value = resp.json().await.unwrap();
            assert!(answer["errors"].as_str().unwrap().contains("2021-11"));
        }
        assert_eq!(
            sim.subscription(456).unwrap(),
            sub(456, "active", "2026-11-24")
        );
        assert_eq!(sim.queued_charge_id(456), Some(charge));
        assert_eq!(sim.skips_applied(456), 0);
        let ops: Vec<String> = sim.requests().into_iter().map(|r| r.op).collect();
        assert_eq!(
            ops,
            [
                "unauthorized",
                "unauthorized",
                "unauthorized",
                "bad_version",
                "bad_version"
            ]
        );
    }

    #[tokio::test]
    async fn customer_subscriptions_and_charges() {
        let sim = sim().await;
        let (status, body) = call(
            &sim,
            Method::GET,
            "/customers?email=shopper%40example.COM",
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"customers": [{"id": 123, "email": "Shopper@Example.com"}]})
        );
        let (_, body) = call(
            &sim,
            Method::GET,
            "/customers?email=nobody%40example.com",
            None,
        )
        .await;
        assert_eq!(body, json!({"customers": []}));

        let (status, body) = call(
            &sim,
            Method::GET,
            "/subscriptions?customer_id=123&status=active",
            None,
        )
        .await;
        assert_eq!(status, 200);
        let subs = body["subscriptions"].as_array().unwrap();
        assert_eq!(subs.len(), 2);
        assert_eq!(
            subs[0],
            json!({"id": 456, "customer_id": 123, "address_id": 789, "status": "active",
                   "next_charge_scheduled_at": "2026-11-24", "order_interval_unit": "day",
                   "order_interval_frequency": 30})
        );
        let (_, body) = call(&sim, Method::GET, "/subscriptions?customer_id=123", None).await;
        assert_eq!(body["subscriptions"].as_array().unwrap().len(), 3);
        let (_, body) = call(
            &sim,
            Method::GET,
            "/subscriptions?customer_id=123&status=ACTIVE",
            None,
        )
        .await;
        assert_eq!(body["subscriptions"], json!([]));
        let (status, body) = call(&sim, Method::GET, "/subscriptions?customer_id=abc", None).await;
        assert_eq!(
            (status, body),
            (422, json!({"errors": {"customer_id": ["is invalid"]}}))
        );

        // One queued charge shared by both active subscriptions; none for the cancelled one.
        let charges = queued(&sim, 123).await;
        assert_eq!(charges.len(), 1);
        let id = sim.queued_charge_id(456).unwrap();
        assert_eq!(
            charges[0],
            json!({"id": id, "customer_id": 123, "address_id": 789, "status": "queued",
                   "scheduled_at": "2026-11-24", "line_items": [
                       {"purchase_item_id": 456, "purchase_item_type": "subscription"},
                       {"purchase_item_id": 457, "purchase_item_type": "subscription"}]})
        );
        assert_eq!(sim.queued_charge_id(457), Some(id));
        assert_eq!(sim.queued_charge_id(458), None);
        assert_ne!(sim.queued_charge_id(460), Some(id));

        let (status, body) = call(&sim, Method::GET, "/subscriptions/458", None).await;
        assert_eq!(
            (status, body["subscription"]["status"].clone()),
            (200, json!("cancelled"))
        );
        let (status, body) = call(&sim, Method::GET, "/subscriptions/999", None).await;
        assert_eq!((status, body), (404, json!({"errors": "Not Found"})));

        let ops: Vec<String> = sim.requests().into_iter().map(|r| r.op).collect();
        assert_eq!(
            ops,
            [
                "customer", "customer", "lookup", "lookup", "lookup", "lookup", "charges", "get",
                "get"
            ]
        );
    }

    #[tokio::test]
    async fn skipping_the_whole_charge() {
        let sim = sim().await;
        sim.add_subscription(RechargeSub {
            address_id: 790,
            ..sub(457, "active", "2026-11-24")
        });
        let old = sim.queued_charge_id(456).unwrap();
        assert_ne!(sim.queued_charge_id(457), Some(old));
        let (status, body) = skip(&sim, old, &[456]).await;
        assert_eq!(status, 200);
        assert_eq!(body["charge"]["id"], old);
        assert_eq!(body["charge"]["status"], "skipped");
        assert_eq!(items(&body["charge"]), [456]);

        assert_eq!(
            sim.subscription(456).unwrap().next_charge,
            date("2026-12-24")
        );
        assert_eq!(sim.skips_applied(456), 1);
        let new = sim.queued_charge_id(456).unwrap();
        assert_ne!(new, old);
        let (_, body) = call(&sim, Method::GET, "/subscriptions/456", None).await;
        assert_eq!(
            body["subscription"]["next_charge_scheduled_at"],
            "2026-12-24"
        );
        let charges = queued(&sim, 123).await;
        assert_eq!(charges.len(), 2);
        assert_eq!(charges[1]["id"], new);
        assert_eq!(charges[1]["scheduled_at"], "2026-12-24");

        // The old id is stale: it is skipped, not queued.
        let (status, body) = skip(&sim, old, &[456]).await;
        assert_eq!((status, body), (422, json!({"errors": ONLY_QUEUED})));
        let (_, body) = call(
            &sim,
            Method::GET,
            "/charges?customer_id=123&status=skipped",
            None,
        )
        .await;
        assert_eq!(body["charges"][0]["id"], old);
        assert_eq!(sim.skips_applied(456), 1);
        assert_eq!(sim.skips_applied(457), 0);
    }

    #[tokio::test]
    async fn skipping_part_of_a_shared_charge() {
        let sim = sim().await;
        let shared = sim.queued_charge_id(456).unwrap();
        let (status, body) = skip(&sim, shared, &[457]).await;
        assert_eq!(status, 200);
        assert_eq!(body["charge"]["status"], "skipped");
        assert_eq!(items(&body["charge"]), [457]);
        assert_ne!(body["charge"]["id"], shared);

        // 456 stays in the old charge; 457 has a new one a month later.
        assert_eq!(sim.queued_charge_id(456), Some(shared));
        let moved = sim.queued_charge_id(457).unwrap();
        assert_ne!(moved, shared);
        assert_eq!(
            sim.subscription(457).unwrap().next_charge,
            date("2026-12-24")
        );
        assert_eq!(
            sim.subscription(456).unwrap().next_charge,
            date("2026-11-24")
        );
        let charges = queued(&sim, 123).await;
        assert_eq!(
            charges.iter().map(items).collect::<Vec<_>>(),
            [vec![456], vec![457]]
        );
        assert_eq!((sim.skips_applied(456), sim.skips_applied(457)), (0, 1));
    }

    #[tokio::test]
    async fn skip_validation() {
        let sim = sim().await;
        let charge = sim.queued_charge_id(456).unwrap();
        let (status, body) = skip(&sim, 999, &[456]).await;
        assert_eq!((status, body), (404, json!({"errors": "Not Found"})));
        // A subscription id is not a charge id.
        assert_eq!(skip(&sim, 456, &[456]).await.0, 404);
        let (status, body) = skip(&sim, charge, &[460]).await;
        assert_eq!(status, 422);
        assert!(body["errors"].as_str().unwrap().contains("460"));
        let path = format!("/charges/{charge}/skip");
        for bad in [
            None,
            Some(json!({})),
            Some(json!({"purchase_item_ids": []})),
            Some(json!({"purchase_item_ids": ["456"]})),
        ] {
            let (status, body) = call(&sim, Method::POST, &path, bad.clone()).await;
            assert_eq!(status, 422, "{bad:?}");
            assert!(body["errors"]["purchase_item_ids"].is_array());
        }
        assert_eq!(sim.queued_charge_id(456), Some(charge));
        assert_eq!(sim.skips_applied(456), 0);
        assert_eq!(sim.requests_for("skip").len(), 7);
    }

    #[tokio::test]
    async fn set_next_charge_date_replaces_the_charge() {
        let sim = sim().await;
        let old = sim.queued_charge_id(456).unwrap();
        let path = "/subscriptions/456/set_next_charge_date";
        let (status, body) = call(
            &sim,
            Method::POST,
            path,
            Some(json!({"date": "2026-12-08"})),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            body["subscription"]["next_charge_scheduled_at"],
            "2026-12-08"
        );
        assert_eq!(
            sim.subscription(456).unwrap().next_charge,
            date("2026-12-08")
        );
        assert_eq!(sim.dates_set(456), 1);
        let first = sim.queued_charge_id(456).unwrap();
        assert_ne!(first, old);
        // 457 keeps the old charge, now alone in it.
        assert_eq!(sim.queued_charge_id(457), Some(old));

        // The same date again still replaces a charge of its own.
        let same = json!({"date": "2026-12-08"});
        assert_eq!(
            call(&sim, Method::POST, path, Some(same.clone())).await.0,
            200
        );
        let new = sim.queued_charge_id(456).unwrap();
        assert_ne!(new, first);
        assert_eq!(skip(&sim, first, &[456]).await.0, 404);

        // Moving 457 onto that day joins 456's charge; its old charge, emptied, is gone.
        let path457 = "/subscriptions/457/set_next_charge_date";
        assert_eq!(
            call(&sim, Method::POST, path457, Some(same.clone()))
                .await
                .0,
            200
        );
        assert_eq!(sim.queued_charge_id(457), Some(new));
        assert_eq!(skip(&sim, old, &[457]).await.0, 404);

        // In a shared charge, a subscription set to the same day stays with its sibling.
        assert_eq!(call(&sim, Method::POST, path, Some(same)).await.0, 200);
        assert_eq!(sim.queued_charge_id(456), Some(new));
        assert_eq!(sim.dates_set(456), 3);

        for bad in [
            json!({}),
            json!({"date": "2026-12-8"}),
            json!({"date": "2026-02-30"}),
            json!({"next_charge_date": "2026-12-09"}),
        ] {
            let (status, body) = call(&sim, Method::POST, path, Some(bad.clone())).await;
            assert_eq!(
                (status, body),
                (422, json!({"errors": {"date": ["invalid"]}})),
                "{bad}"
            );
        }
        let cancelled = "/subscriptions/458/set_next_charge_date";
        assert_eq!(
            call(
                &sim,
                Method::POST,
                cancelled,
                Some(json!({"date": "2026-12-08"}))
            )
            .await
            .0,
            422
        );
        let unknown = "/subscriptions/999/set_next_charge_date";
        assert_eq!(
            call(
                &sim,
                Method::POST,
                unknown,
                Some(json!({"date": "2026-12-08"}))
            )
            .await
            .0,
            404
        );
        assert_eq!((sim.dates_set(456), sim.dates_set(458)), (3, 0));
        assert_eq!(sim.requests_for("set_date").len(), 10);
    }

    #[tokio::test]
    async fn faults_and_the_stale_charge_after_a_lost_answer() {
        let sim = sim().await;
        let charge = sim.queued_charge_id(456).unwrap();
        sim.inject(Fault::once("skip", FaultKind::Refuse));
        let (status, body) = skip(&sim, charge, &[456, 457]).await;
        assert_eq!((status, body), (422, json!({"errors": ONLY_QUEUED})));
        assert_eq!(sim.queued_charge_id(456), Some(charge));

        sim.inject(Fault::once("skip", FaultKind::ApplyThenStatus(504)));
        assert_eq!(skip(&sim, charge, &[456, 457]).await.0, 504);
        assert_eq!((sim.skips_applied(456), sim.skips_applied(457)), (1, 1));
        // Retrying with the same charge id cannot skip a second cycle.
        assert_eq!(skip(&sim, charge, &[456, 457]).await.0, 422);
        let charges = queued(&sim, 123).await;
        assert_eq!(charges.len(), 1);
        assert_eq!(items(&charges[0]), [456, 457]);
        assert_eq!(charges[0]["scheduled_at"], "2026-12-24");

        sim.inject(Fault::once("set_date", FaultKind::ApplyThenHang));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let err = client
            .post(format!(
                "{}/subscriptions/460/set_next_charge_date",
                sim.base_url()
            ))
            .header("X-Recharge-Access-Token", TOKEN)
            .header("X-Recharge-Version", API_VERSION)
            .json(&json!({"date": "2027-01-05"}))
            .send()
            .await
            .unwrap_err();
        assert!(err.is_timeout());
        assert_eq!(sim.dates_set(460), 1);
        assert_eq!(
            sim.subscription(460).unwrap().next_charge,
            date("2027-01-05")
        );
    }

    #[tokio::test]
    async fn leaky_bucket_is_on_by_default() {
        let sim = sim().await;
        let client = reqwest::Client::new();
        let started = std::time::Instant::now();
        let mut burst = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let req = client
                .get(format!("{}/subscriptions/456", sim.base_url()))
                .header("X-Recharge-Access-Token", TOKEN)
                .header("X-Recharge-Version", API_VERSION);
            burst.spawn(async move {
                let resp = req.send().await.unwrap();
                (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
            });
        }
        let answers = burst.join_all().await;
        let drained = 2.0 * started.elapsed().as_secs_f64();
        let passed = answers.iter().filter(|(s, _)| *s == 200).count();
        // The first 40 always fit; beyond that only what drained during the burst.
        assert!(
            passed >= 40 && passed as f64 <= 40.0 + drained + 1.0,
            "{passed} in {drained}"
        );
        let (_, body) = answers
            .iter()
            .find(|(s, _)| *s == 429)
            .expect("the burst overflows");
        assert_eq!(body, &json!({"errors": "Too many requests"}));
        sim.set_rate_limit(None);
        for _ in 0..50 {
            assert_eq!(
                call(&sim, Method::GET, "/subscriptions/456", None).await.0,
                200
            );
        }
    }
}
