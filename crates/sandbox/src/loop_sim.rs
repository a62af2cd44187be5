//! Simulated Loop Subscriptions REST API (`/admin/2023-10`, `X-Loop-Token: <token>`).
//!
//! Every answer is wrapped as `{"success", "message", "data", "code"}`; list answers carry
//! `pageInfo` beside `data`. `code` is a string, `"SUCCESS"` on success, as Loop's pagination
//! page documents (loop-admin.readme.io/reference/pagination); the error codes
//! (`"NOT_FOUND"`, `"BAD_REQUEST"`, `"UNAUTHORIZED"`, `"TOO_MANY_REQUESTS"`, ...) are this
//! simulator's guesses in the same style. Subscriptions have Loop's internal number (`id`) and a
//! Shopify id; lookups return every status, the client filters.
//!
//! Strictness, with its sources (`shared/platforms.md`, Loop section, and Loop's public admin
//! reference):
//! - **Rate limits, per store (per `X-Loop-Token`), over exact sliding windows**: 10 requests in
//!   any second overall; `GET /subscription/{id}` and `POST /subscription/{id}/reschedule` 5 in
//!   any second each; `GET /subscription?...` 2 in any 3 seconds; `GET /customer?...` 1 in any
//!   second. A request over any of them is answered 429 with the wrapped error (Loop documents
//!   no 429 body and no `Retry-After`, so none is sent) and changes nothing: it is not counted
//!   in any window either. Unauthorised requests are not counted. [`LoopSim::set_limits`] turns
//!   the limits off for tests that check decisions; [`LoopSim::throttled`] counts the refusals.
//!   The limits are decided before injected faults, as `common.rs`'s limiter is, but a refused
//!   call is still matched against faults under its own op: a `Refuse` fault leaves it a 429,
//!   any other fault that matches it answers instead of the 429 (nothing is applied either way).
//! - **Writes take the internal id** (`41001` or `loop-41001`). A Shopify id in a write path
//!   (`9001`, `shopify-9001`) is a 404. Reads (`GET /subscription/{id}`) also take
//!   `shopify-<Shopify id>`, which working client code uses.
//! - **Reschedule** takes `nextBillingDateEpoch` (the documented name) or
//!   `newBillingDateEpoch` (what working code sends), integer epoch seconds; both may be sent
//!   if they agree. `rescheduleFutureOrders` is an optional boolean (default `true`); with
//!   `false` the new date must fall before the order after next, as the doc requires.
//! - **`nextBillingDateEpoch` in answers is always an integer of epoch seconds.**
//!
//! Guesses (Loop does not document them): the answer to `skipNext` (`data: null`, so a client
//! must read the subscription back), the reschedule answer (`data` = the updated subscription),
//! the messages, the `pageInfo` cursor fields, and the rule that writes need an `ACTIVE`
//! subscription.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::common::{Incoming, Platform, Reply, Simulator};

/// The API version in every path.
const BASE: [&str; 2] = ["admin", "2023-10"];

/// Epoch values above this are taken for milliseconds and refused: no billing date is past
/// year 5000, and sending milliseconds is an easy client bug.
const MAX_EPOCH_SECONDS: i64 = 100_000_000_000;

const SECONDS_PER_DAY: i64 = 86_400;

/// A Loop subscription as seeded into and read back from [`LoopSim`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoopSub {
    /// Loop's internal number (`41001`), used by writes.
    pub id: i64,
    /// The Shopify subscription contract id (`9001`).
    pub shopify_id: i64,
    /// The shopper's Shopify customer id, matched by `?customerShopifyId=`.
    pub customer_shopify_id: i64,
    /// The shopper's email, for the customer record created with the first subscription.
    pub email: Option<String>,
    /// `ACTIVE`, `PAUSED`, `CANCELLED`, `EXPIRED` or `FAILED`. Writes need `ACTIVE`.
    pub status: String,
    /// Next billing date, epoch seconds.
    pub next_billing_epoch: i64,
    /// How far a skip moves the next billing date.
    pub interval_days: i64,
}

/// A Loop customer, found by `GET /customer?email=`.
///
/// [`LoopSim::add_subscription`] creates one for an unknown `customer_shopify_id`;
/// [`LoopSim::add_customer`] adds or replaces one explicitly (e.g. a customer without
/// subscriptions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoopCustomer {
    /// Loop's internal customer number; deliberately different from `shopify_id`, so a client
    /// that searches subscriptions by the wrong one finds nothing.
    pub id: i64,
    pub shopify_id: i64,
    pub email: Option<String>,
}

/// Simulated Loop; see the module docs.
pub type LoopSim = Simulator<LoopState>;

/// Loop's state: subscriptions, customers, the writes each subscription really received and
/// the rate-limit windows.
pub struct LoopState {
    api_token: String,
    subscriptions: Vec<LoopSub>,
    customers: Vec<LoopCustomer>,
    writes: HashMap<i64, Writes>,
    next_customer_id: i64,
    /// Whether `GET /customer?email=` matches substrings (`ann@` also finds `joann@`), as
    /// Smartrr's filter does. Loop's own behaviour is not documented; a client must keep only
    /// exact matches either way.
    substring_email: bool,
    /// In a `RefCell` because the limits are decided in [`Platform::parse`] (`&self`): it is
    /// the only hook that runs once per request, under the simulator's lock, before faults and
    /// before the call is applied. `common.rs`'s own limiter has one window for the whole
    /// simulator and cannot tell endpoints apart, so Loop leaves it off.
    limits: RefCell<RateLimits>,
}

/// Effective writes on one subscription.
#[derive(Clone, Copy, Debug, Default)]
struct Writes {
    skips: u32,
    dates_set: u32,
}

/// A Loop call. Ids are kept as sent (`41001` or `loop-41001`) and resolved when applied.
pub enum LoopCall {
    /// `GET /subscription?customerShopifyId=`.
    Lookup {
        customer_shopify_id: Option<String>,
    },
    /// `GET /customer?email=`.
    Customer {
        email: Option<String>,
    },
    /// `GET /subscription/{id}`.
    Get(String),
    /// `POST /subscription/{id}/skipNext`.
    Skip(String),
    /// `POST /subscription/{id}/reschedule` with its body (`None`: not JSON).
    SetDate(String, Option<Value>),
    /// A call that one of Loop's rate limits refused: answered 429, changes nothing. `op` is
    /// the op of the call it would have been, so it is recorded (and matched by faults) under
    /// its own name.
    Throttled {
        op: &'static str,
        limit: Limit,
    },
    Unknown,
}

