//! Simulated Loop Subscriptions REST API (`/admin/2023-10`, `X-Loop-Token: <token>`).
//!
//! Every answer is wrapped as `{"success", "message", "data", "code"}`, list answers carry
//! `pageInfo` beside `data`. Subscriptions have Loop's internal number (`id`, which writes take,
//! bare or as `loop-<id>`) and a Shopify id; lookups return every status, the client filters.
//!
//! Loop is the least documented platform (see `shared/platforms.md`), so several details here
//! are this simulator's guesses: the answer to `skipNext` (`data: null`), the success messages,
//! the `pageInfo` fields, and the rule that writes need an `ACTIVE` subscription.

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::common::{Incoming, Platform, Reply, Simulator};

/// The API version in every path.
const BASE: [&str; 2] = ["admin", "2023-10"];

/// Over this many requests in a second, Loop answers 429 (per store, all endpoints together).
const RATE_LIMIT_PER_SECOND: u32 = 10;

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

/// Loop's state: subscriptions, customers and the writes each subscription really received.
pub struct LoopState {
    api_token: String,
    subscriptions: Vec<LoopSub>,
    customers: Vec<LoopCustomer>,
    writes: HashMap<i64, Writes>,
    next_customer_id: i64,
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
    Unknown,
}

impl LoopSim {
    /// Starts a Loop simulator that accepts `X-Loop-Token: <api_token>`.
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
    /// count; refused, rejected and unauthorised ones do not).
    pub fn skips_applied(&self, id: i64) -> u32 {
        self.with_state(|s| s.writes.get(&id).map_or(0, |w| w.skips))
    }

    /// How many reschedules were really applied to this subscription.
    pub fn dates_set(&self, id: i64) -> u32 {
        self.with_state(|s| s.writes.get(&id).map_or(0, |w| w.dates_set))
    }
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
        list(found)
    }

    fn customers_by_email(&self, email: Option<&str>) -> Reply {
        let found: Vec<Value> = self
            .customers
            .iter()
            .filter(|c| {
                email.is_none_or(|e| {
                    c.email
                        .as_deref()
                        .is_some_and(|ce| ce.eq_ignore_ascii_case(e))
                })
            })
            .map(|c| json!({ "id": c.id, "shopifyId": c.shopify_id, "email": c.email }))
            .collect();
        list(found)
    }

    /// The subscription an id from a path names (`41001` or `loop-41001`), or a 404.
    fn find_mut(&mut self, raw_id: &str) -> Result<&mut LoopSub, Reply> {
        let id = raw_id
            .strip_prefix("loop-")
            .unwrap_or(raw_id)
            .parse::<i64>()
            .ok();
        match id.and_then(|id| self.subscriptions.iter().position(|s| s.id == id)) {
            Some(index) => Ok(&mut self.subscriptions[index]),
            None => Err(self.error(StatusCode::NOT_FOUND, "Subscription not found")),
        }
    }

    /// Like [`Self::find_mut`], for a write: also refuses a subscription that is not active.
    fn writable(&mut self, raw_id: &str) -> Result<&mut LoopSub, Reply> {
        let inactive = self.error(StatusCode::BAD_REQUEST, "Subscription is not active");
        let sub = self.find_mut(raw_id)?;
        if sub.status == "ACTIVE" {
            Ok(sub)
        } else {
            Err(inactive)
        }
    }

    fn get(&mut self, raw_id: &str) -> Reply {
        match self.find_mut(raw_id) {
            Ok(sub) => {
                let sub = sub.clone();
                ok("Subscription fetched", self.subscription_json(&sub))
            }
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
        let epoch = match reschedule_epoch(body) {
            Ok(epoch) => epoch,
            Err(message) => return self.error(StatusCode::BAD_REQUEST, message),
        };
        let sub = match self.writable(raw_id) {
            Ok(sub) => sub,
            Err(reply) => return reply,
        };
        sub.next_billing_epoch = epoch;
        let sub = sub.clone();
        self.writes.entry(sub.id).or_default().dates_set += 1;
        ok("Subscription rescheduled", self.subscription_json(&sub))
    }
}

/// The new date from a reschedule body: `newBillingDateEpoch` (what working clients send) wins
/// over `nextBillingDateEpoch` (what the documentation names); either may be a number or a
/// string of digits. This is the one place to change when Loop's real field is confirmed.
fn reschedule_epoch(body: Option<&Value>) -> Result<i64, &'static str> {
    let field = |name: &str| body.and_then(|b| b.get(name));
    let Some(value) = field("newBillingDateEpoch").or_else(|| field("nextBillingDateEpoch")) else {
        return Err("nextBillingDateEpoch is required");
    };
    let epoch = value
        .as_i64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        .ok_or("nextBillingDateEpoch must be epoch seconds")?;
    if !(0..MAX_EPOCH_SECONDS).contains(&epoch) {
        return Err("nextBillingDateEpoch must be epoch seconds, not milliseconds");
    }
    Ok(epoch)
}

/// A successful single answer.
fn ok(message: &str, data: Value) -> Reply {
    Reply::json(
        StatusCode::OK,
        json!({ "success": true, "message": message, "data": data, "code": 200 }),
    )
}

