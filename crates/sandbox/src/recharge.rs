//! Simulated Recharge REST API, version 2021-11 (`X-Recharge-Access-Token: <token>` and
//! `X-Recharge-Version: 2021-11`, paths at the root).
//!
//! Recharge skips a *charge*, not a subscription: every active subscription sits in a queued
//! charge on its `next_charge_scheduled_at`, and subscriptions of one customer billed on the
//! same day to the same address share that charge as several line items. A customer can hold
//! several queued charges: one per address and day, and, for one subscription, later ones as
//! well ([`RechargeSim::add_queued_charge`] seeds one). A client must skip the charge on the
//! subscription's `next_charge_scheduled_at`, not "a queued charge that holds it".
//!
//! What the simulator enforces, with where it comes from (`shared/platforms.md`, "Recharge",
//! unless marked otherwise):
//! - auth is `X-Recharge-Access-Token`, anything else is a 401 `{"errors": "Unauthorized"}`;
//! - the version header picks the API version, as on the real API (doc: Recharge's "API
//!   versions" guide): `2021-11` is this API; a missing header means the store's default,
//!   `2021-01`, and so does `2021-01` itself; any other value is a 426 (doc: Recharge's error
//!   table, "The request was made using an invalid API version", as copied by the public
//!   clients `singer-io/tap-recharge` and `mattgenious/RechargeSharp`). A 2021-01 call is
//!   answered in the 2021-01 shapes the real API uses for it: upper-case statuses
//!   (`ACTIVE`, `QUEUED`), `line_items[].subscription_id` instead of `purchase_item_id`,
//!   date-times without offset for `scheduled_at` and `next_charge_scheduled_at`, no cursors,
//!   and a skip body of `{"subscription_id": id}` or `{"subscription_ids": [...]}` (code: the
//!   2021-01 charge guide and `ChemicalLuck/recharge-api-python`; the rest of 2021-01 is not
//!   modelled). A client that forgets the header is served, just not what it expects;
//! - lists: `GET /customers?email=`, `GET /subscriptions?customer_id=&address_id=&status=`,
//!   `GET /charges?customer_id=&address_id=&status=&purchase_item_id=&scheduled_at=`, each
//!   `{"next_cursor", "previous_cursor", "<resources>": [...]}` (code: RechargeSharp's recorded
//!   answers), sorted by id descending unless `sort_by` says otherwise (doc: Recharge's "API
//!   standards"), at most `limit` (1 to 250, default 50) per page. Follow `next_cursor` with
//!   `?cursor=...&limit=...`: the cursor carries the filters and the order, and other
//!   parameters sent with it are ignored. A bad cursor is a 422
//!   `{"errors": {"cursor": ["Invalid value"]}}` (code: RechargeSharp). Unknown query
//!   parameters are ignored, so a misspelt filter (the 2021-01 `subscription_id`) filters
//!   nothing. `GET /subscriptions/{id}` and `GET /charges/{id}` answer `{"subscription": ...}`
//!   and `{"charge": ...}`, or 404 `{"errors": "Not Found"}` (code: RechargeSharp);
//! - statuses are lower case and status filters exact; the email filter is an exact match,
//!   without regard to ASCII case (unverified);
//! - `POST /charges/{id}/skip` takes `{"purchase_item_ids": [ids]}` and answers
//!   `{"charge": ...}`, the named charge, now `skipped` and holding the skipped line items
//!   (code: public 2021-11 clients). Every skip leaves no queued charge under the old id: the
//!   line items not skipped move to a new queued charge under a new id. A skipped
//!   subscription whose next charge this was moves on by its interval, over any date it has
//!   already skipped, and lands in a new queued charge (or in a later one already queued for
//!   that date). Skipping a later queued charge skips that later order and leaves
//!   `next_charge_scheduled_at` alone. A charge that is not queued answers 422
//!   `{"errors": "Only charges with status queued and error can be skipped"}` (code), which is
//!   what a stale id gets after a skip; after a new date the emptied charge is gone and its id
//!   answers 404 `{"errors": "Not Found"}` (unverified);
//! - `POST /subscriptions/{id}/set_next_charge_date` takes `{"date": "YYYY-MM-DD"}`, strictly
//!   after today (else 422 `{"errors": {"date": ["date is not far enough in the future"]}}`,
//!   code: RechargeSharp), and answers `{"subscription": ...}`; the subscription leaves its
//!   next charge, which then answers under a new id;
//! - a POST whose body is not a JSON object sent as `application/json` is a 415 (doc: "The
//!   request body was not a JSON object"; the body is RechargeSharp's recorded one);
//! - an unknown path is a 404 `{"error": "endpoint not found"}` and a known path with another
//!   method a 405 `{"error": "method not allowed"}` (code: RechargeSharp);
//! - rate limit: a leaky bucket of 40 per token draining 2 per second (doc), 429 when over with
//!   `{"warning": "too many requests"}` (code: public PHP clients retry on that body), and every
//!   answer, 401 and 429 included, carries `X-Recharge-Limit: <used>/40` (code: public clients
//!   read it as calls used over bucket size);
//! - dates: `next_charge_scheduled_at` is `YYYY-MM-DD` (code: RechargeSharp's recorded
//!   answers); charges' `scheduled_at` is a date-time, natively the day's midnight without an
//!   offset (`2026-11-24T00:00:00`; typed date-time by `singer-io/tap-recharge`, unverified);
//!   `created_at`/`updated_at` are `+00:00` date-times on subscriptions (and charges, unverified)
//!   and offset-less on customers, as RechargeSharp recorded them. [`RechargeSim::set_date_form`] switches every
//!   date-time to one of the other forms.
//!
//! Guesses where nothing public says: the wording of 426 and of the other 422s, a 422 for a
//! bad `limit`, `sort_by` or numeric filter, `purchase_item_ids` being required, writes needing
//! an `active` subscription, and a cancelled subscription answering
//! `next_charge_scheduled_at: null`.

use std::cell::Cell;
use std::collections::HashMap;

use axum::http::{HeaderName, Method, StatusCode};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::common::{
    DateForm, Incoming, Platform, RateLimit, Reply, Simulator, form_decode, parse_ymd,
};

/// The API version the simulator speaks, and the one keyroute must send.
const API_VERSION: &str = "2021-11";

/// What the real API falls back to without a version header (a store's default).
const DEFAULT_VERSION: &str = "2021-01";

/// Recharge's documented bucket: 40 requests, draining 2 per second.
const BUCKET_CAPACITY: u32 = 40;
const BUCKET_DRAIN_PER_SECOND: u32 = 2;

const RATE_LIMIT: RateLimit = RateLimit::LeakyBucket {
    capacity: BUCKET_CAPACITY,
    drain_per_second: BUCKET_DRAIN_PER_SECOND,
};

/// The header that tells how full the bucket is: `<used>/40`.
fn limit_header() -> HeaderName {
    HeaderName::from_static("x-recharge-limit")
}

/// Recharge's answer to skipping a charge that is not queued, also used for the refusal fault.
const ONLY_QUEUED: &str = "Only charges with status queued and error can be skipped";

/// The `message` of Recharge's 415.
const NOT_JSON: &str = "The server has refused to accept the request because the payload format is in an unsupported format";

/// Recharge's refusal of a date that is not after today.
const NOT_FAR_ENOUGH: &str = "date is not far enough in the future";

/// First charge id handed out: far from any seeded subscription id, so a client that sends a
/// subscription id where a charge id belongs gets a 404 rather than a lucky match.
const FIRST_CHARGE_ID: i64 = 880_000_001;

/// Records per page when the request names no `limit`, and the most it may name.
const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 250;

/// A Recharge subscription as seeded into and read back from [`RechargeSim`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RechargeSub {
    /// Also the `purchase_item_id` of its line item in a charge.
    pub id: i64,
    /// The customer, created implicitly from the first subscription that names it.
    pub customer_id: i64,
    /// The customer's email, found by `GET /customers?email=` (exact, ignoring ASCII case).
    pub email: String,
    pub address_id: i64,
    /// `active` or `cancelled` (lower case). Only active ones have queued charges.
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
    /// Queued charges follow the active subscriptions (see [`Self::reconcile`]); skipped ones
    /// are kept as history, so a stale id answers 422 rather than 404.
    charges: Vec<Charge>,
    writes: HashMap<i64, Writes>,
    /// When each subscription was first seeded and last changed.
    stamps: HashMap<i64, Stamps>,
    next_charge_id: i64,
    date_form: DateForm,
    /// The day a new date must come after; `None`: today in the shop's zone.
    today: Option<Date>,
    page_size: usize,
    /// Recharge's bucket as the `X-Recharge-Limit` header reports it (see [`Bucket`]).
    bucket: Cell<Bucket>,
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
    created: Timestamp,
    updated: Timestamp,
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

#[derive(Clone, Copy, Debug)]
struct Stamps {
    created: Timestamp,
    updated: Timestamp,
}

/// Effective writes on one subscription.
#[derive(Clone, Debug, Default)]
struct Writes {
    skips: u32,
    dates_set: u32,
    /// The `scheduled_at` of every charge in which it was skipped, in the order of the skips.
    skipped_dates: Vec<Date>,
}

/// The bucket behind `X-Recharge-Limit`. It counts every authorised request with Recharge's
/// documented parameters, exactly as the simulator's default limiter does, so the header is
/// what the limiter saw. The plumbing does not tell a platform which limiter is in force: after
/// `set_rate_limiter`/`set_rate_limit` the header still reports Recharge's own bucket, which
/// then saturates at 40 while requests keep passing.
#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    level: f64,
    updated: Option<Instant>,
}

impl Bucket {
    fn level_at(&self, now: Instant) -> f64 {
        match self.updated {
            None => self.level,
            Some(updated) => {
                let drained = now.saturating_duration_since(updated).as_secs_f64()
                    * f64::from(BUCKET_DRAIN_PER_SECOND);
                (self.level - drained).max(0.0)
            }
        }
    }

