//! Simulated Prive (Recurly Commerce) REST API (`/api/v1`, `Authorization: Bearer <token>`),
//! written from `shared/platforms.md` and Prive's own OpenAPI (`recurly/recurly-commerce-docs`,
//! `reference/prive-api-documentation.json`).
//!
//! - **Lookup** `GET /subscriptions`: `page` and `limit` are numbers (defaults 1 and 10 when
//!   missing; `limit` from 1 to 250), with the filters the OpenAPI lists (`subscriberId`,
//!   `subscriberEmail`, `subscriberExternalId`, `subscriptionExternalId`, `status`,
//!   `statuses`, `variantIds`, `min`/`maxNextBillingDate`, `min`/`maxCreatedAt`,
//!   `min`/`maxUpdatedAt`, `sort`, `desc`, `includeDeleted`, `includeDunningInstances`). Each is
//!   type-checked (a `status` outside the enum, a malformed date-time or boolean, a repeated
//!   single-valued parameter are 400). The answer is
//!   `{"page","limit","totalItems","totalPages","subscriptions"}`, paged at `limit`, in
//!   `createdAt` order unless `sort` says otherwise.
//! - **Subscriptions** carry independent `nextBillingDate` and `nextDeliveryDate` (date-times)
//!   and `upcomingOrders` (`scheduledDate`, `isSkipped`, `lines`, `oneTimeAddOns`). Delivery
//!   follows billing by an offset: zero when seeded (see [`PriveSim::set_delivery_offset`]),
//!   whatever a set-date call sent afterwards, and kept when a skip moves both.
//! - **Skip** `PATCH /subscriptions/{id}/upcomingOrders/{date}/skip`, body `{"skip": bool}`
//!   (required, a boolean). `true` skips the upcoming order that is not skipped whose
//!   `scheduledDate`, as this simulator writes it, has that date part; `false` unskips a skipped
//!   one (the OpenAPI: "Skip or unskip an upcoming order"). The answer is the order, not the
//!   subscription. The list is kept topped up to [`UNSKIPPED_AHEAD`] orders that are not
//!   skipped, one interval apart, with the next billing date on the first of them.
//! - **Set date** `PATCH /subscriptions/{id}/nextBillingAndDeliveryDate`: `nextBillingDate` and
//!   `nextDeliveryDate` are both required RFC 3339 date-times (400 otherwise), set exactly as
//!   sent, independently of each other; the answer is the subscription with its new dates. A new
//!   date starts a new schedule (earlier skips are dropped).
//! - **Dates** in answers are written as JavaScript's `toISOString()` (`...T16:00:00.000Z`)
//!   unless a test picks another form with [`PriveSim::set_date_form`].
//! - **Rate limit**: a leaky bucket of 50 draining 2 per second (per key: the simulator accepts
//!   one key); 429 when over.
//!
//! Guesses of this simulator where neither `shared/platforms.md` nor the OpenAPI says: the error
//! body `{"error": "..."}`; the statuses of validation errors (400 for a malformed request,
//! checked before the subscription is looked up, as a NestJS validation pipe would; 422 for one
//! that does not fit the subscription); writes needing an `ACTIVE` subscription; `page`/`limit`
//! taking only whole numbers written in digits; array parameters sent repeated (`statuses=A&
//! statuses=B`), with `[]` or comma-separated; `sort` taking `createdAt`, `updatedAt`,
//! `nextBillingDate`, `nextDeliveryDate` or `id`; `subscriberEmail` matching
//! case-insensitively; date-time filters being inclusive; the skip path's date being the date
//! part of `scheduledDate` as written (so UTC in the native form); `createdAt` being one
//! interval before the seeded next billing date; `totalPages` being 1 when nothing matches.

use std::cmp::Ordering;
use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::common::{
    DateForm, Incoming, Platform, RateLimit, Reply, Simulator, form_decode, js_iso, parse_ymd,
    utc_date,
};

/// Prive's documented limit: a leaky bucket of 50 requests, draining 2 per second, per key.
const RATE_LIMIT: RateLimit = RateLimit::LeakyBucket {
    capacity: 50,
    drain_per_second: 2,
};

/// How many upcoming orders that are not skipped a subscription always shows.
const UNSKIPPED_AHEAD: usize = 3;

/// The OpenAPI's defaults for `page` and `limit`, and its range for `limit`.
const DEFAULT_PAGE: u64 = 1;
const DEFAULT_LIMIT: u64 = 10;
const MAX_LIMIT: u64 = 250;

/// The OpenAPI's enum for a subscription's `status`.
const STATUSES: [&str; 5] = ["ACTIVE", "PAUSED", "EXPIRED", "CANCELLED", "FAILED"];

/// What `sort` accepts (a guess: the OpenAPI only says the default is `createdAt`).
const SORT_FIELDS: [&str; 5] = [
    "createdAt",
    "updatedAt",
    "nextBillingDate",
    "nextDeliveryDate",
    "id",
];

/// First subscription `externalId` (Shopify contract id) handed out when seeding.
const FIRST_CONTRACT_ID: u64 = 7_000_001;

/// A Prive subscription as seeded into and read back from [`PriveSim`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriveSub {
    pub id: String,
    /// The shopper's Shopify customer id, matched by `?subscriberExternalId=`.
    pub subscriber_external_id: Option<String>,
    /// Matched case-insensitively by `?subscriberEmail=`.
    pub email: Option<String>,
    /// `ACTIVE`, `PAUSED`, `EXPIRED`, `CANCELLED` or `FAILED`. Writes need `ACTIVE`.
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
    date_form: DateForm,
    /// Subscriptions seeded so far (for their `externalId`).
    seeded: u64,
}

