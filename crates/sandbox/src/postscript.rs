//! Simulated Postscript API (`/api/v2`, `Authorization: Bearer <api key>`): custom events,
//! subscriber reads, the webhook signing token and webhook registration.
//!
//! Custom events are validated the way the documentation describes them, so a malformed event
//! from keyroute fails here rather than silently in production. Events are de-duplicated on
//! `external_id`: a repeat is answered 202 with the first event's id and is not stored twice,
//! which is what keyroute's stable `external_id` relies on ("a retry never makes a second
//! event"); every attempt still shows in [`PostscriptSim::requests`].
//!
//! Details the documentation does not give, and which are therefore this simulator's own
//! guesses: the `error_code` of errors other than the rate limit (the HTTP status is used), the
//! `page_info` fields, and the answers to webhook creation (200 with the webhook) and deletion
//! (200 `{"id", "deleted": true}`).

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use jiff::civil::DateTime;
use serde_json::{Value, json};

use super::common::{Incoming, Platform, Reply, Simulator, random_id};

/// A Postscript subscriber as seeded into [`PostscriptSim`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimSubscriber {
    /// Postscript's subscriber id (`s_1234567abcd`).
    pub id: String,
    /// E.164 (`+15555555555`), answered as `phone_number`.
    pub phone: String,
    pub email: Option<String>,
    pub shopify_customer_id: Option<i64>,
}

/// Simulated Postscript; see the module docs.
pub type PostscriptSim = Simulator<PostscriptState>;

/// Postscript's state: subscribers, accepted events and webhooks.
pub struct PostscriptState {
    api_key: String,
    webhook_token: String,
    subscribers: Vec<SimSubscriber>,
    /// Accepted events, first copy of each `external_id` only.
    events: Vec<Value>,
    /// `external_id` -> the event id it was given.
    event_ids: HashMap<String, String>,
    webhooks: Vec<Value>,
}

/// A Postscript call.
pub enum PostscriptCall {
    /// `POST /api/v2/events` with its body (`None`: not JSON).
    Event(Option<Value>),
    /// `GET /api/v2/subscribers/{id}`.
    Subscriber(String),
    /// `GET /api/v2/subscribers?phone_number__eq=...|email__eq=...`.
    SubscriberSearch {
        phone: Option<String>,
        email: Option<String>,
    },
    /// `GET /api/v2/webhooks/token`.
    WebhookToken,
    /// `POST /api/v2/webhooks`.
    CreateWebhook(Option<Value>),
    /// `GET /api/v2/webhooks`.
    ListWebhooks,
    /// `DELETE /api/v2/webhooks/{id}`.
    DeleteWebhook(String),
    Unknown,
}

/// Over this many requests in a second, Postscript answers 429 (per api key).
const RATE_LIMIT_PER_SECOND: u32 = 15;

impl PostscriptSim {
    /// Starts a Postscript simulator that accepts `Authorization: Bearer <api_key>`.
    /// The webhook token starts as a random `pswt_...` value; see [`Self::set_webhook_token`].
    ///
    /// # Panics
    /// If `127.0.0.1:0` cannot be bound; see [`PostscriptSim::try_start`].
    pub async fn start(api_key: &str) -> PostscriptSim {
        Self::try_start(api_key)
            .await
            .expect("bind the Postscript simulator on 127.0.0.1")
    }

    /// Like [`PostscriptSim::start`], returning the bind error instead of panicking.
    pub async fn try_start(api_key: &str) -> std::io::Result<PostscriptSim> {
        Simulator::serve(PostscriptState {
            api_key: api_key.to_owned(),
            webhook_token: random_id("pswt_"),
            subscribers: Vec::new(),
            events: Vec::new(),
            event_ids: HashMap::new(),
            webhooks: Vec::new(),
        })
        .await
    }

    /// Adds a subscriber, replacing any with the same id.
    pub fn add_subscriber(&self, subscriber: SimSubscriber) {
        self.with_state(
            |s| match s.subscribers.iter_mut().find(|x| x.id == subscriber.id) {
                Some(existing) => *existing = subscriber,
                None => s.subscribers.push(subscriber),
            },
        );
    }