    fn admit(&mut self, now: Instant) {
        self.level = self.level_at(now);
        self.updated = Some(now);
        if self.level + 1.0 <= f64::from(BUCKET_CAPACITY) {
            self.level += 1.0;
        }
    }

    /// Calls in the bucket now, a partly drained one counting as one.
    fn used(&self, now: Instant) -> u32 {
        // At most 40 after `min`, so the cast is exact.
        self.level_at(now).ceil().min(f64::from(BUCKET_CAPACITY)) as u32
    }
}

/// The API version a request asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    V2021_11,
    V2021_01,
}

/// A Recharge call: the version it was made in and what it asks.
pub struct RechargeCall {
    version: Version,
    endpoint: Endpoint,
}

enum Endpoint {
    /// A version header with a value Recharge does not know.
    BadVersion,
    /// `GET /customers`.
    Customers(Query),
    /// `GET /subscriptions`.
    Lookup(Query),
    /// `GET /charges`.
    Charges(Query),
    /// `GET /charges/{id}`.
    GetCharge(String),
    /// `POST /charges/{id}/skip`.
    Skip {
        charge_id: String,
        body: Body,
    },
    /// `GET /subscriptions/{id}`.
    Get(String),
    /// `POST /subscriptions/{id}/set_next_charge_date`.
    SetDate {
        id: String,
        body: Body,
    },
    NotFound,
    MethodNotAllowed,
}

/// A POST body: a JSON object sent as JSON, or anything else (a 415).
enum Body {
    Json(Value),
    NotJson,
}

/// Decoded query pairs in the order sent; the first of repeated keys wins.
#[derive(Clone, Debug, Default)]
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: Option<&str>) -> Query {
        let pairs = raw
            .unwrap_or("")
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (form_decode(key), form_decode(value))
            })
            .collect();
        Query(pairs)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn without(&self, keys: &[&str]) -> Query {
        Query(
            self.0
                .iter()
                .filter(|(k, _)| !keys.contains(&k.as_str()))
                .cloned()
                .collect(),
        )
    }
}

/// Which page of a list to answer, and the filters and order it is a page of.
struct Page {
    offset: usize,
    limit: usize,
    query: Query,
}

/// The order of a list (`sort_by=<field>-<asc|desc>`).
#[derive(Clone, Copy)]
struct Sort {
    field: SortField,
    descending: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SortField {
    Id,
    CreatedAt,
    UpdatedAt,
    ScheduledAt,
}

impl SortField {
    fn name(self) -> &'static str {
        match self {
            SortField::Id => "id",
            SortField::CreatedAt => "created_at",
            SortField::UpdatedAt => "updated_at",
            SortField::ScheduledAt => "scheduled_at",
        }
    }
}

/// One row of a list before paging: its sort keys and its JSON.
struct Row {
    id: i64,
    created: Timestamp,
    updated: Timestamp,
    scheduled: Option<Date>,
    json: Value,
}

impl RechargeSim {
    /// Starts a Recharge simulator that accepts `X-Recharge-Access-Token: <api_token>`, with
    /// Recharge's leaky bucket (40, draining 2/s) on. Tests that need more use
    /// `set_rate_limit(None)` or `set_rate_limiter`.
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
            stamps: HashMap::new(),
            next_charge_id: FIRST_CHARGE_ID,
            date_form: DateForm::Native,
            today: None,
            page_size: DEFAULT_PAGE_SIZE,
            bucket: Cell::new(Bucket::default()),
        })
        .await
    }

    /// Adds a subscription, replacing any with the same id, and puts it in a queued charge if
    /// it is active (joining one of the same customer, address and day when there is one).
    pub fn add_subscription(&self, sub: RechargeSub) {
        self.with_state(|s| {
            let now = now();
            match s.subscriptions.iter().position(|x| x.id == sub.id) {
                Some(index) => {
                    if s.subscriptions[index].next_charge != sub.next_charge {
                        s.detach(sub.id);
                    }
                    s.subscriptions[index] = sub.clone();
                }
                None => s.subscriptions.push(sub.clone()),
            }
            s.stamps
                .entry(sub.id)
                .and_modify(|st| st.updated = now)
                .or_insert(Stamps {
                    created: now,
                    updated: now,
                });
            s.reconcile();
        });
    }

    /// Queues a further charge for an active subscription on `scheduled_at`, a day after its
    /// next charge (Recharge shows upcoming charges beyond the next one), and returns its id.
    /// It joins a queued charge of the same customer, address and day when there is one. The
    /// subscription's `next_charge_scheduled_at` does not change; once the subscription's date
    /// reaches that day, this charge is its next one.
    ///
    /// # Panics
    /// If the subscription is unknown or not active, or `scheduled_at` is not after its next
    /// charge: a mistake in the test.
    pub fn add_queued_charge(&self, subscription_id: i64, scheduled_at: Date) -> i64 {
        self.with_state(|s| {
            let sub = s
                .find(subscription_id)
                .unwrap_or_else(|| panic!("no Recharge subscription {subscription_id}"))
                .clone();
            assert!(
                sub.status == "active",
                "Recharge subscription {subscription_id} is not active"
            );
            assert!(
                scheduled_at > sub.next_charge,
                "a further charge must come after the next one ({})",
                sub.next_charge
            );
            let existing = s.charges.iter_mut().find(|c| {
                c.status == ChargeStatus::Queued
                    && c.customer_id == sub.customer_id
                    && c.address_id == sub.address_id
                    && c.scheduled_at == scheduled_at
            });
            if let Some(charge) = existing {
                if !charge.purchase_item_ids.contains(&subscription_id) {
                    charge.purchase_item_ids.push(subscription_id);
                    charge.updated = now();
                }
                return charge.id;
            }
            let id = s.new_charge_id();
            s.charges.push(Charge::queued(
                id,
                sub.customer_id,
                sub.address_id,
                scheduled_at,
                vec![subscription_id],
            ));
            id
        })
    }

    /// The subscription as it is now.
    pub fn subscription(&self, id: i64) -> Option<RechargeSub> {
        self.with_state(|s| s.find(id).cloned())
    }

    /// The id of the queued charge on the subscription's `next_charge_scheduled_at` (`None`
    /// when it is not active or unknown). It changes after every skip or new date.
    pub fn queued_charge_id(&self, sub_id: i64) -> Option<i64> {
        self.with_state(|s| s.next_charge_of(sub_id).map(|c| c.id))
    }

    /// Removes the queued charge on the subscription's next date, as while Recharge
    /// regenerates its charges after a change: the subscription still names the date, but no
    /// queued charge is on it. Returns whether there was one.
    pub fn drop_next_charge(&self, sub_id: i64) -> bool {
        self.with_state(|s| {
            let Some(id) = s.next_charge_of(sub_id).map(|c| c.id) else {
                return false;
            };
            s.charges.retain(|c| c.id != id);
            true
        })
    }

    /// Every queued charge that holds the subscription, earliest first: its next charge, then
    /// any further ones ([`RechargeSim::add_queued_charge`]).
    pub fn queued_charge_ids(&self, sub_id: i64) -> Vec<i64> {
        self.with_state(|s| {
            let mut found: Vec<&Charge> = s
                .charges
                .iter()
                .filter(|c| c.status == ChargeStatus::Queued)
                .filter(|c| c.purchase_item_ids.contains(&sub_id))
                .collect();
            found.sort_by_key(|c| (c.scheduled_at, c.id));
            found.into_iter().map(|c| c.id).collect()
        })
    }

    /// How many skips were really applied to this subscription, in any of its charges (faulted
    /// calls that applied count; refused, rejected and unauthorised ones do not).
    pub fn skips_applied(&self, id: i64) -> u32 {
        self.with_state(|s| s.writes.get(&id).map_or(0, |w| w.skips))
    }

    /// The `scheduled_at` of each charge in which this subscription was skipped, in the order
    /// of the skips: tells a skip of the next order from a skip of a later one.
    pub fn skipped_dates(&self, id: i64) -> Vec<Date> {
        self.with_state(|s| {
            s.writes
                .get(&id)
                .map(|w| w.skipped_dates.clone())
                .unwrap_or_default()
        })
    }

    /// How many new next-charge dates were really applied to this subscription.
    pub fn dates_set(&self, id: i64) -> u32 {
        self.with_state(|s| s.writes.get(&id).map_or(0, |w| w.dates_set))
    }

    /// How the 2021-11 answers write date-times: charges' `scheduled_at` (the day's midnight,
    /// in the form's zone for the other forms) and every `created_at`/`updated_at`.
    /// [`DateForm::Native`] (the default) is what Recharge answers: `2026-11-24T00:00:00` for
    /// `scheduled_at`, `+00:00` stamps on subscriptions and charges, offset-less UTC stamps on
    /// customers. `next_charge_scheduled_at` stays `YYYY-MM-DD` in every form. The form's zone
    /// is also the shop's zone for "today" (UTC when native).
    pub fn set_date_form(&self, form: DateForm) {
        self.with_state(|s| s.date_form = form);
    }

    /// Fixes the day a new next-charge date must come after (by default today in the shop's
    /// zone), so tests with fixed dates keep working.
    pub fn set_today(&self, today: Date) {
        self.with_state(|s| s.today = Some(today));
    }

    /// Records per page when a list request names no `limit` (default 50; clamped to
    /// 1..=250), so a test can make a couple of charges span pages.
    pub fn set_page_size(&self, size: usize) {
        self.with_state(|s| s.page_size = size.clamp(1, MAX_PAGE_SIZE));
    }
}

/// Now, to the second, as Recharge's stamps are written.
fn now() -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second()).unwrap_or(Timestamp::UNIX_EPOCH)
}

impl Charge {
    fn queued(
        id: i64,
        customer_id: i64,
        address_id: i64,
        scheduled_at: Date,
        purchase_item_ids: Vec<i64>,
    ) -> Charge {
        let now = now();
        Charge {
            id,
            customer_id,
            address_id,
            scheduled_at,
            status: ChargeStatus::Queued,
            purchase_item_ids,
            created: now,
            updated: now,
        }
    }

