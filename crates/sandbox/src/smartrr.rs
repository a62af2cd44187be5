//! Simulated Smartrr vendor REST API (`/vendor`, `x-smartrr-access-token: <token>`).
//!
//! Smartrr has no subscription search: a client finds the shopper's customer relationship
//! (`custRel.id`) through their orders (`GET /vendor/order/formatted?filterLike[emailOrName]=`),
//! then lists that relationship's purchase states (subscriptions), then writes to one by both
//! ids. Errors come NestJS-style as `{"message", "statusCode"}`.
//!
//! Guesses of this simulator where `shared/platforms.md` is silent or unverified: every purchase
//! state stands for one past order (`ord_<purchase state id>`) of its customer; `filterLike` is
//! a case-insensitive substring match, as a SQL `LIKE` would be, so a client must compare the
//! answered email itself (and an empty or missing filter lists every order); an unknown
//! relationship's purchase-state list is a 404; writes need an `ACTIVE` purchase state that
//! belongs to the relationship in the path; the new date is a strict `YYYY-MM-DD`.

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::common::{Incoming, Platform, Reply, Simulator, js_iso, parse_ymd};

/// The query key of the order search, as Smartrr spells it (clients may percent-encode the
/// brackets; the query parser decodes keys, so both forms match).
const EMAIL_FILTER: &str = "filterLike[emailOrName]";

/// A Smartrr purchase state (subscription) as seeded into and read back from [`SmartrrSim`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmartrrSub {
    /// The purchase state id, used in write paths.
    pub id: String,
    /// The customer relationship it belongs to (`custRel.id`), also in write paths.
    pub cust_rel_id: String,
    /// The shopper's email, found by the order search.
    pub email: String,
    /// `ACTIVE`, `PAUSED` or `CANCELLED`. Writes need `ACTIVE`.
    pub status: String,
    pub next_billing: Timestamp,
    /// How far a skip moves `next_billing`.
    pub interval_days: i64,
}

/// Simulated Smartrr; see the module docs.
pub type SmartrrSim = Simulator<SmartrrState>;

/// Smartrr's state: its purchase states and how many writes each really received.
pub struct SmartrrState {
    api_token: String,
    subscriptions: Vec<SmartrrSub>,
    writes: HashMap<String, Writes>,
}

/// Effective writes on one purchase state.
#[derive(Clone, Copy, Debug, Default)]
struct Writes {
    skips: u32,
    dates_set: u32,
}

/// A Smartrr call, with ids as sent in the path (percent-decoded).
pub enum SmartrrCall {
    /// `GET /vendor/order/formatted?filterLike[emailOrName]=` (`None`: no filter).
    Lookup {
        email_or_name: Option<String>,
    },
    /// `GET /vendor/customer/{custRelId}/purchase-state/`.
    List {
        cust_rel_id: String,
    },
    /// `PUT /vendor/customer/{custRelId}/purchase-state/{id}/skip`.
    Skip {
        cust_rel_id: String,
        id: String,
    },
    /// `PUT /vendor/customer/{custRelId}/purchase-state/{id}/next-billing-date` with its body
    /// (`None`: not JSON).
    SetDate {
        cust_rel_id: String,
        id: String,
        body: Option<Value>,
    },
    Unknown,
}

impl SmartrrSim {
    /// Starts a Smartrr simulator that accepts `x-smartrr-access-token: <api_token>`. It has no
    /// rate limit (Smartrr publishes none); set one with `set_rate_limit` to test 429s.
    ///
    /// # Panics
    /// If `127.0.0.1:0` cannot be bound; see [`SmartrrSim::try_start`].
    pub async fn start(api_token: &str) -> SmartrrSim {
        Self::try_start(api_token)
            .await
            .expect("bind the Smartrr simulator on 127.0.0.1")
    }

    /// Like [`SmartrrSim::start`], returning the bind error instead of panicking.
    pub async fn try_start(api_token: &str) -> std::io::Result<SmartrrSim> {
        Simulator::serve(SmartrrState {
            api_token: api_token.to_owned(),
            subscriptions: Vec::new(),
            writes: HashMap::new(),
        })
        .await
    }

    /// Adds a purchase state, replacing any with the same id.
    pub fn add_subscription(&self, sub: SmartrrSub) {
        self.with_state(
            |s| match s.subscriptions.iter_mut().find(|x| x.id == sub.id) {
                Some(existing) => *existing = sub,
                None => s.subscriptions.push(sub),
            },
        );
    }

