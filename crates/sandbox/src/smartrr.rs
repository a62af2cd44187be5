//! Simulated Smartrr vendor REST API (`/vendor`, `x-smartrr-access-token: <token>`).
//!
//! Smartrr has no subscription search: a client finds the shopper's customer relationship
//! (`custRel.id`) through their orders (`GET /vendor/order/formatted?filterLike[emailOrName]=`),
//! then lists that relationship's purchase states (subscriptions), then writes to one by both
//! ids. Errors come NestJS-style as `{"message", "statusCode"}`.
//!
//! # What the public material says
//!
//! Smartrr's harvested OpenAPI (`api-evangelist/smartrr`, `openapi/_original/smartrr-openapi.yml`,
//! a curated subset of `https://api.smartrr.com/docs/spec.json` whose "request and response
//! bodies are summarized") gives the paths and methods and names **no** response field and no
//! request-body field for the calls simulated here:
//! - `GET /vendor/order/formatted` ("Get Formatted Orders") lists no query parameter at all;
//!   `filterLike[emailOrName]` comes from Smartrr's Gorgias integration guide
//!   (help.smartrr.com, "Gorgias x Smartrr Integration") and `shared/platforms.md`.
//! - `GET /vendor/customer/{customerRelationshipId}/purchase-state/`: "The customer's purchase
//!   states"; no paging parameters listed.
//! - `PUT .../purchase-state/{customerPurchaseStateId}/skip`: "Skip the next order on a
//!   subscription", answering "The updated purchase state". Whether the answer's
//!   `nextBillingDate` moves is not said (see [`SmartrrSim::set_skip_moves_date`]).
//! - `PUT .../purchase-state/{customerPurchaseStateId}/next-billing-date`: answers "The updated
//!   purchase state"; the body is not described, so `{"nextBillingDate": "YYYY-MM-DD"}` stays
//!   unverified (platforms.md). Nothing found contradicts it.
//! - `pageNumber`/`pageSize` (integers) are listed on the sibling lists `GET /vendor/order` and
//!   `GET /vendor/purchase-state` only.
//!
//! Field names, all unverified and all kept: `purchaseStateStatus` with `ACTIVE`, `PAUSED`,
//! `CANCELLED` (the statuses are in Smartrr's Gorgias guide; public client code filters
//! `/vendor/purchase-state` by `filterEquals[purchaseStateStatus]=ACTIVE|PAUSED|CANCELLED`,
//! which supports the field name), `nextBillingDate` (consistent with the path and with the
//! spec's camelCase `unpauseDate`), and on each formatted order `custRel.id` plus `sts`, the
//! order's purchase states (public client code calls `custRel.id` and `sts[].id` confirmed).
//!
//! # Guesses of this simulator
//!
//! Where the material above and `shared/platforms.md` are silent or unverified:
//! - every purchase state stands for one past order (`ord_<purchase state id>`) of its
//!   customer, whose `sts` holds that one purchase state;
//! - `filterLike[emailOrName]` is a case-insensitive SQL `ILIKE '%<value>%'` over the
//!   customer's email and over their name ([`SmartrrSim::set_customer_name`]): a substring
//!   match, so `ann@example.com` also finds `joann@example.com`, with `_` matching any one
//!   character and `%` any run (`\` escapes), as an unescaped `LIKE` would. An empty or missing
//!   filter lists every order. A client must keep only rows whose `custRel.email` equals the
//!   shopper's;
//! - `/order/formatted` pages like its documented siblings: `pageNumber` counts from 0 (public
//!   clients start there), `pageSize` from 1 to [`MAX_PAGE_SIZE`], default
//!   [`DEFAULT_ORDER_PAGE_SIZE`] ([`SmartrrSim::set_order_page_size`]); anything else is a 400.
//!   The answer is `{"data": [...], "totalCount": <all matching orders>}`. A client reads pages
//!   until it has `totalCount` rows or gets a short page;
//! - the purchase-state list is not paged, answers `{"data": [...]}` in every status, and is a
//!   404 for an unknown relationship;
//! - writes need an `ACTIVE` purchase state that belongs to the relationship in the path (else
//!   404, whether or not either id exists elsewhere); the new date is a strict `YYYY-MM-DD`,
//!   taken as a calendar day in the shop's zone (the zone of [`SmartrrSim::set_date_form`],
//!   UTC for the native form) at the purchase state's current time of day there;
//! - a skip moves the next billing by the interval in calendar days in that same zone.

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use serde_json::{Value, json};

