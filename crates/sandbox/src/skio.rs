//! Simulated Skio GraphQL API (`POST /v1/graphql`, `authorization: API <token>`).
//!
//! Like a GraphQL server, it answers 200 for anything it could run, and reports problems in a
//! top-level `errors` array; business refusals come back as `ok: false` with a `message`.
//! The operation is recognised from the query text rather than by parsing GraphQL: the
//! simulator is for testing keyroute's client, which sends three fixed documents.

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::common::{Incoming, Platform, Reply, Simulator};

/// A Skio subscription as seeded into and read back from [`SkioSim`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkioSub {
    pub id: String,
    /// The shopper's phone number, E.164 (`+15555555555`); lookups match it exactly.
    pub phone: String,
    /// Matched case-insensitively by email lookups.
    pub email: Option<String>,
    /// `ACTIVE`, `PAUSED`, `CANCELLED`, ... Only `ACTIVE` ones are found and can be changed.
    pub status: String,
    pub next_billing: Timestamp,
    /// How far a skip moves `next_billing`.
    pub interval_days: i64,
}

/// Simulated Skio; see the module docs.
pub type SkioSim = Simulator<SkioState>;

/// Skio's state: its subscriptions and how many writes each really received.
pub struct SkioState {
    api_token: String,
    subscriptions: Vec<SkioSub>,
    writes: HashMap<String, Writes>,
}

/// Effective writes on one subscription.
#[derive(Clone, Copy, Debug, Default)]
struct Writes {
    skips: u32,
    dates_set: u32,
}

/// A GraphQL request, recognised from its query text.
pub enum SkioCall {
    /// `Subscriptions(...)`, variables `phone` or `email`.
    Lookup(Value),
    /// `skipSubscription`, variable `subscriptionId`.
    Skip(Value),
    /// `updateNextBillingDate`, variables `subscriptionId` and `date`.
    SetDate(Value),
    /// A query the simulator does not know (GraphQL: 200 with `errors`).
    UnknownQuery,
    /// Not `POST /v1/graphql` (404), or a body without a `query` string (400): answered with
    /// this status before any GraphQL runs.
    Rejected(StatusCode, &'static str),
}

impl SkioSim {
    /// Starts a Skio simulator that accepts `authorization: API <api_token>`.
    ///
    /// # Panics
    /// If `127.0.0.1:0` cannot be bound; see [`SkioSim::try_start`].
    pub async fn start(api_token: &str) -> SkioSim {
        Self::try_start(api_token)
            .await
            .expect("bind the Skio simulator on 127.0.0.1")
    }

    /// Like [`SkioSim::start`], returning the bind error instead of panicking.
    pub async fn try_start(api_token: &str) -> std::io::Result<SkioSim> {
        Simulator::serve(SkioState {
            api_token: api_token.to_owned(),
            subscriptions: Vec::new(),
            writes: HashMap::new(),
        })
        .await
    }

    /// Adds a subscription, replacing any with the same id.
    pub fn add_subscription(&self, sub: SkioSub) {
        self.with_state(
            |s| match s.subscriptions.iter_mut().find(|x| x.id == sub.id) {
                Some(existing) => *existing = sub,
                None => s.subscriptions.push(sub),
            },
        );
    }

    /// The subscription as it is now.
    pub fn subscription(&self, id: &str) -> Option<SkioSub> {
        self.with_state(|s| s.find(id).cloned())
    }

    /// How many skips were really applied to this subscription (faulted calls that applied
    /// count; refused, rejected and unauthorised ones do not).
    pub fn skips_applied(&self, id: &str) -> u32 {
        self.with_state(|s| s.writes.get(id).map_or(0, |w| w.skips))
    }

    /// How many set-date calls were really applied to this subscription.
    pub fn dates_set(&self, id: &str) -> u32 {
        self.with_state(|s| s.writes.get(id).map_or(0, |w| w.dates_set))
    }
}

impl SkioState {
    fn find(&self, id: &str) -> Option<&SkioSub> {
        self.subscriptions.iter().find(|s| s.id == id)
    }