/// One of Loop's documented rate limits (all per store).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    /// Every endpoint together: 10 requests in any second.
    Overall,
    /// `GET /subscription?...`: 2 requests in any 3 seconds.
    ListSubscriptions,
    /// `GET /customer?...`: 1 request in any second.
    ListCustomers,
    /// `GET /subscription/{id}`: 5 requests in any second.
    ReadOne,
    /// `POST /subscription/{id}/reschedule`: 5 requests in any second.
    Reschedule,
}

impl Limit {
    /// How many requests pass in any window of how long.
    fn rule(self) -> (usize, Duration) {
        match self {
            Limit::Overall => (10, Duration::from_secs(1)),
            Limit::ListSubscriptions => (2, Duration::from_secs(3)),
            Limit::ListCustomers => (1, Duration::from_secs(1)),
            Limit::ReadOne | Limit::Reschedule => (5, Duration::from_secs(1)),
        }
    }

    /// The limit a call counts against besides [`Limit::Overall`], if any (a skip has none of
    /// its own).
    fn of(call: &LoopCall) -> Option<Limit> {
        match call {
            LoopCall::Lookup { .. } => Some(Limit::ListSubscriptions),
            LoopCall::Customer { .. } => Some(Limit::ListCustomers),
            LoopCall::Get(_) => Some(Limit::ReadOne),
            LoopCall::SetDate(..) => Some(Limit::Reschedule),
            LoopCall::Skip(_) | LoopCall::Throttled { .. } | LoopCall::Unknown => None,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Limit::Overall => "10 requests per second per store",
            Limit::ListSubscriptions => "2 subscription list requests per 3 seconds",
            Limit::ListCustomers => "1 customer list request per second",
            Limit::ReadOne => "5 subscription reads per second",
            Limit::Reschedule => "5 reschedules per second",
        }
    }
}

/// Loop's rate limits: exact sliding windows of admitted requests, per token and [`Limit`].
struct RateLimits {
    on: bool,
    /// Added to the clock: [`LoopSim::advance_clock`] moves time on without sleeping.
    offset: Duration,
    /// Arrival times of the requests admitted within each window, oldest first.
    windows: HashMap<(String, Limit), VecDeque<Instant>>,
    /// Requests refused so far.
    throttled: u32,
}

impl RateLimits {
    fn new() -> RateLimits {
        RateLimits {
            on: true,
            offset: Duration::ZERO,
            windows: HashMap::new(),
            throttled: 0,
        }
    }

    fn now(&self) -> Instant {
        Instant::now() + self.offset
    }

    /// Whether a request of `token` arriving at `now` passes [`Limit::Overall`] and `own`.
    /// A passing request is counted in both windows; a refused one in neither, and the first
    /// limit it broke is returned.
    fn admit(&mut self, token: &str, own: Option<Limit>, now: Instant) -> Result<(), Limit> {
        if !self.on {
            return Ok(());
        }
        let limits = [Some(Limit::Overall), own];
        for limit in limits.into_iter().flatten() {
            let (max, window) = limit.rule();
            let admitted = self.windows.entry((token.to_owned(), limit)).or_default();
            while admitted
                .front()
                .is_some_and(|&t| now.duration_since(t) >= window)
            {
                admitted.pop_front();
            }
            if admitted.len() >= max {
                self.throttled += 1;
                return Err(limit);
            }
        }
        for limit in limits.into_iter().flatten() {
            self.windows
                .entry((token.to_owned(), limit))
                .or_default()
                .push_back(now);
        }
        Ok(())
    }
}

impl LoopSim {
    /// Starts a Loop simulator that accepts `X-Loop-Token: <api_token>`, with Loop's rate
    /// limits on.
    ///
    /// # Panics
    /// If `127.0.0.1:0` cannot be bound; see [`LoopSim::try_start`].
    pub async fn start(api_token: &str) -> LoopSim {
        Self::try_start(api_token)
            .await
            .expect("bind the Loop simulator on 127.0.0.1")
    }

    /// Like [`LoopSim::start`], returning the bind error instead of panicking.
    pub async fn try_start(api_token: &str) -> std::io::Result<LoopSim> {
        Simulator::serve(LoopState {
            api_token: api_token.to_owned(),
            subscriptions: Vec::new(),
            customers: Vec::new(),
            writes: HashMap::new(),
            next_customer_id: 77_001,
            substring_email: false,
            limits: RefCell::new(RateLimits::new()),
        })
        .await
    }

    /// Adds a subscription, replacing any with the same id, and creates its customer
    /// (internal id from 77001 up) if no customer has its `customer_shopify_id` yet.
    pub fn add_subscription(&self, sub: LoopSub) {
        self.with_state(|s| {
            if !s
                .customers
                .iter()
                .any(|c| c.shopify_id == sub.customer_shopify_id)
            {
                let id = s.next_customer_id;
                s.next_customer_id += 1;
                s.customers.push(LoopCustomer {
                    id,
                    shopify_id: sub.customer_shopify_id,
                    email: sub.email.clone(),
                });
            }
            match s.subscriptions.iter_mut().find(|x| x.id == sub.id) {
                Some(existing) => *existing = sub,
                None => s.subscriptions.push(sub),
            }
        });
    }

    /// Adds a customer, replacing any with the same internal id or Shopify id.
    pub fn add_customer(&self, customer: LoopCustomer) {
        self.with_state(|s| {
            s.customers
                .retain(|c| c.id != customer.id && c.shopify_id != customer.shopify_id);
            s.customers.push(customer);
        });
    }

    /// The subscription as it is now, by internal id.
    pub fn subscription(&self, id: i64) -> Option<LoopSub> {
        self.with_state(|s| s.subscriptions.iter().find(|x| x.id == id).cloned())
    }

    /// The customer with this Shopify id.
    pub fn customer(&self, shopify_id: i64) -> Option<LoopCustomer> {
        self.with_state(|s| {
            s.customers
                .iter()
                .find(|c| c.shopify_id == shopify_id)
                .cloned()
        })
    }

    /// How many skips were really applied to this subscription (faulted calls that applied
    /// count; refused, rejected, throttled and unauthorised ones do not).
    pub fn skips_applied(&self, id: i64) -> u32 {
        self.with_state(|s| s.writes.get(&id).map_or(0, |w| w.skips))
    }

    /// How many reschedules were really applied to this subscription.
    pub fn dates_set(&self, id: i64) -> u32 {
        self.with_state(|s| s.writes.get(&id).map_or(0, |w| w.dates_set))
    }

    /// Makes the customer search by email match substrings, case-insensitively (see
    /// [`LoopState`]).
    pub fn set_substring_email_search(&self, on: bool) {
        self.with_state(|s| s.substring_email = on);
    }