/// A subscription and what Prive derives from it.
struct Entry {
    /// `sub.next_billing` is kept on the first unskipped order of `upcoming`.
    sub: PriveSub,
    /// The subscription's Shopify contract id (`externalId`).
    external_id: String,
    created_at: Timestamp,
    updated_at: Timestamp,
    /// Next delivery date minus next billing date, kept when a skip moves both.
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
    unskips: u32,
    dates_set: u32,
}

/// A Prive call, with ids and dates as sent in the path (percent-decoded).
pub enum PriveCall {
    /// `GET /api/v1/subscriptions?...` with its query parameters.
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

/// The lookup's query parameters, decoded, in the order sent (repeats kept).
pub struct LookupQuery {
    params: Vec<(String, String)>,
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
            date_form: DateForm::Native,
            seeded: 0,
        })
        .await
    }

    /// Adds a subscription, replacing any with the same id (which keeps its place in the
    /// listing, its `externalId` and its `createdAt`). Its upcoming orders are the next three
    /// cycles from `next_billing`, none skipped; its next delivery date is its next billing
    /// date (see [`PriveSim::set_delivery_offset`]). `createdAt` is one interval before
    /// `next_billing`.
    pub fn add_subscription(&self, sub: PriveSub) {
        self.with_state(
            |s| match s.subscriptions.iter_mut().find(|e| e.sub.id == sub.id) {
                Some(existing) => {
                    let mut entry = Entry::new(sub, existing.external_id.clone());
                    entry.created_at = existing.created_at;
                    entry.updated_at = existing.created_at;
                    *existing = entry;
                }
                None => {
                    let contract = (FIRST_CONTRACT_ID + s.seeded).to_string();
                    s.seeded += 1;
                    s.subscriptions.push(Entry::new(sub, contract));
                }
            },
        );
    }

    /// Makes the subscription's delivery follow its billing by `days` (negative: precede it),
    /// from its current next billing date on; skips keep the gap. The default is 0.
    ///
    /// # Panics
    /// If no subscription has this id (a mistake in the test's seeding).
    pub fn set_delivery_offset(&self, id: &str, days: i64) {
        let found = self.with_state(|s| {
            s.subscriptions
                .iter_mut()
                .find(|e| e.sub.id == id)
                .map(|e| e.delivery_offset = SignedDuration::from_hours(24 * days))
        });
        assert!(found.is_some(), "Prive simulator: no subscription {id:?}");
    }

    /// How date-times are written in answers: [`DateForm::Native`] (the default) is
    /// JavaScript's `toISOString()`, `2026-11-24T16:00:00.000Z`. The skip path's date is the
    /// date part of `scheduledDate` as written in the form in force.
    pub fn set_date_form(&self, form: DateForm) {
        self.with_state(|s| s.date_form = form);
    }

    /// The subscription as it is now.
    pub fn subscription(&self, id: &str) -> Option<PriveSub> {
        self.with_state(|s| s.find(id).map(|e| e.sub.clone()))
    }

    /// The subscription's next delivery date as it is now.
    pub fn next_delivery(&self, id: &str) -> Option<Timestamp> {
        self.with_state(|s| s.find(id).map(Entry::next_delivery))
    }

    /// How many upcoming orders were really skipped on this subscription (faulted calls that
    /// applied count; refused, rejected and unauthorised ones do not; unskips do not subtract).
    pub fn skips_applied(&self, id: &str) -> u32 {
        self.with_state(|s| s.writes.get(id).map_or(0, |w| w.skips))
    }

    /// How many skipped orders were really unskipped (`{"skip": false}`) on this subscription.
    pub fn unskips_applied(&self, id: &str) -> u32 {
        self.with_state(|s| s.writes.get(id).map_or(0, |w| w.unskips))
    }

    /// How many date changes were really applied to this subscription.
    pub fn dates_set(&self, id: &str) -> u32 {
        self.with_state(|s| s.writes.get(id).map_or(0, |w| w.dates_set))
    }
}

