//! Simulated Postscript API (`/api/v2`): custom events, subscriber reads, the webhook signing
//! token and webhook registration, for one shop or several.
//!
//! # Authentication (platforms.md, "Two ways to authenticate")
//! Every endpoint goes through the same check, in one of two modes:
//! - **shop key**: `Authorization: Bearer <shop key>` alone. Since April 2022 this works only for
//!   shops on the Enterprise plan; any other shop's key used alone is refused with
//!   [`PostscriptSim::PLAN_STATUS`] and [`PostscriptSim::PLAN_MESSAGE`] (an error about the
//!   shop's plan). Postscript publishes neither the status nor the text of that error, so both
//!   are this simulator's guesses, kept in those two constants.
//! - **partner**: `Authorization: Bearer <partner key>` (see [`PostscriptSim::set_partner_key`])
//!   plus `X-Postscript-Shop-Token: <the shop's key>`, for a shop on any plan.
//!
//! A missing or unknown key, the partner key without a known shop token, or a shop token sent with
//! anything but the partner key is answered 401 (except that a non-Enterprise shop key in
//! `Authorization` is always the plan error: a guide derived from Postscript's docs warns that
//! swapped headers produce "plan-limitation errors, not auth errors"). A refused request changes
//! nothing and is recorded with op `"unauthorized"`. An empty `X-Postscript-Shop-Token` counts as
//! absent.
//!
//! [`PostscriptSim::start`] registers its key as the key of an Enterprise shop, the simulator's
//! *default shop*, so a client of the single-shop simulator keeps working unchanged. More shops
//! come with [`PostscriptSim::add_shop`]; each has its own subscribers, webhooks, signing token and
//! events, read with the `..._for(shop_key)` methods. The methods without a shop key
//! (`add_subscriber`, `set_webhook_token`, `webhook_token`) act on the default shop;
//! [`PostscriptSim::events`] and [`PostscriptSim::webhooks`] list every shop's.
//!
//! # Custom events
//! Validated as documented: `type` (required; letters, digits, `_`), one of `subscriber_id`,
//! `phone` or `email` (strings; any one is enough), optional `properties` (an object of strings,
//! numbers and booleans only), optional `occurred_at` (`%Y-%m-%d %H:%M:%S.%f`, 1 to 6 fraction
//! digits like Python's `strptime`), optional `external_id` (a string). Answer
//! `202 {"event_ids": [...]}`. Postscript documents `external_id` as "the unique id of the event on
//! your system" and does **not** de-duplicate on it: two posts with the same `external_id` are two
//! events with two ids, and this simulator does the same, so a client that re-sends an event whose
//! answer was lost makes a second event here too.
//!
//! # Webhooks
//! `POST /api/v2/webhooks` needs `callback_url` (an `https://` URL: the docs say "HTTPS only") and
//! `event` (one of the documented event types), with optional `headers` (an object); it answers 200
//! with the webhook (`id`, `callback_url`, `event`, `headers`, `created_at`, `updated_at`).
//! Registering the same callback twice makes two webhooks. `GET /api/v2/webhooks` answers
//! `{"webhook_subscriptions": [...]}`, `DELETE /api/v2/webhooks/{id}` answers 200 `{}`, and
//! `GET /api/v2/webhooks/token` answers `{"token": "..."}`, all as in Postscript's OpenAPI.
//!
//! # Rate limit
//! 15 requests per second per credential; over it, 429
//! `{"error_code":3002,"error_message":"Rate limit exceeded","success":false}` without
//! `Retry-After`. Postscript counts per token: a shop key alone is one budget, and a partner call
//! counts against its partner/shop-token *pair*, so every shop reached through the partner app has
//! its own 15 per second (and that budget is separate from the same shop's own key). A single-shop
//! simulator (only [`PostscriptSim::start`]'s key) enforces this with the shared limiter, which is
//! the same thing when there is one key, so `set_rate_limit` keeps working. As soon as the
//! simulator knows a second credential ([`PostscriptSim::add_shop`] of a new shop,
//! [`PostscriptSim::set_partner_key`]) or [`PostscriptSim::set_rate_limit_per_key`] is called, it
//! counts per credential itself and switches the shared limiter off; from then on
//! `set_rate_limit_per_key` controls the limit and `set_rate_limit(Some(n))` would only add a cap
//! on all credentials together. In that mode an injected [`Fault`](super::common::Fault) matching
//! the call takes precedence over the 429.
//!
//! Details the documentation does not give, and which are therefore this simulator's own
//! guesses: the plan error ([`PostscriptSim::PLAN_STATUS`], [`PostscriptSim::PLAN_MESSAGE`]), the
//! `error_code` of errors other than the rate limit (the HTTP status is used), 404 for an unknown
//! subscriber or webhook id, and `page_info` always being a single page.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::common::{Incoming, Platform, RateLimit, RecordedRequest, Reply, Simulator, random_id};

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

/// Over this many requests in a second, Postscript answers 429 (per key, or per partner/shop
/// pair).
const RATE_LIMIT_PER_SECOND: u32 = 15;

/// The header a partner names the shop with.
const SHOP_TOKEN_HEADER: &str = "x-postscript-shop-token";

/// The webhook event types `POST /api/v2/webhooks` accepts (Postscript's OpenAPI; its create
/// enum spells the last one `shop.shop.email_collected`, its other enums `shop.email_collected`).
const WEBHOOK_EVENTS: [&str; 6] = [
    "shop.test",
    "shop.incoming_message",
    "shop.subscriber.opt_in",
    "shop.subscriber.opt_out",
    "shop.shop.email_collected",
    "shop.email_collected",
];

/// One shop known to the simulator.
struct Shop {
    key: String,
    enterprise: bool,
    webhook_token: String,
    subscribers: Vec<SimSubscriber>,
}

impl Shop {
    fn new(key: &str, enterprise: bool) -> Shop {
        Shop {
            key: key.to_owned(),
            enterprise,
            webhook_token: random_id("pswt_"),
            subscribers: Vec::new(),
        }
    }
}

/// Who a request authenticated as.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Access {
    /// A shop's own key alone.
    ShopKey(String),
    /// The partner key, for the shop whose key is in `X-Postscript-Shop-Token`.
    Partner(String),
}

impl Access {
    fn shop_key(&self) -> &str {
        match self {
            Access::ShopKey(key) | Access::Partner(key) => key,
        }
    }

    /// The budget the request counts against: the token, or the partner/shop-token pair.
    fn rate_key(&self) -> String {
        match self {
            Access::ShopKey(key) => format!("shop:{key}"),
            Access::Partner(key) => format!("partner:{key}"),
        }
    }
}

/// Why a request was refused at the auth step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    /// Missing or wrong credentials: 401.
    Unauthorized,
    /// A non-Enterprise shop's key used without the partner app: the plan error.
    Plan,
}

/// The per-credential rate limit (see the module docs, "Rate limit").
struct KeyLimits {
    /// Off while the shared limiter does the job (a single-credential simulator).
    active: bool,
    per_second: Option<u32>,
    /// Admission times in the last second, per budget.
    windows: HashMap<String, VecDeque<Instant>>,
}

