//! The words keyroute speaks in: platforms, actions, intents, shoppers, subscriptions, dates,
//! failure reasons, events. Plain types that parse and print, and import nothing else of the
//! crate, so every other module can use them without depending on each other.
//!
//! A value that crosses a module boundary or a database row is one of these enums, never a
//! bare string; reading one back ([`std::str::FromStr`]) fails loudly with [`UnknownValue`]
//! instead of falling back to a default.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A stored or received value that is not one of the names we know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
}

/// Implements `as_str`, `Display`, `FromStr` (erroring on anything else) for a fieldless enum
/// whose variants each have one wire name.
macro_rules! named_enum {
    ($ty:ident, $what:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The name used on the wire, in the database, in events and in metrics.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $ty {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                match s {
                    $($name => Ok($ty::$variant),)+
                    _ => Err(UnknownValue { what: $what, value: s.to_owned() }),
                }
            }
        }
    };
}

/// The subscription platforms keyroute can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlatformKind {
    Loop,
    Skio,
    Smartrr,
    Prive,
    Recharge,
}

named_enum!(PlatformKind, "platform", {
    Loop => "loop",
    Skio => "skio",
    Smartrr => "smartrr",
    Prive => "prive",
    Recharge => "recharge",
});

impl PlatformKind {
    /// The vendor's public API, used when a shop's config gives no `base_url`.
    pub fn default_base_url(self) -> &'static str {
        match self {
            PlatformKind::Loop => "https://api.loopsubscriptions.com",
            PlatformKind::Skio => "https://graphql.skio.com",
            PlatformKind::Smartrr => "https://api.smartrr.com",
            PlatformKind::Prive => "https://subs.api.tryprive.com",
            PlatformKind::Recharge => "https://api.rechargeapps.com",
        }
    }
}

/// What a shopper asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Skip,
    Delay,
    Help,
    Undo,
    /// When is my next order?
    Status,
}

named_enum!(Action, "action", {
    Skip => "skip",
    Delay => "delay",
    Help => "help",
    Undo => "undo",
    Status => "status",
});

/// A recognised request: what the matcher produces and the worker carries out. The webhook
/// stores it with the message; the worker reads the same type back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub action: Action,
    /// For [`Action::Delay`] only: total days (1 week = 7, 1 month = 30), or the rule's
    /// `default_days` when the shopper gave no duration.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub days: Option<u32>,
    /// For [`Action::Delay`] to a named date ("push it to the 21st"): the date, resolved in
    /// the shop's zone; `days` is then absent.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub until: Option<Date>,
    /// Name of the rule that matched, e.g. `"skip"`.
    pub rule: String,
    /// The keyword as written in the rule file that matched, e.g. `"skip"` (also when
    /// the shopper typed a typo or an elongated form of it).
    pub keyword: String,
    /// For [`Action::Delay`]: the rule's `max_days`. `days` may exceed it; the worker
    /// refuses such a delay (and can tell the shopper the limit).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub max_days: Option<u32>,
}

/// Which of a shopper's subscriptions a SKIP or DELAY acts on (the shop's `multiple`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Multiple {
    /// Every active subscription whose next date is the earliest (they ship together).
    #[default]
    Next,
    /// Every active subscription.
    All,
}

/// When keyroute asks the shopper before a skip or delay (the shop's `confirm`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confirm {
    /// Only when the reading is not sure.
    #[default]
    Unsure,
    /// Before every skip and delay.
    Always,
    /// Never: a sure reading acts, an unsure one does nothing.
    Never,
}

/// Why an action could not be done: the `reason` of `keyword_action_failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    /// No active subscription on any configured platform.
    NoSubscription,
    /// The order the shopper is looking at was already skipped by keyroute.
    AlreadySkipped,
    /// The platform or the shop's policy refused (too long a delay, nothing to undo, a 4xx).
    NotAllowed,
    /// Our side could not do it: credentials, configuration, or retries exhausted.
    PlatformError,
}

named_enum!(FailureReason, "failure reason", {
    NoSubscription => "no_subscription",
    AlreadySkipped => "already_skipped",
    NotAllowed => "not_allowed",
    PlatformError => "platform_error",
});