    fn is_queued(&self) -> bool {
        self.status == ChargeStatus::Queued
    }

    /// Whether this is the subscription's next charge.
    fn is_next_of(&self, sub: &RechargeSub) -> bool {
        self.is_queued()
            && self.customer_id == sub.customer_id
            && self.address_id == sub.address_id
            && self.scheduled_at == sub.next_charge
            && self.purchase_item_ids.contains(&sub.id)
    }
}

/// `+00:00` stamps, as Recharge writes them on subscriptions and charges.
fn utc_with_offset(ts: Timestamp) -> String {
    ts.to_zoned(TimeZone::UTC)
        .strftime("%Y-%m-%dT%H:%M:%S+00:00")
        .to_string()
}

/// Offset-less UTC stamps, as Recharge writes them on customers (and 2021-01 everywhere).
fn utc_without_offset(ts: Timestamp) -> String {
    ts.to_zoned(TimeZone::UTC)
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// A day as a date-time at midnight, without offset.
fn midnight(date: Date) -> String {
    format!("{date}T00:00:00")
}

fn field_error(status: StatusCode, field: &str, message: &str) -> Reply {
    Reply::json(status, json!({ "errors": { field: [message] } }))
}

fn fail(status: StatusCode, message: &str) -> Reply {
    Reply::json(status, json!({ "errors": message }))
}

fn not_found() -> Reply {
    fail(StatusCode::NOT_FOUND, "Not Found")
}

fn not_json() -> Reply {
    Reply::json(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        json!({ "error": "Bad Request", "message": NOT_JSON }),
    )
}

/// A status filter: exact in 2021-11; 2021-01 statuses are upper case, matched without regard
/// to case there (unverified).
fn status_matches(version: Version, actual: &str, wanted: Option<&str>) -> bool {
    wanted.is_none_or(|wanted| match version {
        Version::V2021_11 => actual == wanted,
        Version::V2021_01 => actual.eq_ignore_ascii_case(wanted),
    })
}

/// A cursor: the page's offset and the filters and order it pages through, as hex.
fn encode_cursor(offset: usize, query: &Query) -> String {
    json!({ "offset": offset, "query": query.0 })
        .to_string()
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_cursor(raw: &str) -> Option<(usize, Query)> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Vec<u8> = (0..raw.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(raw.get(i..i + 2)?, 16).ok())
        .collect::<Option<_>>()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    let offset = usize::try_from(value.get("offset")?.as_u64()?).ok()?;
    let pairs = value
        .get("query")?
        .as_array()?
        .iter()
        .map(|pair| {
            let pair = pair.as_array()?;
            Some((
                pair.first()?.as_str()?.to_owned(),
                pair.get(1)?.as_str()?.to_owned(),
            ))
        })
        .collect::<Option<Vec<_>>>()?;
    Some((offset, Query(pairs)))
}

/// The ids of a skip body: 2021-11's `purchase_item_ids`, a non-empty list of integers.
fn purchase_item_ids(body: &Value) -> Result<Vec<i64>, Reply> {
    let ids: Option<Vec<i64>> = body
        .get("purchase_item_ids")
        .and_then(Value::as_array)
        .and_then(|ids| ids.iter().map(Value::as_i64).collect());
    match ids {
        Some(ids) if !ids.is_empty() => Ok(ids),
        _ => Err(field_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "purchase_item_ids",
            "must be a non-empty list of subscription ids",
        )),
    }
}

/// The ids of a 2021-01 skip body: `subscription_id` or `subscription_ids`, integers or digit
/// strings.
fn subscription_ids(body: &Value) -> Result<Vec<i64>, Reply> {
    let id = |v: &Value| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    };
    let ids: Option<Vec<i64>> = match (body.get("subscription_id"), body.get("subscription_ids")) {
        (Some(one), _) => id(one).map(|id| vec![id]),
        (None, Some(many)) => many
            .as_array()
            .and_then(|ids| ids.iter().map(id).collect())
            .filter(|ids: &Vec<i64>| !ids.is_empty()),
        (None, None) => None,
    };
    ids.ok_or_else(|| {
        field_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "subscription_id",
            "is required",
        )
    })
}

impl RechargeState {
    fn find(&self, id: i64) -> Option<&RechargeSub> {
        self.subscriptions.iter().find(|s| s.id == id)
    }

    /// The queued charge on the subscription's next charge date.
    fn next_charge_of(&self, sub_id: i64) -> Option<&Charge> {
        let sub = self.find(sub_id)?;
        self.charges.iter().find(|c| c.is_next_of(sub))
    }

    fn new_charge_id(&mut self) -> i64 {
        let id = self.next_charge_id;
        self.next_charge_id += 1;
        id
    }

    fn stamps(&self, sub_id: i64) -> Stamps {
        self.stamps.get(&sub_id).copied().unwrap_or(Stamps {
            created: Timestamp::UNIX_EPOCH,
            updated: Timestamp::UNIX_EPOCH,
        })
    }

    fn touch(&mut self, sub_id: i64, now: Timestamp) {
        if let Some(stamps) = self.stamps.get_mut(&sub_id) {
            stamps.updated = now;
        }
    }

    /// Takes the subscription out of its next charge (a new date or a re-seed moves it).
    fn detach(&mut self, sub_id: i64) {
        let Some(sub) = self.find(sub_id).cloned() else {
            return;
        };
        let now = now();
        for charge in self.charges.iter_mut().filter(|c| c.is_next_of(&sub)) {
            charge.purchase_item_ids.retain(|&id| id != sub_id);
            charge.updated = now;
        }
    }

    /// Brings the queued charges in line with the subscriptions: a line item stays in a
    /// queued charge only while its subscription is active, of that customer and address, and
    /// due that day or earlier; emptied queued charges are deleted; an active subscription
    /// without a queued charge on its next date joins the one for its customer, address and
    /// day, or gets a new one under a new id.
    fn reconcile(&mut self) {
        let subscriptions = &self.subscriptions;
        let belongs = |id: i64, customer_id: i64, address_id: i64, day: Date| {
            subscriptions.iter().any(|s| {
                s.id == id
                    && s.status == "active"
                    && s.customer_id == customer_id
                    && s.address_id == address_id
                    && s.next_charge <= day
            })
        };
        for charge in self.charges.iter_mut().filter(|c| c.is_queued()) {
            let (customer_id, address_id, day) =
                (charge.customer_id, charge.address_id, charge.scheduled_at);
            charge
                .purchase_item_ids
                .retain(|&id| belongs(id, customer_id, address_id, day));
        }
        self.charges
            .retain(|c| !c.is_queued() || !c.purchase_item_ids.is_empty());

        let unplaced: Vec<RechargeSub> = self
            .subscriptions
            .iter()
            .filter(|s| s.status == "active")
            .filter(|s| !self.charges.iter().any(|c| c.is_next_of(s)))
            .cloned()
            .collect();
        for sub in unplaced {
            let shared = self.charges.iter_mut().find(|c| {
                c.is_queued()
                    && c.customer_id == sub.customer_id
                    && c.address_id == sub.address_id
                    && c.scheduled_at == sub.next_charge
            });
            match shared {
                Some(charge) => {
                    charge.purchase_item_ids.push(sub.id);
                    charge.updated = now();
                }
                None => {
                    let id = self.new_charge_id();
                    self.charges.push(Charge::queued(
                        id,
                        sub.customer_id,
                        sub.address_id,
                        sub.next_charge,
                        vec![sub.id],
                    ));
                }
            }
        }
    }

    /// The shop's zone: the date form's, UTC when native.
    fn zone(&self) -> TimeZone {
        match &self.date_form {
            DateForm::Native => TimeZone::UTC,
            DateForm::WithOffset(tz) | DateForm::Floating(tz) => tz.clone(),
        }
    }

    fn today(&self) -> Date {
        self.today
            .unwrap_or_else(|| Timestamp::now().to_zoned(self.zone()).date())
    }

    fn stamp(&self, ts: Timestamp, version: Version) -> String {
        match version {
            Version::V2021_11 => self.date_form.write(ts, utc_with_offset),
            Version::V2021_01 => utc_without_offset(ts),
        }
    }

    fn customer_stamp(&self, ts: Timestamp, version: Version) -> String {
        match version {
            Version::V2021_11 => self.date_form.write(ts, utc_without_offset),
            Version::V2021_01 => utc_without_offset(ts),
        }
    }

    /// A charge's `scheduled_at`: the day's midnight, written in the date form (in 2021-01
    /// always without offset).
    fn scheduled_at(&self, day: Date, version: Version) -> String {
        if version == Version::V2021_01 {
            return midnight(day);
        }
        match day.to_zoned(self.zone()) {
            Ok(start) => self.date_form.write(start.timestamp(), |_| midnight(day)),
            Err(_) => midnight(day),
        }
    }

    fn subscription_json(&self, sub: &RechargeSub, version: Version) -> Value {
        let stamps = self.stamps(sub.id);
        let active = sub.status == "active";
        match version {
            Version::V2021_11 => json!({
                "id": sub.id,
                "address_id": sub.address_id,
                "customer_id": sub.customer_id,
                "charge_interval_frequency": sub.interval_days,
                "created_at": self.stamp(stamps.created, version),
                "has_queued_charges": self
                    .charges
                    .iter()
                    .any(|c| c.is_queued() && c.purchase_item_ids.contains(&sub.id)),
                "is_skippable": true,
                "next_charge_scheduled_at": active.then(|| sub.next_charge.to_string()),
                "order_interval_frequency": sub.interval_days,
                "order_interval_unit": "day",
                "status": sub.status,
                "updated_at": self.stamp(stamps.updated, version),
            }),
            Version::V2021_01 => json!({
                "id": sub.id,
                "address_id": sub.address_id,
                "customer_id": sub.customer_id,
                "charge_interval_frequency": sub.interval_days.to_string(),
                "created_at": self.stamp(stamps.created, version),
                "next_charge_scheduled_at": active.then(|| midnight(sub.next_charge)),
                "order_interval_frequency": sub.interval_days.to_string(),
                "order_interval_unit": "day",
                "status": sub.status.to_ascii_uppercase(),
                "updated_at": self.stamp(stamps.updated, version),
            }),
        }
    }