impl KeyLimits {
    const WINDOW: Duration = Duration::from_secs(1);

    /// Whether a request on `key` arriving at `now` passes; a passing request is counted.
    fn admit(&mut self, key: &str, now: Instant) -> bool {
        let Some(limit) = self.per_second.filter(|_| self.active) else {
            return true;
        };
        let window = self.windows.entry(key.to_owned()).or_default();
        while window
            .front()
            .is_some_and(|&t| now.duration_since(t) >= Self::WINDOW)
        {
            window.pop_front();
        }
        if window.len() >= limit as usize {
            return false;
        }
        window.push_back(now);
        true
    }
}

/// Postscript's state: shops, the partner key, accepted events and webhooks.
pub struct PostscriptState {
    /// Registration order; the first is the default shop ([`PostscriptSim::start`]'s key).
    shops: Vec<Shop>,
    partner_key: Option<String>,
    /// Accepted events with the key of the shop they were for, in order.
    events: Vec<(String, Value)>,
    /// Registered webhooks with the key of their shop, in order.
    webhooks: Vec<(String, Value)>,
    /// Only touched under the simulator's lock (from `parse`).
    limits: RefCell<KeyLimits>,
    /// Why the request being admitted was refused, set by `authorized` and read by the `error`
    /// call that answers it (both happen under the same lock), so a refusal can be a 403.
    refused: Cell<Option<Refusal>>,
    /// The status of the plan error (default [`PostscriptSim::PLAN_STATUS`]): undocumented,
    /// so a test can make it another 4xx.
    plan_status: u16,
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

/// A [`PostscriptCall`] with who made it and whether it is over the per-credential limit.
pub struct PostscriptRequest {
    access: Option<Access>,
    limited: bool,
    call: PostscriptCall,
}

impl PostscriptSim {
    /// The status of the answer to a non-Enterprise shop's key used alone (a guess: Postscript
    /// documents neither this status nor the message).
    pub const PLAN_STATUS: u16 = 403;

    /// The `error_message` of that answer (a guess: Postscript only says the error is about the
    /// shop's plan).
    pub const PLAN_MESSAGE: &'static str = "This shop's plan does not include API access for \
         custom integrations (Enterprise plans only); use a Postscript partner app";

    /// Starts a Postscript simulator whose default shop is an Enterprise shop with key `api_key`,
    /// so `Authorization: Bearer <api_key>` alone is accepted. The webhook token starts as a
    /// random `pswt_...` value; see [`Self::set_webhook_token`].
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
            shops: vec![Shop::new(api_key, true)],
            partner_key: None,
            events: Vec::new(),
            webhooks: Vec::new(),
            limits: RefCell::new(KeyLimits {
                active: false,
                per_second: Some(RATE_LIMIT_PER_SECOND),
                windows: HashMap::new(),
            }),
            refused: Cell::new(None),
            plan_status: PostscriptSim::PLAN_STATUS,
        })
        .await
    }

    /// Registers a shop by its private key: `enterprise` shops may use their key alone, the
    /// others only through the partner app. Calling it again for a known key (the default shop's
    /// included) only changes its plan. A new shop gets a random webhook token and no
    /// subscribers; the per-credential rate limit takes over (module docs, "Rate limit").
    /// Makes the plan error answer another status (it is undocumented; 403 by default).
    pub fn set_plan_status(&self, status: u16) {
        self.with_state(|s| s.plan_status = status);
    }

    pub fn add_shop(&self, shop_key: &str, enterprise: bool) {
        let added = self.with_state(|s| match s.shops.iter_mut().find(|x| x.key == shop_key) {
            Some(shop) => {
                shop.enterprise = enterprise;
                false
            }
            None => {
                s.shops.push(Shop::new(shop_key, enterprise));
                true
            }
        });
        if added {
            self.limit_per_key();
        }
    }

    /// Sets the partner app's key, accepted as `Authorization: Bearer <key>` together with
    /// `X-Postscript-Shop-Token: <a known shop's key>`. Turns on the per-credential rate limit.
    pub fn set_partner_key(&self, key: &str) {
        self.with_state(|s| s.partner_key = Some(key.to_owned()));
        self.limit_per_key();
    }

    /// Sets the rate limit per credential (per shop key, per partner/shop pair); `None` removes
    /// it. Switches to per-credential counting (and the shared limiter off) if not yet done.
    pub fn set_rate_limit_per_key(&self, per_second: Option<u32>) {
        self.limit_per_key();
        self.with_state(|s| {
            let limits = s.limits.get_mut();
            limits.per_second = per_second;
            limits.windows.clear();
        });
    }

    /// Switches from the shared limiter to per-credential counting, once.
    fn limit_per_key(&self) {
        let switched = self.with_state(|s| {
            let limits = s.limits.get_mut();
            !std::mem::replace(&mut limits.active, true)
        });
        if switched {
            self.set_rate_limiter(None::<RateLimit>);
        }
    }

    /// Adds a subscriber to the default shop, replacing any with the same id.
    pub fn add_subscriber(&self, subscriber: SimSubscriber) {
        self.with_state(|s| s.shops[0].add_subscriber(subscriber));
    }

    /// Adds a subscriber to the shop with this key, replacing any with the same id.
    ///
    /// # Panics
    /// If no shop has this key (register it with [`Self::add_shop`] first).
    pub fn add_subscriber_for(&self, shop_key: &str, subscriber: SimSubscriber) {
        self.with_state(|s| s.shop_mut(shop_key).add_subscriber(subscriber));
    }

    /// The subscribers of the shop with this key (empty for an unknown shop).
    pub fn subscribers_for(&self, shop_key: &str) -> Vec<SimSubscriber> {
        self.with_state(|s| {
            s.shop(shop_key)
                .map(|shop| shop.subscribers.clone())
                .unwrap_or_default()
        })
    }

    /// Sets the default shop's token answered by `GET /api/v2/webhooks/token`.
    pub fn set_webhook_token(&self, token: &str) {
        self.with_state(|s| s.shops[0].webhook_token = token.to_owned());
    }

    /// Sets the webhook signing token of the shop with this key.
    ///
    /// # Panics
    /// If no shop has this key.
    pub fn set_webhook_token_for(&self, shop_key: &str, token: &str) {
        self.with_state(|s| s.shop_mut(shop_key).webhook_token = token.to_owned());
    }

    /// The default shop's token answered by `GET /api/v2/webhooks/token`.
    pub fn webhook_token(&self) -> String {
        self.with_state(|s| s.shops[0].webhook_token.clone())
    }

    /// The webhook signing token of the shop with this key, if the shop is known.
    pub fn webhook_token_for(&self, shop_key: &str) -> Option<String> {
        self.with_state(|s| s.shop(shop_key).map(|shop| shop.webhook_token.clone()))
    }

    /// Bodies of every accepted event, all shops, in order (a repeated `external_id` is a
    /// second event, as on Postscript).
    pub fn events(&self) -> Vec<Value> {
        self.with_state(|s| s.events.iter().map(|(_, e)| e.clone()).collect())
    }

    /// Bodies of the accepted events of the shop with this key, in order.
    pub fn events_for(&self, shop_key: &str) -> Vec<Value> {
        self.with_state(|s| {
            s.events
                .iter()
                .filter(|(shop, _)| shop == shop_key)
                .map(|(_, e)| e.clone())
                .collect()
        })
    }

    /// Every registered webhook, all shops, in creation order (`{"id", "callback_url", "event",
    /// "headers", "created_at", "updated_at"}`).
    pub fn webhooks(&self) -> Vec<Value> {
        self.with_state(|s| s.webhooks.iter().map(|(_, w)| w.clone()).collect())
    }

    /// The webhooks of the shop with this key, in creation order.
    pub fn webhooks_for(&self, shop_key: &str) -> Vec<Value> {
        self.with_state(|s| s.webhooks_of(shop_key).cloned().collect())
    }

    /// The requests that passed the auth check for the shop with this key, either way (its key
    /// alone, or the partner key with its shop token), in arrival order. Refused requests
    /// (op `"unauthorized"`) are not included; rate-limited ones are.
    pub fn requests_for_shop(&self, shop_key: &str) -> Vec<RecordedRequest> {
        let requests = self.requests();
        self.with_state(|s| {
            requests
                .into_iter()
                .filter(|r| r.op != "unauthorized")
                .filter(|r| {
                    s.addressed_shop(r.header("authorization"), r.header(SHOP_TOKEN_HEADER))
                        .is_some_and(|shop| shop == shop_key)
                })
                .collect()
        })
    }
}