    fn lookup(&self, vars: &Value) -> Reply {
        let phone = vars.get("phone").and_then(Value::as_str);
        let email = vars.get("email").and_then(Value::as_str);
        if phone.is_none() && email.is_none() {
            return graphql_error("variable \"$phone\" or \"$email\" is required");
        }
        let found: Vec<Value> = self
            .subscriptions
            .iter()
            .filter(|s| s.status == "ACTIVE")
            .filter(|s| phone.is_none_or(|p| s.phone == p))
            .filter(|s| {
                email.is_none_or(|e| {
                    s.email
                        .as_deref()
                        .is_some_and(|se| se.eq_ignore_ascii_case(e))
                })
            })
            .map(|s| {
                json!({
                    "id": s.id,
                    "status": s.status,
                    "nextBillingDate": timestamptz(s.next_billing),
                    "StorefrontUser": {"id": storefront_user_id(&s.phone), "email": s.email},
                })
            })
            .collect();
        data(json!({ "Subscriptions": found }))
    }

    /// Looks up the `subscriptionId` variable's subscription for a write, or the GraphQL error
    /// to answer.
    fn writable(&mut self, vars: &Value) -> Result<&mut SkioSub, Reply> {
        let Some(id) = vars.get("subscriptionId").and_then(Value::as_str) else {
            return Err(graphql_error("variable \"$subscriptionId\" is required"));
        };
        self.subscriptions
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or_else(|| graphql_error(&format!("Subscription {id} not found")))
    }

    fn skip(&mut self, vars: &Value) -> Reply {
        let sub = match self.writable(vars) {
            Ok(sub) => sub,
            Err(reply) => return reply,
        };
        if sub.status != "ACTIVE" {
            return skip_answer(false, Some("Subscription is not active"), None);
        }
        let Ok(next) = sub
            .next_billing
            .checked_add(SignedDuration::from_hours(24 * sub.interval_days))
        else {
            return graphql_error("next billing date out of range");
        };
        sub.next_billing = next;
        let id = sub.id.clone();
        self.writes.entry(id).or_default().skips += 1;
        skip_answer(true, None, Some(utc_date(next)))
    }

    fn set_date(&mut self, vars: &Value) -> Reply {
        let date = vars.get("date").and_then(Value::as_str).map(str::to_owned);
        let sub = match self.writable(vars) {
            Ok(sub) => sub,
            Err(reply) => return reply,
        };
        let Some(date) = date else {
            return graphql_error("variable \"$date\" is required");
        };
        let Some(date) = parse_date(&date) else {
            return graphql_error(&format!("invalid date \"{date}\", expected YYYY-MM-DD"));
        };
        if sub.status != "ACTIVE" {
            return set_date_answer(false, Some("Subscription is not active"));
        }
        // Keep the time of day: only the date is chosen by the caller.
        let time = sub.next_billing.to_zoned(TimeZone::UTC).time();
        let Ok(next) = date.to_datetime(time).to_zoned(TimeZone::UTC) else {
            return graphql_error("date out of range");
        };
        sub.next_billing = next.timestamp();
        let id = sub.id.clone();
        self.writes.entry(id).or_default().dates_set += 1;
        set_date_answer(true, None)
    }
}

impl Platform for SkioState {
    type Call = SkioCall;
    const NAME: &'static str = "skio";

    fn authorized(&self, req: &Incoming) -> bool {
        req.header_is("authorization", "API ", &self.api_token)
    }