    fn customer_email(&self, customer_id: i64) -> Option<&str> {
        self.subscriptions
            .iter()
            .find(|s| s.customer_id == customer_id)
            .map(|s| s.email.as_str())
    }

    fn charge_json(&self, charge: &Charge, version: Version) -> Value {
        match version {
            Version::V2021_11 => {
                let line_items: Vec<Value> = charge
                    .purchase_item_ids
                    .iter()
                    .map(|id| {
                        json!({
                            "purchase_item_id": id,
                            "purchase_item_type": "subscription",
                            "quantity": 1,
                        })
                    })
                    .collect();
                json!({
                    "id": charge.id,
                    "address_id": charge.address_id,
                    "created_at": self.stamp(charge.created, version),
                    "customer": {
                        "id": charge.customer_id,
                        "email": self.customer_email(charge.customer_id),
                        "external_customer_id": { "ecommerce": null },
                    },
                    "line_items": line_items,
                    "scheduled_at": self.scheduled_at(charge.scheduled_at, version),
                    "status": charge.status.as_str(),
                    "type": "recurring",
                    "updated_at": self.stamp(charge.updated, version),
                })
            }
            Version::V2021_01 => {
                let line_items: Vec<Value> = charge
                    .purchase_item_ids
                    .iter()
                    .map(|id| json!({ "subscription_id": id, "quantity": 1 }))
                    .collect();
                json!({
                    "id": charge.id,
                    "address_id": charge.address_id,
                    "created_at": self.stamp(charge.created, version),
                    "customer_id": charge.customer_id,
                    "email": self.customer_email(charge.customer_id),
                    "line_items": line_items,
                    "scheduled_at": self.scheduled_at(charge.scheduled_at, version),
                    "status": charge.status.as_str().to_ascii_uppercase(),
                    "type": "RECURRING",
                    "updated_at": self.stamp(charge.updated, version),
                })
            }
        }
    }

    /// `limit` and `cursor` of a list request (2021-11).
    fn page(&self, query: &Query) -> Result<Page, Reply> {
        let limit = match query.get("limit") {
            None => self.page_size,
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
                .ok_or_else(|| {
                    field_error(StatusCode::UNPROCESSABLE_ENTITY, "limit", "Invalid value")
                })?,
        };
        match query.get("cursor") {
            None => Ok(Page {
                offset: 0,
                limit,
                query: query.without(&["limit", "cursor"]),
            }),
            Some(raw) => decode_cursor(raw)
                .map(|(offset, query)| Page {
                    offset,
                    limit,
                    query,
                })
                .ok_or_else(|| {
                    field_error(StatusCode::UNPROCESSABLE_ENTITY, "cursor", "Invalid value")
                }),
        }
    }

    /// The list's filters and order: from the cursor in 2021-11, from the request otherwise.
    fn list_query(&self, query: &Query, version: Version) -> Result<Page, Reply> {
        match version {
            Version::V2021_11 => self.page(query),
            Version::V2021_01 => Ok(Page {
                offset: 0,
                limit: usize::MAX,
                query: query.clone(),
            }),
        }
    }

    fn sort(query: &Query, allowed: &[SortField]) -> Result<Sort, Reply> {
        let raw = query.get("sort_by").unwrap_or("id-desc");
        let parsed = raw.rsplit_once('-').and_then(|(field, direction)| {
            let descending = match direction {
                "asc" => false,
                "desc" => true,
                _ => return None,
            };
            let field = allowed.iter().copied().find(|f| f.name() == field)?;
            Some(Sort { field, descending })
        });
        parsed.ok_or_else(|| {
            field_error(StatusCode::UNPROCESSABLE_ENTITY, "sort_by", "Invalid value")
        })
    }

    fn int_filter(query: &Query, key: &str) -> Result<Option<i64>, Reply> {
        query
            .get(key)
            .map(|raw| {
                raw.parse::<i64>()
                    .map_err(|_| field_error(StatusCode::UNPROCESSABLE_ENTITY, key, "is invalid"))
            })
            .transpose()
    }

    /// Sorts the rows and answers the page of them (2021-11) or all of them (2021-01).
    fn list(
        &self,
        key: &str,
        mut rows: Vec<Row>,
        sort: Sort,
        page: &Page,
        version: Version,
    ) -> Reply {
        rows.sort_by(|a, b| {
            let primary = match sort.field {
                SortField::Id => std::cmp::Ordering::Equal,
                SortField::CreatedAt => a.created.cmp(&b.created),
                SortField::UpdatedAt => a.updated.cmp(&b.updated),
                SortField::ScheduledAt => a.scheduled.cmp(&b.scheduled),
            };
            primary.then(a.id.cmp(&b.id))
        });
        if sort.descending {
            rows.reverse();
        }
        let rows: Vec<Value> = rows.into_iter().map(|r| r.json).collect();
        if version == Version::V2021_01 {
            return Reply::json(StatusCode::OK, json!({ key: rows }));
        }
        let total = rows.len();
        let start = page.offset.min(total);
        let end = start.saturating_add(page.limit).min(total);
        let next = (end < total).then(|| encode_cursor(end, &page.query));
        let previous =
            (start > 0).then(|| encode_cursor(start.saturating_sub(page.limit), &page.query));
        Reply::json(
            StatusCode::OK,
            json!({
                "next_cursor": next,
                "previous_cursor": previous,
                key: rows[start..end].to_vec(),
            }),
        )
    }

    /// Customers are implied by subscriptions: one per `customer_id`, with the first email seen.
    fn customers(&self, query: &Query, version: Version) -> Reply {
        let (page, sort) = match self.list_query(query, version).and_then(|page| {
            let sort = Self::sort(
                &page.query,
                &[SortField::Id, SortField::CreatedAt, SortField::UpdatedAt],
            )?;
            Ok((page, sort))
        }) {
            Ok(found) => found,
            Err(reply) => return reply,
        };
        let wanted = page.query.get("email");
        let mut ids: Vec<i64> = Vec::new();
        for sub in &self.subscriptions {
            if !ids.contains(&sub.customer_id) {
                ids.push(sub.customer_id);
            }
        }
        let rows = ids
            .into_iter()
            .filter_map(|id| {
                let subs: Vec<&RechargeSub> = self
                    .subscriptions
                    .iter()
                    .filter(|s| s.customer_id == id)
                    .collect();
                let email = subs.first()?.email.as_str();
                if wanted.is_some_and(|wanted| !email.eq_ignore_ascii_case(wanted)) {
                    return None;
                }
                let stamps: Vec<Stamps> = subs.iter().map(|s| self.stamps(s.id)).collect();
                let created = stamps.iter().map(|s| s.created).min()?;
                let updated = stamps.iter().map(|s| s.updated).max()?;
                let active = subs.iter().filter(|s| s.status == "active").count();
                let json = match version {
                    Version::V2021_11 => json!({
                        "id": id,
                        "created_at": self.customer_stamp(created, version),
                        "email": email,
                        "external_customer_id": { "ecommerce": null },
                        "subscriptions_active_count": active,
                        "subscriptions_total_count": subs.len(),
                        "updated_at": self.customer_stamp(updated, version),
                    }),
                    Version::V2021_01 => json!({
                        "id": id,
                        "created_at": self.customer_stamp(created, version),
                        "email": email,
                        "shopify_customer_id": null,
                        "updated_at": self.customer_stamp(updated, version),
                    }),
                };
                Some(Row {
                    id,
                    created,
                    updated,
                    scheduled: None,
                    json,
                })
            })
            .collect();
        self.list("customers", rows, sort, &page, version)
    }

    fn lookup(&self, query: &Query, version: Version) -> Reply {
        let found = self.list_query(query, version).and_then(|page| {
            let sort = Self::sort(
                &page.query,
                &[SortField::Id, SortField::CreatedAt, SortField::UpdatedAt],
            )?;
            let customer_id = Self::int_filter(&page.query, "customer_id")?;
            let address_id = Self::int_filter(&page.query, "address_id")?;
            Ok((page, sort, customer_id, address_id))
        });
        let (page, sort, customer_id, address_id) = match found {
            Ok(found) => found,
            Err(reply) => return reply,
        };
        let status = page.query.get("status");
        let rows = self
            .subscriptions
            .iter()
            .filter(|s| customer_id.is_none_or(|id| s.customer_id == id))
            .filter(|s| address_id.is_none_or(|id| s.address_id == id))
            .filter(|s| status_matches(version, &s.status, status))
            .map(|s| {
                let stamps = self.stamps(s.id);
                Row {
                    id: s.id,
                    created: stamps.created,
                    updated: stamps.updated,
                    scheduled: None,
                    json: self.subscription_json(s, version),
                }
            })
            .collect();
        self.list("subscriptions", rows, sort, &page, version)
    }

    fn charges(&self, query: &Query, version: Version) -> Reply {
        let found = self.list_query(query, version).and_then(|page| {
            let sort = Self::sort(
                &page.query,
                &[SortField::Id, SortField::UpdatedAt, SortField::ScheduledAt],
            )?;
            let customer_id = Self::int_filter(&page.query, "customer_id")?;
            let address_id = Self::int_filter(&page.query, "address_id")?;
            let item = Self::int_filter(&page.query, "purchase_item_id")?;
            let day = page
                .query
                .get("scheduled_at")
                .map(|raw| {
                    parse_ymd(raw).ok_or_else(|| {
                        field_error(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "scheduled_at",
                            "Invalid value",
                        )
                    })
                })
                .transpose()?;
            Ok((page, sort, customer_id, address_id, item, day))
        });
        let (page, sort, customer_id, address_id, item, day) = match found {
            Ok(found) => found,
            Err(reply) => return reply,
        };
        let status = page.query.get("status");
        let rows = self
            .charges
            .iter()
            .filter(|c| customer_id.is_none_or(|id| c.customer_id == id))
            .filter(|c| address_id.is_none_or(|id| c.address_id == id))
            .filter(|c| item.is_none_or(|id| c.purchase_item_ids.contains(&id)))
            .filter(|c| day.is_none_or(|day| c.scheduled_at == day))
            .filter(|c| status_matches(version, c.status.as_str(), status))
            .map(|c| Row {
                id: c.id,
                created: c.created,
                updated: c.updated,
                scheduled: Some(c.scheduled_at),
                json: self.charge_json(c, version),
            })
            .collect();
        self.list("charges", rows, sort, &page, version)
    }