    /// Turns Loop's rate limits (see the module docs) on or off; they start on. Turning them
    /// on starts from empty windows. Off is for tests that check decisions, not pacing.
    ///
    /// These are Loop's own limits: `set_rate_limit` / `set_rate_limiter` (the shared
    /// one-window limiter, off for Loop) neither replace nor remove them.
    pub fn set_limits(&self, on: bool) {
        self.with_state(|s| {
            let limits = s.limits.get_mut();
            limits.on = on;
            limits.windows.clear();
        });
    }

    /// How many requests Loop's rate limits refused so far. Each was answered 429 unless an
    /// injected fault matched it and answered instead; 429s injected with
    /// `FaultKind::RateLimited` are not counted.
    pub fn throttled(&self) -> u32 {
        self.with_state(|s| s.limits.get_mut().throttled)
    }

    /// Moves the rate limits' clock forward by `by`, as if that much time had passed, so a test
    /// can leave a window without sleeping. Only the rate limits read this clock.
    pub fn advance_clock(&self, by: Duration) {
        self.with_state(|s| s.limits.get_mut().offset += by);
    }
}

/// How a path names a subscription.
enum SubRef {
    /// Loop's internal id: `41001` or `loop-41001`.
    Internal(i64),
    /// `shopify-9001`: the Shopify contract id, which only reads accept.
    Shopify(i64),
}

impl SubRef {
    fn parse(raw: &str) -> Option<SubRef> {
        let digits = |s: &str| {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<i64>().ok())
                .flatten()
        };
        if let Some(rest) = raw.strip_prefix("shopify-") {
            return digits(rest).map(SubRef::Shopify);
        }
        digits(raw.strip_prefix("loop-").unwrap_or(raw)).map(SubRef::Internal)
    }
}

/// A valid reschedule body.
struct Reschedule {
    epoch: i64,
    future_orders: bool,
}

impl LoopState {
    fn subscription_json(&self, sub: &LoopSub) -> Value {
        let customer = self
            .customers
            .iter()
            .find(|c| c.shopify_id == sub.customer_shopify_id);
        json!({
            "id": sub.id,
            "shopifyId": sub.shopify_id,
            "status": sub.status,
            // Always an integer of epoch seconds (i64), never a string or milliseconds.
            "nextBillingDateEpoch": sub.next_billing_epoch,
            "customer": {
                "id": customer.map(|c| c.id),
                "shopifyId": sub.customer_shopify_id,
                "email": customer.and_then(|c| c.email.clone()).or_else(|| sub.email.clone()),
            },
        })
    }

    fn lookup(&self, customer_shopify_id: Option<&str>) -> Reply {
        let wanted = match customer_shopify_id.map(str::parse::<i64>) {
            None => None,
            Some(Ok(id)) => Some(id),
            Some(Err(_)) => {
                return self.error(
                    StatusCode::BAD_REQUEST,
                    "customerShopifyId must be a number",
                );
            }
        };
        let found: Vec<Value> = self
            .subscriptions
            .iter()
            .filter(|s| wanted.is_none_or(|id| s.customer_shopify_id == id))
            .map(|s| self.subscription_json(s))
            .collect();
        list("Subscriptions fetched successfully", found)
    }

    fn customers_by_email(&self, email: Option<&str>) -> Reply {
        let found: Vec<Value> = self
            .customers
            .iter()
            .filter(|c| {
                email.is_none_or(|e| {
                    c.email.as_deref().is_some_and(|ce| {
                        if self.substring_email {
                            ce.to_lowercase().contains(&e.to_lowercase())
                        } else {
                            ce.eq_ignore_ascii_case(e)
                        }
                    })
                })
            })
            .map(|c| json!({ "id": c.id, "shopifyId": c.shopify_id, "email": c.email }))
            .collect();
        list("Customers fetched successfully", found)
    }

    fn not_found(&self) -> Reply {
        self.error(StatusCode::NOT_FOUND, "Subscription not found")
    }

    /// The subscription a read path names (`41001`, `loop-41001` or `shopify-9001`).
    fn find_for_read(&self, raw_id: &str) -> Result<&LoopSub, Reply> {
        let found = match SubRef::parse(raw_id) {
            Some(SubRef::Internal(id)) => self.subscriptions.iter().find(|s| s.id == id),
            Some(SubRef::Shopify(id)) => self.subscriptions.iter().find(|s| s.shopify_id == id),
            None => None,
        };
        found.ok_or_else(|| self.not_found())
    }

    /// The subscription a write path names: the internal id only (`41001` or `loop-41001`);
    /// anything else, a Shopify id included, is a 404. Also refuses a subscription that is
    /// not active.
    fn writable(&mut self, raw_id: &str) -> Result<&mut LoopSub, Reply> {
        let index = match SubRef::parse(raw_id) {
            Some(SubRef::Internal(id)) => self.subscriptions.iter().position(|s| s.id == id),
            Some(SubRef::Shopify(_)) | None => None,
        };
        let Some(index) = index else {
            return Err(self.not_found());
        };
        if self.subscriptions[index].status != "ACTIVE" {
            return Err(self.error(StatusCode::BAD_REQUEST, "Subscription is not active"));
        }
        Ok(&mut self.subscriptions[index])
    }

    fn get(&self, raw_id: &str) -> Reply {
        match self.find_for_read(raw_id) {
            Ok(sub) => ok(
                "Subscription fetched successfully",
                self.subscription_json(sub),
            ),
            Err(reply) => reply,
        }
    }

    fn skip(&mut self, raw_id: &str) -> Reply {
        let sub = match self.writable(raw_id) {
            Ok(sub) => sub,
            Err(reply) => return reply,
        };
        sub.next_billing_epoch += sub.interval_days * SECONDS_PER_DAY;
        let id = sub.id;
        self.writes.entry(id).or_default().skips += 1;
        ok("Next order skipped", Value::Null)
    }

    fn reschedule(&mut self, raw_id: &str, body: Option<&Value>) -> Reply {
        let wanted = match reschedule_body(body) {
            Ok(wanted) => wanted,
            Err(message) => return self.error(StatusCode::BAD_REQUEST, &message),
        };
        let sub = match self.writable(raw_id) {
            Ok(sub) => sub,
            Err(reply) => return reply,
        };
        // The doc: with `rescheduleFutureOrders: false` only the next order moves, and its new
        // date must come before the order after it.
        let order_after_next = sub.next_billing_epoch + sub.interval_days * SECONDS_PER_DAY;
        if !wanted.future_orders && wanted.epoch >= order_after_next {
            let message = "nextBillingDateEpoch must be before the next subsequent order date \
                           when rescheduleFutureOrders is false";
            return self.error(StatusCode::BAD_REQUEST, message);
        }
        sub.next_billing_epoch = wanted.epoch;
        let sub = sub.clone();
        self.writes.entry(sub.id).or_default().dates_set += 1;
        ok("Subscription rescheduled", self.subscription_json(&sub))
    }
}