    fn parse(&self, req: &Incoming) -> SkioCall {
        if req.method != Method::POST || req.segments() != ["v1", "graphql"] {
            return SkioCall::Rejected(StatusCode::NOT_FOUND, "Not Found");
        }
        let Some(query) = req
            .json()
            .and_then(|b| b.get("query"))
            .and_then(Value::as_str)
        else {
            return SkioCall::Rejected(
                StatusCode::BAD_REQUEST,
                "expected a JSON body with a \"query\" string",
            );
        };
        let vars = req
            .json()
            .and_then(|b| b.get("variables"))
            .cloned()
            .unwrap_or(Value::Null);
        // Mutations first: "Subscriptions" would not match them, but order makes intent plain.
        if query.contains("skipSubscription") {
            SkioCall::Skip(vars)
        } else if query.contains("updateNextBillingDate") {
            SkioCall::SetDate(vars)
        } else if query.contains("Subscriptions") {
            SkioCall::Lookup(vars)
        } else {
            SkioCall::UnknownQuery
        }
    }

    fn op(call: &SkioCall) -> &'static str {
        match call {
            SkioCall::Lookup(_) => "lookup",
            SkioCall::Skip(_) => "skip",
            SkioCall::SetDate(_) => "set_date",
            SkioCall::UnknownQuery | SkioCall::Rejected(..) => "unknown",
        }
    }

    fn apply(&mut self, call: &SkioCall) -> Reply {
        match call {
            SkioCall::Lookup(vars) => self.lookup(vars),
            SkioCall::Skip(vars) => self.skip(vars),
            SkioCall::SetDate(vars) => self.set_date(vars),
            SkioCall::UnknownQuery => graphql_error("field not found in type: 'query_root'"),
            SkioCall::Rejected(status, message) => self.error(*status, message),
        }
    }

    fn error(&self, status: StatusCode, message: &str) -> Reply {
        Reply::json(status, json!({ "errors": [{ "message": message }] }))
    }

    fn refusal(&self, call: &SkioCall) -> Reply {
        match call {
            SkioCall::Skip(_) => skip_answer(false, Some("Subscription cannot be skipped"), None),
            SkioCall::SetDate(_) => {
                set_date_answer(false, Some("Next billing date cannot be updated"))
            }
            _ => graphql_error("permission denied"),
        }
    }
}

/// `{"data": ...}` with 200.
fn data(data: Value) -> Reply {
    Reply::json(StatusCode::OK, json!({ "data": data }))
}

/// A GraphQL error: 200 with a top-level `errors` array, as Skio answers.
fn graphql_error(message: &str) -> Reply {
    Reply::json(
        StatusCode::OK,
        json!({ "errors": [{ "message": message }] }),
    )
}

fn skip_answer(ok: bool, message: Option<&str>, next: Option<Date>) -> Reply {
    data(json!({ "skipSubscription": {
        "ok": ok,
        "message": message,
        "nextBillingDate": next.map(|d| d.to_string()),
    }}))
}

fn set_date_answer(ok: bool, message: Option<&str>) -> Reply {
    data(json!({ "updateNextBillingDate": { "ok": ok, "message": message } }))
}

/// Skio's timestamptz form: `2026-11-24T16:00:00+00:00` (fraction only when non-zero).
fn timestamptz(ts: Timestamp) -> String {
    ts.to_zoned(TimeZone::UTC)
        .strftime("%Y-%m-%dT%H:%M:%S%.f%:z")
        .to_string()
}

fn utc_date(ts: Timestamp) -> Date {
    ts.to_zoned(TimeZone::UTC).date()
}

/// Strict `YYYY-MM-DD` (jiff's `%m` alone would also take `2026-1-5`).
fn parse_date(s: &str) -> Option<Date> {
    (s.len() == 10).then(|| Date::strptime("%Y-%m-%d", s).ok())?
}