    fn get(&self, raw_id: &str, version: Version) -> Reply {
        match raw_id.parse().ok().and_then(|id| self.find(id)) {
            Some(sub) => Reply::json(
                StatusCode::OK,
                json!({ "subscription": self.subscription_json(sub, version) }),
            ),
            None => not_found(),
        }
    }

    fn get_charge(&self, raw_id: &str, version: Version) -> Reply {
        let charge = raw_id
            .parse::<i64>()
            .ok()
            .and_then(|id| self.charges.iter().find(|c| c.id == id));
        match charge {
            Some(charge) => Reply::json(
                StatusCode::OK,
                json!({ "charge": self.charge_json(charge, version) }),
            ),
            None => not_found(),
        }
    }

    /// The subscription's next charge date after skipping `from`: one interval on, and on
    /// again over every date on which it already has a skipped charge.
    fn date_after_skip(&self, sub: &RechargeSub, from: Date) -> Date {
        let step = SignedDuration::from_hours(24 * sub.interval_days.max(1));
        let mut next = from;
        loop {
            // Saturates at jiff's last day rather than failing a skip already half applied.
            next = next.checked_add(step).unwrap_or(Date::MAX);
            let skipped = self.charges.iter().any(|c| {
                c.status == ChargeStatus::Skipped
                    && c.scheduled_at == next
                    && c.customer_id == sub.customer_id
                    && c.address_id == sub.address_id
                    && c.purchase_item_ids.contains(&sub.id)
            });
            if !skipped || next == Date::MAX {
                return next;
            }
        }
    }

    fn skip(&mut self, raw_charge_id: &str, body: &Body, version: Version) -> Reply {
        let Body::Json(body) = body else {
            return not_json();
        };
        let Some(index) = raw_charge_id
            .parse::<i64>()
            .ok()
            .and_then(|id| self.charges.iter().position(|c| c.id == id))
        else {
            return not_found();
        };
        if !self.charges[index].is_queued() {
            return fail(StatusCode::UNPROCESSABLE_ENTITY, ONLY_QUEUED);
        }
        let ids = match version {
            Version::V2021_11 => purchase_item_ids(body),
            Version::V2021_01 => subscription_ids(body),
        };
        let mut ids = match ids {
            Ok(ids) => ids,
            Err(reply) => return reply,
        };
        ids.sort_unstable();
        ids.dedup();
        let charge = &self.charges[index];
        if let Some(stranger) = ids.iter().find(|id| !charge.purchase_item_ids.contains(id)) {
            let message = format!("Purchase item {stranger} is not in charge {}", charge.id);
            return fail(StatusCode::UNPROCESSABLE_ENTITY, &message);
        }

        // The named charge becomes the skipped one; the line items not skipped leave for a new
        // queued charge, so no queued charge keeps the old id.
        let now = now();
        let rest: Vec<i64> = charge
            .purchase_item_ids
            .iter()
            .copied()
            .filter(|id| !ids.contains(id))
            .collect();
        let day = charge.scheduled_at;
        let (customer_id, address_id) = (charge.customer_id, charge.address_id);
        {
            let charge = &mut self.charges[index];
            charge.status = ChargeStatus::Skipped;
            charge.purchase_item_ids = ids.clone();
            charge.updated = now;
        }
        if !rest.is_empty() {
            let id = self.new_charge_id();
            self.charges
                .push(Charge::queued(id, customer_id, address_id, day, rest));
        }
        for &id in &ids {
            let Some(position) = self.subscriptions.iter().position(|s| s.id == id) else {
                continue;
            };
            let sub = &self.subscriptions[position];
            if sub.next_charge == day {
                let next = self.date_after_skip(sub, day);
                self.subscriptions[position].next_charge = next;
            }
            self.touch(id, now);
            let writes = self.writes.entry(id).or_default();
            writes.skips += 1;
            writes.skipped_dates.push(day);
        }
        self.reconcile();
        let skipped = self.charge_json(&self.charges[index], version);
        Reply::json(StatusCode::OK, json!({ "charge": skipped }))
    }

    fn set_date(&mut self, raw_id: &str, body: &Body, version: Version) -> Reply {
        let Body::Json(body) = body else {
            return not_json();
        };
        let Some(index) = raw_id
            .parse::<i64>()
            .ok()
            .and_then(|id| self.subscriptions.iter().position(|s| s.id == id))
        else {
            return not_found();
        };
        if self.subscriptions[index].status != "active" {
            return fail(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Subscription is not active",
            );
        }
        let date = body.get("date").and_then(Value::as_str).and_then(parse_ymd);
        let Some(date) = date else {
            return field_error(StatusCode::UNPROCESSABLE_ENTITY, "date", "invalid");
        };
        if date <= self.today() {
            return field_error(StatusCode::UNPROCESSABLE_ENTITY, "date", NOT_FAR_ENOUGH);
        }
        let sub_id = self.subscriptions[index].id;
        // The subscription leaves its next charge even for the same day, so a charge of its own
        // is replaced under a new id; a shared one it rejoins by customer, address and day.
        self.detach(sub_id);
        self.subscriptions[index].next_charge = date;
        self.touch(sub_id, now());
        self.reconcile();
        self.writes.entry(sub_id).or_default().dates_set += 1;
        let answer = self.subscription_json(&self.subscriptions[index], version);
        Reply::json(StatusCode::OK, json!({ "subscription": answer }))
    }

    /// Adds `X-Recharge-Limit: <used>/40` to an answer.
    fn with_limit(&self, reply: Reply) -> Reply {
        let used = self.bucket.get().used(Instant::now());
        reply.with_header(limit_header(), format!("{used}/{BUCKET_CAPACITY}"))
    }
}

/// A POST body, as Recharge's framework sees it.
fn body_of(req: &Incoming) -> Body {
    let json_type = req.header("content-type").is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
    });
    match req.json() {
        Some(body) if json_type && body.is_object() => Body::Json(body.clone()),
        _ => Body::NotJson,
    }
}

impl Platform for RechargeState {
    type Call = RechargeCall;
    const NAME: &'static str = "recharge";

    fn authorized(&self, req: &Incoming) -> bool {
        req.header_is("x-recharge-access-token", "", &self.api_token)
    }

    fn parse(&self, req: &Incoming) -> RechargeCall {
        // Every request is parsed once, before the limiter: count the authorised ones in the
        // bucket the `X-Recharge-Limit` header reports.
        if self.authorized(req) {
            let mut bucket = self.bucket.get();
            bucket.admit(Instant::now());
            self.bucket.set(bucket);
        }
        let version = match req.header("x-recharge-version") {
            Some(API_VERSION) => Version::V2021_11,
            None | Some(DEFAULT_VERSION) => Version::V2021_01,
            Some(_) => {
                return RechargeCall {
                    version: Version::V2021_11,
                    endpoint: Endpoint::BadVersion,
                };
            }
        };
        let segments = req.segments();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let get = req.method == Method::GET;
        let post = req.method == Method::POST;
        let query = || Query::parse(req.query.as_deref());
        let endpoint = match segments.as_slice() {
            ["customers"] if get => Endpoint::Customers(query()),
            ["subscriptions"] if get => Endpoint::Lookup(query()),
            ["subscriptions", id] if get => Endpoint::Get((*id).to_owned()),
            ["subscriptions", id, "set_next_charge_date"] if post => Endpoint::SetDate {
                id: (*id).to_owned(),
                body: body_of(req),
            },
            ["charges"] if get => Endpoint::Charges(query()),
            ["charges", id] if get => Endpoint::GetCharge((*id).to_owned()),
            ["charges", id, "skip"] if post => Endpoint::Skip {
                charge_id: (*id).to_owned(),
                body: body_of(req),
            },
            ["customers"]
            | ["subscriptions"]
            | ["subscriptions", _]
            | ["subscriptions", _, "set_next_charge_date"]
            | ["charges"]
            | ["charges", _]
            | ["charges", _, "skip"] => Endpoint::MethodNotAllowed,
            _ => Endpoint::NotFound,
        };
        RechargeCall { version, endpoint }
    }