impl Shop {
    fn add_subscriber(&mut self, subscriber: SimSubscriber) {
        match self.subscribers.iter_mut().find(|x| x.id == subscriber.id) {
            Some(existing) => *existing = subscriber,
            None => self.subscribers.push(subscriber),
        }
    }
}

impl PostscriptState {
    fn shop(&self, key: &str) -> Option<&Shop> {
        self.shops.iter().find(|s| s.key == key)
    }

    fn shop_mut(&mut self, key: &str) -> &mut Shop {
        self.shops
            .iter_mut()
            .find(|s| s.key == key)
            .unwrap_or_else(|| {
                panic!("Postscript simulator: no shop with key {key:?}; add_shop it first")
            })
    }

    fn webhooks_of<'a>(&'a self, shop_key: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.webhooks
            .iter()
            .filter(move |(shop, _)| shop == shop_key)
            .map(|(_, w)| w)
    }

    /// The auth check of the module docs.
    fn resolve(
        &self,
        authorization: Option<&str>,
        shop_token: Option<&str>,
    ) -> Result<Access, Refusal> {
        let bearer = authorization
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(Refusal::Unauthorized)?;
        let shop_token = shop_token.filter(|t| !t.is_empty());
        if self.partner_key.as_deref() == Some(bearer) {
            return shop_token
                .and_then(|t| self.shop(t))
                .map(|shop| Access::Partner(shop.key.clone()))
                .ok_or(Refusal::Unauthorized);
        }
        match self.shop(bearer) {
            Some(shop) if !shop.enterprise => Err(Refusal::Plan),
            Some(_) if shop_token.is_some() => Err(Refusal::Unauthorized),
            Some(shop) => Ok(Access::ShopKey(shop.key.clone())),
            None => Err(Refusal::Unauthorized),
        }
    }

    /// The shop a request names, whatever its plan (for reading the request log).
    fn addressed_shop(
        &self,
        authorization: Option<&str>,
        shop_token: Option<&str>,
    ) -> Option<&str> {
        let bearer = authorization?.strip_prefix("Bearer ")?;
        let shop_token = shop_token.filter(|t| !t.is_empty());
        let key = if self.partner_key.as_deref() == Some(bearer) {
            shop_token?
        } else if shop_token.is_none() {
            bearer
        } else {
            return None;
        };
        self.shop(key).map(|shop| shop.key.as_str())
    }

    fn accept_event(&mut self, shop_key: &str, body: Option<&Value>) -> Reply {
        let checked = match body {
            Some(event) => validate_event(event).map(|()| event),
            None => Err(vec!["body must be a JSON object".to_owned()]),
        };
        match checked {
            Ok(event) => {
                let id = random_id("ev_");
                self.events.push((shop_key.to_owned(), event.clone()));
                Reply::json(StatusCode::ACCEPTED, json!({ "event_ids": [id] }))
            }
            Err(errors) => {
                let message = format!("Invalid event: {}", errors.join("; "));
                self.error(StatusCode::BAD_REQUEST, &message)
            }
        }
    }

    fn search(&self, shop: &Shop, phone: Option<&str>, email: Option<&str>) -> Reply {
        let found: Vec<Value> = shop
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
                "page_info": { "page": 1, "total_pages": 1 },
            }),
        )
    }

    fn create_webhook(&mut self, shop_key: &str, body: Option<&Value>) -> Reply {
        let webhook = match validate_webhook(body) {
            Ok(webhook) => webhook,
            Err(errors) => {
                let message = format!("Invalid webhook: {}", errors.join("; "));
                return self.error(StatusCode::BAD_REQUEST, &message);
            }
        };
        self.webhooks.push((shop_key.to_owned(), webhook.clone()));
        Reply::json(StatusCode::OK, webhook)
    }

    fn delete_webhook(&mut self, shop_key: &str, id: &str) -> Reply {
        let before = self.webhooks.len();
        self.webhooks
            .retain(|(shop, w)| !(shop == shop_key && w["id"] == id));
        if self.webhooks.len() == before {
            return self.error(StatusCode::NOT_FOUND, "Webhook not found");
        }
        Reply::json(StatusCode::OK, json!({}))
    }
}