/// Reads a reschedule body. The date is `nextBillingDateEpoch` (the documented name) or
/// `newBillingDateEpoch` (what working clients send); a body may carry both only if they are
/// equal, since which one Loop would read is unknown. It must be a JSON integer of epoch
/// seconds (no string, no fraction, no milliseconds). `rescheduleFutureOrders`, if present,
/// must be a boolean; it defaults to `true` (doc). Other fields (e.g. `notifyCustomer`) are
/// ignored. This is the one place to change when Loop's real field is confirmed.
fn reschedule_body(body: Option<&Value>) -> Result<Reschedule, String> {
    let Some(body) = body.and_then(Value::as_object) else {
        return Err("Request body must be a JSON object with nextBillingDateEpoch".to_owned());
    };
    let next = epoch_field(body, "nextBillingDateEpoch")?;
    let new = epoch_field(body, "newBillingDateEpoch")?;
    let epoch = match (next, new) {
        (Some(a), Some(b)) if a != b => {
            return Err("nextBillingDateEpoch and newBillingDateEpoch disagree".to_owned());
        }
        (Some(epoch), _) | (None, Some(epoch)) => epoch,
        (None, None) => return Err("nextBillingDateEpoch is required".to_owned()),
    };
    let future_orders = match body.get("rescheduleFutureOrders") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("rescheduleFutureOrders must be a boolean".to_owned()),
    };
    Ok(Reschedule {
        epoch,
        future_orders,
    })
}

/// A date field of a reschedule body, if present: an integer of epoch seconds.
fn epoch_field(body: &Map<String, Value>, name: &str) -> Result<Option<i64>, String> {
    let Some(value) = body.get(name) else {
        return Ok(None);
    };
    let epoch = value
        .as_i64()
        .ok_or_else(|| format!("{name} must be an integer of epoch seconds"))?;
    if !(0..MAX_EPOCH_SECONDS).contains(&epoch) {
        return Err(format!("{name} must be epoch seconds, not milliseconds"));
    }
    Ok(Some(epoch))
}

/// A successful single answer.
fn ok(message: &str, data: Value) -> Reply {
    Reply::json(
        StatusCode::OK,
        json!({ "success": true, "message": message, "data": data, "code": "SUCCESS" }),
    )
}

/// A successful list answer: the array in `data`, `pageInfo` beside it. One page holds all.
fn list(message: &str, items: Vec<Value>) -> Reply {
    Reply::json(
        StatusCode::OK,
        json!({
            "success": true,
            "message": message,
            "data": items,
            "pageInfo": {
                "hasNextPage": false,
                "hasPreviousPage": false,
                "startCursor": null,
                "endCursor": null,
            },
            "code": "SUCCESS",
        }),
    )
}

/// The `code` of an error answer: the status's name in upper snake case (`NOT_FOUND`).
fn error_code(status: StatusCode) -> String {
    status
        .canonical_reason()
        .unwrap_or("ERROR")
        .to_ascii_uppercase()
        .replace([' ', '-'], "_")
        .replace('\'', "")
}

impl LoopState {
    /// The call a request names, before the rate limits.
    fn route(req: &Incoming) -> LoopCall {
        let segments = req.segments();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let Some(rest) = segments.strip_prefix(&BASE[..]) else {
            return LoopCall::Unknown;
        };
        match (&req.method, rest) {
            (&Method::GET, ["subscription"]) => LoopCall::Lookup {
                customer_shopify_id: req.query_param("customerShopifyId"),
            },
            (&Method::GET, ["customer"]) => LoopCall::Customer {
                email: req.query_param("email"),
            },
            (&Method::GET, ["subscription", id]) => LoopCall::Get((*id).to_owned()),
            (&Method::POST, ["subscription", id, "skipNext"]) => LoopCall::Skip((*id).to_owned()),
            (&Method::POST, ["subscription", id, "reschedule"]) => {
                LoopCall::SetDate((*id).to_owned(), req.json().cloned())
            }
            _ => LoopCall::Unknown,
        }
    }

    fn throttled_reply(&self, limit: Limit) -> Reply {
        let message = format!("Too many requests: the limit is {}", limit.describe());
        self.error(StatusCode::TOO_MANY_REQUESTS, &message)
    }
}

impl Platform for LoopState {
    type Call = LoopCall;
    const NAME: &'static str = "loop";

    fn authorized(&self, req: &Incoming) -> bool {
        req.header_is("x-loop-token", "", &self.api_token)
    }

    /// Routes the request, then applies the rate limits to an authorised one (see the note on
    /// the `limits` field of `LoopState`).
    fn parse(&self, req: &Incoming) -> LoopCall {
        let call = Self::route(req);
        if !self.authorized(req) {
            return call;
        }
        let mut limits = self.limits.borrow_mut();
        let now = limits.now();
        match limits.admit(&self.api_token, Limit::of(&call), now) {
            Ok(()) => call,
            Err(limit) => LoopCall::Throttled {
                op: Self::op(&call),
                limit,
            },
        }
    }