    fn op(call: &RechargeCall) -> &'static str {
        match call.endpoint {
            Endpoint::BadVersion => "bad_version",
            Endpoint::Customers(_) => "customer",
            Endpoint::Lookup(_) => "lookup",
            Endpoint::Charges(_) => "charges",
            Endpoint::GetCharge(_) => "get_charge",
            Endpoint::Skip { .. } => "skip",
            Endpoint::Get(_) => "get",
            Endpoint::SetDate { .. } => "set_date",
            Endpoint::NotFound | Endpoint::MethodNotAllowed => "unknown",
        }
    }

    fn apply(&mut self, call: &RechargeCall) -> Reply {
        let version = call.version;
        let reply = match &call.endpoint {
            Endpoint::BadVersion => fail(StatusCode::UPGRADE_REQUIRED, "Invalid API version"),
            Endpoint::Customers(query) => self.customers(query, version),
            Endpoint::Lookup(query) => self.lookup(query, version),
            Endpoint::Charges(query) => self.charges(query, version),
            Endpoint::GetCharge(id) => self.get_charge(id, version),
            Endpoint::Skip { charge_id, body } => self.skip(charge_id, body, version),
            Endpoint::Get(id) => self.get(id, version),
            Endpoint::SetDate { id, body } => self.set_date(id, body, version),
            Endpoint::NotFound => Reply::json(
                StatusCode::NOT_FOUND,
                json!({ "error": "endpoint not found" }),
            ),
            Endpoint::MethodNotAllowed => Reply::json(
                StatusCode::METHOD_NOT_ALLOWED,
                json!({ "error": "method not allowed" }),
            ),
        };
        self.with_limit(reply)
    }

    fn error(&self, status: StatusCode, message: &str) -> Reply {
        if status == StatusCode::TOO_MANY_REQUESTS {
            return self.rate_limited();
        }
        self.with_limit(fail(status, message))
    }

    fn refusal(&self, call: &RechargeCall) -> Reply {
        let message = match call.endpoint {
            Endpoint::SetDate { .. } => "Next charge date cannot be changed",
            _ => ONLY_QUEUED,
        };
        self.with_limit(fail(StatusCode::UNPROCESSABLE_ENTITY, message))
    }

    fn rate_limited(&self) -> Reply {
        self.with_limit(Reply::json(
            StatusCode::TOO_MANY_REQUESTS,
            json!({ "warning": "too many requests" }),
        ))
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
    /// 458 cancelled. Customer 124: 460 active. Today is fixed before all of their dates.
    async fn sim() -> RechargeSim {
        let sim = RechargeSim::start(TOKEN).await;
        sim.set_today(date("2026-11-01"));
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

    async fn send(
        sim: &RechargeSim,
        method: Method,
        path: &str,
        version: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value, Option<String>) {
        let mut req = reqwest::Client::new()
            .request(method, format!("{}{path}", sim.base_url()))
            .header("X-Recharge-Access-Token", TOKEN);
        if let Some(version) = version {
            req = req.header("X-Recharge-Version", version);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let limit = resp
            .headers()
            .get("x-recharge-limit")
            .map(|v| v.to_str().unwrap().to_owned());
        (status, resp.json().await.unwrap_or(Value::Null), limit)
    }

    async fn call(
        sim: &RechargeSim,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let (status, body, _) = send(sim, method, path, Some(API_VERSION), body).await;
        (status, body)
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

    async fn set_date(sim: &RechargeSim, sub_id: i64, day: &str) -> (u16, Value) {
        let path = format!("/subscriptions/{sub_id}/set_next_charge_date");
        call(sim, Method::POST, &path, Some(json!({ "date": day }))).await
    }

    /// The customer's queued charges, as listed (id descending).
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

    fn ids(list: &Value) -> Vec<i64> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn rejects_wrong_or_missing_auth_without_effect() {
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
            assert!(resp.headers().contains_key("x-recharge-limit"));
            let answer: Value = resp.json().await.unwrap();
            assert_eq!(answer, json!({"errors": "Unauthorized"}));
        }
        assert_eq!(
            sim.subscription(456).unwrap(),
            sub(456, "active", "2026-11-24")
        );
        assert_eq!(sim.queued_charge_id(456), Some(charge));
        assert_eq!(sim.skips_applied(456), 0);
        let ops: Vec<String> = sim.requests().into_iter().map(|r| r.op).collect();
        assert_eq!(ops, ["unauthorized", "unauthorized", "unauthorized"]);
    }

    #[tokio::test]
    async fn the_version_header_picks_the_api_version() {
        let sim = sim().await;
        let charge = sim.queued_charge_id(456).unwrap();
        let skip_path = format!("/charges/{charge}/skip");
        let body = json!({"purchase_item_ids": [456]});

        // An unknown version is refused outright, with no effect.
        for version in ["2022-04", "2021-11-01", "v2"] {
            let (status, answer, _) = send(
                &sim,
                Method::POST,
                &skip_path,
                Some(version),
                Some(body.clone()),
            )
            .await;
            assert_eq!(status, 426, "{version}");
            assert_eq!(answer, json!({"errors": "Invalid API version"}));
        }

        // Without the header (or with 2021-01) the store's default, 2021-01, answers in its
        // own shapes: upper-case statuses, subscription_id line items, offset-less date-times.
        for version in [None, Some("2021-01")] {
            let (status, answer, _) = send(
                &sim,
                Method::GET,
                "/subscriptions?customer_id=123&status=active",
                version,
                None,
            )
            .await;
            assert_eq!(status, 200);
            assert!(answer.get("next_cursor").is_none());
            let first = &answer["subscriptions"][0];
            assert_eq!(first["status"], "ACTIVE");
            assert_eq!(first["next_charge_scheduled_at"], "2026-11-24T00:00:00");
            let (_, answer, _) = send(
                &sim,
                Method::GET,
                "/charges?customer_id=123&status=QUEUED",
                version,
                None,
            )
            .await;
            let listed = &answer["charges"][0];
            assert_eq!(listed["status"], "QUEUED");
            assert_eq!(listed["scheduled_at"], "2026-11-24T00:00:00");
            assert_eq!(listed["line_items"][0]["subscription_id"], 456);
            assert!(listed["line_items"][0].get("purchase_item_id").is_none());
            // A 2021-11 skip body means nothing to 2021-01.
            let (status, answer, _) =
                send(&sim, Method::POST, &skip_path, version, Some(body.clone())).await;
            assert_eq!(
                (status, answer),
                (422, json!({"errors": {"subscription_id": ["is required"]}}))
            );
        }
        assert_eq!(sim.skips_applied(456), 0);
        assert_eq!(sim.queued_charge_id(456), Some(charge));

        // The 2021-01 body is taken, and answered in 2021-01.
        let (status, answer, _) = send(
            &sim,
            Method::POST,
            &skip_path,
            None,
            Some(json!({"subscription_id": "456"})),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(answer["charge"]["status"], "SKIPPED");
        assert_eq!(sim.skipped_dates(456), [date("2026-11-24")]);
        let ops: Vec<String> = sim.requests().into_iter().map(|r| r.op).collect();
        assert_eq!(&ops[..3], ["bad_version", "bad_version", "bad_version"]);
        assert_eq!(ops.iter().filter(|op| *op == "skip").count(), 3);
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
        assert_eq!(body["next_cursor"], Value::Null);
        assert_eq!(body["previous_cursor"], Value::Null);
        let customers = body["customers"].as_array().unwrap();
        assert_eq!(customers.len(), 1);
        assert_eq!(customers[0]["id"], 123);
        assert_eq!(customers[0]["email"], "Shopper@Example.com");
        assert_eq!(customers[0]["subscriptions_active_count"], 2);
        assert_eq!(customers[0]["subscriptions_total_count"], 3);
        // Exact match only: no substring, no other customer.
        for email in ["nobody%40example.com", "shopper", "example.com"] {
            let path = format!("/customers?email={email}");
            let (_, body) = call(&sim, Method::GET, &path, None).await;
            assert_eq!(body["customers"], json!([]), "{email}");
        }

        let (status, body) = call(
            &sim,
            Method::GET,
            "/subscriptions?customer_id=123&status=active",
            None,
        )
        .await;
        assert_eq!(status, 200);
        // Id descending, as every 2021-11 list unless sort_by says otherwise.
        assert_eq!(ids(&body["subscriptions"]), [457, 456]);
        let first = &body["subscriptions"][1];
        for (key, value) in [
            ("id", json!(456)),
            ("customer_id", json!(123)),
            ("address_id", json!(789)),
            ("status", json!("active")),
            ("next_charge_scheduled_at", json!("2026-11-24")),
            ("order_interval_unit", json!("day")),
            ("order_interval_frequency", json!(30)),
            ("has_queued_charges", json!(true)),
        ] {
            assert_eq!(first[key], value, "{key}");
        }
        let (_, body) = call(&sim, Method::GET, "/subscriptions?customer_id=123", None).await;
        assert_eq!(ids(&body["subscriptions"]), [458, 457, 456]);
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
        assert_eq!(charges[0]["id"], id);
        assert_eq!(charges[0]["address_id"], 789);
        assert_eq!(charges[0]["customer"]["id"], 123);
        assert!(charges[0].get("customer_id").is_none());
        assert_eq!(charges[0]["status"], "queued");
        assert_eq!(charges[0]["scheduled_at"], "2026-11-24T00:00:00");
        assert_eq!(
            charges[0]["line_items"],
            json!([
                {"purchase_item_id": 456, "purchase_item_type": "subscription", "quantity": 1},
                {"purchase_item_id": 457, "purchase_item_type": "subscription", "quantity": 1}
            ])
        );
        assert_eq!(sim.queued_charge_id(457), Some(id));
        assert_eq!(sim.queued_charge_id(458), None);
        assert_ne!(sim.queued_charge_id(460), Some(id));
        let (status, body) = call(&sim, Method::GET, &format!("/charges/{id}"), None).await;
        assert_eq!((status, body["charge"]["id"].clone()), (200, json!(id)));

        let (status, body) = call(&sim, Method::GET, "/subscriptions/458", None).await;
        assert_eq!(status, 200);
        assert_eq!(body["subscription"]["status"], "cancelled");
        assert_eq!(
            body["subscription"]["next_charge_scheduled_at"],
            Value::Null
        );
        assert_eq!(body["subscription"]["has_queued_charges"], false);
        let (status, body) = call(&sim, Method::GET, "/subscriptions/999", None).await;
        assert_eq!((status, body), (404, json!({"errors": "Not Found"})));

        let ops: Vec<String> = sim.requests().into_iter().map(|r| r.op).collect();
        assert_eq!(
            ops,
            [
                "customer",
                "customer",
                "customer",
                "customer",
                "lookup",
                "lookup",
                "lookup",
                "lookup",
                "charges",
                "get_charge",
                "get",
                "get"
            ]
        );
    }

    #[tokio::test]
    async fn a_later_queued_charge_is_not_the_next_order() {
        let sim = sim().await;
        let next = sim.queued_charge_id(456).unwrap();
        let later = sim.add_queued_charge(456, date("2026-12-24"));
        assert_ne!(later, next);
        assert_eq!(sim.queued_charge_ids(456), [next, later]);
        assert_eq!(sim.queued_charge_id(456), Some(next));
        // Another day for the same subscription joins nothing; the same day joins the charge.
        assert_eq!(sim.add_queued_charge(457, date("2026-12-24")), later);

        // Listed newest id first: the later order comes before the next one.
        let charges = queued(&sim, 123).await;
        assert_eq!(ids(&json!(charges)), [later, next]);
        assert_eq!(charges[0]["scheduled_at"], "2026-12-24T00:00:00");
        assert_eq!(items(&charges[0]), [456, 457]);
        assert_eq!(charges[1]["scheduled_at"], "2026-11-24T00:00:00");
        let (_, body) = call(
            &sim,
            Method::GET,
            "/charges?customer_id=123&status=queued&sort_by=scheduled_at-asc",
            None,
        )
        .await;
        assert_eq!(ids(&body["charges"]), [next, later]);
        let (_, body) = call(
            &sim,
            Method::GET,
            "/charges?purchase_item_id=456&scheduled_at=2026-11-24",
            None,
        )
        .await;
        assert_eq!(ids(&body["charges"]), [next]);

        // A client that skips "a queued charge holding 456" can skip the wrong, later order:
        // the skip happens, but the next order still ships on its date.
        let (status, body) = skip(&sim, later, &[456]).await;
        assert_eq!(status, 200);
        assert_eq!(body["charge"]["scheduled_at"], "2026-12-24T00:00:00");
        assert_eq!(
            sim.subscription(456).unwrap().next_charge,
            date("2026-11-24")
        );
        assert_eq!(sim.queued_charge_id(456), Some(next));
        assert_eq!(sim.skipped_dates(456), [date("2026-12-24")]);
        assert_eq!(sim.skips_applied(456), 1);
        let (_, body) = call(&sim, Method::GET, "/subscriptions/456", None).await;
        assert_eq!(
            body["subscription"]["next_charge_scheduled_at"],
            "2026-11-24"
        );
        // 457 stays in the later day, now under a new id.
        let moved = sim.queued_charge_ids(457);
        assert_eq!(moved.len(), 2);
        assert!(!moved.contains(&later));

        // Skipping the next order moves 456 on, over the day it already skipped.
        let (status, _) = skip(&sim, next, &[456]).await;
        assert_eq!(status, 200);
        assert_eq!(
            sim.subscription(456).unwrap().next_charge,
            date("2027-01-23")
        );
        assert_eq!(
            sim.skipped_dates(456),
            [date("2026-12-24"), date("2026-11-24")]
        );
        assert_eq!(sim.queued_charge_ids(456).len(), 1);
    }

    #[tokio::test]
    async fn a_later_charge_becomes_the_next_once_the_date_reaches_it() {
        let sim = sim().await;
        sim.add_subscription(RechargeSub {
            address_id: 790,
            ..sub(457, "active", "2026-11-24")
        });
        let next = sim.queued_charge_id(456).unwrap();
        let later = sim.add_queued_charge(456, date("2026-12-24"));
        let (status, _) = skip(&sim, next, &[456]).await;
        assert_eq!(status, 200);
        assert_eq!(sim.queued_charge_id(456), Some(later));
        assert_eq!(sim.queued_charge_ids(456), [later]);
    }

    #[test]
    #[should_panic(expected = "must come after the next one")]
    fn a_later_charge_must_be_later() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let sim = sim().await;
            sim.add_queued_charge(456, date("2026-11-24"));
        });
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
        assert_eq!(charges[0]["id"], new);
        assert_eq!(charges[0]["scheduled_at"], "2026-12-24T00:00:00");

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
    async fn skipping_part_of_a_shared_charge_leaves_no_queued_charge_under_the_old_id() {
        let sim = sim().await;
        let shared = sim.queued_charge_id(456).unwrap();
        let (status, body) = skip(&sim, shared, &[457]).await;
        assert_eq!(status, 200);
        assert_eq!(body["charge"]["id"], shared);
        assert_eq!(body["charge"]["status"], "skipped");
        assert_eq!(items(&body["charge"]), [457]);

        // 456 keeps its day under a new id; 457 has a new one a month later.
        let stayed = sim.queued_charge_id(456).unwrap();
        let moved = sim.queued_charge_id(457).unwrap();
        assert!(stayed != shared && moved != shared && stayed != moved);
        assert_eq!(
            sim.subscription(456).unwrap().next_charge,
            date("2026-11-24")
        );
        assert_eq!(
            sim.subscription(457).unwrap().next_charge,
            date("2026-12-24")
        );
        let charges = queued(&sim, 123).await;
        assert!(charges.iter().all(|c| c["id"] != shared));
        assert_eq!(charges.len(), 2);
        // A client that kept the shared id for 456 is refused.
        let (status, body) = skip(&sim, shared, &[456]).await;
        assert_eq!((status, body), (422, json!({"errors": ONLY_QUEUED})));
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
            json!({}),
            json!({"purchase_item_ids": []}),
            json!({"purchase_item_ids": ["456"]}),
            json!({"purchase_item_ids": 456}),
            json!({"subscription_id": 456}),
        ] {
            let (status, body) = call(&sim, Method::POST, &path, Some(bad.clone())).await;
            assert_eq!(status, 422, "{bad:?}");
            assert!(body["errors"]["purchase_item_ids"].is_array());
        }
        // A body that is not a JSON object sent as JSON is a 415.
        let url = format!("{}{path}", sim.base_url());
        let client = reqwest::Client::new();
        let authed = |req: reqwest::RequestBuilder| {
            req.header("X-Recharge-Access-Token", TOKEN)
                .header("X-Recharge-Version", API_VERSION)
        };
        for req in [
            authed(client.post(&url)),
            authed(client.post(&url)).body(r#"{"purchase_item_ids":[456]}"#),
            authed(client.post(&url)).json(&json!([456])),
            authed(client.post(&url))
                .header("content-type", "application/json")
                .body("purchase_item_ids=456"),
        ] {
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status().as_u16(), 415);
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["message"], NOT_JSON);
        }
        assert_eq!(sim.queued_charge_id(456), Some(charge));
        assert_eq!(sim.skips_applied(456), 0);
        assert_eq!(sim.requests_for("skip").len(), 12);
    }

    #[tokio::test]
    async fn set_next_charge_date_replaces_the_charge() {
        let sim = sim().await;
        let old = sim.queued_charge_id(456).unwrap();
        let (status, body) = set_date(&sim, 456, "2026-12-08").await;
        assert_eq!(status, 200);
        assert_eq!(body["subscription"]["id"], 456);
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
        assert_eq!(set_date(&sim, 456, "2026-12-08").await.0, 200);
        let new = sim.queued_charge_id(456).unwrap();
        assert_ne!(new, first);
        assert_eq!(skip(&sim, first, &[456]).await.0, 404);

        // Moving 457 onto that day joins 456's charge; its old charge, emptied, is gone.
        assert_eq!(set_date(&sim, 457, "2026-12-08").await.0, 200);
        assert_eq!(sim.queued_charge_id(457), Some(new));
        assert_eq!(skip(&sim, old, &[457]).await.0, 404);

        // In a shared charge, a subscription set to the same day stays with its sibling.
        assert_eq!(set_date(&sim, 456, "2026-12-08").await.0, 200);
        assert_eq!(sim.queued_charge_id(456), Some(new));
        assert_eq!(sim.dates_set(456), 3);

        let path = "/subscriptions/456/set_next_charge_date";
        for bad in [
            json!({}),
            json!({"date": "2026-12-8"}),
            json!({"date": "2026-02-30"}),
            json!({"date": "2026-12-09T00:00:00"}),
            json!({"next_charge_date": "2026-12-09"}),
        ] {
            let (status, body) = call(&sim, Method::POST, path, Some(bad.clone())).await;
            assert_eq!(
                (status, body),
                (422, json!({"errors": {"date": ["invalid"]}})),
                "{bad}"
            );
        }
        // Today or earlier is not far enough in the future; tomorrow is.
        for day in ["2026-10-15", "2026-11-01"] {
            let (status, body) = set_date(&sim, 456, day).await;
            assert_eq!(
                (status, body),
                (422, json!({"errors": {"date": [NOT_FAR_ENOUGH]}})),
                "{day}"
            );
        }
        assert_eq!(set_date(&sim, 460, "2026-11-02").await.0, 200);
        assert_eq!(set_date(&sim, 458, "2026-12-08").await.0, 422);
        assert_eq!(set_date(&sim, 999, "2026-12-08").await.0, 404);
        let url = format!("{}{path}", sim.base_url());
        let resp = reqwest::Client::new()
            .post(&url)
            .header("X-Recharge-Access-Token", TOKEN)
            .header("X-Recharge-Version", API_VERSION)
            .body(r#"{"date": "2026-12-10"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 415);
        assert_eq!((sim.dates_set(456), sim.dates_set(458)), (3, 0));
        assert_eq!(sim.requests_for("set_date").len(), 15);
    }

    #[tokio::test]
    async fn today_defaults_to_the_real_day() {
        let sim = RechargeSim::start(TOKEN).await;
        let today = Timestamp::now().to_zoned(TimeZone::UTC).date();
        sim.add_subscription(sub(456, "active", &today.tomorrow().unwrap().to_string()));
        let far = today
            .checked_add(SignedDuration::from_hours(24 * 40))
            .unwrap();
        assert_eq!(set_date(&sim, 456, &today.to_string()).await.0, 422);
        assert_eq!(set_date(&sim, 456, &far.to_string()).await.0, 200);
    }

    #[tokio::test]
    async fn lists_page_with_cursors() {
        let sim = sim().await;
        for (i, day) in ["2026-12-24", "2027-01-23", "2027-02-22"]
            .iter()
            .enumerate()
        {
            sim.add_subscription(RechargeSub {
                address_id: 800 + i64::try_from(i).unwrap(),
                ..sub(470 + i64::try_from(i).unwrap(), "active", day)
            });
        }
        // Four queued charges: 456/457 shared, 470, 471, 472.
        let (_, body) = call(&sim, Method::GET, "/charges?customer_id=123&limit=3", None).await;
        assert_eq!(body["charges"].as_array().unwrap().len(), 3);
        assert_eq!(body["previous_cursor"], Value::Null);
        let cursor = body["next_cursor"].as_str().unwrap().to_owned();
        let first_page = ids(&body["charges"]);
        // The cursor carries the filters: other parameters sent with it are ignored.
        let path = format!("/charges?cursor={cursor}&limit=3&customer_id=124");
        let (status, body) = call(&sim, Method::GET, &path, None).await;
        assert_eq!(status, 200);
        let second_page = ids(&body["charges"]);
        assert_eq!(second_page.len(), 1);
        assert!(!first_page.contains(&second_page[0]));
        assert_eq!(body["next_cursor"], Value::Null);
        assert!(body["previous_cursor"].is_string());
        let mut all = [first_page.clone(), second_page].concat();
        let mut sorted = all.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(all, sorted);
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 4);

        // The default page size, for tests that do not want to seed 51 charges.
        sim.set_page_size(2);
        let (_, body) = call(&sim, Method::GET, "/subscriptions?customer_id=123", None).await;
        assert_eq!(ids(&body["subscriptions"]), [472, 471]);
        assert!(body["next_cursor"].is_string());

        for bad in [
            "/charges?limit=0",
            "/charges?limit=251",
            "/charges?limit=ten",
            "/charges?cursor=zz",
            "/charges?cursor=",
            "/charges?sort_by=id",
            "/charges?sort_by=created_at-asc",
            "/subscriptions?sort_by=scheduled_at-asc",
            "/charges?scheduled_at=2026-11-24T00:00:00",
            "/charges?address_id=x",
        ] {
            let (status, body) = call(&sim, Method::GET, bad, None).await;
            assert_eq!(status, 422, "{bad}");
            assert!(body["errors"].is_object(), "{bad}");
        }
        // A misspelt or 2021-01 filter is ignored: it filters nothing.
        sim.set_page_size(50);
        let (_, body) = call(&sim, Method::GET, "/charges?subscription_id=460", None).await;
        assert_eq!(body["charges"].as_array().unwrap().len(), 5);
    }

    #[tokio::test]
    async fn unknown_paths_and_methods() {
        let sim = sim().await;
        let (status, body) = call(&sim, Method::GET, "/subscription/456", None).await;
        assert_eq!(
            (status, body),
            (404, json!({"error": "endpoint not found"}))
        );
        let (status, body) = call(&sim, Method::DELETE, "/charges", None).await;
        assert_eq!(
            (status, body),
            (405, json!({"error": "method not allowed"}))
        );
        let (status, _) = call(&sim, Method::GET, "/charges/1/skip", None).await;
        assert_eq!(status, 405);
        assert_eq!(sim.requests_for("unknown").len(), 3);
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
        assert_eq!(charges[0]["scheduled_at"], "2026-12-24T00:00:00");

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

        sim.inject(Fault::once("get", FaultKind::Status(429)));
        let (status, body, limit) = send(
            &sim,
            Method::GET,
            "/subscriptions/456",
            Some(API_VERSION),
            None,
        )
        .await;
        assert_eq!(
            (status, body),
            (429, json!({"warning": "too many requests"}))
        );
        assert!(limit.is_some());
    }

    #[tokio::test]
    async fn every_answer_tells_how_full_the_bucket_is() {
        let sim = sim().await;
        let mut seen = Vec::new();
        for path in ["/subscriptions/456", "/subscriptions/999", "/nowhere"] {
            let (_, _, limit) = send(&sim, Method::GET, path, Some(API_VERSION), None).await;
            seen.push(limit.unwrap());
        }
        assert_eq!(seen, ["1/40", "2/40", "3/40"]);
        // 2021-01 calls and refused versions count too; unauthorised ones do not.
        let (_, _, limit) = send(&sim, Method::GET, "/subscriptions/456", None, None).await;
        assert_eq!(limit.unwrap(), "4/40");
        let (_, _, limit) = send(
            &sim,
            Method::GET,
            "/subscriptions/456",
            Some("2030-01"),
            None,
        )
        .await;
        assert_eq!(limit.unwrap(), "5/40");
        let resp = reqwest::Client::new()
            .get(format!("{}/subscriptions/456", sim.base_url()))
            .header("X-Recharge-Version", API_VERSION)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401);
        assert_eq!(resp.headers()["x-recharge-limit"], "5/40");
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
                let limit = resp.headers()["x-recharge-limit"]
                    .to_str()
                    .unwrap()
                    .to_owned();
                (
                    resp.status().as_u16(),
                    resp.json::<Value>().await.unwrap(),
                    limit,
                )
            });
        }
        let answers = burst.join_all().await;
        let drained = 2.0 * started.elapsed().as_secs_f64();
        let passed = answers.iter().filter(|(s, _, _)| *s == 200).count();
        // The first 40 always fit; beyond that only what drained during the burst.
        assert!(
            passed >= 40 && passed as f64 <= 40.0 + drained + 1.0,
            "{passed} in {drained}"
        );
        let (_, body, limit) = answers
            .iter()
            .find(|(s, _, _)| *s == 429)
            .expect("the burst overflows");
        assert_eq!(body, &json!({"warning": "too many requests"}));
        assert_eq!(limit, "40/40");
        assert!(answers.iter().all(|(_, _, l)| l.ends_with("/40")));
        sim.set_rate_limit(None);
        for _ in 0..50 {
            assert_eq!(
                call(&sim, Method::GET, "/subscriptions/456", None).await.0,
                200
            );
        }
    }

    #[test]
    fn the_header_bucket_drains_two_a_second() {
        let t0 = Instant::now();
        let mut bucket = Bucket::default();
        for _ in 0..45 {
            bucket.admit(t0);
        }
        assert_eq!(bucket.used(t0), 40);
        assert_eq!(bucket.used(t0 + Duration::from_millis(500)), 39);
        assert_eq!(bucket.used(t0 + Duration::from_millis(750)), 39);
        assert_eq!(bucket.used(t0 + Duration::from_secs(20)), 0);
        bucket.admit(t0 + Duration::from_secs(19));
        assert_eq!(bucket.used(t0 + Duration::from_secs(19)), 3);
    }

    #[tokio::test]
    async fn date_forms_of_the_answers() {
        let la = TimeZone::get("America/Los_Angeles").unwrap();
        let sim = sim().await;
        let charge = sim.queued_charge_id(456).unwrap();
        let charge_path = format!("/charges/{charge}");

        // Native: scheduled_at at midnight without offset, +00:00 stamps, offset-less
        // customer stamps; next_charge_scheduled_at is a date.
        let (_, body) = call(&sim, Method::GET, &charge_path, None).await;
        assert_eq!(body["charge"]["scheduled_at"], "2026-11-24T00:00:00");
        let created = body["charge"]["created_at"].as_str().unwrap();
        assert!(
            created.ends_with("+00:00") && created.len() == 25,
            "{created}"
        );
        let (_, body) = call(&sim, Method::GET, "/subscriptions/456", None).await;
        assert!(
            body["subscription"]["updated_at"]
                .as_str()
                .unwrap()
                .ends_with("+00:00")
        );
        let (_, body) = call(&sim, Method::GET, "/customers", None).await;
        let created = body["customers"][0]["created_at"].as_str().unwrap();
        assert_eq!(created.len(), 19, "{created}");
        assert!(created.parse::<jiff::civil::DateTime>().is_ok());

        sim.set_date_form(DateForm::WithOffset(la.clone()));
        let (_, body) = call(&sim, Method::GET, &charge_path, None).await;
        assert_eq!(body["charge"]["scheduled_at"], "2026-11-24T00:00:00-08:00");
        assert!(
            body["charge"]["updated_at"]
                .as_str()
                .unwrap()
                .ends_with("-08:00")
        );
        let (_, body) = call(&sim, Method::GET, "/customers", None).await;
        assert!(
            body["customers"][0]["created_at"]
                .as_str()
                .unwrap()
                .ends_with("-08:00")
        );
        let (_, body) = call(&sim, Method::GET, "/subscriptions/456", None).await;
        assert_eq!(
            body["subscription"]["next_charge_scheduled_at"],
            "2026-11-24"
        );
        assert!(
            body["subscription"]["created_at"]
                .as_str()
                .unwrap()
                .ends_with("-08:00")
        );

        // Summer time: the offset follows the day.
        sim.add_subscription(sub(480, "active", "2027-07-01"));
        let summer = sim.queued_charge_id(480).unwrap();
        let (_, body) = call(&sim, Method::GET, &format!("/charges/{summer}"), None).await;
        assert_eq!(body["charge"]["scheduled_at"], "2027-07-01T00:00:00-07:00");

        sim.set_date_form(DateForm::Floating(la));
        let (_, body) = call(&sim, Method::GET, &charge_path, None).await;
        assert_eq!(body["charge"]["scheduled_at"], "2026-11-24T00:00:00");
        let stamp = body["charge"]["created_at"].as_str().unwrap();
        assert_eq!(stamp.len(), 19, "{stamp}");
        let (_, body) = call(&sim, Method::GET, "/subscriptions/456", None).await;
        assert_eq!(
            body["subscription"]["next_charge_scheduled_at"],
            "2026-11-24"
        );
    }

    #[tokio::test]
    async fn the_date_forms_zone_is_the_shops_today() {
        let sim = RechargeSim::start(TOKEN).await;
        // Far east of UTC it is already tomorrow for most of the UTC day; the knob's zone
        // decides which day "today" is. Checked against the zone's own clock.
        let tz = TimeZone::get("Pacific/Kiritimati").unwrap();
        let today_there = Timestamp::now().to_zoned(tz.clone()).date();
        sim.set_date_form(DateForm::WithOffset(tz));
        let next = today_there
            .checked_add(SignedDuration::from_hours(24 * 5))
            .unwrap();
        sim.add_subscription(sub(456, "active", &next.to_string()));
        assert_eq!(set_date(&sim, 456, &today_there.to_string()).await.0, 422);
        let tomorrow = today_there.tomorrow().unwrap();
        assert_eq!(set_date(&sim, 456, &tomorrow.to_string()).await.0, 200);
    }
}