use super::common::{DateForm, Incoming, Platform, Reply, Simulator, js_iso, parse_ymd};

/// The query key of the order search, as Smartrr spells it (clients may percent-encode the
/// brackets; the query parser decodes keys, so both forms match).
const EMAIL_FILTER: &str = "filterLike[emailOrName]";

/// Orders per page of `/order/formatted` when the request names no `pageSize` (a guess; see
/// the module docs).
const DEFAULT_ORDER_PAGE_SIZE: usize = 25;

/// The largest `pageSize` accepted (a guess: public clients ask for 250).
const MAX_PAGE_SIZE: usize = 250;

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
    /// The real next billing: after a skip this is the moved date, even when the skip's
    /// answer showed the old one ([`SmartrrSim::set_skip_moves_date`]).
    pub next_billing: Timestamp,
    /// How far a skip moves `next_billing`, in calendar days.
    pub interval_days: i64,
}

/// Simulated Smartrr; see the module docs.
pub type SmartrrSim = Simulator<SmartrrState>;

/// Smartrr's state: its purchase states, how many writes each really received, and the knobs.
pub struct SmartrrState {
    api_token: String,
    subscriptions: Vec<SmartrrSub>,
    writes: HashMap<String, Writes>,
    /// Customer names by relationship id, also matched by the order search.
    names: HashMap<String, String>,
    skip_moves_date: bool,
    date_form: DateForm,
    order_page_size: usize,
}

/// Effective writes on one purchase state.
#[derive(Clone, Copy, Debug, Default)]
struct Writes {
    skips: u32,
    dates_set: u32,
}

