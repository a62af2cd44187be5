//! Simulated Prive (Recurly Commerce) REST API (`/api/v1`, `Authorization: Bearer <token>`).
//!
//! Prive skips an *upcoming order* rather than "the next one": each subscription carries a list
//! of upcoming orders (`scheduledDate`, `isSkipped`), the skip path names one by its date, and
//! the answer is that order, not the subscription's new date. The simulator keeps the list
//! topped up to [`UNSKIPPED_AHEAD`] orders that are not skipped, one interval apart, with the
//! subscription's next billing and delivery dates on the first of them. Errors are
//! `{"error": "..."}`; the rate limit is a leaky bucket of 50 draining 2 per second.
//!
//! Guesses of this simulator where `shared/platforms.md` is silent: the error body, the
//! statuses of validation errors (400 for a malformed request, 422 for one that does not fit
//! the subscription), `{"skip": true}` being required (no unskip), writes needing an `ACTIVE`
//! subscription, `page`/`limit` paging (default 50, at most 250) and exact, case-sensitive
//! `status` filtering.

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::common::{Incoming, Platform, RateLimit, Reply, Simulator, js_iso, parse_ymd, utc_date};

/// Prive's documented limit: a leaky bucket of 50 requests, draining 2 per second, per key.
const RATE_LIMIT: RateLimit = RateLimit::LeakyBucket {
    capacity: 50,
    drain_per_second: 2,
};

/// How many upcoming orders that are not skipped a subscription always shows.
const UNSKIPPED_AHEAD: usize = 3;

/// Page size when the lookup names none, and the largest accepted.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 250;

/// A Prive subscription as seeded into and read back from [`PriveSim`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriveSub {
    pub id: String,
    /// The shopper's Shopify customer id, matched by `?subscriberExternalId=`.
    pub subscriber_external_id: Option<String>,
    /// Matched case-insensitively by `?subscriberEmail=`.
    pub email: Option<String>,
    /// `ACTIVE`, `PAUSED` or `CANCELLED`. Writes need `ACTIVE`.
    pub status: String,
    /// Next billing date: always the first upcoming order that is not skipped.
    pub next_billing: Timestamp,
    /// The time between upcoming orders.
    pub interval_days: i64,
}

/// Simulated Prive; see the module docs.
pub type PriveSim = Simulator<PriveState>;

/// Prive's state: its subscriptions with their upcoming orders, and the writes each received.
pub struct PriveState {
    api_token: String,
    subscriptions: Vec<Entry>,
    writes: HashMap<String, Writes>,
}

/// A subscription and what Prive derives from it.
struct Entry {
    /// `sub.next_billing` is kept on the first unskipped order of `upcoming`.
    sub: PriveSub,
    /// Next delivery date minus next billing date: zero unless a set-date call sent two
    /// different dates, and kept when a skip moves both.
    delivery_offset: SignedDuration,
    /// In date order; skipped ones stay listed.
    upcoming: Vec<UpcomingOrder>,
}

#[derive(Clone, Copy, Debug)]
struct UpcomingOrder {
    scheduled: Timestamp,
    skipped: bool,
}

/// Effective writes on one subscription.
#[derive(Clone, Copy, Debug, Default)]
struct Writes {
    skips: u32,
    dates_set: u32,
}

/// A Prive call, with ids and dates as sent in the path (percent-decoded).
pub enum PriveCall {
    /// `GET /api/v1/subscriptions?subscriberExternalId=|subscriberEmail=&status=&page=&limit=`.
    Lookup(LookupQuery),
    /// `GET /api/v1/subscriptions/{id}`.
    Get(String),
    /// `PATCH /api/v1/subscriptions/{id}/upcomingOrders/{YYYY-MM-DD}/skip` with its body.
    Skip {
        id: String,
        date: String,
        body: Option<Value>,
    },
    /// `PATCH /api/v1/subscriptions/{id}/nextBillingAndDeliveryDate` with its body.
    SetDate {
        id: String,
        body: Option<Value>,
    },
    Unknown,
}

/// The lookup's query parameters, decoded.
pub struct LookupQuery {
    external_id: Option<String>,
    email: Option<String>,
    status: Option<String>,
    page: Option<String>,
    limit: Option<String>,
}