impl Entry {
    fn new(sub: PriveSub, external_id: String) -> Entry {
        let interval = SignedDuration::from_hours(24 * sub.interval_days);
        let created_at = sub
            .next_billing
            .checked_sub(interval)
            .unwrap_or(sub.next_billing);
        let mut entry = Entry {
            external_id,
            created_at,
            updated_at: created_at,
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

    /// Appends cycles until [`UNSKIPPED_AHEAD`] orders are not skipped, drops any beyond that
    /// (after an unskip), then puts the next billing date on the first of them.
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
        let mut unskipped = 0;
        if let Some(last_kept) = self.upcoming.iter().position(|o| {
            unskipped += usize::from(!o.skipped);
            unskipped == UNSKIPPED_AHEAD
        }) {
            self.upcoming.truncate(last_kept + 1);
        }
        if let Some(first) = self.upcoming.iter().find(|o| !o.skipped) {
            self.sub.next_billing = first.scheduled;
        }
    }

    /// A write happened: `updatedAt` is now (never before `createdAt`, which seeding may put
    /// in the future).
    fn touch(&mut self) {
        self.updated_at = Timestamp::now().max(self.created_at);
    }

    fn next_delivery(&self) -> Timestamp {
        self.sub
            .next_billing
            .checked_add(self.delivery_offset)
            .unwrap_or(self.sub.next_billing)
    }

    /// Prive's id for the shopper: the same for all of one shopper's subscriptions.
    fn subscriber_id(&self) -> String {
        match (&self.sub.subscriber_external_id, &self.sub.email) {
            (Some(external), _) => format!("sbr_{external}"),
            (None, Some(email)) => format!("sbr_{}", email.to_lowercase()),
            (None, None) => format!("sbr_{}", self.sub.id),
        }
    }

    fn json(&self, form: &DateForm) -> Value {
        let write = |ts: Timestamp| form.write(ts, js_iso);
        let upcoming: Vec<Value> = self.upcoming.iter().map(|o| o.json(form)).collect();
        json!({
            "id": self.sub.id,
            "externalId": self.external_id,
            "createdAt": write(self.created_at),
            "updatedAt": write(self.updated_at),
            "subscriber": {
                "id": self.subscriber_id(),
                "externalId": self.sub.subscriber_external_id,
                "email": self.sub.email,
                "firstName": null,
                "lastName": null,
                "phoneCountryCode": null,
                "phone": null,
                "createdAt": write(self.created_at),
                "updatedAt": write(self.created_at),
            },
            "status": self.sub.status,
            "nextBillingDate": write(self.sub.next_billing),
            "nextDeliveryDate": write(self.next_delivery()),
            "billingCadenceCount": self.sub.interval_days,
            "billingCadenceUnit": "DAY",
            "deliveryCadenceCount": self.sub.interval_days,
            "deliveryCadenceUnit": "DAY",
            "upcomingOrders": upcoming,
        })
    }
}

impl UpcomingOrder {
    fn json(&self, form: &DateForm) -> Value {
        json!({
            "scheduledDate": form.write(self.scheduled, js_iso),
            "isSkipped": self.skipped,
            "lines": [],
            "oneTimeAddOns": [],
        })
    }
}

/// The calendar date of `ts` as `form` writes it: UTC in the native form, the zone's date
/// otherwise.
fn written_date(form: &DateForm, ts: Timestamp) -> Date {
    match form {
        DateForm::Native => utc_date(ts),
        DateForm::WithOffset(tz) | DateForm::Floating(tz) => ts.to_zoned(tz.clone()).date(),
    }
}

/// A strict RFC 3339 date-time (what the OpenAPI's `format: date-time` means): date, `T`, time
/// with seconds, optional fraction, and `Z` or a `±HH:MM` offset. Date-only and offset-less
/// values are refused.
fn parse_date_time(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let digits = |bytes: &[u8], from: usize, to: usize| {
        bytes
            .get(from..to)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let shape = b.len() >= 20
        && digits(b, 0, 4)
        && b[4] == b'-'
        && digits(b, 5, 7)
        && b[7] == b'-'
        && digits(b, 8, 10)
        && matches!(b[10], b'T' | b't')
        && digits(b, 11, 13)
        && b[13] == b':'
        && digits(b, 14, 16)
        && b[16] == b':'
        && digits(b, 17, 19);
    if !shape {
        return None;
    }
    let mut rest = &b[19..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let n = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        rest = &fraction[n..];
    }
    let offset = matches!(rest, b"Z" | b"z")
        || (rest.len() == 6
            && matches!(rest[0], b'+' | b'-')
            && digits(rest, 1, 3)
            && rest[3] == b':'
            && digits(rest, 4, 6));
    if !offset {
        return None;
    }
    s.parse().ok()
}

impl LookupQuery {
    fn from_query(query: Option<&str>) -> LookupQuery {
        let params = query
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (form_decode(key), form_decode(value))
            })
            .collect();
        LookupQuery { params }
    }

    /// A single-valued parameter; sending it twice or as an array (`name[]`) is an error.
    fn scalar(&self, name: &str) -> Result<Option<&str>, String> {
        let array = format!("{name}[]");
        let mut found = None;
        for (key, value) in &self.params {
            if *key == array || (key == name && found.is_some()) {
                return Err(format!("{name} must be a single value"));
            }
            if key == name {
                found = Some(value.as_str());
            }
        }
        Ok(found)
    }

    /// An array parameter, sent repeated, as `name[]` or comma-separated; `None` when absent
    /// or empty.
    fn list(&self, name: &str) -> Option<Vec<&str>> {
        let array = format!("{name}[]");
        let values: Vec<&str> = self
            .params
            .iter()
            .filter(|(key, _)| key == name || *key == array)
            .flat_map(|(_, value)| value.split(','))
            .filter(|value| !value.is_empty())
            .collect();
        (!values.is_empty()).then_some(values)
    }

    fn whole_number(&self, name: &str, default: u64, range: (u64, u64)) -> Result<u64, String> {
        let Some(raw) = self.scalar(name)? else {
            return Ok(default);
        };
        let (min, max) = range;
        let bad = || match max {
            u64::MAX => format!("{name} must be a whole number, {min} or more"),
            _ => format!("{name} must be between {min} and {max}"),
        };
        if raw.is_empty() || raw.len() > 15 || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        raw.parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(bad)
    }

    fn date_time(&self, name: &str) -> Result<Option<Timestamp>, String> {
        match self.scalar(name)? {
            None => Ok(None),
            Some(raw) => parse_date_time(raw)
                .map(Some)
                .ok_or_else(|| format!("{name} must be an ISO 8601 date-time with an offset")),
        }
    }

    fn boolean(&self, name: &str) -> Result<Option<bool>, String> {
        match self.scalar(name)? {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(format!("{name} must be a boolean value")),
        }
    }