    fn op(call: &LoopCall) -> &'static str {
        match call {
            LoopCall::Lookup { .. } => "lookup",
            LoopCall::Customer { .. } => "customer",
            LoopCall::Get(_) => "get",
            LoopCall::Skip(_) => "skip",
            LoopCall::SetDate(..) => "set_date",
            LoopCall::Throttled { op, .. } => op,
            LoopCall::Unknown => "unknown",
        }
    }

    fn apply(&mut self, call: &LoopCall) -> Reply {
        match call {
            LoopCall::Lookup {
                customer_shopify_id,
            } => self.lookup(customer_shopify_id.as_deref()),
            LoopCall::Customer { email } => self.customers_by_email(email.as_deref()),
            LoopCall::Get(id) => self.get(id),
            LoopCall::Skip(id) => self.skip(id),
            LoopCall::SetDate(id, body) => self.reschedule(id, body.as_ref()),
            LoopCall::Throttled { limit, .. } => self.throttled_reply(*limit),
            LoopCall::Unknown => self.error(StatusCode::NOT_FOUND, "Not Found"),
        }
    }

    fn error(&self, status: StatusCode, message: &str) -> Reply {
        Reply::json(
            status,
            json!({
                "success": false,
                "message": message,
                "data": null,
                "code": error_code(status),
            }),
        )
    }

    fn refusal(&self, call: &LoopCall) -> Reply {
        let message = match call {
            LoopCall::Skip(_) => "Maximum consecutive skips reached",
            LoopCall::SetDate(..) => "Subscription cannot be rescheduled",
            // A throttled call stays throttled whatever fault was injected for its op.
            LoopCall::Throttled { limit, .. } => return self.throttled_reply(*limit),
            _ => "Request refused",
        };
        self.error(StatusCode::BAD_REQUEST, message)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::common::{Fault, FaultKind};
    use super::*;

    const TOKEN: &str = "loop-test-token";
    /// 2026-11-24T16:00:00Z.
    const NEXT: i64 = 1_795_536_000;
    const DAY: i64 = 86_400;
    const LIST: &str = "/subscription?customerShopifyId=5001";

    fn sub(id: i64, status: &str) -> LoopSub {
        LoopSub {
            id,
            shopify_id: id - 32_000,
            customer_shopify_id: 5001,
            email: Some("Shopper@Example.com".to_owned()),
            status: status.to_owned(),
            next_billing_epoch: NEXT,
            interval_days: 30,
        }
    }

    /// A simulator with Loop's limits on, as it starts.
    async fn sim() -> LoopSim {
        let sim = LoopSim::start(TOKEN).await;
        sim.add_subscription(sub(41001, "ACTIVE"));
        sim.add_subscription(sub(41002, "CANCELLED"));
        sim
    }

    /// For tests of decisions that send more calls than the limits allow.
    async fn unlimited() -> LoopSim {
        let sim = sim().await;
        sim.set_limits(false);
        sim
    }

    async fn send(
        sim: &LoopSim,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let url = format!("{}/admin/2023-10{path}", sim.base_url());
        let mut req = reqwest::Client::new()
            .request(method, url)
            .header("X-Loop-Token", TOKEN);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.unwrap()
    }

    async fn call(sim: &LoopSim, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let resp = send(sim, method, path, body).await;
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn get(sim: &LoopSim, path: &str) -> (u16, Value) {
        call(sim, Method::GET, path, None).await
    }

    async fn post(sim: &LoopSim, path: &str, body: Option<Value>) -> (u16, Value) {
        call(sim, Method::POST, path, body).await
    }

    fn assert_error(body: &Value, code: &str) {
        assert_eq!(body["success"], false, "{body}");
        assert_eq!(body["code"], code, "{body}");
        assert_eq!(body["data"], Value::Null, "{body}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
    }

    #[tokio::test]
    async fn rejects_wrong_or_missing_auth_without_effect() {
        let sim = sim().await;
        let url = format!(
            "{}/admin/2023-10/subscription/41001/skipNext",
            sim.base_url()
        );
        let client = reqwest::Client::new();
        let resp = client
            .post(&url)
            .header("X-Loop-Token", "nope")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401);
        assert_error(&resp.json().await.unwrap(), "UNAUTHORIZED");
        let resp = client.post(&url).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 401);
        assert_eq!(sim.subscription(41001).unwrap(), sub(41001, "ACTIVE"));
        assert_eq!(sim.skips_applied(41001), 0);
        assert!(sim.requests().iter().all(|r| r.op == "unauthorized"));
    }

    #[tokio::test]
    async fn lookup_returns_every_status_with_page_info() {
        let sim = unlimited().await;
        let (status, body) = get(&sim, LIST).await;
        assert_eq!(status, 200);
        assert_eq!(body["success"], true);
        assert_eq!(body["code"], "SUCCESS");
        assert!(body["pageInfo"].is_object());
        let data = body["data"].as_array().unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!(
            data[0],
            json!({"id": 41001, "shopifyId": 9001, "status": "ACTIVE", "nextBillingDateEpoch": NEXT,
                   "customer": {"id": 77001, "shopifyId": 5001, "email": "Shopper@Example.com"}})
        );
        assert_eq!(data[1]["status"], "CANCELLED");
        let (_, body) = get(&sim, "/subscription?customerShopifyId=77001").await;
        assert_eq!(body["data"], json!([]));
        let (status, body) = get(&sim, "/subscription?customerShopifyId=abc").await;
        assert_eq!(status, 400);
        assert_error(&body, "BAD_REQUEST");
        assert_eq!(
            sim.requests()[0].query.as_deref(),
            Some("customerShopifyId=5001")
        );
        assert_eq!(sim.requests()[0].op, "lookup");
    }

    #[tokio::test]
    async fn customer_by_email() {
        let sim = unlimited().await;
        sim.add_customer(LoopCustomer {
            id: 77100,
            shopify_id: 6001,
            email: Some("other@example.com".into()),
        });
        let (status, body) = get(&sim, "/customer?email=shopper%40example.com").await;
        assert_eq!(status, 200);
        assert_eq!(body["code"], "SUCCESS");
        assert_eq!(
            body["data"],
            json!([{"id": 77001, "shopifyId": 5001, "email": "Shopper@Example.com"}])
        );
        let (_, body) = get(&sim, "/customer?email=OTHER@example.com").await;
        assert_eq!(body["data"][0]["shopifyId"], 6001);
        let (_, body) = get(&sim, "/customer?email=nobody@example.com").await;
        assert_eq!(body["data"], json!([]));
        assert_eq!(sim.customer(6001).unwrap().id, 77100);
        assert_eq!(sim.requests_for("customer").len(), 3);
    }

    #[tokio::test]
    async fn get_one_by_internal_id_or_shopify_prefix() {
        let sim = unlimited().await;
        for path in [
            "/subscription/41001",
            "/subscription/loop-41001",
            "/subscription/shopify-9001",
        ] {
            let (status, body) = get(&sim, path).await;
            assert_eq!(status, 200, "{path}");
            assert_eq!(body["code"], "SUCCESS");
            assert_eq!(body["data"]["id"], 41001);
            assert_eq!(body["data"]["nextBillingDateEpoch"], NEXT);
        }
        // A bare Shopify id is read as an internal id, and there is none such.
        for path in [
            "/subscription/9001",
            "/subscription/loop-9001",
            "/subscription/shopify-41001",
            "/subscription/+41001",
            "/subscription/41001abc",
            "/subscription/shopify-",
        ] {
            let (status, body) = get(&sim, path).await;
            assert_eq!(status, 404, "{path}");
            assert_error(&body, "NOT_FOUND");
        }
        assert!(sim.requests().iter().all(|r| r.op == "get"));
    }

    #[tokio::test]
    async fn writes_take_the_internal_id_never_the_shopify_id() {
        let sim = unlimited().await;
        let date = json!({"nextBillingDateEpoch": NEXT + DAY});
        for id in ["9001", "shopify-9001", "loop-9001"] {
            let (status, body) = post(&sim, &format!("/subscription/{id}/skipNext"), None).await;
            assert_eq!(status, 404, "{id}");
            assert_error(&body, "NOT_FOUND");
            let path = format!("/subscription/{id}/reschedule");
            let (status, body) = post(&sim, &path, Some(date.clone())).await;
            assert_eq!(status, 404, "{id}");
            assert_error(&body, "NOT_FOUND");
        }
        assert_eq!(sim.subscription(41001).unwrap(), sub(41001, "ACTIVE"));
        assert_eq!((sim.skips_applied(41001), sim.dates_set(41001)), (0, 0));

        assert_eq!(
            post(&sim, "/subscription/41001/skipNext", None).await.0,
            200
        );
        assert_eq!(
            post(&sim, "/subscription/loop-41001/skipNext", None)
                .await
                .0,
            200
        );
        let (status, _) = post(&sim, "/subscription/loop-41001/reschedule", Some(date)).await;
        assert_eq!(status, 200);
        assert_eq!((sim.skips_applied(41001), sim.dates_set(41001)), (2, 1));
    }

    #[tokio::test]
    async fn skip_answers_null_data_so_the_client_reads_back() {
        let sim = sim().await;
        let (status, body) = post(&sim, "/subscription/loop-41001/skipNext", None).await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"success": true, "message": "Next order skipped", "data": null, "code": "SUCCESS"})
        );
        let (_, body) = get(&sim, "/subscription/41001").await;
        assert_eq!(body["data"]["nextBillingDateEpoch"], NEXT + 30 * DAY);
        assert_eq!(sim.skips_applied(41001), 1);

        let (status, body) = post(&sim, "/subscription/41002/skipNext", None).await;
        assert_eq!(status, 400);
        assert_error(&body, "BAD_REQUEST");
        assert_eq!(sim.skips_applied(41002), 0);
        assert_eq!(sim.subscription(41002).unwrap(), sub(41002, "CANCELLED"));
        let (status, _) = post(&sim, "/subscription/41999/skipNext", None).await;
        assert_eq!(status, 404);
        assert_eq!(sim.requests_for("skip").len(), 3);
    }

    #[tokio::test]
    async fn reschedule_accepts_either_date_field() {
        let sim = unlimited().await;
        let path = "/subscription/41001/reschedule";
        let bodies = [
            json!({"nextBillingDateEpoch": NEXT + 100}),
            json!({"newBillingDateEpoch": NEXT + 200, "rescheduleFutureOrders": true}),
            json!({"nextBillingDateEpoch": NEXT + 300, "newBillingDateEpoch": NEXT + 300,
                   "rescheduleFutureOrders": true, "notifyCustomer": false}),
        ];
        for (n, body) in bodies.into_iter().enumerate() {
            let epoch = NEXT + 100 * (n as i64 + 1);
            let (status, answer) = post(&sim, path, Some(body)).await;
            assert_eq!(status, 200, "{answer}");
            assert_eq!(answer["success"], true);
            assert_eq!(answer["code"], "SUCCESS");
            // The answer carries the updated subscription (a guess; see the module docs).
            assert_eq!(answer["data"]["id"], 41001);
            assert_eq!(answer["data"]["nextBillingDateEpoch"], epoch);
            assert_eq!(sim.subscription(41001).unwrap().next_billing_epoch, epoch);
        }
        assert_eq!(sim.dates_set(41001), 3);

        // With rescheduleFutureOrders false, a date before the order after next is fine.
        let body = json!({"newBillingDateEpoch": NEXT + 10 * DAY, "rescheduleFutureOrders": false});
        assert_eq!(post(&sim, path, Some(body)).await.0, 200);
        assert_eq!(
            sim.subscription(41001).unwrap().next_billing_epoch,
            NEXT + 10 * DAY
        );
        assert_eq!(sim.dates_set(41001), 4);
    }

    #[tokio::test]
    async fn reschedule_refuses_bad_bodies_without_effect() {
        let sim = unlimited().await;
        let path = "/subscription/41001/reschedule";
        let order_after_next = NEXT + 30 * DAY;
        for bad in [
            json!({}),
            json!({"rescheduleFutureOrders": true}),
            json!([NEXT]),
            json!(NEXT),
            json!({"nextBillingDateEpoch": null}),
            json!({"nextBillingDateEpoch": "soon"}),
            json!({"nextBillingDateEpoch": NEXT.to_string()}),
            json!({"newBillingDateEpoch": NEXT.to_string()}),
            json!({"nextBillingDateEpoch": NEXT as f64 + 0.5}),
            json!({"nextBillingDateEpoch": NEXT * 1000}),
            json!({"newBillingDateEpoch": -1}),
            json!({"nextBillingDateEpoch": NEXT + 1, "newBillingDateEpoch": NEXT + 2}),
            json!({"nextBillingDateEpoch": NEXT + 1, "rescheduleFutureOrders": "true"}),
            json!({"nextBillingDateEpoch": order_after_next, "rescheduleFutureOrders": false}),
        ] {
            let (status, body) = post(&sim, path, Some(bad.clone())).await;
            assert_eq!(status, 400, "{bad}");
            assert_error(&body, "BAD_REQUEST");
        }
        // No body at all, and a body that is not JSON.
        assert_eq!(post(&sim, path, None).await.0, 400);
        let resp = reqwest::Client::new()
            .post(format!("{}/admin/2023-10{path}", sim.base_url()))
            .header("X-Loop-Token", TOKEN)
            .body(format!("nextBillingDateEpoch={NEXT}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400);
        // A good body on a subscription that is not active.
        let good = json!({"nextBillingDateEpoch": NEXT + DAY});
        let (status, body) = post(&sim, "/subscription/41002/reschedule", Some(good)).await;
        assert_eq!(status, 400);
        assert_error(&body, "BAD_REQUEST");

        assert_eq!(sim.subscription(41001).unwrap(), sub(41001, "ACTIVE"));
        assert_eq!(sim.subscription(41002).unwrap(), sub(41002, "CANCELLED"));
        assert_eq!((sim.dates_set(41001), sim.dates_set(41002)), (0, 0));
        assert_eq!(sim.requests_for("set_date").len(), 17);
    }

    #[tokio::test]
    async fn next_billing_date_epoch_is_always_integer_seconds() {
        let sim = unlimited().await;
        let is_seconds =
            |v: &Value| v.is_i64() && (0..MAX_EPOCH_SECONDS).contains(&v.as_i64().unwrap());
        let (_, list) = get(&sim, LIST).await;
        let (_, one) = get(&sim, "/subscription/41001").await;
        let body = json!({"newBillingDateEpoch": NEXT + DAY});
        let (_, rescheduled) = post(&sim, "/subscription/41001/reschedule", Some(body)).await;
        let mut seen = 0;
        for sub in list["data"]
            .as_array()
            .unwrap()
            .iter()
            .chain([&one["data"], &rescheduled["data"]])
        {
            assert!(is_seconds(&sub["nextBillingDateEpoch"]), "{sub}");
            seen += 1;
        }
        assert_eq!(seen, 4);
        assert_eq!(
            rescheduled["data"]["nextBillingDateEpoch"],
            json!(NEXT + DAY)
        );
    }

    // ----- Rate limits -----

    #[test]
    fn windows_are_exact_and_slide() {
        let ms = Duration::from_millis;
        let t0 = Instant::now();
        let list = Some(Limit::ListSubscriptions);
        let mut limits = RateLimits::new();
        assert_eq!(limits.admit("a", list, t0), Ok(()));
        assert_eq!(limits.admit("a", list, t0 + ms(1000)), Ok(()));
        // A third within 3 seconds of the first is refused, up to the last millisecond.
        assert_eq!(
            limits.admit("a", list, t0 + ms(2999)),
            Err(Limit::ListSubscriptions)
        );
        // At 3 s the first leaves the window; the second (at 1 s) is still in it.
        assert_eq!(limits.admit("a", list, t0 + ms(3000)), Ok(()));
        assert_eq!(
            limits.admit("a", list, t0 + ms(3999)),
            Err(Limit::ListSubscriptions)
        );
        assert_eq!(limits.admit("a", list, t0 + ms(4000)), Ok(()));
        assert_eq!(limits.throttled, 2);

        // Customers: 1 in any second.
        let customers = Some(Limit::ListCustomers);
        assert_eq!(limits.admit("a", customers, t0), Ok(()));
        assert_eq!(
            limits.admit("a", customers, t0 + ms(999)),
            Err(Limit::ListCustomers)
        );
        assert_eq!(limits.admit("a", customers, t0 + ms(1000)), Ok(()));
    }

    #[test]
    fn endpoint_limits_are_separate_and_refusals_count_nowhere() {
        let t0 = Instant::now();
        let mut limits = RateLimits::new();
        let read = Some(Limit::ReadOne);
        assert!((0..5).all(|_| limits.admit("a", read, t0).is_ok()));
        // Five refused reads count neither against reads nor against the overall limit.
        assert!((0..5).all(|_| limits.admit("a", read, t0) == Err(Limit::ReadOne)));
        // Reschedules have their own five.
        let reschedule = Some(Limit::Reschedule);
        assert!((0..4).all(|_| limits.admit("a", reschedule, t0).is_ok()));
        // A skip counts only overall: the tenth request passes, the eleventh does not.
        assert_eq!(limits.admit("a", None, t0), Ok(()));
        assert_eq!(limits.admit("a", None, t0), Err(Limit::Overall));
        assert_eq!(limits.admit("a", reschedule, t0), Err(Limit::Overall));
        // Per store: another token has its own windows.
        assert_eq!(limits.admit("b", read, t0), Ok(()));
        // A second later everything has room again.
        assert_eq!(limits.admit("a", read, t0 + Duration::from_secs(1)), Ok(()));
        assert_eq!(limits.throttled, 7);

        limits.on = false;
        assert!((0..100).all(|_| limits.admit("a", read, t0).is_ok()));
        assert_eq!(limits.throttled, 7);
    }

    #[tokio::test]
    async fn list_subscriptions_allows_two_per_three_seconds() {
        let sim = sim().await;
        assert_eq!(get(&sim, LIST).await.0, 200);
        assert_eq!(get(&sim, LIST).await.0, 200);
        let second_answered = std::time::Instant::now();
        let resp = send(&sim, Method::GET, LIST, None).await;
        assert_eq!(resp.status().as_u16(), 429);
        // Loop documents no Retry-After; the simulator sends none.
        assert!(resp.headers().get("retry-after").is_none());
        let body: Value = resp.json().await.unwrap();
        assert_error(&body, "TOO_MANY_REQUESTS");
        assert!(body["message"].as_str().unwrap().contains("3 seconds"));
        assert_eq!(sim.throttled(), 1);
        // Other endpoints have their own windows.
        assert_eq!(get(&sim, "/subscription/41001").await.0, 200);

        // Once both calls are more than 3 seconds old, a list call passes again.
        tokio::time::sleep_until((second_answered + Duration::from_millis(3_050)).into()).await;
        let (status, body) = get(&sim, LIST).await;
        assert_eq!(status, 200);
        assert_eq!(body["data"].as_array().unwrap().len(), 2);
        assert_eq!(sim.throttled(), 1);
        // The refused call is recorded under its own op.
        assert_eq!(sim.requests_for("lookup").len(), 4);
    }

    #[tokio::test]
    async fn list_window_slides_on_the_simulated_clock() {
        let sim = sim().await;
        assert_eq!(get(&sim, LIST).await.0, 200);
        assert_eq!(get(&sim, LIST).await.0, 200);
        assert_eq!(get(&sim, LIST).await.0, 429);
        sim.advance_clock(Duration::from_millis(2_500));
        assert_eq!(get(&sim, LIST).await.0, 429);
        sim.advance_clock(Duration::from_millis(500));
        assert_eq!(get(&sim, LIST).await.0, 200);
        assert_eq!(get(&sim, LIST).await.0, 200);
        assert_eq!(get(&sim, LIST).await.0, 429);
        assert_eq!(sim.throttled(), 3);
    }

    #[tokio::test]
    async fn list_customers_allows_one_per_second() {
        let sim = sim().await;
        let path = "/customer?email=shopper%40example.com";
        assert_eq!(get(&sim, path).await.0, 200);
        let first_answered = std::time::Instant::now();
        let (status, body) = get(&sim, path).await;
        assert_eq!(status, 429);
        assert_error(&body, "TOO_MANY_REQUESTS");
        tokio::time::sleep_until((first_answered + Duration::from_millis(1_050)).into()).await;
        let (status, body) = get(&sim, path).await;
        assert_eq!(status, 200);
        assert_eq!(body["data"][0]["shopifyId"], 5001);
        assert_eq!(sim.throttled(), 1);
    }

    #[tokio::test]
    async fn read_one_and_reschedule_allow_five_per_second_each() {
        let sim = sim().await;
        for _ in 0..5 {
            assert_eq!(get(&sim, "/subscription/41001").await.0, 200);
        }
        let (status, body) = get(&sim, "/subscription/41001").await;
        assert_eq!(status, 429);
        assert_error(&body, "TOO_MANY_REQUESTS");

        // A second later (past the overall limit's window too), five reschedules pass and the
        // sixth changes nothing.
        sim.advance_clock(Duration::from_secs(1));
        let path = "/subscription/41001/reschedule";
        for n in 1..=5 {
            let body = json!({"nextBillingDateEpoch": NEXT + n * DAY});
            assert_eq!(post(&sim, path, Some(body)).await.0, 200);
        }
        let body = json!({"nextBillingDateEpoch": NEXT + 6 * DAY});
        let (status, body) = post(&sim, path, Some(body)).await;
        assert_eq!(status, 429);
        assert_error(&body, "TOO_MANY_REQUESTS");
        assert_eq!(sim.dates_set(41001), 5);
        assert_eq!(
            sim.subscription(41001).unwrap().next_billing_epoch,
            NEXT + 5 * DAY
        );
        // Reads were not blocked by the reschedules' window.
        assert_eq!(get(&sim, "/subscription/41001").await.0, 200);
        assert_eq!(sim.throttled(), 2);
    }

    #[tokio::test]
    async fn overall_limit_is_10_per_second_and_a_refused_write_changes_nothing() {
        let sim = sim().await;
        let client = reqwest::Client::new();
        // A concurrent burst of skips (which have no limit of their own): all 11 arrive well
        // within one second.
        let mut burst = tokio::task::JoinSet::new();
        for _ in 0..11 {
            let req = client
                .post(format!(
                    "{}/admin/2023-10/subscription/41001/skipNext",
                    sim.base_url()
                ))
                .header("X-Loop-Token", TOKEN);
            burst.spawn(async move { req.send().await.unwrap().status().as_u16() });
        }
        let mut statuses = burst.join_all().await;
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 429]
        );
        assert_eq!(sim.skips_applied(41001), 10);
        assert_eq!(
            sim.subscription(41001).unwrap().next_billing_epoch,
            NEXT + 10 * 30 * DAY
        );
        assert_eq!(sim.throttled(), 1);
        assert_eq!(sim.requests_for("skip").len(), 11);
    }

    #[tokio::test]
    async fn limits_can_be_turned_off_and_on() {
        let sim = sim().await;
        sim.set_limits(false);
        for _ in 0..12 {
            assert_eq!(get(&sim, LIST).await.0, 200);
        }
        assert_eq!(sim.throttled(), 0);
        sim.set_limits(true);
        assert_eq!(get(&sim, LIST).await.0, 200);
        assert_eq!(get(&sim, LIST).await.0, 200);
        assert_eq!(get(&sim, LIST).await.0, 429);
        assert_eq!(sim.throttled(), 1);
    }

    #[tokio::test]
    async fn unauthorised_requests_do_not_count() {
        let sim = sim().await;
        let url = format!("{}/admin/2023-10{LIST}", sim.base_url());
        let client = reqwest::Client::new();
        for _ in 0..5 {
            let resp = client
                .get(&url)
                .header("X-Loop-Token", "nope")
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), 401);
        }
        assert_eq!(get(&sim, LIST).await.0, 200);
        assert_eq!(get(&sim, LIST).await.0, 200);
        assert_eq!(get(&sim, LIST).await.0, 429);
    }

    #[tokio::test]
    async fn a_throttled_call_stays_throttled_under_a_refuse_fault() {
        let sim = sim().await;
        assert_eq!(get(&sim, LIST).await.0, 200);
        assert_eq!(get(&sim, LIST).await.0, 200);
        sim.inject(Fault::once("lookup", FaultKind::Refuse));
        let (status, body) = get(&sim, LIST).await;
        assert_eq!(status, 429);
        assert_error(&body, "TOO_MANY_REQUESTS");
    }

    #[tokio::test]
    async fn unknown_paths() {
        let sim = sim().await;
        let (status, body) = get(&sim, "/orders").await;
        assert_eq!(status, 404);
        assert_error(&body, "NOT_FOUND");
        let resp = reqwest::Client::new()
            .get(format!("{}/admin/2024-01/subscription", sim.base_url()))
            .header("X-Loop-Token", TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 404);
        assert!(sim.requests().iter().all(|r| r.op == "unknown"));
    }

    #[tokio::test]
    async fn faults() {
        let sim = sim().await;
        let skip = "/subscription/41001/skipNext";

        sim.inject(Fault::once("skip", FaultKind::Status(500)));
        let (status, body) = post(&sim, skip, None).await;
        assert_eq!(status, 500);
        assert_error(&body, "INTERNAL_SERVER_ERROR");
        assert_eq!(sim.skips_applied(41001), 0);

        sim.inject(Fault::once(
            "skip",
            FaultKind::RateLimited {
                retry_after: Some(1),
            },
        ));
        assert_eq!(post(&sim, skip, None).await.0, 429);
        assert_eq!(sim.skips_applied(41001), 0);
        // Injected 429s are not Loop's limits refusing.
        assert_eq!(sim.throttled(), 0);

        sim.inject(Fault::once("skip", FaultKind::Refuse));
        let (status, body) = post(&sim, skip, None).await;
        assert_eq!(status, 400);
        assert_eq!(body["message"], "Maximum consecutive skips reached");
        assert_eq!(sim.skips_applied(41001), 0);

        sim.inject(Fault::once("skip", FaultKind::ApplyThenStatus(504)));
        assert_eq!(post(&sim, skip, None).await.0, 504);
        assert_eq!(sim.skips_applied(41001), 1);
        assert_eq!(
            sim.subscription(41001).unwrap().next_billing_epoch,
            NEXT + 30 * DAY
        );

        sim.inject(Fault::once(
            "get",
            FaultKind::Delay(Duration::from_millis(150)),
        ));
        let started = std::time::Instant::now();
        assert_eq!(get(&sim, "/subscription/41001").await.0, 200);
        assert!(started.elapsed() >= Duration::from_millis(150));

        sim.inject(Fault::once("skip", FaultKind::ApplyThenHang));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let err = client
            .post(format!("{}/admin/2023-10{skip}", sim.base_url()))
            .header("X-Loop-Token", TOKEN)
            .send()
            .await
            .unwrap_err();
        assert!(err.is_timeout());
        assert_eq!(sim.skips_applied(41001), 2);
        assert_eq!(
            sim.subscription(41001).unwrap().next_billing_epoch,
            NEXT + 60 * DAY
        );
    }
}