impl PriveSim {
    /// Starts a Prive simulator that accepts `Authorization: Bearer <api_token>`, with Prive's
    /// leaky bucket (50, draining 2/s) on. Tests that need more use `set_rate_limit(None)` or
    /// `set_rate_limiter`.
    ///
    /// # Panics
    /// If `127.0.0.1:0` cannot be bound; see [`PriveSim::try_start`].
    pub async fn start(api_token: &str) -> PriveSim {
        Self::try_start(api_token)
            .await
            .expect("bind the Prive simulator on 127.0.0.1")
    }

    /// Like [`PriveSim::start`], returning the bind error instead of panicking.
    pub async fn try_start(api_token: &str) -> std::io::Result<PriveSim> {
        Simulator::serve(PriveState {
            api_token: api_token.to_owned(),
            subscriptions: Vec::new(),
            writes: HashMap::new(),
        })
        .await
    }

    /// Adds a subscription, replacing any with the same id. Its upcoming orders are the next
    /// three cycles from `next_billing`, none skipped.
    pub fn add_subscription(&self, sub: PriveSub) {
        let entry = Entry::new(sub);
        self.with_state(|s| {
            match s
                .subscriptions
                .iter_mut()
                .find(|e| e.sub.id == entry.sub.id)
            {
                Some(existing) => *existing = entry,
                None => s.subscriptions.push(entry),
            }
        });
    }

    /// The subscription as it is now.
    pub fn subscription(&self, id: &str) -> Option<PriveSub> {
        self.with_state(|s| s.find(id).map(|e| e.sub.clone()))
    }

    /// How many upcoming orders were really skipped on this subscription (faulted calls that
    /// applied count; refused, rejected and unauthorised ones do not).
    pub fn skips_applied(&self, id: &str) -> u32 {
        self.with_state(|s| s.writes.get(id).map_or(0, |w| w.skips))
    }

    /// How many date changes were really applied to this subscription.
    pub fn dates_set(&self, id: &str) -> u32 {
        self.with_state(|s| s.writes.get(id).map_or(0, |w| w.dates_set))
    }
}

impl Entry {
    fn new(sub: PriveSub) -> Entry {
        let mut entry = Entry {
            delivery_offset: SignedDuration::ZERO,
            upcoming: vec![UpcomingOrder {
                scheduled: sub.next_billing,
                skipped: false,
            }],
            sub,
        };
        entry.top_up();
        entry
    }

    fn interval(&self) -> SignedDuration {
        SignedDuration::from_hours(24 * self.sub.interval_days)
    }

    /// Appends cycles until [`UNSKIPPED_AHEAD`] orders are not skipped, then puts the next
    /// billing date on the first of them.
    fn top_up(&mut self) {
        let interval = self.interval();
        while self.upcoming.iter().filter(|o| !o.skipped).count() < UNSKIPPED_AHEAD {
            let Some(last) = self.upcoming.last() else {
                break;
            };
            let Ok(scheduled) = last.scheduled.checked_add(interval) else {
                break;
            };
            self.upcoming.push(UpcomingOrder {
                scheduled,
                skipped: false,
            });
        }
        if let Some(first) = self.upcoming.iter().find(|o| !o.skipped) {
            self.sub.next_billing = first.scheduled;
        }
    }

    fn next_delivery(&self) -> Timestamp {
        self.sub
            .next_billing
            .checked_add(self.delivery_offset)
            .unwrap_or(self.sub.next_billing)
    }

    fn json(&self) -> Value {
        let upcoming: Vec<Value> = self.upcoming.iter().map(UpcomingOrder::json).collect();
        json!({
            "id": self.sub.id,
            "status": self.sub.status,
            "nextBillingDate": js_iso(self.sub.next_billing),
            "nextDeliveryDate": js_iso(self.next_delivery()),
            "upcomingOrders": upcoming,
        })
    }
}

impl UpcomingOrder {
    fn json(&self) -> Value {
        json!({ "scheduledDate": js_iso(self.scheduled), "isSkipped": self.skipped })
    }
}

impl PriveState {
    fn find(&self, id: &str) -> Option<&Entry> {
        self.subscriptions.iter().find(|e| e.sub.id == id)
    }