    /// The purchase state as it is now.
    pub fn subscription(&self, id: &str) -> Option<SmartrrSub> {
        self.with_state(|s| s.subscriptions.iter().find(|x| x.id == id).cloned())
    }

    /// How many skips were really applied to this purchase state (faulted calls that applied
    /// count; refused, rejected and unauthorised ones do not).
    pub fn skips_applied(&self, id: &str) -> u32 {
        self.with_state(|s| s.writes.get(id).map_or(0, |w| w.skips))
    }

    /// How many next-billing-date changes were really applied to this purchase state.
    pub fn dates_set(&self, id: &str) -> u32 {
        self.with_state(|s| s.writes.get(id).map_or(0, |w| w.dates_set))
    }
}

impl SmartrrState {
    /// The order search. One order per purchase state; see the module docs for the matching.
    fn lookup(&self, email_or_name: Option<&str>) -> Reply {
        let needle = email_or_name.map(str::to_lowercase);
        let orders: Vec<Value> = self
            .subscriptions
            .iter()
            .filter(|s| {
                needle
                    .as_deref()
                    .is_none_or(|n| s.email.to_lowercase().contains(n))
            })
            .map(|s| {
                json!({
                    "id": format!("ord_{}", s.id),
                    "custRel": { "id": s.cust_rel_id, "email": s.email },
                })
            })
            .collect();
        let total = orders.len();
        Reply::json(
            StatusCode::OK,
            json!({ "data": orders, "totalCount": total }),
        )
    }

    /// Every purchase state of the relationship, whatever its status: the client filters.
    fn list(&self, cust_rel_id: &str) -> Reply {
        let states: Vec<Value> = self
            .subscriptions
            .iter()
            .filter(|s| s.cust_rel_id == cust_rel_id)
            .map(purchase_state_json)
            .collect();
        if states.is_empty() {
            return self.error(StatusCode::NOT_FOUND, "Customer not found");
        }
        Reply::json(StatusCode::OK, json!({ "data": states }))
    }

    /// The purchase state a write path names, if it is writable, or the answer to give.
    fn writable(&mut self, cust_rel_id: &str, id: &str) -> Result<&mut SmartrrSub, Reply> {
        let not_found = self.error(StatusCode::NOT_FOUND, "Purchase state not found");
        let inactive = self.error(StatusCode::BAD_REQUEST, "Purchase state is not active");
        let sub = self
            .subscriptions
            .iter_mut()
            .find(|s| s.id == id && s.cust_rel_id == cust_rel_id)
            .ok_or(not_found)?;
        if sub.status == "ACTIVE" {
            Ok(sub)
        } else {
            Err(inactive)
        }
    }

    fn skip(&mut self, cust_rel_id: &str, id: &str) -> Reply {
        let out_of_range = self.error(StatusCode::BAD_REQUEST, "Next billing date out of range");
        let sub = match self.writable(cust_rel_id, id) {
            Ok(sub) => sub,
            Err(reply) => return reply,
        };
        let Ok(next) = sub
            .next_billing
            .checked_add(SignedDuration::from_hours(24 * sub.interval_days))
        else {
            return out_of_range;
        };
        sub.next_billing = next;
        let answer = purchase_state_json(sub);
        self.writes.entry(id.to_owned()).or_default().skips += 1;
        Reply::json(StatusCode::OK, answer)
    }

    fn set_date(&mut self, cust_rel_id: &str, id: &str, body: Option<&Value>) -> Reply {
        let date = body
            .and_then(|b| b.get("nextBillingDate"))
            .and_then(Value::as_str)
            .and_then(parse_ymd);
        let Some(date) = date else {
            return self.error(
                StatusCode::BAD_REQUEST,
                "nextBillingDate must be a date (YYYY-MM-DD)",
            );
        };
        let out_of_range = self.error(StatusCode::BAD_REQUEST, "nextBillingDate out of range");
        let sub = match self.writable(cust_rel_id, id) {
            Ok(sub) => sub,
            Err(reply) => return reply,
        };
        // Only the day is chosen by the caller; billing keeps its time of day.
        let time = sub.next_billing.to_zoned(TimeZone::UTC).time();
        let Ok(next) = date.to_datetime(time).to_zoned(TimeZone::UTC) else {
            return out_of_range;
        };
        sub.next_billing = next.timestamp();
        let answer = purchase_state_json(sub);
        self.writes.entry(id.to_owned()).or_default().dates_set += 1;
        Reply::json(StatusCode::OK, answer)
    }
}