    /// Validates every parameter the OpenAPI lists; unknown parameters are ignored.
    fn filters(&self) -> Result<Filters<'_>, String> {
        let page = self.whole_number("page", DEFAULT_PAGE, (1, u64::MAX))?;
        let limit = self.whole_number("limit", DEFAULT_LIMIT, (1, MAX_LIMIT))?;
        let status = self.scalar("status")?;
        let statuses = self.list("statuses");
        let enum_error = |name: &str| format!("{name} must be one of: {}", STATUSES.join(", "));
        if status.is_some_and(|s| !STATUSES.contains(&s)) {
            return Err(enum_error("status"));
        }
        if statuses
            .as_ref()
            .is_some_and(|all| all.iter().any(|s| !STATUSES.contains(s)))
        {
            return Err(enum_error("statuses"));
        }
        let sort = self.scalar("sort")?.unwrap_or("createdAt");
        if !SORT_FIELDS.contains(&sort) {
            return Err(format!("sort must be one of: {}", SORT_FIELDS.join(", ")));
        }
        self.boolean("includeDeleted")?;
        self.boolean("includeDunningInstances")?;
        Ok(Filters {
            page,
            limit,
            subscriber_id: self.scalar("subscriberId")?,
            email: self.scalar("subscriberEmail")?,
            external_id: self.scalar("subscriberExternalId")?,
            subscription_external_id: self.scalar("subscriptionExternalId")?,
            status,
            statuses,
            variant_ids: self.list("variantIds"),
            next_billing: (
                self.date_time("minNextBillingDate")?,
                self.date_time("maxNextBillingDate")?,
            ),
            created: (
                self.date_time("minCreatedAt")?,
                self.date_time("maxCreatedAt")?,
            ),
            updated: (
                self.date_time("minUpdatedAt")?,
                self.date_time("maxUpdatedAt")?,
            ),
            sort,
            desc: self.boolean("desc")?.unwrap_or(false),
        })
    }
}

/// A validated lookup.
struct Filters<'q> {
    page: u64,
    limit: u64,
    subscriber_id: Option<&'q str>,
    email: Option<&'q str>,
    external_id: Option<&'q str>,
    subscription_external_id: Option<&'q str>,
    status: Option<&'q str>,
    statuses: Option<Vec<&'q str>>,
    /// The simulated subscriptions have no lines, so any variant filter matches none.
    variant_ids: Option<Vec<&'q str>>,
    /// Inclusive `(min, max)` bounds.
    next_billing: (Option<Timestamp>, Option<Timestamp>),
    created: (Option<Timestamp>, Option<Timestamp>),
    updated: (Option<Timestamp>, Option<Timestamp>),
    sort: &'q str,
    desc: bool,
}

impl Filters<'_> {
    fn matches(&self, e: &Entry) -> bool {
        let within = |(min, max): (Option<Timestamp>, Option<Timestamp>), ts: Timestamp| {
            min.is_none_or(|min| ts >= min) && max.is_none_or(|max| ts <= max)
        };
        self.subscriber_id.is_none_or(|id| e.subscriber_id() == id)
            && self.email.is_none_or(|wanted| {
                e.sub
                    .email
                    .as_deref()
                    .is_some_and(|email| email.eq_ignore_ascii_case(wanted))
            })
            && self
                .external_id
                .is_none_or(|id| e.sub.subscriber_external_id.as_deref() == Some(id))
            && self
                .subscription_external_id
                .is_none_or(|id| e.external_id == id)
            && self.status.is_none_or(|s| e.sub.status == s)
            && self
                .statuses
                .as_ref()
                .is_none_or(|all| all.contains(&e.sub.status.as_str()))
            && self.variant_ids.is_none()
            && within(self.next_billing, e.sub.next_billing)
            && within(self.created, e.created_at)
            && within(self.updated, e.updated_at)
    }

    fn compare(&self, a: &Entry, b: &Entry) -> Ordering {
        let order = match self.sort {
            "updatedAt" => a.updated_at.cmp(&b.updated_at),
            "nextBillingDate" => a.sub.next_billing.cmp(&b.sub.next_billing),
            "nextDeliveryDate" => a.next_delivery().cmp(&b.next_delivery()),
            "id" => a.sub.id.cmp(&b.sub.id),
            _ => a.created_at.cmp(&b.created_at),
        };
        if self.desc { order.reverse() } else { order }
    }
}

/// A validated set-date body.
struct NewDates {
    billing: Timestamp,
    delivery: Timestamp,
}

impl NewDates {
    /// Both dates are required RFC 3339 date-times; the optional fields of the OpenAPI
    /// (`anchoredNextBillingDate`, `isPause`, and the newer Recurly Commerce `preserveHour`) are
    /// type-checked and otherwise ignored.
    fn parse(body: Option<&Value>) -> Result<NewDates, String> {
        let Some(body) = body.and_then(Value::as_object) else {
            return Err("the body must be a JSON object".to_owned());
        };
        let required = |name: &str| {
            body.get(name)
                .and_then(Value::as_str)
                .and_then(parse_date_time)
                .ok_or_else(|| {
                    format!("{name} is required, as an ISO 8601 date-time with an offset")
                })
        };
        let billing = required("nextBillingDate")?;
        let delivery = required("nextDeliveryDate")?;
        let optional = |name: &str, ok: fn(&Value) -> bool, what: &str| match body.get(name) {
            None | Some(Value::Null) => Ok(()),
            Some(value) if ok(value) => Ok(()),
            Some(_) => Err(format!("{name} must be {what}")),
        };
        optional(
            "anchoredNextBillingDate",
            |v| v.as_str().and_then(parse_date_time).is_some(),
            "an ISO 8601 date-time with an offset",
        )?;
        optional("isPause", Value::is_boolean, "a boolean value")?;
        optional("preserveHour", Value::is_boolean, "a boolean value")?;
        Ok(NewDates { billing, delivery })
    }
}

impl PriveState {
    fn find(&self, id: &str) -> Option<&Entry> {
        self.subscriptions.iter().find(|e| e.sub.id == id)
    }

    fn lookup(&self, query: &LookupQuery) -> Reply {
        let filters = match query.filters() {
            Ok(filters) => filters,
            Err(message) => return self.error(StatusCode::BAD_REQUEST, &message),
        };
        let mut found: Vec<&Entry> = self
            .subscriptions
            .iter()
            .filter(|e| filters.matches(e))
            .collect();
        found.sort_by(|a, b| filters.compare(a, b));
        let total = found.len() as u64;
        let skip = (filters.page - 1).saturating_mul(filters.limit);
        let on_page: Vec<Value> = found
            .iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .take(usize::try_from(filters.limit).unwrap_or(usize::MAX))
            .map(|e| e.json(&self.date_form))
            .collect();
        Reply::json(
            StatusCode::OK,
            json!({
                "page": filters.page,
                "limit": filters.limit,
                "totalItems": total,
                "totalPages": total.div_ceil(filters.limit).max(1),
                "subscriptions": on_page,
            }),
        )
    }