    fn lookup(&self, query: &LookupQuery) -> Reply {
        let page = match query.page.as_deref().map(str::parse::<usize>) {
            None => 1,
            Some(Ok(page)) if page >= 1 => page,
            Some(_) => return self.error(StatusCode::BAD_REQUEST, "page must be 1 or more"),
        };
        let limit = match query.limit.as_deref().map(str::parse::<usize>) {
            None => DEFAULT_LIMIT,
            Some(Ok(limit)) if (1..=MAX_LIMIT).contains(&limit) => limit,
            Some(_) => {
                return self.error(StatusCode::BAD_REQUEST, "limit must be from 1 to 250");
            }
        };
        let found: Vec<&Entry> = self
            .subscriptions
            .iter()
            .filter(|e| {
                query
                    .external_id
                    .as_deref()
                    .is_none_or(|id| e.sub.subscriber_external_id.as_deref() == Some(id))
            })
            .filter(|e| {
                query.email.as_deref().is_none_or(|wanted| {
                    e.sub
                        .email
                        .as_deref()
                        .is_some_and(|email| email.eq_ignore_ascii_case(wanted))
                })
            })
            .filter(|e| query.status.as_deref().is_none_or(|s| e.sub.status == s))
            .collect();
        let total = found.len();
        let on_page: Vec<Value> = found
            .iter()
            .skip((page - 1).saturating_mul(limit))
            .take(limit)
            .map(|e| e.json())
            .collect();
        Reply::json(
            StatusCode::OK,
            json!({
                "page": page,
                "limit": limit,
                "totalItems": total,
                "totalPages": total.div_ceil(limit).max(1),
                "subscriptions": on_page,
            }),
        )
    }

    fn get(&self, id: &str) -> Reply {
        match self.find(id) {
            Some(entry) => Reply::json(StatusCode::OK, entry.json()),
            None => self.not_found(),
        }
    }

    /// The subscription a write names, if it exists and is active, or the answer to give.
    fn writable(&mut self, id: &str) -> Result<&mut Entry, Reply> {
        let not_found = self.not_found();
        let inactive = self.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Subscription is not active",
        );
        let entry = self
            .subscriptions
            .iter_mut()
            .find(|e| e.sub.id == id)
            .ok_or(not_found)?;
        if entry.sub.status == "ACTIVE" {
            Ok(entry)
        } else {
            Err(inactive)
        }
    }

    fn skip(&mut self, id: &str, date: &str, body: Option<&Value>) -> Reply {
        if self.find(id).is_none() {
            return self.not_found();
        }
        if body.and_then(|b| b.get("skip")) != Some(&Value::Bool(true)) {
            return self.error(StatusCode::BAD_REQUEST, "body must be {\"skip\": true}");
        }
        let Some(date) = parse_ymd(date) else {
            return self.error(StatusCode::BAD_REQUEST, "the order date must be YYYY-MM-DD");
        };
        let no_such_order = self.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("No upcoming order that is not skipped on {date}"),
        );
        let entry = match self.writable(id) {
            Ok(entry) => entry,
            Err(reply) => return reply,
        };
        let Some(order) = entry
            .upcoming
            .iter_mut()
            .find(|o| !o.skipped && utc_date(o.scheduled) == date)
        else {
            return no_such_order;
        };
        order.skipped = true;
        let answer = order.json();
        entry.top_up();
        self.writes.entry(id.to_owned()).or_default().skips += 1;
        Reply::json(StatusCode::OK, answer)
    }

    fn set_date(&mut self, id: &str, body: Option<&Value>) -> Reply {
        if self.find(id).is_none() {
            return self.not_found();
        }
        let field = |name: &str| {
            body.and_then(|b| b.get(name))
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<Timestamp>().ok())
        };
        let (Some(billing), Some(delivery)) = (field("nextBillingDate"), field("nextDeliveryDate"))
        else {
            return self.error(
                StatusCode::BAD_REQUEST,
                "nextBillingDate and nextDeliveryDate are both required, as ISO 8601 date-times",
            );
        };
        let entry = match self.writable(id) {
            Ok(entry) => entry,
            Err(reply) => return reply,
        };
        // A new date starts a new schedule: earlier skips no longer apply.
        entry.sub.next_billing = billing;
        entry.delivery_offset = delivery.duration_since(billing);
        entry.upcoming = vec![UpcomingOrder {
            scheduled: billing,
            skipped: false,
        }];
        entry.top_up();
        let answer = entry.json();
        self.writes.entry(id.to_owned()).or_default().dates_set += 1;
        Reply::json(StatusCode::OK, answer)
    }

    fn not_found(&self) -> Reply {
        self.error(StatusCode::NOT_FOUND, "Subscription not found")
    }
}