/// Checks a custom event against the documented rules; every problem is reported, each naming
/// its field.
fn validate_event(body: &Value) -> Result<(), Vec<String>> {
    let Some(event) = body.as_object() else {
        return Err(vec!["body must be a JSON object".to_owned()]);
    };
    let mut errors = Vec::new();
    match event.get("type") {
        Some(Value::String(t))
            if !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {}
        Some(Value::String(t)) if !t.is_empty() => {
            errors.push(format!("type {t:?} may contain only letters, digits and _"));
        }
        Some(_) => errors.push("type must be a non-empty string".to_owned()),
        None => errors.push("type is required".to_owned()),
    }
    let mut identified = false;
    for field in ["subscriber_id", "phone", "email"] {
        match event.get(field) {
            None => {}
            Some(Value::String(s)) if !s.is_empty() => identified = true,
            Some(Value::String(_)) => {}
            Some(_) => errors.push(format!("{field} must be a string")),
        }
    }
    if !identified {
        errors.push("one of subscriber_id, phone or email is required".to_owned());
    }
    match event.get("properties") {
        None => {}
        Some(Value::Object(properties)) => {
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
        Some(_) => errors.push("properties must be an object".to_owned()),
    }
    match event.get("occurred_at") {
        None => {}
        Some(Value::String(at)) if is_occurred_at(at) => {}
        Some(at) => errors.push(format!(
            "occurred_at {at} does not match %Y-%m-%d %H:%M:%S.%f"
        )),
    }
    match event.get("external_id") {
        None | Some(Value::String(_)) => {}
        Some(_) => errors.push("external_id must be a string".to_owned()),
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// `%Y-%m-%d %H:%M:%S.%f` as Python's `strptime` reads it: the fraction has 1 to 6 digits.
fn is_occurred_at(at: &str) -> bool {
    let fraction_ok = at
        .rsplit_once('.')
        .is_some_and(|(_, f)| (1..=6).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()));
    fraction_ok && DateTime::strptime("%Y-%m-%d %H:%M:%S.%f", at).is_ok()
}

/// Checks a webhook registration and builds the webhook it creates.
fn validate_webhook(body: Option<&Value>) -> Result<Value, Vec<String>> {
    let Some(body) = body.and_then(Value::as_object) else {
        return Err(vec!["body must be a JSON object".to_owned()]);
    };
    let mut errors = Vec::new();
    let callback_url = match body.get("callback_url") {
        Some(Value::String(url)) if is_https_url(url) => Some(url),
        Some(Value::String(url)) => {
            errors.push(format!("callback_url {url:?} must be an https:// URL"));
            None
        }
        Some(_) => {
            errors.push("callback_url must be a string".to_owned());
            None
        }
        None => {
            errors.push("callback_url is required".to_owned());
            None
        }
    };
    let event = match body.get("event") {
        Some(Value::String(event)) if WEBHOOK_EVENTS.contains(&event.as_str()) => Some(event),
        Some(event) => {
            errors.push(format!(
                "event {event} must be one of {}",
                WEBHOOK_EVENTS.join(", ")
            ));
            None
        }
        None => {
            errors.push("event is required".to_owned());
            None
        }
    };
    let headers = match body.get("headers") {
        None => json!({}),
        Some(headers @ Value::Object(_)) => headers.clone(),
        Some(_) => {
            errors.push("headers must be an object".to_owned());
            Value::Null
        }
    };
    match (callback_url, event) {
        (Some(callback_url), Some(event)) if errors.is_empty() => {
            let now = Timestamp::now()
                .to_zoned(TimeZone::UTC)
                .strftime("%Y-%m-%dT%H:%M:%SZ")
                .to_string();
            Ok(json!({
                "id": random_uuid(),
                "callback_url": callback_url,
                "event": event,
                "headers": headers,
                "created_at": now,
                "updated_at": now,
            }))
        }
        _ => Err(errors),
    }
}

/// An absolute `https://` URL with a host.
fn is_https_url(url: &str) -> bool {
    url.strip_prefix("https://")
        .and_then(|rest| rest.split(['/', '?', '#']).next())
        .is_some_and(|host| !host.is_empty() && !host.contains(char::is_whitespace))
}

/// A random version-4 UUID, the form of Postscript's webhook ids.
fn random_uuid() -> String {
    let (a, b) = (rand::random::<u64>(), rand::random::<u64>());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff,
    )
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

fn parse_call(req: &Incoming) -> PostscriptCall {
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

fn envelope(status: StatusCode, message: &str) -> Reply {
    let body = json!({ "error_code": status.as_u16(), "error_message": message, "success": false });
    Reply::json(status, body)
}

impl Platform for PostscriptState {
    type Call = PostscriptRequest;
    const NAME: &'static str = "postscript";

    fn authorized(&self, req: &Incoming) -> bool {
        let result = self.resolve(req.header("authorization"), req.header(SHOP_TOKEN_HEADER));
        self.refused.set(result.as_ref().err().copied());
        result.is_ok()
    }

    /// Also counts the request against its credential's budget (when counting per credential),
    /// at arrival, before any fault or delay.
    fn parse(&self, req: &Incoming) -> PostscriptRequest {
        let access = self
            .resolve(req.header("authorization"), req.header(SHOP_TOKEN_HEADER))
            .ok();
        let limited = access.as_ref().is_some_and(|a| {
            !self
                .limits
                .borrow_mut()
                .admit(&a.rate_key(), Instant::now())
        });
        PostscriptRequest {
            access,
            limited,
            call: parse_call(req),
        }
    }

    fn op(req: &PostscriptRequest) -> &'static str {
        match req.call {
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

    fn apply(&mut self, req: &PostscriptRequest) -> Reply {
        if req.limited {
            return self.rate_limited();
        }
        let Some(shop_key) = req.access.as_ref().map(Access::shop_key) else {
            return envelope(StatusCode::UNAUTHORIZED, "Unauthorized");
        };
        let Some(shop) = self.shop(shop_key) else {
            return envelope(StatusCode::UNAUTHORIZED, "Unauthorized");
        };
        match &req.call {
            PostscriptCall::Event(body) => self.accept_event(shop_key, body.as_ref()),
            PostscriptCall::Subscriber(id) => match shop.subscribers.iter().find(|s| &s.id == id) {
                Some(s) => Reply::json(StatusCode::OK, subscriber_json(s)),
                None => self.error(StatusCode::NOT_FOUND, "Subscriber not found"),
            },
            PostscriptCall::SubscriberSearch { phone, email } => {
                self.search(shop, phone.as_deref(), email.as_deref())
            }
            PostscriptCall::WebhookToken => {
                Reply::json(StatusCode::OK, json!({ "token": shop.webhook_token }))
            }
            PostscriptCall::CreateWebhook(body) => self.create_webhook(shop_key, body.as_ref()),
            PostscriptCall::ListWebhooks => {
                let list: Vec<&Value> = self.webhooks_of(shop_key).collect();
                Reply::json(StatusCode::OK, json!({ "webhook_subscriptions": list }))
            }
            PostscriptCall::DeleteWebhook(id) => self.delete_webhook(shop_key, id),
            PostscriptCall::Unknown => self.error(StatusCode::NOT_FOUND, "Not Found"),
        }
    }

    /// The envelope with the status as `error_code`. The 401 that answers a refused request is
    /// the plan error instead when the refusal was about the shop's plan.
    fn error(&self, status: StatusCode, message: &str) -> Reply {
        if status == StatusCode::UNAUTHORIZED && self.refused.take() == Some(Refusal::Plan) {
            let plan = StatusCode::from_u16(self.plan_status).unwrap_or(StatusCode::FORBIDDEN);
            return envelope(plan, PostscriptSim::PLAN_MESSAGE);
        }
        envelope(status, message)
    }

    /// An event for a subscriber Postscript does not know; anything else is forbidden.
    fn refusal(&self, req: &PostscriptRequest) -> Reply {
        match req.call {
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

    /// The shared limiter's starting limit, used while the simulator has a single credential.
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
    const PARTNER: &str = "sk_partner_test";
    /// A shop on a plan without custom API access.
    const GROWTH: &str = "sk_growth_shop";
    /// A second Enterprise shop.
    const BIG: &str = "sk_big_shop";

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

    /// The default shop, a non-Enterprise shop and a second Enterprise shop, plus a partner key.
    async fn multi() -> PostscriptSim {
        let sim = sim().await;
        sim.set_partner_key(PARTNER);
        sim.add_shop(GROWTH, false);
        sim.add_shop(BIG, true);
        sim.add_subscriber_for(
            GROWTH,
            SimSubscriber {
                id: "s_g1".to_owned(),
                phone: "+15555550101".to_owned(),
                email: Some("g@example.com".to_owned()),
                shopify_customer_id: None,
            },
        );
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

    /// How a request authenticates.
    #[derive(Clone, Copy)]
    enum Auth<'a> {
        None,
        Key(&'a str),
        Partner(&'a str, &'a str),
        /// A shop token without any `Authorization`.
        TokenOnly(&'a str),
    }

    async fn call(
        sim: &PostscriptSim,
        auth: Auth<'_>,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> (u16, Value, bool) {
        let mut req =
            reqwest::Client::new().request(method, format!("{}{path_and_query}", sim.base_url()));
        req = match auth {
            Auth::None => req,
            Auth::Key(key) => req.bearer_auth(key),
            Auth::Partner(partner, shop) => req
                .bearer_auth(partner)
                .header("X-Postscript-Shop-Token", shop),
            Auth::TokenOnly(shop) => req.header("X-Postscript-Shop-Token", shop),
        };
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let retry_after = resp.headers().contains_key("retry-after");
        (
            status,
            resp.json().await.unwrap_or(Value::Null),
            retry_after,
        )
    }

    async fn post_event(sim: &PostscriptSim, key: &str, body: &Value) -> (u16, Value) {
        let (status, body, _) = call(
            sim,
            Auth::Key(key),
            Method::POST,
            "/api/v2/events",
            Some(body),
        )
        .await;
        (status, body)
    }

    async fn get(sim: &PostscriptSim, path_and_query: &str) -> (u16, Value) {
        let (status, body, _) = call(sim, Auth::Key(KEY), Method::GET, path_and_query, None).await;
        (status, body)
    }

    async fn create_webhook(sim: &PostscriptSim, auth: Auth<'_>, body: &Value) -> (u16, Value) {
        let (status, body, _) = call(sim, auth, Method::POST, "/api/v2/webhooks", Some(body)).await;
        (status, body)
    }

    fn incoming_webhook() -> Value {
        json!({"callback_url": "https://example.com/webhooks/postscript",
               "event": "shop.incoming_message", "headers": {}})
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
    async fn start_key_is_an_enterprise_shop_key() {
        let sim = sim().await;
        assert_eq!(post_event(&sim, KEY, &event("a")).await.0, 202);
        assert_eq!(sim.events_for(KEY).len(), 1);
        assert_eq!(sim.requests_for_shop(KEY).len(), 1);
        // "Basic" or a lower-case scheme is not the documented bearer header.
        let resp = reqwest::Client::new()
            .get(format!("{}/api/v2/webhooks/token", sim.base_url()))
            .header("Authorization", format!("bearer {KEY}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401);
    }

    #[tokio::test]
    async fn a_non_enterprise_shop_key_alone_gets_the_plan_error() {
        let sim = multi().await;
        let (status, body) = post_event(&sim, GROWTH, &event("a")).await;
        assert_eq!(status, PostscriptSim::PLAN_STATUS);
        assert_eq!(
            body,
            json!({"error_code": PostscriptSim::PLAN_STATUS, "error_message": PostscriptSim::PLAN_MESSAGE, "success": false})
        );
        assert!(PostscriptSim::PLAN_MESSAGE.contains("plan"));
        assert!(sim.events().is_empty());
        assert_eq!(sim.requests()[0].op, "unauthorized");
        assert!(sim.requests_for_shop(GROWTH).is_empty());

        // The same shop through the partner app is fine.
        let (status, _, _) = call(
            &sim,
            Auth::Partner(PARTNER, GROWTH),
            Method::POST,
            "/api/v2/events",
            Some(&event("a")),
        )
        .await;
        assert_eq!(status, 202);
        assert_eq!(sim.events_for(GROWTH), [event("a")]);
        assert_eq!(sim.requests_for_shop(GROWTH).len(), 1);

        // Swapped headers (shop key in Authorization, partner key as shop token) are the plan
        // error too, as Postscript's docs warn.
        let (status, body, _) = call(
            &sim,
            Auth::Partner(GROWTH, PARTNER),
            Method::GET,
            "/api/v2/webhooks/token",
            None,
        )
        .await;
        assert_eq!(
            (status, body["error_message"].as_str()),
            (
                PostscriptSim::PLAN_STATUS,
                Some(PostscriptSim::PLAN_MESSAGE)
            )
        );

        // Downgrading the default shop makes its key alone refused as well.
        sim.add_shop(KEY, false);
        assert_eq!(
            post_event(&sim, KEY, &event("b")).await.0,
            PostscriptSim::PLAN_STATUS
        );
        sim.add_shop(KEY, true);
        assert_eq!(post_event(&sim, KEY, &event("b")).await.0, 202);
        // Re-registering kept the shop's data.
        assert_eq!(sim.subscribers_for(KEY).len(), 2);
    }

    #[tokio::test]
    async fn partner_calls_need_the_partner_key_and_a_known_shop_token() {
        let sim = multi().await;
        let unauthorized = [
            Auth::Key(PARTNER),                        // partner key, no shop token
            Auth::Partner(PARTNER, ""),                // empty shop token
            Auth::Partner(PARTNER, "sk_unknown"),      // unknown shop
            Auth::Partner(PARTNER, PARTNER),           // the partner key is no shop
            Auth::Partner("sk_partner_wrong", GROWTH), // wrong partner key
            Auth::Partner(KEY, GROWTH),                // an Enterprise shop key is no partner key
            Auth::Partner(BIG, BIG),                   // an Enterprise key must not add a token
            Auth::TokenOnly(GROWTH),                   // no Authorization at all
            Auth::TokenOnly(KEY),
        ];
        for auth in unauthorized {
            let (status, body, _) =
                call(&sim, auth, Method::GET, "/api/v2/webhooks/token", None).await;
            assert_eq!(status, 401, "{body}");
            assert_eq!(
                body,
                json!({"error_code": 401, "error_message": "Unauthorized", "success": false})
            );
        }
        assert!(sim.requests().iter().all(|r| r.op == "unauthorized"));

        // Every shop, Enterprise or not, is reachable through the partner app.
        for shop in [KEY, GROWTH, BIG] {
            let (status, body, _) = call(
                &sim,
                Auth::Partner(PARTNER, shop),
                Method::GET,
                "/api/v2/webhooks/token",
                None,
            )
            .await;
            assert_eq!(status, 200);
            assert_eq!(body["token"], sim.webhook_token_for(shop).unwrap().as_str());
        }
        // No partner key configured: a "partner" key is just an unknown key.
        let single = sim_without_partner().await;
        let (status, _, _) = call(
            &single,
            Auth::Partner(PARTNER, KEY),
            Method::GET,
            "/api/v2/webhooks/token",
            None,
        )
        .await;
        assert_eq!(status, 401);
    }

    async fn sim_without_partner() -> PostscriptSim {
        PostscriptSim::start(KEY).await
    }

    #[tokio::test]
    async fn every_endpoint_goes_through_the_same_auth() {
        let sim = multi().await;
        let endpoints: Vec<(Method, &str, Option<Value>)> = vec![
            (Method::POST, "/api/v2/events", Some(event("e"))),
            (Method::GET, "/api/v2/subscribers/s_g1", None),
            (
                Method::GET,
                "/api/v2/subscribers?phone_number__eq=%2B15555550101",
                None,
            ),
            (Method::GET, "/api/v2/webhooks", None),
            (Method::POST, "/api/v2/webhooks", Some(incoming_webhook())),
            (Method::DELETE, "/api/v2/webhooks/nope", None),
            (Method::GET, "/api/v2/webhooks/token", None),
        ];
        let refused = [
            (Auth::None, 401),
            (Auth::Key("sk_wrong"), 401),
            (Auth::Key(PARTNER), 401),
            (Auth::Partner("sk_partner_wrong", GROWTH), 401),
            (Auth::Key(GROWTH), PostscriptSim::PLAN_STATUS),
        ];
        for (method, path, body) in &endpoints {
            for (auth, expected) in refused {
                let (status, _, _) = call(&sim, auth, method.clone(), path, body.as_ref()).await;
                assert_eq!(status, expected, "{method} {path}");
            }
        }
        assert!(sim.requests().iter().all(|r| r.op == "unauthorized"));
        assert!(sim.events().is_empty() && sim.webhooks().is_empty());

        let mut statuses = Vec::new();
        for (method, path, body) in &endpoints {
            let auth = Auth::Partner(PARTNER, GROWTH);
            statuses.push(
                call(&sim, auth, method.clone(), path, body.as_ref())
                    .await
                    .0,
            );
        }
        assert_eq!(statuses, [202, 200, 200, 200, 200, 404, 200]);
        let ops: Vec<String> = sim
            .requests_for_shop(GROWTH)
            .into_iter()
            .map(|r| r.op)
            .collect();
        assert_eq!(
            ops,
            [
                "event",
                "subscriber",
                "subscriber_search",
                "webhook_list",
                "webhook_create",
                "webhook_delete",
                "webhook_token"
            ]
        );
        assert!(sim.requests_for_shop(KEY).is_empty());
    }

    #[tokio::test]
    async fn shops_are_separate() {
        let sim = multi().await;
        sim.set_webhook_token_for(BIG, "tok_big");
        sim.set_webhook_token("tok_default");
        assert_eq!(sim.webhook_token(), "tok_default");
        assert_eq!(sim.webhook_token_for(BIG).as_deref(), Some("tok_big"));
        assert!(sim.webhook_token_for(GROWTH).unwrap().starts_with("pswt_"));
        assert_eq!(sim.webhook_token_for("sk_unknown"), None);
        let (_, body, _) = call(
            &sim,
            Auth::Key(BIG),
            Method::GET,
            "/api/v2/webhooks/token",
            None,
        )
        .await;
        assert_eq!(body, json!({"token": "tok_big"}));

        // Subscribers belong to their shop.
        assert_eq!(get(&sim, "/api/v2/subscribers/s_g1").await.0, 404);
        let growth = Auth::Partner(PARTNER, GROWTH);
        let (status, body, _) =
            call(&sim, growth, Method::GET, "/api/v2/subscribers/s_g1", None).await;
        assert_eq!(
            (status, body["email"].as_str()),
            (200, Some("g@example.com"))
        );
        let (_, body, _) = call(&sim, growth, Method::GET, "/api/v2/subscribers/s_1", None).await;
        assert_eq!(body["success"], false);
        assert_eq!(sim.subscribers_for(GROWTH).len(), 1);
        assert!(sim.subscribers_for(BIG).is_empty());

        // Events and webhooks are recorded per shop; the plain readers list all of them.
        assert_eq!(post_event(&sim, KEY, &event("k")).await.0, 202);
        assert_eq!(post_event(&sim, BIG, &event("b")).await.0, 202);
        let (status, _, _) = call(
            &sim,
            growth,
            Method::POST,
            "/api/v2/events",
            Some(&event("g")),
        )
        .await;
        assert_eq!(status, 202);
        assert_eq!(sim.events_for(KEY), [event("k")]);
        assert_eq!(sim.events_for(BIG), [event("b")]);
        assert_eq!(sim.events_for(GROWTH), [event("g")]);
        assert_eq!(sim.events(), [event("k"), event("b"), event("g")]);

        let (_, created) = create_webhook(&sim, Auth::Key(BIG), &incoming_webhook()).await;
        let id = created["id"].as_str().unwrap();
        assert_eq!(sim.webhooks_for(BIG), std::slice::from_ref(&created));
        assert!(sim.webhooks_for(KEY).is_empty());
        let (_, list) = get(&sim, "/api/v2/webhooks").await;
        assert_eq!(list, json!({"webhook_subscriptions": []}));
        // Another shop cannot delete it.
        let path = format!("/api/v2/webhooks/{id}");
        assert_eq!(
            call(&sim, Auth::Key(KEY), Method::DELETE, &path, None)
                .await
                .0,
            404
        );
        assert_eq!(sim.webhooks(), [created]);
        assert_eq!(
            call(&sim, Auth::Key(BIG), Method::DELETE, &path, None)
                .await
                .0,
            200
        );
        assert!(sim.webhooks().is_empty());

        // The request log per shop covers both ways in.
        assert_eq!(sim.requests_for_shop(BIG).len(), 4);
        assert_eq!(sim.requests_for_shop(GROWTH).len(), 3);
    }

    #[test]
    #[should_panic(expected = "no shop with key")]
    fn seeding_an_unknown_shop_panics() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let sim = rt.block_on(PostscriptSim::start(KEY));
        sim.add_subscriber_for(
            "sk_unknown",
            SimSubscriber {
                id: "s".into(),
                phone: "+1".into(),
                email: None,
                shopify_customer_id: None,
            },
        );
    }

    #[tokio::test]
    async fn does_not_deduplicate_on_external_id() {
        let sim = sim().await;
        let (status, first) = post_event(&sim, KEY, &event("im_1:skip")).await;
        assert_eq!(status, 202);
        let first = first["event_ids"][0].as_str().unwrap().to_owned();
        assert!(first.starts_with("ev_"));
        let (status, second) = post_event(&sim, KEY, &event("im_1:skip")).await;
        assert_eq!(status, 202);
        assert_ne!(second["event_ids"][0], first.as_str());
        assert_eq!(sim.events(), [event("im_1:skip"), event("im_1:skip")]);
        assert_eq!(sim.requests_for("event").len(), 2);
    }

    #[tokio::test]
    async fn accepts_the_minimal_documented_events() {
        let sim = sim().await;
        // `type` and any one identifier are enough; the rest is optional.
        for (field, value) in [
            ("subscriber_id", "s_1"),
            ("phone", "+15555550001"),
            ("email", "a@b.c"),
        ] {
            let body = json!({"type": "OrderPlaced_2", field: value});
            assert_eq!(post_event(&sim, KEY, &body).await.0, 202, "{body}");
        }
        let mut full = event("x");
        let obj = full.as_object_mut().unwrap();
        obj.insert("email".into(), "a@b.c".into());
        obj.insert("occurred_at".into(), "2026-11-22 10:11:12.1".into());
        obj.insert(
            "properties".into(),
            json!({"with space": 1.5, "when": "2026-12-24 00:00:00"}),
        );
        assert_eq!(post_event(&sim, KEY, &full).await.0, 202);
        obj_remove(&mut full, "properties");
        assert_eq!(post_event(&sim, KEY, &full).await.0, 202);
        assert_eq!(sim.events().len(), 5);
    }

    fn obj_remove(value: &mut Value, key: &str) {
        value.as_object_mut().unwrap().remove(key);
    }

    #[tokio::test]
    async fn rejects_invalid_events() {
        let sim = sim().await;
        // More cases than the 15 requests a second one key may send.
        sim.set_rate_limit(None);
        /// Spoils one field of a valid event.
        type Change = fn(&mut Map<String, Value>);
        let cases: Vec<(&str, Change)> = vec![
            ("type", |e| {
                drop(e.insert("type".into(), "order skipped".into()))
            }),
            ("type", |e| {
                drop(e.insert("type".into(), "order-skipped".into()))
            }),
            ("type", |e| drop(e.insert("type".into(), "".into()))),
            ("type", |e| drop(e.insert("type".into(), json!(7)))),
            ("type", |e| drop(e.remove("type"))),
            ("subscriber_id", |e| {
                e.remove("subscriber_id");
                e.remove("phone");
            }),
            ("subscriber_id", |e| {
                e.insert("subscriber_id".into(), "".into());
                e.remove("phone");
            }),
            ("phone", |e| {
                drop(e.insert("phone".into(), json!(15555550001_u64)))
            }),
            ("email", |e| drop(e.insert("email".into(), Value::Null))),
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
            ("properties", |e| {
                drop(e.insert("properties".into(), Value::Null))
            }),
            ("occurred_at", |e| {
                drop(e.insert("occurred_at".into(), "2026-11-22T10:11:12Z".into()))
            }),
            ("occurred_at", |e| {
                drop(e.insert("occurred_at".into(), "2026-11-22 10:11:12".into()))
            }),
            ("occurred_at", |e| {
                drop(e.insert("occurred_at".into(), "2026-11-22 10:11:12.1234567".into()))
            }),
            ("occurred_at", |e| {
                drop(e.insert("occurred_at".into(), "2026-02-30 10:11:12.000".into()))
            }),
            ("occurred_at", |e| {
                drop(e.insert("occurred_at".into(), json!(1_764_000_000)))
            }),
            ("external_id", |e| {
                drop(e.insert("external_id".into(), json!(42)))
            }),
        ];
        for (field, change) in cases {
            let mut body = event("bad");
            change(body.as_object_mut().unwrap());
            let (status, answer) = post_event(&sim, KEY, &body).await;
            assert_eq!(status, 400, "{body}");
            assert_eq!(answer["success"], false);
            assert_eq!(answer["error_code"], 400);
            let message = answer["error_message"].as_str().unwrap();
            assert!(message.contains(field), "{message} should name {field}");
        }
        for body in [json!([event("a")]), json!("event")] {
            assert_eq!(post_event(&sim, KEY, &body).await.0, 400);
        }
        let resp = reqwest::Client::new()
            .post(format!("{}/api/v2/events", sim.base_url()))
            .bearer_auth(KEY)
            .body("not json")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400);
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
        assert_eq!(body["page_info"], json!({"page": 1, "total_pages": 1}));
        let (_, body) = get(&sim, "/api/v2/subscribers?email__eq=shopper%40example.com").await;
        assert_eq!(body["subscribers"][0]["id"], "s_1");
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

        let (status, created) = create_webhook(&sim, Auth::Key(KEY), &incoming_webhook()).await;
        assert_eq!(status, 200);
        let id = created["id"].as_str().unwrap().to_owned();
        assert_eq!(id.len(), 36);
        assert_eq!(
            created["callback_url"],
            "https://example.com/webhooks/postscript"
        );
        assert_eq!(created["event"], "shop.incoming_message");
        assert_eq!(created["headers"], json!({}));
        assert!(created["created_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(created["created_at"], created["updated_at"]);

        // The same callback again is a second webhook; `headers` is optional.
        let mut again = incoming_webhook();
        obj_remove(&mut again, "headers");
        let (status, second) = create_webhook(&sim, Auth::Key(KEY), &again).await;
        assert_eq!(status, 200);
        assert_ne!(second["id"], created["id"]);
        assert_eq!(second["headers"], json!({}));
        let (status, list) = get(&sim, "/api/v2/webhooks").await;
        assert_eq!(status, 200);
        assert_eq!(list, json!({"webhook_subscriptions": [created, second]}));
        assert_eq!(sim.webhooks().len(), 2);

        let delete = |id: String| {
            let path = format!("/api/v2/webhooks/{id}");
            let sim = &sim;
            async move { call(sim, Auth::Key(KEY), Method::DELETE, &path, None).await }
        };
        let (status, body, _) = delete(id.clone()).await;
        assert_eq!((status, body), (200, json!({})));
        assert_eq!(delete(id).await.0, 404);
        assert_eq!(sim.webhooks(), [second]);
        let ops: Vec<String> = sim.requests().into_iter().map(|r| r.op).collect();
        assert_eq!(
            ops,
            [
                "webhook_token",
                "webhook_create",
                "webhook_create",
                "webhook_list",
                "webhook_delete",
                "webhook_delete"
            ]
        );
    }

    #[tokio::test]
    async fn rejects_invalid_webhooks() {
        let sim = sim().await;
        let cases = [
            ("callback_url", json!({"event": "shop.incoming_message"})),
            (
                "callback_url",
                json!({"callback_url": "http://example.com/hook", "event": "shop.incoming_message"}),
            ),
            (
                "callback_url",
                json!({"callback_url": "https://", "event": "shop.incoming_message"}),
            ),
            (
                "callback_url",
                json!({"callback_url": 5, "event": "shop.incoming_message"}),
            ),
            ("event", json!({"callback_url": "https://example.com/hook"})),
            (
                "event",
                json!({"callback_url": "https://example.com/hook", "event": "incoming_message"}),
            ),
            (
                "headers",
                json!({"callback_url": "https://example.com/hook", "event": "shop.incoming_message", "headers": ["X-A: b"]}),
            ),
        ];
        for (field, body) in cases {
            let (status, answer) = create_webhook(&sim, Auth::Key(KEY), &body).await;
            assert_eq!(status, 400, "{body}");
            let message = answer["error_message"].as_str().unwrap();
            assert!(message.contains(field), "{message} should name {field}");
        }
        for event in WEBHOOK_EVENTS {
            let body = json!({"callback_url": "https://example.com/hook", "event": event,
                              "headers": {"X-Shop": "a"}});
            assert_eq!(create_webhook(&sim, Auth::Key(KEY), &body).await.0, 200);
        }
        assert_eq!(sim.webhooks().len(), WEBHOOK_EVENTS.len());
    }

    /// Sends `n` requests at once with `auth`; the statuses, with whether any had Retry-After.
    async fn burst(sim: &PostscriptSim, auth: Auth<'static>, n: usize) -> Vec<(u16, bool, Value)> {
        let client = reqwest::Client::new();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..n {
            let mut req = client.get(format!("{}/api/v2/webhooks/token", sim.base_url()));
            req = match auth {
                Auth::Key(key) => req.bearer_auth(key),
                Auth::Partner(partner, shop) => req
                    .bearer_auth(partner)
                    .header("X-Postscript-Shop-Token", shop),
                Auth::None | Auth::TokenOnly(_) => req,
            };
            set.spawn(async move {
                let resp = req.send().await.unwrap();
                let status = resp.status().as_u16();
                let retry_after = resp.headers().contains_key("retry-after");
                (status, retry_after, resp.json::<Value>().await.unwrap())
            });
        }
        set.join_all().await
    }

    fn count(answers: &[(u16, bool, Value)], status: u16) -> usize {
        answers.iter().filter(|a| a.0 == status).count()
    }

    fn assert_rate_limited(answers: &[(u16, bool, Value)]) {
        for (_, retry_after, body) in answers.iter().filter(|a| a.0 == 429) {
            assert!(!retry_after);
            assert_eq!(
                *body,
                json!({"error_code": 3002, "error_message": "Rate limit exceeded", "success": false})
            );
        }
    }

    #[tokio::test]
    async fn rate_limit_is_15_per_second_without_retry_after() {
        let sim = sim().await;
        // A concurrent burst: all 16 arrive well within one second.
        let answers = burst(&sim, Auth::Key(KEY), 16).await;
        assert_eq!(count(&answers, 200), 15);
        assert_eq!(count(&answers, 429), 1);
        assert_rate_limited(&answers);
        assert_eq!(sim.requests_for("webhook_token").len(), 16);
        // The single-shop simulator's limit is still the shared one, so this turns it off.
        sim.set_rate_limit(None);
        assert_eq!(count(&burst(&sim, Auth::Key(KEY), 20).await, 200), 20);
    }

    #[tokio::test]
    async fn rate_limit_counts_per_shop_key_and_per_partner_shop_pair() {
        let sim = multi().await;
        let answers = burst(&sim, Auth::Key(KEY), 16).await;
        assert_eq!((count(&answers, 200), count(&answers, 429)), (15, 1));
        assert_rate_limited(&answers);
        // A limited request is recorded under its call and changes nothing.
        let (status, _, _) = call(
            &sim,
            Auth::Key(KEY),
            Method::POST,
            "/api/v2/events",
            Some(&event("x")),
        )
        .await;
        assert_eq!(status, 429);
        assert!(sim.events().is_empty());
        assert_eq!(sim.requests_for("event").len(), 1);
        assert_eq!(sim.requests_for_shop(KEY).len(), 17);
        // Other budgets are untouched by the first shop's burst: another shop's key, and the
        // same shop through the partner app (a partner/shop pair is its own budget).
        for auth in [
            Auth::Key(BIG),
            Auth::Partner(PARTNER, KEY),
            Auth::Partner(PARTNER, GROWTH),
        ] {
            let answers = burst(&sim, auth, 16).await;
            assert_eq!((count(&answers, 200), count(&answers, 429)), (15, 1));
            assert_rate_limited(&answers);
        }
        // The partner calls for the default shop are that shop's requests too.
        assert_eq!(sim.requests_for_shop(KEY).len(), 17 + 16);
        // Refused requests do not count, and are answered as refused, not 429.
        let answers = burst(&sim, Auth::Key(GROWTH), 20).await;
        assert_eq!(count(&answers, PostscriptSim::PLAN_STATUS), 20);

        // The window slides: a second later the key has its 15 again.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let answers = burst(&sim, Auth::Key(KEY), 15).await;
        assert_eq!(count(&answers, 200), 15);

        sim.set_rate_limit_per_key(Some(2));
        let answers = burst(&sim, Auth::Partner(PARTNER, BIG), 3).await;
        assert_eq!((count(&answers, 200), count(&answers, 429)), (2, 1));
        sim.set_rate_limit_per_key(None);
        assert_eq!(count(&burst(&sim, Auth::Key(BIG), 30).await, 200), 30);
    }

    #[tokio::test]
    async fn set_rate_limit_per_key_on_a_single_shop_simulator() {
        let sim = sim().await;
        sim.set_rate_limit_per_key(Some(3));
        let answers = burst(&sim, Auth::Key(KEY), 5).await;
        assert_eq!((count(&answers, 200), count(&answers, 429)), (3, 2));
        assert_rate_limited(&answers);
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

        sim.inject(Fault::once("event", FaultKind::Status(401)));
        assert_eq!(post_event(&sim, KEY, &event("a")).await.0, 401);

        sim.inject(Fault::once("event", FaultKind::ApplyThenStatus(502)));
        assert_eq!(post_event(&sim, KEY, &event("a")).await.0, 502);
        assert_eq!(sim.events().len(), 1);
        // Postscript does not de-duplicate: the retry with the same external_id is a second
        // event.
        assert_eq!(post_event(&sim, KEY, &event("a")).await.0, 202);
        assert_eq!(sim.events().len(), 2);

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
        assert_eq!(sim.events().len(), 4);
    }

    #[test]
    fn occurred_at_format() {
        for ok in [
            "2026-11-22 10:11:12.123456",
            "2026-11-22 10:11:12.0",
            "2026-11-22 23:59:59.999",
        ] {
            assert!(is_occurred_at(ok), "{ok}");
        }
        for bad in [
            "2026-11-22 10:11:12",
            "2026-11-22 10:11:12.",
            "2026-11-22 10:11:12.1234567",
            "2026-11-22T10:11:12.123",
            "2026-11-22 10:11:12.123Z",
            "2026-11-22 10:11:12.123+00:00",
            "2026-13-01 10:11:12.123",
        ] {
            assert!(!is_occurred_at(bad), "{bad}");
        }
    }

    #[test]
    fn webhook_ids_are_v4_uuids() {
        let id = random_uuid();
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!("89ab".contains(&parts[3][..1]));
        assert!(is_https_url("https://example.com"));
        assert!(!is_https_url("https://"));
        assert!(!is_https_url("https:///path"));
        assert!(!is_https_url("ftp://example.com"));
    }
}