/// Who sent the reply, as far as we know. Email and Shopify id come from the webhook or the
/// Postscript subscriber record, and are only fetched when a platform needs them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shopper {
    pub phone: String,
    pub email: Option<String>,
    pub shopify_customer_id: Option<String>,
}

/// When the next order happens: the calendar date in the shop's zone (what shoppers and events
/// see) and, when the platform works in instants, the exact instant (so a new date keeps the
/// original time of day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextDate {
    pub date: Date,
    pub at: Option<Timestamp>,
}

/// An active subscription on one platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub platform: PlatformKind,
    /// The id writes take (Loop: its internal number, not the Shopify id).
    pub id: String,
    pub next: NextDate,
    /// Platform-specific handles a later write needs (Recharge's charge, Smartrr's customer).
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub extra: HashMap<String, String>,
}

/// The custom event types keyroute sends to Postscript (the contract's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    OrderSkipped,
    OrderDelayed,
    OrderUnskipped,
    KeywordHelp,
    OrderStatus,
    KeywordActionFailed,
}

named_enum!(EventKind, "event type", {
    OrderSkipped => "order_skipped",
    OrderDelayed => "order_delayed",
    OrderUnskipped => "order_unskipped",
    KeywordHelp => "keyword_help",
    OrderStatus => "order_status",
    KeywordActionFailed => "keyword_action_failed",
});

/// One custom event, exactly as `POST /api/v2/events` takes it. Fixed once per outcome and
/// stored, so every retry sends the same body with the same `external_id`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub subscriber_id: String,
    pub phone: String,
    /// UTC, `%Y-%m-%d %H:%M:%S.%f`.
    pub occurred_at: String,
    pub external_id: String,
    pub properties: Map<String, Value>,
}

/// Milliseconds since the epoch: the unit of every time column.
pub fn now_ms() -> i64 {
    Timestamp::now().as_millisecond()
}

/// Formats an instant the way Postscript wants `occurred_at`: UTC, microseconds, no offset.
pub fn occurred_at(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%d %H:%M:%S.%6f").to_string()
}

/// `date` plus `days` calendar days (in the shop's calendar: a civil date has no zone). A date
/// past the end of the calendar stays where it is.
pub fn add_days(date: Date, days: u32) -> Date {
    date.checked_add(jiff::Span::new().days(i64::from(days)))
        .unwrap_or(date)
}

/// Converts a platform's date or date-time into the shop's calendar date (platforms.md,
/// "Dates"): a date-time with an offset names an instant, converted to the shop's zone before
/// its date is taken; a `YYYY-MM-DD` is already the shop's calendar date and is never
/// shifted; a date-time without an offset is ambiguous, so its date is taken as written (read
/// as UTC, a local midnight would become the previous day west of UTC) and its time is taken
/// as the shop's wall-clock time.
pub fn parse_platform_date(s: &str, tz: &TimeZone) -> Option<NextDate> {
    let s = s.trim();
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Some(NextDate {
            date: ts.to_zoned(tz.clone()).date(),
            at: Some(ts),
        });
    }
    if s.len() == 10
        && let Ok(date) = s.parse::<Date>()
    {
        return Some(NextDate { date, at: None });
    }
    if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
        return Some(NextDate {
            date: dt.date(),
            at: dt.to_zoned(tz.clone()).ok().map(|z| z.timestamp()),
        });
    }
    None
}

/// An epoch-seconds next date in the shop's zone.
pub fn epoch_to_next(secs: i64, tz: &TimeZone) -> Option<NextDate> {
    let ts = Timestamp::from_second(secs).ok()?;
    Some(NextDate {
        date: ts.to_zoned(tz.clone()).date(),
        at: Some(ts),
    })
}