impl Platform for PriveState {
    type Call = PriveCall;
    const NAME: &'static str = "prive";

    fn authorized(&self, req: &Incoming) -> bool {
        req.header_is("authorization", "Bearer ", &self.api_token)
    }

    fn parse(&self, req: &Incoming) -> PriveCall {
        let segments = req.segments();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let Some(rest) = segments.strip_prefix(&["api", "v1"][..]) else {
            return PriveCall::Unknown;
        };
        match (&req.method, rest) {
            (&Method::GET, ["subscriptions"]) => PriveCall::Lookup(LookupQuery {
                external_id: req.query_param("subscriberExternalId"),
                email: req.query_param("subscriberEmail"),
                status: req.query_param("status"),
                page: req.query_param("page"),
                limit: req.query_param("limit"),
            }),
            (&Method::GET, ["subscriptions", id]) => PriveCall::Get((*id).to_owned()),
            (&Method::PATCH, ["subscriptions", id, "upcomingOrders", date, "skip"]) => {
                PriveCall::Skip {
                    id: (*id).to_owned(),
                    date: (*date).to_owned(),
                    body: req.json().cloned(),
                }
            }
            (&Method::PATCH, ["subscriptions", id, "nextBillingAndDeliveryDate"]) => {
                PriveCall::SetDate {
                    id: (*id).to_owned(),
                    body: req.json().cloned(),
                }
            }
            _ => PriveCall::Unknown,
        }
    }