fn purchase_state_json(sub: &SmartrrSub) -> Value {
    json!({
        "id": sub.id,
        "purchaseStateStatus": sub.status,
        "nextBillingDate": js_iso(sub.next_billing),
    })
}

impl Platform for SmartrrState {
    type Call = SmartrrCall;
    const NAME: &'static str = "smartrr";

    fn authorized(&self, req: &Incoming) -> bool {
        req.header_is("x-smartrr-access-token", "", &self.api_token)
    }

    fn parse(&self, req: &Incoming) -> SmartrrCall {
        let segments = req.segments();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let Some(rest) = segments.strip_prefix(&["vendor"][..]) else {
            return SmartrrCall::Unknown;
        };
        let ids = |cust_rel_id: &str, id: &str| (cust_rel_id.to_owned(), id.to_owned());
        match (&req.method, rest) {
            (&Method::GET, ["order", "formatted"]) => SmartrrCall::Lookup {
                email_or_name: req.query_param(EMAIL_FILTER),
            },
            (&Method::GET, ["customer", cust_rel_id, "purchase-state"]) => SmartrrCall::List {
                cust_rel_id: (*cust_rel_id).to_owned(),
            },
            (&Method::PUT, ["customer", cust_rel_id, "purchase-state", id, "skip"]) => {
                let (cust_rel_id, id) = ids(cust_rel_id, id);
                SmartrrCall::Skip { cust_rel_id, id }
            }
            (
                &Method::PUT,
                [
                    "customer",
                    cust_rel_id,
                    "purchase-state",
                    id,
                    "next-billing-date",
                ],
            ) => {
                let (cust_rel_id, id) = ids(cust_rel_id, id);
                SmartrrCall::SetDate {
                    cust_rel_id,
                    id,
                    body: req.json().cloned(),
                }
            }
            _ => SmartrrCall::Unknown,
        }
    }