/// A Smartrr call, with ids as sent in the path (percent-decoded).
pub enum SmartrrCall {
    /// `GET /vendor/order/formatted?filterLike[emailOrName]=&pageNumber=&pageSize=`
    /// (`None`: not in the query).
    Lookup {
        email_or_name: Option<String>,
        page_number: Option<String>,
        page_size: Option<String>,
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
            names: HashMap::new(),
            skip_moves_date: true,
            date_form: DateForm::Native,
            order_page_size: DEFAULT_ORDER_PAGE_SIZE,
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

    /// Gives the customer relationship a name (`"Ann Smith"`), which
    /// `filterLike[emailOrName]` matches as well as the email. Customers have no name unless
    /// set. The name is only searched, not answered (its field names are unknown).
    pub fn set_customer_name(&self, cust_rel_id: &str, name: &str) {
        self.with_state(|s| {
            s.names.insert(cust_rel_id.to_owned(), name.to_owned());
        });
    }

    /// Whether a skip's answer shows the moved `nextBillingDate` (`true`, the default and the
    /// behaviour before this knob) or the unchanged one (`false`): the upcoming order is only
    /// marked skipped in the answer, and the moved date shows on the next read of the purchase
    /// state. Either way the skip really happens ([`SmartrrSim::subscription`] and the list
    /// show the moved date at once, [`SmartrrSim::skips_applied`] counts it). Which of the two
    /// the real Smartrr does is undocumented, so a client must accept both: when the answer's
    /// date is not later than the date before the skip, read the purchase state again, and
    /// never report an unchanged date as the new one.
    pub fn set_skip_moves_date(&self, moves: bool) {
        self.with_state(|s| s.skip_moves_date = moves);
    }

    /// How the answers write date-times (`nextBillingDate`). [`DateForm::Native`] (the
    /// default) is JavaScript's `toISOString()` in UTC (`2026-11-24T16:00:00.000Z`). The zone of
    /// the other forms is also the shop's zone for writes: a set-date's `YYYY-MM-DD` is that
    /// day there, and a skip adds calendar days there.
    pub fn set_date_form(&self, form: DateForm) {
        self.with_state(|s| s.date_form = form);
    }

    /// Orders per page of `/order/formatted` when the request names no `pageSize` (default
    /// 25, clamped to 1..=250), so a test can make a handful of orders span pages.
    pub fn set_order_page_size(&self, size: usize) {
        self.with_state(|s| s.order_page_size = size.clamp(1, MAX_PAGE_SIZE));
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

/// Parses a paging parameter: decimal digits only, within `range`.
fn page_param(
    value: Option<&str>,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Option<usize> {
    match value {
        None => Some(default),
        Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
            v.parse().ok().filter(|n| range.contains(n))
        }
        Some(_) => None,
    }
}

/// `haystack ILIKE '%' || pattern || '%'`: case-insensitive, `_` is any one character, `%` any
/// run of them, `\` makes the next character literal; everything else must match as written.
fn ilike_contains(haystack: &str, pattern: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Tok {
        Any,
        One,
        Lit(char),
    }
    let mut toks = vec![Tok::Any];
    let mut chars = pattern.chars().flat_map(char::to_lowercase);
    while let Some(c) = chars.next() {
        toks.push(match c {
            '%' => Tok::Any,
            '_' => Tok::One,
            '\\' => match chars.next() {
                Some(next) => Tok::Lit(next),
                None => Tok::Lit('\\'),
            },
            c => Tok::Lit(c),
        });
    }
    toks.push(Tok::Any);
    let text: Vec<char> = haystack.chars().flat_map(char::to_lowercase).collect();
    // matched[j]: the tokens so far can match exactly text[..j].
    let mut matched = vec![false; text.len() + 1];
    matched[0] = true;
    for tok in toks {
        let mut next = vec![false; text.len() + 1];
        for j in 0..=text.len() {
            next[j] = match tok {
                Tok::Any => matched[j] || (j > 0 && next[j - 1]),
                Tok::One => j > 0 && matched[j - 1],
                Tok::Lit(c) => j > 0 && matched[j - 1] && text[j - 1] == c,
            };
        }
        matched = next;
    }
    matched[text.len()]
}

impl SmartrrState {
    /// The shop's zone for date arithmetic: the zone of the date form (UTC when native).
    fn zone(&self) -> TimeZone {
        match &self.date_form {
            DateForm::Native => TimeZone::UTC,
            DateForm::WithOffset(tz) | DateForm::Floating(tz) => tz.clone(),
        }
    }

    fn purchase_state_json(&self, sub: &SmartrrSub, next_billing: Timestamp) -> Value {
        json!({
            "id": sub.id,
            "purchaseStateStatus": sub.status,
            "nextBillingDate": self.date_form.write(next_billing, js_iso),
        })
    }

    /// The order search. One order per purchase state; see the module docs for the matching
    /// and the paging.
    fn lookup(
        &self,
        email_or_name: Option<&str>,
        page_number: Option<&str>,
        page_size: Option<&str>,
    ) -> Reply {
        let Some(page_size) = page_param(page_size, self.order_page_size, 1..=MAX_PAGE_SIZE) else {
            return self.error(
                StatusCode::BAD_REQUEST,
                "pageSize must be an integer from 1 to 250",
            );
        };
        let Some(page_number) = page_param(page_number, 0, 0..=usize::MAX / MAX_PAGE_SIZE) else {
            return self.error(
                StatusCode::BAD_REQUEST,
                "pageNumber must be an integer, 0 or more",
            );
        };
        let found: Vec<&SmartrrSub> = self
            .subscriptions
            .iter()
            .filter(|s| {
                email_or_name.is_none_or(|needle| {
                    ilike_contains(&s.email, needle)
                        || self
                            .names
                            .get(&s.cust_rel_id)
                            .is_some_and(|name| ilike_contains(name, needle))
                })
            })
            .collect();
        let orders: Vec<Value> = found
            .iter()
            .skip(page_number * page_size)
            .take(page_size)
            .map(|s| {
                json!({
                    "id": format!("ord_{}", s.id),
                    "custRel": { "id": s.cust_rel_id, "email": s.email },
                    "sts": [self.purchase_state_json(s, s.next_billing)],
                })
            })
            .collect();
        Reply::json(
            StatusCode::OK,
            json!({ "data": orders, "totalCount": found.len() }),
        )
    }

    /// Every purchase state of the relationship, whatever its status: the client filters.
    fn list(&self, cust_rel_id: &str) -> Reply {
        let states: Vec<Value> = self
            .subscriptions
            .iter()
            .filter(|s| s.cust_rel_id == cust_rel_id)
            .map(|s| self.purchase_state_json(s, s.next_billing))
            .collect();
        if states.is_empty() {
            return self.error(StatusCode::NOT_FOUND, "Customer not found");
        }
        Reply::json(StatusCode::OK, json!({ "data": states }))
    }

    /// The index of the purchase state a write path names, if it is writable, or the answer
    /// to give. A purchase state of another relationship is a 404, as an unknown one is.
    fn writable(&self, cust_rel_id: &str, id: &str) -> Result<usize, Reply> {
        let index = self
            .subscriptions
            .iter()
            .position(|s| s.id == id && s.cust_rel_id == cust_rel_id)
            .ok_or_else(|| self.error(StatusCode::NOT_FOUND, "Purchase state not found"))?;
        if self.subscriptions[index].status == "ACTIVE" {
            Ok(index)
        } else {
            Err(self.error(StatusCode::BAD_REQUEST, "Purchase state is not active"))
        }
    }

    fn skip(&mut self, cust_rel_id: &str, id: &str) -> Reply {
        let index = match self.writable(cust_rel_id, id) {
            Ok(index) => index,
            Err(reply) => return reply,
        };
        let sub = &self.subscriptions[index];
        let before = sub.next_billing;
        let next = Span::new()
            .try_days(sub.interval_days)
            .and_then(|days| before.to_zoned(self.zone()).checked_add(days));
        let Ok(next) = next else {
            return self.error(StatusCode::BAD_REQUEST, "Next billing date out of range");
        };
        self.subscriptions[index].next_billing = next.timestamp();
        let sub = &self.subscriptions[index];
        let shown = if self.skip_moves_date {
            sub.next_billing
        } else {
            before
        };
        let answer = self.purchase_state_json(sub, shown);
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
        let index = match self.writable(cust_rel_id, id) {
            Ok(index) => index,
            Err(reply) => return reply,
        };
        // Only the day is chosen by the caller; billing keeps its time of day in the shop's
        // zone.
        let tz = self.zone();
        let time = self.subscriptions[index]
            .next_billing
            .to_zoned(tz.clone())
            .time();
        let Ok(next) = date.to_datetime(time).to_zoned(tz) else {
            return self.error(StatusCode::BAD_REQUEST, "nextBillingDate out of range");
        };
        self.subscriptions[index].next_billing = next.timestamp();
        let sub = &self.subscriptions[index];
        let answer = self.purchase_state_json(sub, sub.next_billing);
        self.writes.entry(id.to_owned()).or_default().dates_set += 1;
        Reply::json(StatusCode::OK, answer)
    }
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
                page_number: req.query_param("pageNumber"),
                page_size: req.query_param("pageSize"),
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
            SmartrrCall::Lookup {
                email_or_name,
                page_number,
                page_size,
            } => self.lookup(
                email_or_name.as_deref(),
                page_number.as_deref(),
                page_size.as_deref(),
            ),
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
                    {"id": "ord_ps_1", "custRel": {"id": "cr_1", "email": "Shopper@Example.com"},
                     "sts": [{"id": "ps_1", "purchaseStateStatus": "ACTIVE",
                              "nextBillingDate": "2026-11-24T16:00:00.000Z"}]},
                    {"id": "ord_ps_2", "custRel": {"id": "cr_1", "email": "Shopper@Example.com"},
                     "sts": [{"id": "ps_2", "purchaseStateStatus": "CANCELLED",
                              "nextBillingDate": "2026-11-24T16:00:00.000Z"}]},
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

    /// The ids of the orders a lookup answered, and its `totalCount`.
    async fn lookup(sim: &SmartrrSim, query: &str) -> (Vec<String>, Value) {
        let (status, body) =
            call(sim, Method::GET, &format!("/order/formatted?{query}"), None).await;
        assert_eq!(status, 200, "{query}: {body}");
        let ids = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect();
        (ids, body["totalCount"].clone())
    }

    #[tokio::test]
    async fn email_filter_is_a_case_insensitive_substring_match() {
        let sim = SmartrrSim::start(TOKEN).await;
        sim.add_subscription(sub("ps_ann", "cr_ann", "ann@example.com", "ACTIVE"));
        sim.add_subscription(sub("ps_joann", "cr_joann", "JoAnn@Example.com", "ACTIVE"));
        sim.add_subscription(sub("ps_bob", "cr_bob", "bob@example.com", "ACTIVE"));

        // The real filter is `filterLike`: Ann's email also finds Joann's orders, and each row
        // says whose it is, so a client can keep only the exact email.
        let (status, body) = call(
            &sim,
            Method::GET,
            "/order/formatted?filterLike%5BemailOrName%5D=ann%40example.com",
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["totalCount"], 2);
        let rows = body["data"].as_array().unwrap();
        let cust_rels: Vec<(&str, &str)> = rows
            .iter()
            .map(|o| {
                (
                    o["custRel"]["id"].as_str().unwrap(),
                    o["custRel"]["email"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            cust_rels,
            [
                ("cr_ann", "ann@example.com"),
                ("cr_joann", "JoAnn@Example.com")
            ]
        );
        assert_eq!(rows[1]["sts"][0]["id"], "ps_joann");
        let exact: Vec<&str> = cust_rels
            .iter()
            .filter(|(_, email)| email.eq_ignore_ascii_case("ann@example.com"))
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(exact, ["cr_ann"]);

        // Case-insensitive both ways; Joann's own email finds only her.
        assert_eq!(
            lookup(&sim, "filterLike[emailOrName]=ANN@EXAMPLE.COM")
                .await
                .0,
            ["ord_ps_ann", "ord_ps_joann"]
        );
        assert_eq!(
            lookup(&sim, "filterLike[emailOrName]=joann%40example.com")
                .await
                .0,
            ["ord_ps_joann"]
        );
        // A fragment anywhere in the address matches; a non-matching one finds nothing.
        assert_eq!(
            lookup(&sim, "filterLike[emailOrName]=example").await.1,
            json!(3)
        );
        assert_eq!(
            lookup(&sim, "filterLike[emailOrName]=ann%40example.org").await,
            (vec![], json!(0))
        );
    }

    #[tokio::test]
    async fn email_filter_also_matches_names_and_like_wildcards() {
        let sim = SmartrrSim::start(TOKEN).await;
        sim.add_subscription(sub("ps_1", "cr_1", "a_b@example.com", "ACTIVE"));
        sim.add_subscription(sub("ps_2", "cr_2", "axb@example.com", "ACTIVE"));
        sim.add_subscription(sub("ps_3", "cr_3", "zed@example.com", "ACTIVE"));
        sim.set_customer_name("cr_3", "Ann Zed");

        // "emailOrName": the name is searched too, so a row can match on a name alone.
        assert_eq!(
            lookup(&sim, "filterLike[emailOrName]=ann").await.0,
            ["ord_ps_3"]
        );
        assert_eq!(
            lookup(&sim, "filterLike[emailOrName]=N%20ZE").await.0,
            ["ord_ps_3"]
        );
        // As in an unescaped SQL LIKE, `_` is any one character and `%` any run.
        assert_eq!(
            lookup(&sim, "filterLike[emailOrName]=a_b%40example.com")
                .await
                .0,
            ["ord_ps_1", "ord_ps_2"]
        );
        assert_eq!(
            lookup(&sim, "filterLike[emailOrName]=a%5C_b%40").await.0,
            ["ord_ps_1"]
        );
        assert_eq!(
            lookup(&sim, "filterLike[emailOrName]=a%25%40example")
                .await
                .0,
            ["ord_ps_1", "ord_ps_2"]
        );
        // An unencoded `+` is a space after form decoding, and so matches nothing here.
        assert_eq!(
            lookup(&sim, "filterLike[emailOrName]=a+b").await.0,
            Vec::<String>::new()
        );
    }

    #[test]
    fn ilike_matching() {
        assert!(ilike_contains("joann@example.com", "ann@example.com"));
        assert!(ilike_contains("JOANN@EXAMPLE.COM", "ann@Example.com"));
        assert!(ilike_contains("anything", ""));
        assert!(!ilike_contains("ann@example.co", "ann@example.com"));
        assert!(ilike_contains("axb", "a_b"));
        assert!(!ilike_contains("ab", "a_b"));
        assert!(ilike_contains("a_b", "a\\_b"));
        assert!(!ilike_contains("axb", "a\\_b"));
        assert!(ilike_contains("a-long-b", "a%b"));
        assert!(ilike_contains("back\\slash", "k\\"));
        assert!(ilike_contains("Ünïcode", "ünï"));
    }

    #[tokio::test]
    async fn order_search_pages() {
        let sim = SmartrrSim::start(TOKEN).await;
        for n in 1..=5 {
            sim.add_subscription(sub(
                &format!("ps_{n}"),
                &format!("cr_{n}"),
                &format!("shopper{n}@example.com"),
                "ACTIVE",
            ));
        }
        let filter = "filterLike[emailOrName]=shopper";
        // The default page holds them all; an explicit page size pages from pageNumber 0.
        assert_eq!(lookup(&sim, filter).await.0.len(), 5);
        let (ids, total) = lookup(&sim, &format!("{filter}&pageSize=2")).await;
        assert_eq!(
            (ids, total),
            (vec!["ord_ps_1".into(), "ord_ps_2".into()], json!(5))
        );
        let (ids, _) = lookup(&sim, &format!("{filter}&pageSize=2&pageNumber=1")).await;
        assert_eq!(ids, ["ord_ps_3", "ord_ps_4"]);
        let (ids, total) = lookup(&sim, &format!("{filter}&pageSize=2&pageNumber=2")).await;
        assert_eq!((ids, total), (vec!["ord_ps_5".into()], json!(5)));
        let (ids, total) = lookup(&sim, &format!("{filter}&pageSize=2&pageNumber=3")).await;
        assert_eq!((ids, total), (vec![], json!(5)));

        // A smaller default page: a client that reads one page only misses orders.
        sim.set_order_page_size(3);
        let (ids, total) = lookup(&sim, filter).await;
        assert_eq!((ids.len(), total), (3, json!(5)));
        let (ids, _) = lookup(&sim, &format!("{filter}&pageNumber=1")).await;
        assert_eq!(ids, ["ord_ps_4", "ord_ps_5"]);
        assert_eq!(lookup(&sim, "pageSize=250").await.0.len(), 5);

        for bad in [
            "pageSize=0",
            "pageSize=251",
            "pageSize=x",
            "pageSize=-1",
            "pageSize=",
            "pageNumber=-1",
            "pageNumber=1.5",
            "pageNumber=99999999999999999999999",
        ] {
            let (status, body) = call(
                &sim,
                Method::GET,
                &format!("/order/formatted?{filter}&{bad}"),
                None,
            )
            .await;
            assert_eq!(
                (status, body["statusCode"].clone()),
                (400, json!(400)),
                "{bad}"
            );
            assert!(body["message"].is_string(), "{bad}");
        }
    }

    #[tokio::test]
    async fn skip_that_does_not_move_the_date_in_its_answer() {
        let sim = sim().await;
        sim.set_skip_moves_date(false);
        let (status, body) = call(&sim, Method::PUT, SKIP, None).await;
        assert_eq!(status, 200);
        // The answer only marks the upcoming order skipped: its date is the old one ...
        assert_eq!(
            body,
            json!({"id": "ps_1", "purchaseStateStatus": "ACTIVE",
                   "nextBillingDate": "2026-11-24T16:00:00.000Z"})
        );
        // ... yet the skip happened, and reading the purchase state again shows the next
        // order's date.
        assert_eq!(sim.skips_applied("ps_1"), 1);
        assert_eq!(
            sim.subscription("ps_1").unwrap().next_billing,
            at("2026-12-24T16:00:00Z")
        );
        let (_, body) = call(&sim, Method::GET, "/customer/cr_1/purchase-state/", None).await;
        assert_eq!(
            body["data"][0]["nextBillingDate"],
            "2026-12-24T16:00:00.000Z"
        );
        let (_, body) = lookup_body(&sim, "filterLike[emailOrName]=shopper").await;
        assert_eq!(
            body["data"][0]["sts"][0]["nextBillingDate"],
            "2026-12-24T16:00:00.000Z"
        );

        // Repeating the skip skips another cycle; its answer again shows the date before it.
        let (_, body) = call(&sim, Method::PUT, SKIP, None).await;
        assert_eq!(body["nextBillingDate"], "2026-12-24T16:00:00.000Z");
        assert_eq!(
            sim.subscription("ps_1").unwrap().next_billing,
            at("2027-01-23T16:00:00Z")
        );
        assert_eq!(sim.skips_applied("ps_1"), 2);

        // Back to the default: the answer carries the moved date.
        sim.set_skip_moves_date(true);
        let (_, body) = call(&sim, Method::PUT, SKIP, None).await;
        assert_eq!(body["nextBillingDate"], "2027-02-22T16:00:00.000Z");
    }

    async fn lookup_body(sim: &SmartrrSim, query: &str) -> (u16, Value) {
        call(sim, Method::GET, &format!("/order/formatted?{query}"), None).await
    }

    #[tokio::test]
    async fn writes_through_another_customers_relationship_are_404() {
        let sim = sim().await;
        let before = sim.subscription("ps_1").unwrap();
        for (method, path, body) in [
            (Method::PUT, "/customer/cr_2/purchase-state/ps_1/skip", None),
            (
                Method::PUT,
                "/customer/cr_2/purchase-state/ps_1/next-billing-date",
                Some(json!({"nextBillingDate": "2026-12-08"})),
            ),
            (Method::PUT, "/customer/cr_9/purchase-state/ps_1/skip", None),
            (
                Method::PUT,
                "/customer/cr_9/purchase-state/ps_1/next-billing-date",
                Some(json!({"nextBillingDate": "2026-12-08"})),
            ),
            (Method::PUT, "/customer/cr_2/purchase-state/ps_9/skip", None),
        ] {
            let (status, answer) = call(&sim, method, path, body).await;
            assert_eq!(
                (status, answer),
                (
                    404,
                    json!({"message": "Purchase state not found", "statusCode": 404})
                ),
                "{path}"
            );
        }
        // ps_3 belongs to cr_2: the same path with its own relationship works.
        assert_eq!(
            call(
                &sim,
                Method::PUT,
                "/customer/cr_2/purchase-state/ps_3/skip",
                None
            )
            .await
            .0,
            200
        );
        assert_eq!(sim.subscription("ps_1").unwrap(), before);
        assert_eq!((sim.skips_applied("ps_1"), sim.dates_set("ps_1")), (0, 0));
        assert_eq!(sim.skips_applied("ps_3"), 1);
    }

    #[tokio::test]
    async fn date_forms_of_the_answers() {
        let la = TimeZone::get("America/Los_Angeles").unwrap();
        let sim = sim().await;
        sim.set_date_form(DateForm::WithOffset(la.clone()));
        let (_, body) = call(&sim, Method::GET, "/customer/cr_1/purchase-state/", None).await;
        assert_eq!(
            body["data"][0]["nextBillingDate"],
            "2026-11-24T08:00:00-08:00"
        );
        let (_, body) = lookup_body(&sim, "filterLike[emailOrName]=other").await;
        assert_eq!(
            body["data"][0]["sts"][0]["nextBillingDate"],
            "2026-11-24T08:00:00-08:00"
        );
        sim.set_date_form(DateForm::Floating(la));
        let (_, body) = call(&sim, Method::PUT, SKIP, None).await;
        assert_eq!(body["nextBillingDate"], "2026-12-24T08:00:00");
        sim.set_date_form(DateForm::Native);
        let (_, body) = call(&sim, Method::GET, "/customer/cr_1/purchase-state/", None).await;
        assert_eq!(
            body["data"][0]["nextBillingDate"],
            "2026-12-24T16:00:00.000Z"
        );
    }

    #[tokio::test]
    async fn writes_count_days_in_the_shops_zone() {
        let la = TimeZone::get("America/Los_Angeles").unwrap();
        let sim = SmartrrSim::start(TOKEN).await;
        // The shop's local midnight, just before the end of daylight saving time.
        let midnight = || sub("ps_1", "cr_1", "shopper@example.com", "ACTIVE");
        sim.add_subscription(SmartrrSub {
            next_billing: at("2026-10-20T07:00:00Z"),
            ..midnight()
        });
        sim.set_date_form(DateForm::Floating(la.clone()));
        // 30 calendar days later is local midnight again (30 times 24 hours would be 23:00
        // the day before).
        let (_, body) = call(&sim, Method::PUT, SKIP, None).await;
        assert_eq!(body["nextBillingDate"], "2026-11-19T00:00:00");
        assert_eq!(
            sim.subscription("ps_1").unwrap().next_billing,
            at("2026-11-19T08:00:00Z")
        );
        // A set-date's day is the shop's day, at the shop's time of day.
        let (status, body) = call(
            &sim,
            Method::PUT,
            SET_DATE,
            Some(json!({"nextBillingDate": "2026-12-01"})),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["nextBillingDate"], "2026-12-01T00:00:00");
        sim.set_date_form(DateForm::WithOffset(la));
        let (_, body) = call(&sim, Method::GET, "/customer/cr_1/purchase-state/", None).await;
        assert_eq!(
            body["data"][0]["nextBillingDate"],
            "2026-12-01T00:00:00-08:00"
        );
        // In the native form the day is the UTC day, as before the knob existed.
        sim.set_date_form(DateForm::Native);
        let (_, body) = call(
            &sim,
            Method::PUT,
            SET_DATE,
            Some(json!({"nextBillingDate": "2026-12-05"})),
        )
        .await;
        assert_eq!(body["nextBillingDate"], "2026-12-05T08:00:00.000Z");
        assert_eq!(sim.dates_set("ps_1"), 2);
    }
}