    fn op(call: &PriveCall) -> &'static str {
        match call {
            PriveCall::Lookup(_) => "lookup",
            PriveCall::Get(_) => "get",
            PriveCall::Skip { .. } => "skip",
            PriveCall::SetDate { .. } => "set_date",
            PriveCall::Unknown => "unknown",
        }
    }

    fn apply(&mut self, call: &PriveCall) -> Reply {
        match call {
            PriveCall::Lookup(query) => self.lookup(query),
            PriveCall::Get(id) => self.get(id),
            PriveCall::Skip { id, date, body } => self.skip(id, date, body.as_ref()),
            PriveCall::SetDate { id, body } => self.set_date(id, body.as_ref()),
            PriveCall::Unknown => self.error(StatusCode::NOT_FOUND, "Not Found"),
        }
    }

    fn error(&self, status: StatusCode, message: &str) -> Reply {
        Reply::json(status, json!({ "error": message }))
    }

    fn refusal(&self, call: &PriveCall) -> Reply {
        let message = match call {
            PriveCall::Skip { .. } => "Subscription cannot be skipped",
            PriveCall::SetDate { .. } => "Subscription dates cannot be changed",
            _ => "Request refused",
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

    const TOKEN: &str = "prive-test-token";

    fn sub(id: &str, external_id: &str, status: &str) -> PriveSub {
        PriveSub {
            id: id.to_owned(),
            subscriber_external_id: Some(external_id.to_owned()),
            email: Some("Shopper@Example.com".to_owned()),
            status: status.to_owned(),
            next_billing: "2026-11-24T16:00:00Z".parse().unwrap(),
            interval_days: 30,
        }
    }

    async fn sim() -> PriveSim {
        let sim = PriveSim::start(TOKEN).await;
        sim.add_subscription(sub("sub_1", "5001", "ACTIVE"));
        sim.add_subscription(sub("sub_2", "5001", "CANCELLED"));
        sim.add_subscription(PriveSub {
            email: None,
            ..sub("sub_3", "6001", "ACTIVE")
        });
        sim
    }

    async fn call(sim: &PriveSim, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = reqwest::Client::new()
            .request(method, format!("{}/api/v1{path}", sim.base_url()))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn skip(sim: &PriveSim, id: &str, date: &str) -> (u16, Value) {
        let path = format!("/subscriptions/{id}/upcomingOrders/{date}/skip");
        call(sim, Method::PATCH, &path, Some(json!({"skip": true}))).await
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// `(scheduledDate, isSkipped)` of each upcoming order in a subscription answer.
    fn upcoming(subscription: &Value) -> Vec<(String, bool)> {
        subscription["upcomingOrders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["scheduledDate"].as_str().unwrap().to_owned(),
                    o["isSkipped"].as_bool().unwrap(),
                )
            })
            .collect()
    }

    fn order(date: &str, skipped: bool) -> (String, bool) {
        (format!("{date}T16:00:00.000Z"), skipped)
    }

    #[tokio::test]
    async fn rejects_wrong_or_missing_auth_without_effect() {
        let sim = sim().await;
        let url = format!(
            "{}/api/v1/subscriptions/sub_1/upcomingOrders/2026-11-24/skip",
            sim.base_url()
        );
        let client = reqwest::Client::new();
        for req in [
            client.patch(&url).bearer_auth("nope"),
            client.patch(&url),
            client.patch(&url).header("authorization", TOKEN),
        ] {
            let resp = req.json(&json!({"skip": true})).send().await.unwrap();
            assert_eq!(resp.status().as_u16(), 401);
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body, json!({"error": "Unauthorized"}));
        }
        assert_eq!(
            sim.subscription("sub_1").unwrap(),
            sub("sub_1", "5001", "ACTIVE")
        );
        assert_eq!(sim.skips_applied("sub_1"), 0);
        let ops: Vec<String> = sim.requests().into_iter().map(|r| r.op).collect();
        assert_eq!(ops, ["unauthorized"; 3]);
    }

    #[tokio::test]
    async fn lookup_by_external_id_or_email_with_status_filter() {
        let sim = sim().await;
        let (status, body) = call(
            &sim,
            Method::GET,
            "/subscriptions?subscriberExternalId=5001&status=ACTIVE",
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"page": 1, "limit": 50, "totalItems": 1, "totalPages": 1, "subscriptions": [{
                "id": "sub_1", "status": "ACTIVE",
                "nextBillingDate": "2026-11-24T16:00:00.000Z",
                "nextDeliveryDate": "2026-11-24T16:00:00.000Z",
                "upcomingOrders": [
                    {"scheduledDate": "2026-11-24T16:00:00.000Z", "isSkipped": false},
                    {"scheduledDate": "2026-12-24T16:00:00.000Z", "isSkipped": false},
                    {"scheduledDate": "2027-01-23T16:00:00.000Z", "isSkipped": false},
                ],
            }]})
        );
        let (_, body) = call(
            &sim,
            Method::GET,
            "/subscriptions?subscriberEmail=shopper%40EXAMPLE.com&status=ACTIVE",
            None,
        )
        .await;
        assert_eq!(body["totalItems"], 1);
        assert_eq!(body["subscriptions"][0]["id"], "sub_1");
        // Without a status filter every status is listed; an unknown shopper gets an empty page.
        let (_, body) = call(
            &sim,
            Method::GET,
            "/subscriptions?subscriberExternalId=5001",
            None,
        )
        .await;
        assert_eq!(body["totalItems"], 2);
        let (_, body) = call(
            &sim,
            Method::GET,
            "/subscriptions?subscriberEmail=x%40y.z",
            None,
        )
        .await;
        assert_eq!(
            (body["totalItems"].clone(), body["subscriptions"].clone()),
            (json!(0), json!([]))
        );
        assert_eq!(sim.requests_for("lookup").len(), 4);
    }

    #[tokio::test]
    async fn lookup_pages() {
        let sim = sim().await;
        let (_, body) = call(&sim, Method::GET, "/subscriptions?limit=2&page=2", None).await;
        assert_eq!(
            (body["totalItems"].clone(), body["totalPages"].clone()),
            (json!(3), json!(2))
        );
        assert_eq!(body["subscriptions"].as_array().unwrap().len(), 1);
        assert_eq!(body["subscriptions"][0]["id"], "sub_3");
        for bad in ["limit=0", "limit=251", "page=0", "page=x"] {
            let (status, body) =
                call(&sim, Method::GET, &format!("/subscriptions?{bad}"), None).await;
            assert_eq!(status, 400, "{bad}");
            assert!(body["error"].is_string());
        }
    }

    #[tokio::test]
    async fn skip_marks_the_order_and_moves_the_next_dates() {
        let sim = sim().await;
        let (status, body) = skip(&sim, "sub_1", "2026-11-24").await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"scheduledDate": "2026-11-24T16:00:00.000Z", "isSkipped": true})
        );
        assert_eq!(sim.skips_applied("sub_1"), 1);
        assert_eq!(
            sim.subscription("sub_1").unwrap().next_billing,
            at("2026-12-24T16:00:00Z")
        );

        let (_, got) = call(&sim, Method::GET, "/subscriptions/sub_1", None).await;
        assert_eq!(got["nextBillingDate"], "2026-12-24T16:00:00.000Z");
        assert_eq!(got["nextDeliveryDate"], "2026-12-24T16:00:00.000Z");
        assert_eq!(
            upcoming(&got),
            [
                order("2026-11-24", true),
                order("2026-12-24", false),
                order("2027-01-23", false),
                order("2027-02-22", false),
            ]
        );

        // The skipped date again, a date with no order, a malformed date: nothing changes.
        for date in ["2026-11-24", "2026-12-25"] {
            let (status, body) = skip(&sim, "sub_1", date).await;
            assert_eq!(status, 422, "{date}");
            assert!(body["error"].is_string());
        }
        assert_eq!(skip(&sim, "sub_1", "2026-12-24T16:00:00Z").await.0, 400);
        assert_eq!(skip(&sim, "sub_2", "2026-11-24").await.0, 422);
        assert_eq!(skip(&sim, "sub_9", "2026-11-24").await.0, 404);
        let path = "/subscriptions/sub_1/upcomingOrders/2026-12-24/skip";
        assert_eq!(call(&sim, Method::PATCH, path, None).await.0, 400);
        assert_eq!(
            call(&sim, Method::PATCH, path, Some(json!({"skip": false})))
                .await
                .0,
            400
        );
        assert_eq!(sim.skips_applied("sub_1"), 1);
        assert_eq!(sim.skips_applied("sub_2"), 0);

        // A later order can be skipped too; the next dates stay on the first unskipped one.
        assert_eq!(skip(&sim, "sub_1", "2027-01-23").await.0, 200);
        let (_, got) = call(&sim, Method::GET, "/subscriptions/sub_1", None).await;
        assert_eq!(got["nextBillingDate"], "2026-12-24T16:00:00.000Z");
        assert_eq!(
            upcoming(&got)[1..],
            [
                order("2026-12-24", false),
                order("2027-01-23", true),
                order("2027-02-22", false),
                order("2027-03-24", false),
            ]
        );
        assert_eq!(sim.skips_applied("sub_1"), 2);
        assert_eq!(sim.requests_for("skip").len(), 9);
        assert_eq!(sim.requests_for("get").len(), 2);
    }

    #[tokio::test]
    async fn set_dates_regenerates_the_schedule() {
        let sim = sim().await;
        assert_eq!(skip(&sim, "sub_1", "2026-11-24").await.0, 200);
        let path = "/subscriptions/sub_1/nextBillingAndDeliveryDate";
        let body = json!({
            "nextBillingDate": "2026-12-08T16:00:00.000Z",
            "nextDeliveryDate": "2026-12-10T09:00:00Z",
        });
        let (status, got) = call(&sim, Method::PATCH, path, Some(body)).await;
        assert_eq!(status, 200);
        assert_eq!(got["nextBillingDate"], "2026-12-08T16:00:00.000Z");
        assert_eq!(got["nextDeliveryDate"], "2026-12-10T09:00:00.000Z");
        assert_eq!(
            upcoming(&got),
            [
                order("2026-12-08", false),
                order("2027-01-07", false),
                order("2027-02-06", false)
            ]
        );
        assert_eq!(
            sim.subscription("sub_1").unwrap().next_billing,
            at("2026-12-08T16:00:00Z")
        );
        assert_eq!(sim.dates_set("sub_1"), 1);
        // A skip moves delivery along with billing.
        assert_eq!(skip(&sim, "sub_1", "2026-12-08").await.0, 200);
        let (_, got) = call(&sim, Method::GET, "/subscriptions/sub_1", None).await;
        assert_eq!(got["nextBillingDate"], "2027-01-07T16:00:00.000Z");
        assert_eq!(got["nextDeliveryDate"], "2027-01-09T09:00:00.000Z");

        for bad in [
            json!({"nextBillingDate": "2026-12-09T16:00:00Z"}),
            json!({"nextDeliveryDate": "2026-12-09T16:00:00Z"}),
            json!({"nextBillingDate": "2026-12-09", "nextDeliveryDate": "2026-12-09"}),
        ] {
            let (status, body) = call(&sim, Method::PATCH, path, Some(bad.clone())).await;
            assert_eq!(status, 400, "{bad}");
            assert!(body["error"].is_string());
        }
        let both = json!({
            "nextBillingDate": "2026-12-09T16:00:00Z",
            "nextDeliveryDate": "2026-12-09T16:00:00Z",
        });
        let cancelled = "/subscriptions/sub_2/nextBillingAndDeliveryDate";
        assert_eq!(
            call(&sim, Method::PATCH, cancelled, Some(both)).await.0,
            422
        );
        assert_eq!((sim.dates_set("sub_1"), sim.dates_set("sub_2")), (1, 0));
        assert_eq!(sim.requests_for("set_date").len(), 5);
    }

    #[tokio::test]
    async fn leaky_bucket_is_on_by_default() {
        let sim = sim().await;
        let client = reqwest::Client::new();
        let started = std::time::Instant::now();
        let mut burst = tokio::task::JoinSet::new();
        for _ in 0..60 {
            let req = client
                .get(format!("{}/api/v1/subscriptions/sub_1", sim.base_url()))
                .bearer_auth(TOKEN);
            burst.spawn(async move {
                let resp = req.send().await.unwrap();
                (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
            });
        }
        let answers = burst.join_all().await;
        let drained = 2.0 * started.elapsed().as_secs_f64();
        let passed = answers.iter().filter(|(s, _)| *s == 200).count();
        // The first 50 always fit; beyond that only what drained during the burst.
        assert!(
            passed >= 50 && passed as f64 <= 50.0 + drained + 1.0,
            "{passed} in {drained}"
        );
        let (_, body) = answers
            .iter()
            .find(|(s, _)| *s == 429)
            .expect("the burst overflows");
        assert_eq!(body, &json!({"error": "Too many requests"}));

        // Half a second drains one unit.
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(
            call(&sim, Method::GET, "/subscriptions/sub_1", None)
                .await
                .0,
            200
        );

        sim.set_rate_limit(None);
        for _ in 0..60 {
            assert_eq!(
                call(&sim, Method::GET, "/subscriptions/sub_1", None)
                    .await
                    .0,
                200
            );
        }
        sim.set_rate_limiter(Some(RateLimit::LeakyBucket {
            capacity: 1,
            drain_per_second: 1,
        }));
        assert_eq!(
            call(&sim, Method::GET, "/subscriptions/sub_1", None)
                .await
                .0,
            200
        );
        assert_eq!(
            call(&sim, Method::GET, "/subscriptions/sub_1", None)
                .await
                .0,
            429
        );
    }

    #[tokio::test]
    async fn faults() {
        let sim = sim().await;
        sim.inject(Fault::once("skip", FaultKind::Refuse));
        let (status, body) = skip(&sim, "sub_1", "2026-11-24").await;
        assert_eq!(
            (status, body),
            (422, json!({"error": "Subscription cannot be skipped"}))
        );
        assert_eq!(sim.skips_applied("sub_1"), 0);

        sim.inject(Fault::once("skip", FaultKind::ApplyThenStatus(502)));
        assert_eq!(skip(&sim, "sub_1", "2026-11-24").await.0, 502);
        assert_eq!(sim.skips_applied("sub_1"), 1);
        // Retrying the lost skip as sent fails: that order is already skipped.
        assert_eq!(skip(&sim, "sub_1", "2026-11-24").await.0, 422);
        assert_eq!(sim.skips_applied("sub_1"), 1);

        sim.inject(Fault::once("get", FaultKind::Status(500)));
        let (status, body) = call(&sim, Method::GET, "/subscriptions/sub_1", None).await;
        assert_eq!((status, body["error"].is_string()), (500, true));
        assert_eq!(
            sim.subscription("sub_1").unwrap().next_billing,
            at("2026-12-24T16:00:00Z")
        );
    }
}