    fn get(&self, id: &str) -> Reply {
        match self.find(id) {
            Some(entry) => Reply::json(StatusCode::OK, entry.json(&self.date_form)),
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
        let Some(skip) = body.and_then(|b| b.get("skip")).and_then(Value::as_bool) else {
            return self.error(
                StatusCode::BAD_REQUEST,
                "skip is required, as a boolean value",
            );
        };
        if self.find(id).is_none() {
            return self.not_found();
        }
        let Some(date) = parse_ymd(date) else {
            return self.error(StatusCode::BAD_REQUEST, "the order date must be YYYY-MM-DD");
        };
        let no_such_order = self.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &if skip {
                format!("No upcoming order that is not skipped on {date}")
            } else {
                format!("No skipped upcoming order on {date}")
            },
        );
        let form = self.date_form.clone();
        let entry = match self.writable(id) {
            Ok(entry) => entry,
            Err(reply) => return reply,
        };
        let Some(order) = entry
            .upcoming
            .iter_mut()
            .find(|o| o.skipped != skip && written_date(&form, o.scheduled) == date)
        else {
            return no_such_order;
        };
        order.skipped = skip;
        let answer = order.json(&form);
        entry.top_up();
        entry.touch();
        let writes = self.writes.entry(id.to_owned()).or_default();
        if skip {
            writes.skips += 1;
        } else {
            writes.unskips += 1;
        }
        Reply::json(StatusCode::OK, answer)
    }