    /// Sets the token answered by `GET /api/v2/webhooks/token` (the shop's signing token).
    pub fn set_webhook_token(&self, token: &str) {
        self.with_state(|s| s.webhook_token = token.to_owned());
    }

    /// The token answered by `GET /api/v2/webhooks/token`.
    pub fn webhook_token(&self) -> String {
        self.with_state(|s| s.webhook_token.clone())
    }

    /// Bodies of the accepted events, in order, one per `external_id`.
    pub fn events(&self) -> Vec<Value> {
        self.with_state(|s| s.events.clone())
    }

    /// The registered webhooks (`{"id", "callback_url", "event", "headers"}`).
    pub fn webhooks(&self) -> Vec<Value> {
        self.with_state(|s| s.webhooks.clone())
    }
}

impl PostscriptState {
    fn accept_event(&mut self, body: Option<&Value>) -> Reply {
        let checked = match body {
            Some(event) => validate_event(event).map(|()| event),
            None => Err(vec!["body must be a JSON object".to_owned()]),
        };
        let event = match checked {
            Ok(event) => event,
            Err(errors) => {
                let message = format!("Invalid event: {}", errors.join("; "));
                return self.error(StatusCode::BAD_REQUEST, &message);
            }
        };
        let external_id = event["external_id"].as_str().unwrap_or_default().to_owned();
        let id = match self.event_ids.get(&external_id) {
            Some(id) => id.clone(),
            None => {
                let id = random_id("ev_");
                self.event_ids.insert(external_id, id.clone());
                self.events.push(event.clone());
                id
            }
        };
        Reply::json(StatusCode::ACCEPTED, json!({ "event_ids": [id] }))
    }

    fn search(&self, phone: Option<&str>, email: Option<&str>) -> Reply {
        let found: Vec<Value> = self
            .subscribers
            .iter()
            .filter(|s| phone.is_none_or(|p| s.phone == p))
            .filter(|s| {
                email.is_none_or(|e| {
                    s.email
                        .as_deref()
                        .is_some_and(|se| se.eq_ignore_ascii_case(e))
                })
            })
            .map(subscriber_json)
            .collect();
        Reply::json(
            StatusCode::OK,
            json!({
                "subscribers": found,
                "page_info": { "has_next_page": false, "next_cursor": null },
            }),
        )
    }

    fn create_webhook(&mut self, body: Option<&Value>) -> Reply {
        let field = |name: &str| body.and_then(|b| b.get(name)).and_then(Value::as_str);
        let (Some(callback_url), Some(event)) = (field("callback_url"), field("event")) else {
            return self.error(
                StatusCode::BAD_REQUEST,
                "callback_url and event are required",
            );
        };
        let webhook = json!({
            "id": random_id("wh_"),
            "callback_url": callback_url,
            "event": event,
            "headers": body.and_then(|b| b.get("headers")).cloned().unwrap_or_else(|| json!({})),
        });
        self.webhooks.push(webhook.clone());
        Reply::json(StatusCode::OK, webhook)
    }

    fn delete_webhook(&mut self, id: &str) -> Reply {
        let before = self.webhooks.len();
        self.webhooks.retain(|w| w["id"] != id);
        if self.webhooks.len() == before {
            return self.error(StatusCode::NOT_FOUND, "Webhook not found");
        }
        Reply::json(StatusCode::OK, json!({ "id": id, "deleted": true }))
    }
}