/// A successful list answer: the array in `data`, `pageInfo` beside it. One page holds all.
fn list(items: Vec<Value>) -> Reply {
    Reply::json(
        StatusCode::OK,
        json!({
            "success": true,
            "message": "Success",
            "data": items,
            "pageInfo": {
                "hasNextPage": false,
                "hasPreviousPage": false,
                "startCursor": null,
                "endCursor": null,
            },
            "code": 200,
        }),
    )
}

impl Platform for LoopState {
    type Call = LoopCall;
    const NAME: &'static str = "loop";

    fn authorized(&self, req: &Incoming) -> bool {
        req.header_is("x-loop-token", "", &self.api_token)
    }

    fn parse(&self, req: &Incoming) -> LoopCall {
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

    fn op(call: &LoopCall) -> &'static str {
        match call {
            LoopCall::Lookup { .. } => "lookup",
            LoopCall::Customer { .. } => "customer",
            LoopCall::Get(_) => "get",
            LoopCall::Skip(_) => "skip",
            LoopCall::SetDate(..) => "set_date",
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
            LoopCall::Unknown => self.error(StatusCode::NOT_FOUND, "Not Found"),
        }
    }

    fn error(&self, status: StatusCode, message: &str) -> Reply {
        Reply::json(
            status,
            json!({ "success": false, "message": message, "data": null, "code": status.as_u16() }),
        )
    }

    fn refusal(&self, call: &LoopCall) -> Reply {
        let message = match call {
            LoopCall::Skip(_) => "Maximum consecutive skips reached",
            LoopCall::SetDate(..) => "Subscription cannot be rescheduled",
            _ => "Request refused",
        };
        self.error(StatusCode::BAD_REQUEST, message)
    }