    fn set_date(&mut self, id: &str, body: Option<&Value>) -> Reply {
        let dates = match NewDates::parse(body) {
            Ok(dates) => dates,
            Err(message) => return self.error(StatusCode::BAD_REQUEST, &message),
        };
        let form = self.date_form.clone();
        let entry = match self.writable(id) {
            Ok(entry) => entry,
            Err(reply) => return reply,
        };
        // A new date starts a new schedule: earlier skips no longer apply.
        entry.sub.next_billing = dates.billing;
        entry.delivery_offset = dates.delivery.duration_since(dates.billing);
        entry.upcoming = vec![UpcomingOrder {
            scheduled: dates.billing,
            skipped: false,
        }];
        entry.top_up();
        entry.touch();
        let answer = entry.json(&form);
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
            (&Method::GET, ["subscriptions"]) => {
                PriveCall::Lookup(LookupQuery::from_query(req.query.as_deref()))
            }
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

    use jiff::tz::TimeZone;

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
        let listed = |date: &str| {
            json!({"scheduledDate": format!("{date}T16:00:00.000Z"), "isSkipped": false,
                   "lines": [], "oneTimeAddOns": []})
        };
        assert_eq!(
            body,
            json!({"page": 1, "limit": 10, "totalItems": 1, "totalPages": 1, "subscriptions": [{
                "id": "sub_1",
                "externalId": "7000001",
                "createdAt": "2026-10-25T16:00:00.000Z",
                "updatedAt": "2026-10-25T16:00:00.000Z",
                "subscriber": {
                    "id": "sbr_5001", "externalId": "5001", "email": "Shopper@Example.com",
                    "firstName": null, "lastName": null, "phoneCountryCode": null, "phone": null,
                    "createdAt": "2026-10-25T16:00:00.000Z",
                    "updatedAt": "2026-10-25T16:00:00.000Z",
                },
                "status": "ACTIVE",
                "nextBillingDate": "2026-11-24T16:00:00.000Z",
                "nextDeliveryDate": "2026-11-24T16:00:00.000Z",
                "billingCadenceCount": 30, "billingCadenceUnit": "DAY",
                "deliveryCadenceCount": 30, "deliveryCadenceUnit": "DAY",
                "upcomingOrders": [listed("2026-11-24"), listed("2026-12-24"), listed("2027-01-23")],
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
            json!({"scheduledDate": "2026-11-24T16:00:00.000Z", "isSkipped": true,
                   "lines": [], "oneTimeAddOns": []})
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
        // No body, or a `skip` that is not a boolean: 400. `{"skip": false}` is an unskip, and
        // that order is not skipped.
        let path = "/subscriptions/sub_1/upcomingOrders/2026-12-24/skip";
        assert_eq!(call(&sim, Method::PATCH, path, None).await.0, 400);
        assert_eq!(
            call(&sim, Method::PATCH, path, Some(json!({"skip": "true"})))
                .await
                .0,
            400
        );
        assert_eq!(
            call(&sim, Method::PATCH, path, Some(json!({"skip": false})))
                .await
                .0,
            422
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
        assert_eq!(sim.unskips_applied("sub_1"), 0);
        assert_eq!(sim.requests_for("skip").len(), 10);
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

    async fn get_json(sim: &PriveSim, path_and_query: &str) -> (u16, Value) {
        call(sim, Method::GET, path_and_query, None).await
    }

    fn ids(page: &Value) -> Vec<String> {
        page["subscriptions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    }

    #[tokio::test]
    async fn lookup_defaults_to_ten_and_a_busy_shopper_spans_pages() {
        let sim = sim().await;
        // Shopper 7001 has 23 subscriptions, one a day apart (so `createdAt` orders them).
        let busy: Vec<String> = (0..23).map(|n| format!("busy_{n:02}")).collect();
        for (n, id) in busy.iter().enumerate() {
            let day = i64::try_from(n).unwrap();
            sim.add_subscription(PriveSub {
                next_billing: at("2026-12-01T16:00:00Z")
                    .checked_add(SignedDuration::from_hours(24 * day))
                    .unwrap(),
                ..sub(id, "7001", "ACTIVE")
            });
        }
        // No page and no limit: the documented defaults, 1 and 10.
        let (status, first) = get_json(&sim, "/subscriptions?subscriberExternalId=7001").await;
        assert_eq!(status, 200);
        assert_eq!((&first["page"], &first["limit"]), (&json!(1), &json!(10)));
        assert_eq!(
            (&first["totalItems"], &first["totalPages"]),
            (&json!(23), &json!(3))
        );
        assert_eq!(ids(&first), busy[..10]);
        // Following totalPages collects every subscription once, in order.
        let mut seen = Vec::new();
        for page in 1..=3 {
            let query = format!("/subscriptions?subscriberExternalId=7001&page={page}&limit=10");
            let (status, body) = get_json(&sim, &query).await;
            assert_eq!((status, body["page"].clone()), (200, json!(page)));
            seen.extend(ids(&body));
        }
        assert_eq!(seen, busy);
        // The last page holds the rest; past it, an empty page.
        let (_, third) = get_json(&sim, "/subscriptions?subscriberExternalId=7001&page=3").await;
        assert_eq!(ids(&third), busy[20..]);
        let (status, past) =
            get_json(&sim, "/subscriptions?subscriberExternalId=7001&page=4").await;
        assert_eq!((status, ids(&past).len()), (200, 0));
        assert_eq!(past["totalItems"], 23);
        // The largest limit takes them all at once.
        let (_, all) = get_json(&sim, "/subscriptions?subscriberExternalId=7001&limit=250").await;
        assert_eq!((ids(&all), all["totalPages"].clone()), (busy, json!(1)));
    }

    #[tokio::test]
    async fn lookup_validates_types_and_ranges() {
        let sim = sim().await;
        for bad in [
            "limit=0",
            "limit=251",
            "limit=ten",
            "limit=2.5",
            "limit=-1",
            "limit=",
            "page=0",
            "page=x",
            "page=1&page=2",
            "limit[]=5",
            "status=active",
            "status=DELETED",
            "statuses=ACTIVE&statuses=NOPE",
            "statuses[]=ACTIVE,gone",
            "minNextBillingDate=2026-11-24",
            "maxNextBillingDate=tomorrow",
            "minCreatedAt=2026-11-24T00:00:00",
            "maxUpdatedAt=2026-11-24%2016:00:00Z",
            "desc=yes",
            "includeDeleted=1",
            "includeDunningInstances=TRUE",
            "sort=price",
        ] {
            let (status, body) = get_json(&sim, &format!("/subscriptions?{bad}")).await;
            assert_eq!(status, 400, "{bad}");
            assert!(body["error"].is_string(), "{bad}");
        }
        for good in [
            "limit=1",
            "limit=250",
            "page=99",
            "statuses=ACTIVE,PAUSED",
            "minNextBillingDate=2026-11-24T16:00:00Z",
            "maxCreatedAt=2026-11-24T16:00:00.5%2B01:00",
            "desc=true",
            "includeDeleted=false",
            "includeDunningInstances=true",
            "sort=id",
            "somethingElse=1",
        ] {
            let (status, _) = get_json(&sim, &format!("/subscriptions?{good}")).await;
            assert_eq!(status, 200, "{good}");
        }
    }

    #[tokio::test]
    async fn lookup_filters_and_sorts() {
        let sim = sim().await;
        sim.add_subscription(PriveSub {
            next_billing: at("2026-12-10T16:00:00Z"),
            ..sub("sub_4", "5001", "PAUSED")
        });
        let query = |q: &str| format!("/subscriptions?{q}");
        let found = async |q: &str| ids(&get_json(&sim, &query(q)).await.1);

        // subscriberId and subscriptionExternalId, as Prive writes them in its answers.
        let (_, one) = get_json(&sim, "/subscriptions/sub_3").await;
        let subscriber = one["subscriber"]["id"].as_str().unwrap().to_owned();
        let contract = one["externalId"].as_str().unwrap().to_owned();
        assert_eq!(
            found(&format!("subscriberId={subscriber}")).await,
            ["sub_3"]
        );
        assert_eq!(
            found("subscriberId=sbr_5001").await,
            ["sub_1", "sub_2", "sub_4"]
        );
        assert_eq!(
            found(&format!("subscriptionExternalId={contract}")).await,
            ["sub_3"]
        );
        assert!(found("subscriptionExternalId=1").await.is_empty());

        // statuses, repeated, as an array or comma-separated; status and statuses together.
        assert_eq!(
            found("statuses=PAUSED&statuses=CANCELLED").await,
            ["sub_2", "sub_4"]
        );
        assert_eq!(
            found("statuses[]=PAUSED&statuses[]=ACTIVE").await,
            ["sub_1", "sub_3", "sub_4"]
        );
        assert_eq!(
            found("statuses=CANCELLED,PAUSED&status=PAUSED").await,
            ["sub_4"]
        );
        assert!(found("status=EXPIRED").await.is_empty());

        // Date-time bounds are inclusive, whatever the offset they are written with.
        assert_eq!(
            found("minNextBillingDate=2026-11-25T00:00:00Z").await,
            ["sub_4"]
        );
        assert_eq!(
            found("maxNextBillingDate=2026-11-24T11:00:00-05:00").await,
            ["sub_1", "sub_2", "sub_3"]
        );
        assert!(
            found("maxNextBillingDate=2026-11-24T15:59:59.999Z")
                .await
                .is_empty()
        );
        assert_eq!(
            found("minCreatedAt=2026-11-01T00:00:00Z&maxCreatedAt=2026-11-10T16:00:00Z").await,
            ["sub_4"]
        );
        // updatedAt moves with a write.
        let since = Timestamp::now().to_string();
        assert!(found(&format!("minUpdatedAt={since}")).await.is_empty());
        assert_eq!(skip(&sim, "sub_3", "2026-11-24").await.0, 200);
        assert_eq!(found(&format!("minUpdatedAt={since}")).await, ["sub_3"]);

        // The simulated subscriptions have no lines: no variant matches.
        assert!(found("variantIds=v1").await.is_empty());

        // Default order is createdAt ascending; sort and desc change it.
        assert_eq!(found("").await, ["sub_1", "sub_2", "sub_3", "sub_4"]);
        assert_eq!(
            found("desc=true").await,
            ["sub_4", "sub_1", "sub_2", "sub_3"]
        );
        assert_eq!(
            found("sort=nextBillingDate&desc=true").await,
            ["sub_3", "sub_4", "sub_1", "sub_2"]
        );
        assert_eq!(found("sort=updatedAt&desc=true").await[0], "sub_3");
        assert_eq!(
            found("sort=id&desc=true").await,
            ["sub_4", "sub_3", "sub_2", "sub_1"]
        );
    }

    #[tokio::test]
    async fn delivery_can_follow_billing_and_keeps_its_gap() {
        let sim = sim().await;
        // Default: delivery on the billing date.
        assert_eq!(sim.next_delivery("sub_3"), Some(at("2026-11-24T16:00:00Z")));
        sim.set_delivery_offset("sub_1", 3);
        assert_eq!(sim.next_delivery("sub_1"), Some(at("2026-11-27T16:00:00Z")));
        let (_, got) = get_json(&sim, "/subscriptions/sub_1").await;
        assert_eq!(
            (&got["nextBillingDate"], &got["nextDeliveryDate"]),
            (
                &json!("2026-11-24T16:00:00.000Z"),
                &json!("2026-11-27T16:00:00.000Z")
            )
        );
        // The upcoming orders stay on billing dates; the path names the billing date.
        assert_eq!(upcoming(&got)[0], order("2026-11-24", false));
        assert_eq!(skip(&sim, "sub_1", "2026-11-27").await.0, 422);
        assert_eq!(skip(&sim, "sub_1", "2026-11-24").await.0, 200);
        let (_, got) = get_json(&sim, "/subscriptions/sub_1").await;
        assert_eq!(
            (&got["nextBillingDate"], &got["nextDeliveryDate"]),
            (
                &json!("2026-12-24T16:00:00.000Z"),
                &json!("2026-12-27T16:00:00.000Z")
            )
        );
        // Seeding the same id again resets the gap.
        sim.add_subscription(sub("sub_1", "5001", "ACTIVE"));
        assert_eq!(sim.next_delivery("sub_1"), Some(at("2026-11-24T16:00:00Z")));
        sim.set_delivery_offset("sub_1", -1);
        assert_eq!(sim.next_delivery("sub_1"), Some(at("2026-11-23T16:00:00Z")));
        assert_eq!(sim.next_delivery("sub_9"), None);
    }

    #[tokio::test]
    #[should_panic(expected = "no subscription")]
    async fn delivery_offset_of_an_unknown_subscription_panics() {
        let sim = sim().await;
        sim.set_delivery_offset("sub_9", 2);
    }

    #[tokio::test]
    async fn set_dates_sets_both_exactly_and_independently() {
        let sim = sim().await;
        sim.set_delivery_offset("sub_1", 4);
        let path = "/subscriptions/sub_1/nextBillingAndDeliveryDate";
        // Delivery before billing, another offset, fractional seconds: kept as sent.
        let body = json!({
            "nextBillingDate": "2026-12-08T16:00:00.000Z",
            "nextDeliveryDate": "2026-12-06T09:30:00.250+02:00",
        });
        let (status, got) = call(&sim, Method::PATCH, path, Some(body)).await;
        assert_eq!(status, 200);
        assert_eq!(got["id"], "sub_1");
        assert_eq!(got["nextBillingDate"], "2026-12-08T16:00:00.000Z");
        assert_eq!(got["nextDeliveryDate"], "2026-12-06T07:30:00.250Z");
        assert_eq!(
            sim.next_delivery("sub_1"),
            Some(at("2026-12-06T07:30:00.25Z"))
        );
        let (_, read) = get_json(&sim, "/subscriptions/sub_1").await;
        assert_eq!(read["nextDeliveryDate"], got["nextDeliveryDate"]);

        // The OpenAPI's optional fields are accepted with their types.
        let ok = json!({
            "nextBillingDate": "2026-12-09T16:00:00Z",
            "nextDeliveryDate": "2026-12-09T16:00:00Z",
            "anchoredNextBillingDate": "2026-12-09T16:00:00Z",
            "isPause": false,
            "preserveHour": null,
        });
        assert_eq!(call(&sim, Method::PATCH, path, Some(ok)).await.0, 200);
        assert_eq!(sim.dates_set("sub_1"), 2);

        let both = |extra: Value| {
            let mut body = json!({
                "nextBillingDate": "2026-12-10T16:00:00Z",
                "nextDeliveryDate": "2026-12-10T16:00:00Z",
            });
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            body
        };
        for bad in [
            json!({}),
            json!([]),
            json!("2026-12-10T16:00:00Z"),
            json!({"nextBillingDate": "2026-12-10T16:00:00Z"}),
            json!({"nextDeliveryDate": "2026-12-10T16:00:00Z"}),
            json!({"nextBillingDate": "2026-12-10T16:00:00Z", "nextDeliveryDate": null}),
            both(json!({"nextBillingDate": 1_796_918_400_000_u64})),
            both(json!({"nextDeliveryDate": "2026-12-10"})),
            both(json!({"nextBillingDate": "2026-12-10T16:00:00"})),
            both(json!({"nextBillingDate": "2026-12-10T16:00Z"})),
            both(json!({"nextBillingDate": "2026-12-10 16:00:00Z"})),
            both(json!({"nextBillingDate": "2026-12-10T16:00:00Z[UTC]"})),
            both(json!({"nextDeliveryDate": "2026-13-10T16:00:00Z"})),
            both(json!({"isPause": "no"})),
            both(json!({"preserveHour": 1})),
            both(json!({"anchoredNextBillingDate": "soon"})),
        ] {
            let (status, body) = call(&sim, Method::PATCH, path, Some(bad.clone())).await;
            assert_eq!(status, 400, "{bad}");
            assert!(body["error"].is_string(), "{bad}");
        }
        // The body is validated before the subscription is looked up.
        let unknown = "/subscriptions/sub_9/nextBillingAndDeliveryDate";
        assert_eq!(
            call(&sim, Method::PATCH, unknown, Some(json!({}))).await.0,
            400
        );
        assert_eq!(
            call(&sim, Method::PATCH, unknown, Some(both(json!({}))))
                .await
                .0,
            404
        );
        assert_eq!(sim.dates_set("sub_1"), 2);
        assert_eq!(
            sim.subscription("sub_1").unwrap().next_billing,
            at("2026-12-09T16:00:00Z")
        );
    }

    #[tokio::test]
    async fn unskip_restores_an_order() {
        let sim = sim().await;
        let unskip = async |date: &str| {
            let path = format!("/subscriptions/sub_1/upcomingOrders/{date}/skip");
            call(&sim, Method::PATCH, &path, Some(json!({"skip": false}))).await
        };
        assert_eq!(skip(&sim, "sub_1", "2026-11-24").await.0, 200);
        let (status, body) = unskip("2026-11-24").await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"scheduledDate": "2026-11-24T16:00:00.000Z", "isSkipped": false,
                   "lines": [], "oneTimeAddOns": []})
        );
        let (_, got) = get_json(&sim, "/subscriptions/sub_1").await;
        assert_eq!(got["nextBillingDate"], "2026-11-24T16:00:00.000Z");
        assert_eq!(
            upcoming(&got),
            [
                order("2026-11-24", false),
                order("2026-12-24", false),
                order("2027-01-23", false),
            ]
        );
        // Only a skipped order can be unskipped.
        assert_eq!(unskip("2026-11-24").await.0, 422);
        assert_eq!(unskip("2026-12-24").await.0, 422);
        assert_eq!(
            (sim.skips_applied("sub_1"), sim.unskips_applied("sub_1")),
            (1, 1)
        );
        // The body is validated before the subscription is looked up.
        let path = "/subscriptions/sub_9/upcomingOrders/2026-11-24/skip";
        assert_eq!(
            call(&sim, Method::PATCH, path, Some(json!({}))).await.0,
            400
        );
    }

    #[tokio::test]
    async fn date_forms_and_the_skip_date() {
        let sim = PriveSim::start(TOKEN).await;
        // Local midnight in Tokyo on 2027-03-13 is 15:00 UTC the day before.
        sim.add_subscription(PriveSub {
            next_billing: at("2027-03-12T15:00:00Z"),
            ..sub("tokyo", "8001", "ACTIVE")
        });
        let read = async || get_json(&sim, "/subscriptions/tokyo").await.1;
        let got = read().await;
        assert_eq!(got["nextBillingDate"], "2027-03-12T15:00:00.000Z");
        assert_eq!(got["createdAt"], "2027-02-10T15:00:00.000Z");
        // Natively the order's date part is the UTC one.
        assert_eq!(skip(&sim, "tokyo", "2027-03-13").await.0, 422);

        let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
        sim.set_date_form(DateForm::WithOffset(tokyo.clone()));
        let got = read().await;
        assert_eq!(got["nextBillingDate"], "2027-03-13T00:00:00+09:00");
        assert_eq!(got["nextDeliveryDate"], "2027-03-13T00:00:00+09:00");
        assert_eq!(
            got["upcomingOrders"][0]["scheduledDate"],
            "2027-03-13T00:00:00+09:00"
        );
        assert_eq!(got["updatedAt"], "2027-02-11T00:00:00+09:00");

        sim.set_date_form(DateForm::Floating(tokyo));
        let got = read().await;
        assert_eq!(got["nextBillingDate"], "2027-03-13T00:00:00");
        // The skip takes the date part as written, and answers in the same form.
        assert_eq!(skip(&sim, "tokyo", "2027-03-12").await.0, 422);
        let (status, order) = skip(&sim, "tokyo", "2027-03-13").await;
        assert_eq!(status, 200);
        assert_eq!(order["scheduledDate"], "2027-03-13T00:00:00");
        assert_eq!(order["isSkipped"], true);
        assert_eq!(read().await["nextBillingDate"], "2027-04-12T00:00:00");

        // Set-date and the lookup answer in the form too.
        let la = TimeZone::get("America/Los_Angeles").unwrap();
        sim.set_date_form(DateForm::WithOffset(la));
        let body = json!({
            "nextBillingDate": "2027-05-01T07:00:00Z",
            "nextDeliveryDate": "2027-05-03T07:00:00Z",
        });
        let path = "/subscriptions/tokyo/nextBillingAndDeliveryDate";
        let (_, got) = call(&sim, Method::PATCH, path, Some(body)).await;
        assert_eq!(got["nextBillingDate"], "2027-05-01T00:00:00-07:00");
        assert_eq!(got["nextDeliveryDate"], "2027-05-03T00:00:00-07:00");
        let (_, page) = get_json(&sim, "/subscriptions?subscriberExternalId=8001").await;
        assert_eq!(
            page["subscriptions"][0]["nextBillingDate"],
            "2027-05-01T00:00:00-07:00"
        );

        sim.set_date_form(DateForm::Native);
        assert_eq!(read().await["nextBillingDate"], "2027-05-01T07:00:00.000Z");
    }
}