/// Checks a custom event against the documented rules; every problem is reported.
fn validate_event(body: &Value) -> Result<(), Vec<String>> {
    if !body.is_object() {
        return Err(vec!["body must be a JSON object".to_owned()]);
    }
    let mut errors = Vec::new();
    let text = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    match text("type") {
        Some(t) if t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {}
        Some(_) => errors.push("type may contain only letters, digits and _".to_owned()),
        None => errors.push("type is required".to_owned()),
    }
    if ["subscriber_id", "phone", "email"]
        .iter()
        .all(|f| text(f).is_none())
    {
        errors.push("one of subscriber_id, phone or email is required".to_owned());
    }
    match body.get("properties").map(Value::as_object) {
        Some(Some(properties)) => {
            let nested: Vec<&String> = properties
                .iter()
                .filter(|(_, v)| !(v.is_string() || v.is_number() || v.is_boolean()))
                .map(|(k, _)| k)
                .collect();
            if !nested.is_empty() {
                errors.push(format!(
                    "properties must be strings, numbers or booleans: {nested:?}"
                ));
            }
        }
        Some(None) => errors.push("properties must be an object".to_owned()),
        None => errors.push("properties is required".to_owned()),
    }
    match text("occurred_at") {
        Some(at) if DateTime::strptime("%Y-%m-%d %H:%M:%S.%f", at).is_ok() => {}
        Some(at) => errors.push(format!(
            "occurred_at {at:?} does not match %Y-%m-%d %H:%M:%S.%f"
        )),
        None => errors.push("occurred_at is required".to_owned()),
    }
    if text("external_id").is_none() {
        errors.push("external_id is required".to_owned());
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn subscriber_json(s: &SimSubscriber) -> Value {
    json!({
        "id": s.id,
        "phone_number": s.phone,
        "email": s.email,
        "shopify_customer_id": s.shopify_customer_id,
        "tags": [],
    })
}

impl Platform for PostscriptState {
    type Call = PostscriptCall;
    const NAME: &'static str = "postscript";

    fn authorized(&self, req: &Incoming) -> bool {
        req.header_is("authorization", "Bearer ", &self.api_key)
    }

    fn parse(&self, req: &Incoming) -> PostscriptCall {
        let segments = req.segments();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let body = || req.json().cloned();
        match (&req.method, segments.as_slice()) {
            (&Method::POST, ["api", "v2", "events"]) => PostscriptCall::Event(body()),
            (&Method::GET, ["api", "v2", "subscribers"]) => PostscriptCall::SubscriberSearch {
                phone: req.query_param("phone_number__eq"),
                email: req.query_param("email__eq"),
            },
            (&Method::GET, ["api", "v2", "subscribers", id]) => {
                PostscriptCall::Subscriber((*id).to_owned())
            }
            (&Method::GET, ["api", "v2", "webhooks", "token"]) => PostscriptCall::WebhookToken,
            (&Method::GET, ["api", "v2", "webhooks"]) => PostscriptCall::ListWebhooks,
            (&Method::POST, ["api", "v2", "webhooks"]) => PostscriptCall::CreateWebhook(body()),
            (&Method::DELETE, ["api", "v2", "webhooks", id]) => {
                PostscriptCall::DeleteWebhook((*id).to_owned())
            }
            _ => PostscriptCall::Unknown,
        }
    }

    fn op(call: &PostscriptCall) -> &'static str {
        match call {
            PostscriptCall::Event(_) => "event",
            PostscriptCall::Subscriber(_) => "subscriber",
            PostscriptCall::SubscriberSearch { .. } => "subscriber_search",
            PostscriptCall::WebhookToken => "webhook_token",
            PostscriptCall::CreateWebhook(_) => "webhook_create",
            PostscriptCall::ListWebhooks => "webhook_list",
            PostscriptCall::DeleteWebhook(_) => "webhook_delete",
            PostscriptCall::Unknown => "unknown",
        }
    }

    fn apply(&mut self, call: &PostscriptCall) -> Reply {
        match call {
            PostscriptCall::Event(body) => self.accept_event(body.as_ref()),
            PostscriptCall::Subscriber(id) => match self.subscribers.iter().find(|s| &s.id == id) {
                Some(s) => Reply::json(StatusCode::OK, subscriber_json(s)),
                None => self.error(StatusCode::NOT_FOUND, "Subscriber not found"),
            },
            PostscriptCall::SubscriberSearch { phone, email } => {
                self.search(phone.as_deref(), email.as_deref())
            }
            PostscriptCall::WebhookToken => {
                Reply::json(StatusCode::OK, json!({ "token": self.webhook_token }))
            }
            PostscriptCall::CreateWebhook(body) => self.create_webhook(body.as_ref()),
            PostscriptCall::ListWebhooks => {
                Reply::json(StatusCode::OK, json!({ "webhooks": self.webhooks }))
            }
            PostscriptCall::DeleteWebhook(id) => self.delete_webhook(id),
            PostscriptCall::Unknown => self.error(StatusCode::NOT_FOUND, "Not Found"),
        }
    }

    fn error(&self, status: StatusCode, message: &str) -> Reply {
        let body =
            json!({ "error_code": status.as_u16(), "error_message": message, "success": false });
        Reply::json(status, body)
    }

    /// An event for a subscriber Postscript does not know; anything else is forbidden.
    fn refusal(&self, call: &PostscriptCall) -> Reply {
        match call {
            PostscriptCall::Event(_) => self.error(StatusCode::BAD_REQUEST, "Subscriber not found"),
            _ => self.error(StatusCode::FORBIDDEN, "Forbidden"),
        }
    }

    /// Documented body, and deliberately no `Retry-After`.
    fn rate_limited(&self) -> Reply {
        Reply::json(
            StatusCode::TOO_MANY_REQUESTS,
            json!({ "error_code": 3002, "error_message": "Rate limit exceeded", "success": false }),
        )
    }

    fn rate_limit(&self) -> Option<u32> {
        Some(RATE_LIMIT_PER_SECOND)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::Map;

    use super::super::common::{Fault, FaultKind};
    use super::*;

    const KEY: &str = "sk_test_key";

    async fn sim() -> PostscriptSim {
        let sim = PostscriptSim::start(KEY).await;
        sim.add_subscriber(SimSubscriber {
            id: "s_1".to_owned(),
            phone: "+15555550001".to_owned(),
            email: Some("Shopper@Example.com".to_owned()),
            shopify_customer_id: Some(9001),
        });
        sim.add_subscriber(SimSubscriber {
            id: "s_2".to_owned(),
            phone: "+15555550002".to_owned(),
            email: None,
            shopify_customer_id: None,
        });
        sim
    }

    fn event(external_id: &str) -> Value {
        json!({
            "type": "order_skipped",
            "subscriber_id": "s_1",
            "phone": "+15555550001",
            "occurred_at": "2026-11-22 10:11:12.123456",
            "external_id": external_id,
            "properties": {"new_delivery_date": "2026-12-24", "delay_days": 30, "first": true},
        })
    }

    async fn post_event(sim: &PostscriptSim, key: &str, body: &Value) -> (u16, Value) {
        let resp = reqwest::Client::new()
            .post(format!("{}/api/v2/events", sim.base_url()))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn get(sim: &PostscriptSim, path_and_query: &str) -> (u16, Value) {
        let resp = reqwest::Client::new()
            .get(format!("{}{path_and_query}", sim.base_url()))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn rejects_wrong_or_missing_auth_without_effect() {
        let sim = sim().await;
        let (status, body) = post_event(&sim, "sk_wrong", &event("x1")).await;
        assert_eq!(status, 401);
        assert_eq!(body["success"], false);
        let resp = reqwest::Client::new()
            .get(format!("{}/api/v2/subscribers/s_1", sim.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401);
        assert!(sim.events().is_empty());
        assert!(sim.requests().iter().all(|r| r.op == "unauthorized"));
        assert_eq!(sim.requests().len(), 2);
    }

    #[tokio::test]
    async fn accepts_a_valid_event_once_per_external_id() {
        let sim = sim().await;
        let (status, body) = post_event(&sim, KEY, &event("im_1:skip")).await;
        assert_eq!(status, 202);
        let id = body["event_ids"][0].as_str().unwrap().to_owned();
        assert!(id.starts_with("ev_"));
        let (status, body) = post_event(&sim, KEY, &event("im_1:skip")).await;
        assert_eq!(status, 202);
        assert_eq!(body["event_ids"][0], id.as_str());
        assert_eq!(sim.events(), [event("im_1:skip")]);
        assert_eq!(sim.requests_for("event").len(), 2);

        // Phone alone or email alone identify the subscriber too.
        let mut by_email = event("im_2:skip");
        let obj = by_email.as_object_mut().unwrap();
        obj.remove("subscriber_id");
        obj.remove("phone");
        obj.insert("email".into(), "a@b.c".into());
        assert_eq!(post_event(&sim, KEY, &by_email).await.0, 202);
        assert_eq!(sim.events().len(), 2);
    }

    #[tokio::test]
    async fn rejects_invalid_events() {
        let sim = sim().await;
        /// Spoils one field of a valid event.
        type Change = fn(&mut Map<String, Value>);
        let cases: Vec<(&str, Change)> = vec![
            ("type", |e| {
                drop(e.insert("type".into(), "order skipped".into()))
            }),
            ("type", |e| drop(e.remove("type"))),
            ("subscriber_id", |e| {
                e.remove("subscriber_id");
                e.remove("phone");
            }),
            ("properties", |e| {
                drop(e.insert("properties".into(), json!({"a": {"b": 1}})))
            }),
            ("properties", |e| {
                drop(e.insert("properties".into(), json!({"a": [1]})))
            }),
            ("properties", |e| {
                drop(e.insert("properties".into(), json!({"a": null})))
            }),
            ("properties", |e| {
                drop(e.insert("properties".into(), json!("flat")))
            }),
            ("properties", |e| drop(e.remove("properties"))),
            ("occurred_at", |e| {
                drop(e.insert("occurred_at".into(), "2026-11-22T10:11:12Z".into()))
            }),
            ("occurred_at", |e| {
                drop(e.insert("occurred_at".into(), "2026-11-22 10:11:12".into()))
            }),
            ("external_id", |e| drop(e.remove("external_id"))),
        ];
        for (field, change) in cases {
            let mut body = event("bad");
            change(body.as_object_mut().unwrap());
            let (status, answer) = post_event(&sim, KEY, &body).await;
            assert_eq!(status, 400, "{body}");
            assert_eq!(answer["success"], false);
            let message = answer["error_message"].as_str().unwrap();
            assert!(message.contains(field), "{message} should name {field}");
        }
        assert!(sim.events().is_empty());
    }

    #[tokio::test]
    async fn reads_subscribers() {
        let sim = sim().await;
        let (status, body) = get(&sim, "/api/v2/subscribers/s_1").await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"id": "s_1", "phone_number": "+15555550001", "email": "Shopper@Example.com",
                   "shopify_customer_id": 9001, "tags": []})
        );
        let (_, body) = get(&sim, "/api/v2/subscribers/s_2").await;
        assert_eq!(body["shopify_customer_id"], Value::Null);
        assert_eq!(get(&sim, "/api/v2/subscribers/s_404").await.0, 404);

        let (status, body) = get(&sim, "/api/v2/subscribers?phone_number__eq=%2B15555550002").await;
        assert_eq!(status, 200);
        assert_eq!(body["subscribers"][0]["id"], "s_2");
        assert!(body["page_info"].is_object());
        // An unencoded + is a space to a server, so it finds nobody.
        let (_, body) = get(&sim, "/api/v2/subscribers?phone_number__eq=+15555550002").await;
        assert_eq!(body["subscribers"], json!([]));
        let ops: Vec<String> = sim.requests().into_iter().map(|r| r.op).collect();
        assert_eq!(
            ops,
            [
                "subscriber",
                "subscriber",
                "subscriber",
                "subscriber_search",
                "subscriber_search"
            ]
        );
    }

    #[tokio::test]
    async fn webhook_token_and_registration() {
        let sim = sim().await;
        assert!(sim.webhook_token().starts_with("pswt_"));
        sim.set_webhook_token("tok_123");
        assert_eq!(
            get(&sim, "/api/v2/webhooks/token").await.1,
            json!({"token": "tok_123"})
        );

        let client = reqwest::Client::new();
        let resp = client
            .post(format!("{}/api/v2/webhooks", sim.base_url()))
            .bearer_auth(KEY)
            .json(&json!({"callback_url": "https://example.com/webhooks/postscript", "event": "shop.incoming_message", "headers": {}}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let created: Value = resp.json().await.unwrap();
        let id = created["id"].as_str().unwrap().to_owned();
        let (_, list) = get(&sim, "/api/v2/webhooks").await;
        assert_eq!(list["webhooks"], json!([created]));
        assert_eq!(sim.webhooks().len(), 1);

        let delete = |id: String| {
            client
                .delete(format!("{}/api/v2/webhooks/{id}", sim.base_url()))
                .bearer_auth(KEY)
                .send()
        };
        assert_eq!(delete(id.clone()).await.unwrap().status().as_u16(), 200);
        assert_eq!(delete(id).await.unwrap().status().as_u16(), 404);
        assert!(sim.webhooks().is_empty());
        let ops: Vec<String> = sim.requests().into_iter().map(|r| r.op).collect();
        assert_eq!(
            ops,
            [
                "webhook_token",
                "webhook_create",
                "webhook_list",
                "webhook_delete",
                "webhook_delete"
            ]
        );
    }

    #[tokio::test]
    async fn rate_limit_is_15_per_second_without_retry_after() {
        let sim = sim().await;
        let client = reqwest::Client::new();
        // A concurrent burst: all 16 arrive well within one second.
        let mut burst = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let req = client
                .get(format!("{}/api/v2/webhooks/token", sim.base_url()))
                .bearer_auth(KEY);
            burst.spawn(async move {
                let resp = req.send().await.unwrap();
                let status = resp.status().as_u16();
                let retry_after = resp.headers().contains_key("retry-after");
                (status, retry_after, resp.json::<Value>().await.unwrap())
            });
        }
        let answers = burst.join_all().await;
        assert_eq!(answers.iter().filter(|a| a.0 == 200).count(), 15);
        let limited: Vec<_> = answers.iter().filter(|a| a.0 == 429).collect();
        assert_eq!(limited.len(), 1);
        let (_, retry_after, body) = limited[0];
        assert!(!retry_after);
        assert_eq!(
            *body,
            json!({"error_code": 3002, "error_message": "Rate limit exceeded", "success": false})
        );
        assert_eq!(sim.requests_for("webhook_token").len(), 16);
    }

    #[tokio::test]
    async fn event_faults() {
        let sim = sim().await;
        sim.inject(Fault::once("event", FaultKind::Status(500)));
        assert_eq!(post_event(&sim, KEY, &event("a")).await.0, 500);
        assert!(sim.events().is_empty());

        sim.inject(Fault::once(
            "event",
            FaultKind::RateLimited {
                retry_after: Some(2),
            },
        ));
        let resp = reqwest::Client::new()
            .post(format!("{}/api/v2/events", sim.base_url()))
            .bearer_auth(KEY)
            .json(&event("a"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 429);
        assert_eq!(resp.headers()["retry-after"], "2");
        assert!(sim.events().is_empty());

        sim.inject(Fault::once("event", FaultKind::Refuse));
        let (status, body) = post_event(&sim, KEY, &event("a")).await;
        assert_eq!(
            (status, body["error_message"].as_str()),
            (400, Some("Subscriber not found"))
        );
        assert!(sim.events().is_empty());

        sim.inject(Fault::once("event", FaultKind::ApplyThenStatus(502)));
        assert_eq!(post_event(&sim, KEY, &event("a")).await.0, 502);
        assert_eq!(sim.events().len(), 1);
        // The retry with the same external_id does not make a second event.
        assert_eq!(post_event(&sim, KEY, &event("a")).await.0, 202);
        assert_eq!(sim.events().len(), 1);

        sim.inject(Fault::once(
            "event",
            FaultKind::Delay(Duration::from_millis(150)),
        ));
        let started = std::time::Instant::now();
        assert_eq!(post_event(&sim, KEY, &event("b")).await.0, 202);
        assert!(started.elapsed() >= Duration::from_millis(150));

        sim.inject(Fault::once("event", FaultKind::ApplyThenHang));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let err = client
            .post(format!("{}/api/v2/events", sim.base_url()))
            .bearer_auth(KEY)
            .json(&event("c"))
            .send()
            .await
            .unwrap_err();
        assert!(err.is_timeout());
        assert_eq!(sim.events().len(), 3);
    }
}