    fn rate_limit(&self) -> Option<u32> {
        Some(RATE_LIMIT_PER_SECOND)
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

    async fn sim() -> LoopSim {
        let sim = LoopSim::start(TOKEN).await;
        sim.add_subscription(sub(41001, "ACTIVE"));
        sim.add_subscription(sub(41002, "CANCELLED"));
        sim
    }

    async fn call(sim: &LoopSim, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}/admin/2023-10{path}", sim.base_url());
        let mut req = reqwest::Client::new()
            .request(method, url)
            .header("X-Loop-Token", TOKEN);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
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
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            (body["success"].clone(), body["code"].clone()),
            (json!(false), json!(401))
        );
        let resp = client.post(&url).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 401);
        assert_eq!(sim.subscription(41001).unwrap(), sub(41001, "ACTIVE"));
        assert_eq!(sim.skips_applied(41001), 0);
        assert!(sim.requests().iter().all(|r| r.op == "unauthorized"));
    }

    #[tokio::test]
    async fn lookup_returns_every_status_with_page_info() {
        let sim = sim().await;
        let (status, body) = call(
            &sim,
            Method::GET,
            "/subscription?customerShopifyId=5001",
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["success"], true);
        assert!(body["pageInfo"].is_object());
        let data = body["data"].as_array().unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!(
            data[0],
            json!({"id": 41001, "shopifyId": 9001, "status": "ACTIVE", "nextBillingDateEpoch": NEXT,
                   "customer": {"id": 77001, "shopifyId": 5001, "email": "Shopper@Example.com"}})
        );
        assert_eq!(data[1]["status"], "CANCELLED");
        let (_, body) = call(
            &sim,
            Method::GET,
            "/subscription?customerShopifyId=77001",
            None,
        )
        .await;
        assert_eq!(body["data"], json!([]));
        let (status, _) = call(
            &sim,
            Method::GET,
            "/subscription?customerShopifyId=abc",
            None,
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(
            sim.requests()[0].query.as_deref(),
            Some("customerShopifyId=5001")
        );
        assert_eq!(sim.requests()[0].op, "lookup");
    }

    #[tokio::test]
    async fn customer_by_email() {
        let sim = sim().await;
        sim.add_customer(LoopCustomer {
            id: 77100,
            shopify_id: 6001,
            email: Some("other@example.com".into()),
        });
        let (status, body) = call(
            &sim,
            Method::GET,
            "/customer?email=shopper%40example.com",
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            body["data"],
            json!([{"id": 77001, "shopifyId": 5001, "email": "Shopper@Example.com"}])
        );
        let (_, body) = call(&sim, Method::GET, "/customer?email=OTHER@example.com", None).await;
        assert_eq!(body["data"][0]["shopifyId"], 6001);
        let (_, body) = call(
            &sim,
            Method::GET,
            "/customer?email=nobody@example.com",
            None,
        )
        .await;
        assert_eq!(body["data"], json!([]));
        assert_eq!(sim.customer(6001).unwrap().id, 77100);
        assert_eq!(sim.requests_for("customer").len(), 3);
    }

    #[tokio::test]
    async fn get_one_by_either_id_form() {
        let sim = sim().await;
        for path in ["/subscription/41001", "/subscription/loop-41001"] {
            let (status, body) = call(&sim, Method::GET, path, None).await;
            assert_eq!(status, 200);
            assert_eq!(body["data"]["id"], 41001);
            assert_eq!(body["data"]["nextBillingDateEpoch"], NEXT);
        }
        let (status, body) = call(&sim, Method::GET, "/subscription/9001", None).await;
        assert_eq!((status, body["success"].clone()), (404, json!(false)));
        assert!(sim.requests().iter().all(|r| r.op == "get"));
    }

    #[tokio::test]
    async fn skip_moves_the_date_by_the_interval() {
        let sim = sim().await;
        let (status, body) = call(
            &sim,
            Method::POST,
            "/subscription/loop-41001/skipNext",
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"success": true, "message": "Next order skipped", "data": null, "code": 200})
        );
        assert_eq!(
            sim.subscription(41001).unwrap().next_billing_epoch,
            NEXT + 30 * 86_400
        );
        assert_eq!(sim.skips_applied(41001), 1);
        let (status, _) = call(&sim, Method::POST, "/subscription/41002/skipNext", None).await;
        assert_eq!(status, 400);
        assert_eq!(sim.skips_applied(41002), 0);
        let (status, _) = call(&sim, Method::POST, "/subscription/41999/skipNext", None).await;
        assert_eq!(status, 404);
        assert_eq!(sim.requests_for("skip").len(), 3);
    }

    #[tokio::test]
    async fn reschedule_sets_the_date() {
        let sim = sim().await;
        let body = json!({"nextBillingDateEpoch": NEXT + 100, "newBillingDateEpoch": NEXT + 200, "rescheduleFutureOrders": true});
        let (status, answer) = call(
            &sim,
            Method::POST,
            "/subscription/41001/reschedule",
            Some(body),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(answer["success"], true);
        assert_eq!(answer["data"]["nextBillingDateEpoch"], NEXT + 200);
        assert_eq!(
            sim.subscription(41001).unwrap().next_billing_epoch,
            NEXT + 200
        );

        let body = json!({"nextBillingDateEpoch": NEXT + 300, "rescheduleFutureOrders": true});
        call(
            &sim,
            Method::POST,
            "/subscription/loop-41001/reschedule",
            Some(body),
        )
        .await;
        assert_eq!(
            sim.subscription(41001).unwrap().next_billing_epoch,
            NEXT + 300
        );
        assert_eq!(sim.dates_set(41001), 2);

        for bad in [
            json!({}),
            json!({"nextBillingDateEpoch": "soon"}),
            json!({"nextBillingDateEpoch": NEXT * 1000}),
        ] {
            let (status, _) = call(
                &sim,
                Method::POST,
                "/subscription/41001/reschedule",
                Some(bad),
            )
            .await;
            assert_eq!(status, 400);
        }
        assert_eq!(sim.dates_set(41001), 2);
        assert_eq!(sim.requests_for("set_date").len(), 5);
    }

    #[tokio::test]
    async fn unknown_paths() {
        let sim = sim().await;
        assert_eq!(call(&sim, Method::GET, "/orders", None).await.0, 404);
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
    async fn rate_limit_is_10_per_second() {
        let sim = sim().await;
        let client = reqwest::Client::new();
        // A concurrent burst: all 11 arrive well within one second.
        let mut burst = tokio::task::JoinSet::new();
        for _ in 0..11 {
            let req = client
                .get(format!(
                    "{}/admin/2023-10/subscription/41001",
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
    }

    #[tokio::test]
    async fn faults() {
        let sim = sim().await;
        let skip = "/subscription/41001/skipNext";

        sim.inject(Fault::once("skip", FaultKind::Status(500)));
        let (status, body) = call(&sim, Method::POST, skip, None).await;
        assert_eq!((status, body["success"].clone()), (500, json!(false)));
        assert_eq!(sim.skips_applied(41001), 0);

        sim.inject(Fault::once(
            "skip",
            FaultKind::RateLimited {
                retry_after: Some(1),
            },
        ));
        assert_eq!(call(&sim, Method::POST, skip, None).await.0, 429);
        assert_eq!(sim.skips_applied(41001), 0);

        sim.inject(Fault::once("skip", FaultKind::Refuse));
        let (status, body) = call(&sim, Method::POST, skip, None).await;
        assert_eq!(status, 400);
        assert_eq!(body["message"], "Maximum consecutive skips reached");
        assert_eq!(sim.skips_applied(41001), 0);

        sim.inject(Fault::once("skip", FaultKind::ApplyThenStatus(504)));
        assert_eq!(call(&sim, Method::POST, skip, None).await.0, 504);
        assert_eq!(sim.skips_applied(41001), 1);
        assert_eq!(
            sim.subscription(41001).unwrap().next_billing_epoch,
            NEXT + 30 * 86_400
        );

        sim.inject(Fault::once(
            "get",
            FaultKind::Delay(Duration::from_millis(150)),
        ));
        let started = std::time::Instant::now();
        assert_eq!(
            call(&sim, Method::GET, "/subscription/41001", None).await.0,
            200
        );
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
            NEXT + 60 * 86_400
        );
    }
}