/// Skio's storefront user id: one per phone number, stable across subscriptions.
fn storefront_user_id(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    format!("user-{digits}")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::common::{Fault, FaultKind};
    use super::*;

    const TOKEN: &str = "skio-test-token";

    fn sub(id: &str, phone: &str, status: &str) -> SkioSub {
        SkioSub {
            id: id.to_owned(),
            phone: phone.to_owned(),
            email: Some("Shopper@Example.com".to_owned()),
            status: status.to_owned(),
            next_billing: "2026-11-24T16:00:00Z".parse().unwrap(),
            interval_days: 30,
        }
    }

    async fn sim() -> SkioSim {
        let sim = SkioSim::start(TOKEN).await;
        sim.add_subscription(sub("sub_1", "+15555550001", "ACTIVE"));
        sim.add_subscription(sub("sub_2", "+15555550001", "CANCELLED"));
        sim
    }

    async fn gql(sim: &SkioSim, token: &str, query: &str, vars: Value) -> (u16, Value) {
        let resp = reqwest::Client::new()
            .post(format!("{}/v1/graphql", sim.base_url()))
            .header("authorization", format!("API {token}"))
            .json(&json!({ "query": query, "variables": vars }))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    const LOOKUP: &str = "query Q($phone: String) { Subscriptions(where: {status: {_eq: \"ACTIVE\"}, StorefrontUser: {phoneNumber: {_eq: $phone}}}) { id status nextBillingDate StorefrontUser { id email } } }";
    const SKIP: &str = "mutation M($subscriptionId: String!) { skipSubscription(input: {subscriptionId: $subscriptionId}) { ok message nextBillingDate } }";
    const SET_DATE: &str = "mutation M($subscriptionId: String!, $date: String!) { updateNextBillingDate(input: {subscriptionId: $subscriptionId, date: $date}) { ok message } }";

    #[tokio::test]
    async fn rejects_wrong_or_missing_auth_without_effect() {
        let sim = sim().await;
        let (status, body) = gql(&sim, "wrong", SKIP, json!({"subscriptionId": "sub_1"})).await;
        assert_eq!(status, 401);
        assert!(body["errors"][0]["message"].is_string());
        let resp = reqwest::Client::new()
            .post(format!("{}/v1/graphql", sim.base_url()))
            .json(&json!({ "query": SKIP, "variables": {"subscriptionId": "sub_1"} }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401);
        // Bearer is not Skio's scheme.
        let resp = reqwest::Client::new()
            .post(format!("{}/v1/graphql", sim.base_url()))
            .bearer_auth(TOKEN)
            .json(&json!({ "query": SKIP, "variables": {"subscriptionId": "sub_1"} }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401);
        assert_eq!(sim.skips_applied("sub_1"), 0);
        assert_eq!(
            sim.subscription("sub_1").unwrap(),
            sub("sub_1", "+15555550001", "ACTIVE")
        );
        let ops: Vec<String> = sim.requests().into_iter().map(|r| r.op).collect();
        assert_eq!(ops, ["unauthorized"; 3]);
    }

    #[tokio::test]
    async fn lookup_by_phone_and_email_finds_only_active() {
        let sim = sim().await;
        let (status, body) = gql(&sim, TOKEN, LOOKUP, json!({"phone": "+15555550001"})).await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"data": {"Subscriptions": [{
                "id": "sub_1", "status": "ACTIVE", "nextBillingDate": "2026-11-24T16:00:00+00:00",
                "StorefrontUser": {"id": "user-15555550001", "email": "Shopper@Example.com"},
            }]}})
        );
        let (_, body) = gql(&sim, TOKEN, LOOKUP, json!({"email": "shopper@example.COM"})).await;
        assert_eq!(body["data"]["Subscriptions"].as_array().unwrap().len(), 1);
        let (_, body) = gql(&sim, TOKEN, LOOKUP, json!({"phone": "+15555559999"})).await;
        assert_eq!(body, json!({"data": {"Subscriptions": []}}));
        let (_, body) = gql(&sim, TOKEN, LOOKUP, json!({})).await;
        assert!(body["errors"].is_array());

        let recorded = sim.requests();
        assert_eq!(recorded[0].op, "lookup");
        assert_eq!(recorded[0].method, "POST");
        assert_eq!(recorded[0].path, "/v1/graphql");
        assert_eq!(
            recorded[0].header("Authorization"),
            Some("API skio-test-token")
        );
        assert_eq!(
            recorded[0].json().unwrap()["variables"]["phone"],
            "+15555550001"
        );
    }

    #[tokio::test]
    async fn skip_moves_the_date_by_the_interval() {
        let sim = sim().await;
        let (status, body) = gql(&sim, TOKEN, SKIP, json!({"subscriptionId": "sub_1"})).await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"data": {"skipSubscription": {"ok": true, "message": null, "nextBillingDate": "2026-12-24"}}})
        );
        let now = sim.subscription("sub_1").unwrap().next_billing;
        assert_eq!(now, "2026-12-24T16:00:00Z".parse::<Timestamp>().unwrap());
        assert_eq!(sim.skips_applied("sub_1"), 1);
        assert_eq!(sim.requests_for("skip").len(), 1);

        let (_, body) = gql(&sim, TOKEN, SKIP, json!({"subscriptionId": "sub_2"})).await;
        assert_eq!(body["data"]["skipSubscription"]["ok"], false);
        assert_eq!(sim.skips_applied("sub_2"), 0);

        let (status, body) = gql(&sim, TOKEN, SKIP, json!({"subscriptionId": "nope"})).await;
        assert_eq!(status, 200);
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("not found")
        );
        assert!(body.get("data").is_none());
    }

    #[tokio::test]
    async fn set_date_sets_the_date_and_keeps_the_time() {
        let sim = sim().await;
        let vars = json!({"subscriptionId": "sub_1", "date": "2026-12-08"});
        let (status, body) = gql(&sim, TOKEN, SET_DATE, vars).await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"data": {"updateNextBillingDate": {"ok": true, "message": null}}})
        );
        let next = sim.subscription("sub_1").unwrap().next_billing;
        assert_eq!(next, "2026-12-08T16:00:00Z".parse::<Timestamp>().unwrap());
        assert_eq!(sim.dates_set("sub_1"), 1);
        assert_eq!(sim.skips_applied("sub_1"), 0);

        for bad in ["2026-1-5", "tomorrow", "2026-02-30"] {
            let vars = json!({"subscriptionId": "sub_1", "date": bad});
            let (_, body) = gql(&sim, TOKEN, SET_DATE, vars).await;
            assert!(body["errors"].is_array(), "{bad}");
        }
        assert_eq!(sim.dates_set("sub_1"), 1);
    }

    #[tokio::test]
    async fn unknown_query_and_bad_requests() {
        let sim = sim().await;
        let (status, body) = gql(&sim, TOKEN, "{ Orders { id } }", json!({})).await;
        assert_eq!((status, body["errors"].is_array()), (200, true));
        let resp = reqwest::Client::new()
            .post(format!("{}/v1/graphql", sim.base_url()))
            .header("authorization", format!("API {TOKEN}"))
            .body("not json")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400);
        let resp = reqwest::Client::new()
            .get(format!("{}/v2/other", sim.base_url()))
            .header("authorization", format!("API {TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 404);
        assert!(sim.requests().iter().all(|r| r.op == "unknown"));
    }

    #[tokio::test]
    async fn fault_status_and_rate_limit_do_not_apply() {
        let sim = sim().await;
        sim.inject(Fault::once("skip", FaultKind::Status(503)));
        sim.inject(Fault::once(
            "skip",
            FaultKind::RateLimited {
                retry_after: Some(7),
            },
        ));
        sim.inject(Fault::once(
            "skip",
            FaultKind::RateLimited { retry_after: None },
        ));
        let (status, body) = gql(&sim, TOKEN, SKIP, json!({"subscriptionId": "sub_1"})).await;
        assert_eq!(status, 503);
        assert!(body["errors"].is_array());

        let resp = reqwest::Client::new()
            .post(format!("{}/v1/graphql", sim.base_url()))
            .header("authorization", format!("API {TOKEN}"))
            .json(&json!({ "query": SKIP, "variables": {"subscriptionId": "sub_1"} }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 429);
        assert_eq!(resp.headers()["retry-after"], "7");
        let resp = reqwest::Client::new()
            .post(format!("{}/v1/graphql", sim.base_url()))
            .header("authorization", format!("API {TOKEN}"))
            .json(&json!({ "query": SKIP, "variables": {"subscriptionId": "sub_1"} }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 429);
        assert!(resp.headers().get("retry-after").is_none());
        assert_eq!(sim.skips_applied("sub_1"), 0);

        // Faults are used up: the next skip works.
        let (status, _) = gql(&sim, TOKEN, SKIP, json!({"subscriptionId": "sub_1"})).await;
        assert_eq!(status, 200);
        assert_eq!(sim.skips_applied("sub_1"), 1);
    }

    #[tokio::test]
    async fn fault_only_hits_its_op() {
        let sim = sim().await;
        sim.inject(Fault::times("skip", 2, FaultKind::Status(500)));
        let (status, _) = gql(&sim, TOKEN, LOOKUP, json!({"phone": "+15555550001"})).await;
        assert_eq!(status, 200);
        let (status, _) = gql(&sim, TOKEN, SKIP, json!({"subscriptionId": "sub_1"})).await;
        assert_eq!(status, 500);
        let (status, _) = gql(&sim, TOKEN, SKIP, json!({"subscriptionId": "sub_1"})).await;
        assert_eq!(status, 500);
        let (status, _) = gql(&sim, TOKEN, SKIP, json!({"subscriptionId": "sub_1"})).await;
        assert_eq!(status, 200);

        sim.inject(Fault::once("*", FaultKind::Status(502)));
        let (status, _) = gql(&sim, TOKEN, LOOKUP, json!({"phone": "+15555550001"})).await;
        assert_eq!(status, 502);
        sim.inject(Fault::once("lookup", FaultKind::Status(502)));
        sim.clear_faults();
        let (status, _) = gql(&sim, TOKEN, LOOKUP, json!({"phone": "+15555550001"})).await;
        assert_eq!(status, 200);
    }

    #[tokio::test]
    async fn apply_then_status_applies_the_write() {
        let sim = sim().await;
        sim.inject(Fault::once("skip", FaultKind::ApplyThenStatus(500)));
        let (status, _) = gql(&sim, TOKEN, SKIP, json!({"subscriptionId": "sub_1"})).await;
        assert_eq!(status, 500);
        assert_eq!(sim.skips_applied("sub_1"), 1);
        let next = sim.subscription("sub_1").unwrap().next_billing;
        assert_eq!(next, "2026-12-24T16:00:00Z".parse::<Timestamp>().unwrap());
    }

    #[tokio::test]
    async fn apply_then_hang_applies_and_never_answers() {
        let sim = sim().await;
        sim.inject(Fault::once("set_date", FaultKind::ApplyThenHang));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let err = client
            .post(format!("{}/v1/graphql", sim.base_url()))
            .header("authorization", format!("API {TOKEN}"))
            .json(&json!({ "query": SET_DATE, "variables": {"subscriptionId": "sub_1", "date": "2027-01-01"} }))
            .send()
            .await
            .unwrap_err();
        assert!(err.is_timeout());
        assert_eq!(sim.dates_set("sub_1"), 1);
        let next = sim.subscription("sub_1").unwrap().next_billing;
        assert_eq!(next, "2027-01-01T16:00:00Z".parse::<Timestamp>().unwrap());
    }

    #[tokio::test]
    async fn dropping_the_sim_releases_a_hanging_call_and_stops_serving() {
        let sim = sim().await;
        let base_url = sim.base_url();
        sim.inject(Fault::once("skip", FaultKind::ApplyThenHang));
        let pending = tokio::spawn(
            reqwest::Client::new()
                .post(format!("{base_url}/v1/graphql"))
                .header("authorization", format!("API {TOKEN}"))
                .json(&json!({ "query": SKIP, "variables": {"subscriptionId": "sub_1"} }))
                .send(),
        );
        while sim.skips_applied("sub_1") == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(sim);
        let answer = tokio::time::timeout(Duration::from_secs(5), pending)
            .await
            .expect("the hanging call ends once the simulator is dropped")
            .unwrap();
        // Either the connection closed or the released handler answered 503: never a success.
        assert!(answer.is_err() || answer.unwrap().status().as_u16() == 503);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let after = reqwest::Client::new()
            .post(format!("{base_url}/v1/graphql"))
            .send()
            .await;
        assert!(after.is_err(), "nothing listens after the drop");
    }

    #[tokio::test]
    async fn delay_then_normal() {
        let sim = sim().await;
        sim.inject(Fault::once(
            "skip",
            FaultKind::Delay(Duration::from_millis(200)),
        ));
        let started = std::time::Instant::now();
        let (status, body) = gql(&sim, TOKEN, SKIP, json!({"subscriptionId": "sub_1"})).await;
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert_eq!(status, 200);
        assert_eq!(body["data"]["skipSubscription"]["ok"], true);
        assert_eq!(sim.skips_applied("sub_1"), 1);
    }

    #[tokio::test]
    async fn delay_still_applies_after_the_client_gave_up() {
        let sim = sim().await;
        sim.inject(Fault::once(
            "skip",
            FaultKind::Delay(Duration::from_millis(300)),
        ));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(50))
            .build()
            .unwrap();
        let err = client
            .post(format!("{}/v1/graphql", sim.base_url()))
            .header("authorization", format!("API {TOKEN}"))
            .json(&json!({ "query": SKIP, "variables": {"subscriptionId": "sub_1"} }))
            .send()
            .await
            .unwrap_err();
        assert!(err.is_timeout());
        assert_eq!(sim.skips_applied("sub_1"), 0);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(sim.skips_applied("sub_1"), 1);
    }

    #[tokio::test]
    async fn refuse_answers_ok_false_without_applying() {
        let sim = sim().await;
        sim.inject(Fault::once("skip", FaultKind::Refuse));
        sim.inject(Fault::once("set_date", FaultKind::Refuse));
        let (status, body) = gql(&sim, TOKEN, SKIP, json!({"subscriptionId": "sub_1"})).await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"data": {"skipSubscription": {"ok": false, "message": "Subscription cannot be skipped", "nextBillingDate": null}}})
        );
        let vars = json!({"subscriptionId": "sub_1", "date": "2027-01-01"});
        let (status, body) = gql(&sim, TOKEN, SET_DATE, vars).await;
        assert_eq!(status, 200);
        assert_eq!(body["data"]["updateNextBillingDate"]["ok"], false);
        assert!(body["data"]["updateNextBillingDate"]["message"].is_string());
        assert_eq!(
            sim.subscription("sub_1").unwrap(),
            sub("sub_1", "+15555550001", "ACTIVE")
        );
        assert_eq!((sim.skips_applied("sub_1"), sim.dates_set("sub_1")), (0, 0));
    }

    #[tokio::test]
    async fn natural_rate_limit_when_configured() {
        let sim = sim().await;
        sim.set_rate_limit(Some(2));
        let mut statuses = Vec::new();
        for _ in 0..3 {
            statuses.push(
                gql(&sim, TOKEN, LOOKUP, json!({"phone": "+15555550001"}))
                    .await
                    .0,
            );
        }
        assert_eq!(statuses, [200, 200, 429]);
    }
}