    fn op(call: &SmartrrCall) -> &'static str {
        match call {
            SmartrrCall::Lookup { .. } => "lookup",
            SmartrrCall::List { .. } => "list",
            SmartrrCall::Skip { .. } => "skip",
            SmartrrCall::SetDate { .. } => "set_date",
            SmartrrCall::Unknown => "unknown",
        }
    }

    fn apply(&mut self, call: &SmartrrCall) -> Reply {
        match call {
            SmartrrCall::Lookup { email_or_name } => self.lookup(email_or_name.as_deref()),
            SmartrrCall::List { cust_rel_id } => self.list(cust_rel_id),
            SmartrrCall::Skip { cust_rel_id, id } => self.skip(cust_rel_id, id),
            SmartrrCall::SetDate {
                cust_rel_id,
                id,
                body,
            } => self.set_date(cust_rel_id, id, body.as_ref()),
            SmartrrCall::Unknown => self.error(StatusCode::NOT_FOUND, "Not Found"),
        }
    }

    fn error(&self, status: StatusCode, message: &str) -> Reply {
        Reply::json(
            status,
            json!({ "message": message, "statusCode": status.as_u16() }),
        )
    }

    fn refusal(&self, call: &SmartrrCall) -> Reply {
        let message = match call {
            SmartrrCall::Skip { .. } => "Cannot skip: maximum consecutive skips reached",
            SmartrrCall::SetDate { .. } => "Cannot change the next billing date",
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

    const TOKEN: &str = "smartrr-test-token";

    fn sub(id: &str, cust_rel_id: &str, email: &str, status: &str) -> SmartrrSub {
        SmartrrSub {
            id: id.to_owned(),
            cust_rel_id: cust_rel_id.to_owned(),
            email: email.to_owned(),
            status: status.to_owned(),
            next_billing: "2026-11-24T16:00:00Z".parse().unwrap(),
            interval_days: 30,
        }
    }

    async fn sim() -> SmartrrSim {
        let sim = SmartrrSim::start(TOKEN).await;
        sim.add_subscription(sub("ps_1", "cr_1", "Shopper@Example.com", "ACTIVE"));
        sim.add_subscription(sub("ps_2", "cr_1", "Shopper@Example.com", "CANCELLED"));
        sim.add_subscription(sub("ps_3", "cr_2", "other@example.com", "ACTIVE"));
        sim
    }

    async fn call(
        sim: &SmartrrSim,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = reqwest::Client::new()
            .request(method, format!("{}/vendor{path}", sim.base_url()))
            .header("x-smartrr-access-token", TOKEN);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    const SKIP: &str = "/customer/cr_1/purchase-state/ps_1/skip";
    const SET_DATE: &str = "/customer/cr_1/purchase-state/ps_1/next-billing-date";

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn rejects_wrong_or_missing_auth_without_effect() {
        let sim = sim().await;
        let url = format!("{}/vendor{SKIP}", sim.base_url());
        let client = reqwest::Client::new();
        let resp = client
            .put(&url)
            .header("x-smartrr-access-token", "nope")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body, json!({"message": "Unauthorized", "statusCode": 401}));
        assert_eq!(client.put(&url).send().await.unwrap().status(), 401);
        let resp = client.put(&url).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 401);
        assert_eq!(
            sim.subscription("ps_1").unwrap(),
            sub("ps_1", "cr_1", "Shopper@Example.com", "ACTIVE")
        );
        assert_eq!(sim.skips_applied("ps_1"), 0);
        let ops: Vec<String> = sim.requests().into_iter().map(|r| r.op).collect();
        assert_eq!(ops, ["unauthorized"; 3]);
    }

    #[tokio::test]
    async fn order_search_finds_the_customer_relationship() {
        let sim = sim().await;
        for query in [
            "filterLike%5BemailOrName%5D=shopper%40example.com",
            "filterLike[emailOrName]=SHOPPER@example.com",
        ] {
            let (status, body) = call(
                &sim,
                Method::GET,
                &format!("/order/formatted?{query}"),
                None,
            )
            .await;
            assert_eq!(status, 200, "{query}");
            assert_eq!(
                body,
                json!({"data": [
                    {"id": "ord_ps_1", "custRel": {"id": "cr_1", "email": "Shopper@Example.com"}},
                    {"id": "ord_ps_2", "custRel": {"id": "cr_1", "email": "Shopper@Example.com"}},
                ], "totalCount": 2}),
                "{query}"
            );
        }
        let (_, body) = call(
            &sim,
            Method::GET,
            "/order/formatted?filterLike[emailOrName]=nobody@example.com",
            None,
        )
        .await;
        assert_eq!(body, json!({"data": [], "totalCount": 0}));
        // A LIKE filter: a fragment matches more than one shopper.
        let (_, body) = call(
            &sim,
            Method::GET,
            "/order/formatted?filterLike[emailOrName]=example.com",
            None,
        )
        .await;
        assert_eq!(body["totalCount"], 3);
        let recorded = sim.requests_for("lookup");
        assert_eq!(recorded.len(), 4);
        assert_eq!(
            recorded[0].query.as_deref(),
            Some("filterLike%5BemailOrName%5D=shopper%40example.com")
        );
    }

    #[tokio::test]
    async fn purchase_states_of_a_relationship_in_every_status() {
        let sim = sim().await;
        for path in [
            "/customer/cr_1/purchase-state/",
            "/customer/cr_1/purchase-state",
        ] {
            let (status, body) = call(&sim, Method::GET, path, None).await;
            assert_eq!(status, 200);
            assert_eq!(
                body,
                json!({"data": [
                    {"id": "ps_1", "purchaseStateStatus": "ACTIVE",
                     "nextBillingDate": "2026-11-24T16:00:00.000Z"},
                    {"id": "ps_2", "purchaseStateStatus": "CANCELLED",
                     "nextBillingDate": "2026-11-24T16:00:00.000Z"},
                ]})
            );
        }
        let (status, body) = call(&sim, Method::GET, "/customer/cr_9/purchase-state/", None).await;
        assert_eq!((status, body["statusCode"].clone()), (404, json!(404)));
        assert_eq!(sim.requests_for("list").len(), 3);
    }

    #[tokio::test]
    async fn skip_moves_the_date_and_answers_the_purchase_state() {
        let sim = sim().await;
        let (status, body) = call(&sim, Method::PUT, SKIP, None).await;
        assert_eq!(status, 200);
        assert_eq!(body["id"], "ps_1");
        assert_eq!(body["nextBillingDate"], "2026-12-24T16:00:00.000Z");
        assert_eq!(
            sim.subscription("ps_1").unwrap().next_billing,
            at("2026-12-24T16:00:00Z")
        );
        assert_eq!(sim.skips_applied("ps_1"), 1);

        // Not active, wrong relationship, unknown: nothing changes.
        let (status, body) = call(
            &sim,
            Method::PUT,
            "/customer/cr_1/purchase-state/ps_2/skip",
            None,
        )
        .await;
        assert_eq!((status, body["statusCode"].clone()), (400, json!(400)));
        let (status, _) = call(
            &sim,
            Method::PUT,
            "/customer/cr_2/purchase-state/ps_1/skip",
            None,
        )
        .await;
        assert_eq!(status, 404);
        let (status, _) = call(
            &sim,
            Method::PUT,
            "/customer/cr_1/purchase-state/ps_9/skip",
            None,
        )
        .await;
        assert_eq!(status, 404);
        assert_eq!(
            (sim.skips_applied("ps_1"), sim.skips_applied("ps_2")),
            (1, 0)
        );
        assert_eq!(sim.requests_for("skip").len(), 4);
        // The wrong method is not a skip.
        let (status, _) = call(&sim, Method::POST, SKIP, None).await;
        assert_eq!(status, 404);
        assert_eq!(sim.requests().last().unwrap().op, "unknown");
    }

    #[tokio::test]
    async fn set_date_keeps_the_time_of_day() {
        let sim = sim().await;
        let (status, body) = call(
            &sim,
            Method::PUT,
            SET_DATE,
            Some(json!({"nextBillingDate": "2026-12-08"})),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["nextBillingDate"], "2026-12-08T16:00:00.000Z");
        assert_eq!(body["purchaseStateStatus"], "ACTIVE");
        assert_eq!(
            sim.subscription("ps_1").unwrap().next_billing,
            at("2026-12-08T16:00:00Z")
        );
        assert_eq!(sim.dates_set("ps_1"), 1);

        for bad in [
            json!({}),
            json!({"nextBillingDate": "2026-12-8"}),
            json!({"nextBillingDate": "2026-12-08T16:00:00Z"}),
            json!({"date": "2026-12-09"}),
        ] {
            let (status, _) = call(&sim, Method::PUT, SET_DATE, Some(bad.clone())).await;
            assert_eq!(status, 400, "{bad}");
        }
        assert_eq!(sim.dates_set("ps_1"), 1);
        assert_eq!(sim.skips_applied("ps_1"), 0);
        assert_eq!(sim.requests_for("set_date").len(), 5);
    }

    #[tokio::test]
    async fn faults() {
        let sim = sim().await;
        sim.inject(Fault::once("skip", FaultKind::Refuse));
        let (status, body) = call(&sim, Method::PUT, SKIP, None).await;
        assert_eq!(
            (status, body),
            (
                400,
                json!({
                    "message": "Cannot skip: maximum consecutive skips reached",
                    "statusCode": 400,
                })
            )
        );
        assert_eq!(sim.skips_applied("ps_1"), 0);

        sim.inject(Fault::once("skip", FaultKind::Status(503)));
        let (status, body) = call(&sim, Method::PUT, SKIP, None).await;
        assert_eq!((status, body["statusCode"].clone()), (503, json!(503)));
        assert_eq!(sim.skips_applied("ps_1"), 0);

        sim.inject(Fault::once("skip", FaultKind::ApplyThenStatus(504)));
        assert_eq!(call(&sim, Method::PUT, SKIP, None).await.0, 504);
        assert_eq!(sim.skips_applied("ps_1"), 1);

        sim.inject(Fault::once("set_date", FaultKind::ApplyThenHang));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let err = client
            .put(format!("{}/vendor{SET_DATE}", sim.base_url()))
            .header("x-smartrr-access-token", TOKEN)
            .json(&json!({"nextBillingDate": "2027-02-01"}))
            .send()
            .await
            .unwrap_err();
        assert!(err.is_timeout());
        assert_eq!(sim.dates_set("ps_1"), 1);
        assert_eq!(
            sim.subscription("ps_1").unwrap().next_billing,
            at("2027-02-01T16:00:00Z")
        );
    }

    #[tokio::test]
    async fn no_rate_limit_unless_configured() {
        let sim = sim().await;
        for _ in 0..30 {
            assert_eq!(
                call(&sim, Method::GET, "/customer/cr_1/purchase-state/", None)
                    .await
                    .0,
                200
            );
        }
        sim.set_rate_limit(Some(1));
        assert_eq!(
            call(&sim, Method::GET, "/customer/cr_1/purchase-state/", None)
                .await
                .0,
            200
        );
        let (status, body) = call(&sim, Method::GET, "/customer/cr_1/purchase-state/", None).await;
        assert_eq!((status, body["statusCode"].clone()), (429, json!(429)));
    }
}