/// The instant for a new date: the old instant's time of day on the new date in the shop's
/// zone, or noon there when the old instant is unknown (noon survives any DST shift).
pub fn instant_for(date: Date, previous: &NextDate, tz: &TimeZone) -> Timestamp {
    let time = previous
        .at
        .map(|ts| ts.to_zoned(tz.clone()).time())
        .unwrap_or(jiff::civil::time(12, 0, 0, 0));
    date.to_datetime(time)
        .to_zoned(tz.clone())
        .map(|z| z.timestamp())
        .unwrap_or_else(|_| Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_errors() {
        for k in PlatformKind::ALL {
            assert_eq!(k.as_str().parse::<PlatformKind>(), Ok(*k));
        }
        for a in Action::ALL {
            assert_eq!(a.as_str().parse::<Action>(), Ok(*a));
        }
        for r in FailureReason::ALL {
            assert_eq!(r.as_str().parse::<FailureReason>(), Ok(*r));
        }
        for e in EventKind::ALL {
            assert_eq!(e.as_str().parse::<EventKind>(), Ok(*e));
        }
        let e = "hop".parse::<Action>().unwrap_err();
        assert_eq!(e.to_string(), "unknown action \"hop\"");
        assert!("Skio".parse::<PlatformKind>().is_err(), "names are exact");
    }

    #[test]
    fn serde_names_match_the_wire_names() {
        assert_eq!(
            serde_json::to_value(FailureReason::AlreadySkipped).unwrap(),
            "already_skipped"
        );
        assert_eq!(
            serde_json::to_value(EventKind::KeywordActionFailed).unwrap(),
            "keyword_action_failed"
        );
        assert!(serde_json::from_value::<Action>("hop".into()).is_err());
    }

    #[test]
    fn platform_dates_in_every_form() {
        let ny = TimeZone::get("America/New_York").unwrap();
        let d = parse_platform_date("2026-11-24T03:00:00+00:00", &ny).unwrap();
        assert_eq!(
            d.date.to_string(),
            "2026-11-23",
            "03:00 UTC is the evening before in NY"
        );
        assert_eq!(
            parse_platform_date("2026-11-24", &ny)
                .unwrap()
                .date
                .to_string(),
            "2026-11-24"
        );
        let d = parse_platform_date("2026-11-24T16:00:00", &ny).unwrap();
        assert_eq!(d.date.to_string(), "2026-11-24");
        assert!(parse_platform_date("soon", &ny).is_none());
    }

    #[test]
    fn a_local_midnight_without_offset_stays_on_its_day_west_of_utc() {
        let la = TimeZone::get("America/Los_Angeles").unwrap();
        let d = parse_platform_date("2027-03-13T00:00:00", &la).unwrap();
        assert_eq!(
            d.date,
            jiff::civil::date(2027, 3, 13),
            "not read as UTC and shifted"
        );
        assert_eq!(
            d.at.unwrap().to_string(),
            "2027-03-13T08:00:00Z",
            "the wall-clock time is the shop's"
        );
        let with_offset = parse_platform_date("2027-03-13T00:00:00-08:00", &la).unwrap();
        assert_eq!(with_offset.date, jiff::civil::date(2027, 3, 13));
        let utc_midnight = parse_platform_date("2027-03-13T00:00:00Z", &la).unwrap();
        assert_eq!(
            utc_midnight.date,
            jiff::civil::date(2027, 3, 12),
            "an instant is converted to the shop's zone"
        );
        let date_only = parse_platform_date("2027-03-13", &la).unwrap();
        assert_eq!(date_only.date, jiff::civil::date(2027, 3, 13));
        assert_eq!(date_only.at, None, "a date is never given an instant");
    }

    #[test]
    fn new_instant_keeps_time_of_day_across_dst() {
        let ny = TimeZone::get("America/New_York").unwrap();
        // 2026-10-30 09:00 EDT; DST ends 2026-11-01.
        let prev = epoch_to_next(1_793_365_200, &ny).unwrap();
        let later = instant_for(jiff::civil::date(2026, 11, 13), &prev, &ny);
        let z = later.to_zoned(ny.clone());
        assert_eq!(z.time(), prev.at.unwrap().to_zoned(ny).time());
    }

    #[test]
    fn occurred_at_has_microseconds_and_no_offset() {
        let ts: Timestamp = "2026-11-22T10:11:12.5Z".parse().unwrap();
        assert_eq!(occurred_at(ts), "2026-11-22 10:11:12.500000");
    }
}
