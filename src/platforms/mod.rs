//! Subscription platforms behind one trait. Each adapter owns its wire format (paths, auth,
//! bodies, answer shapes) and nothing else: no database, no retries, no events. Retrying is
//! the worker's job; this layer only says whether an error is worth retrying.
//!
//! Facts that `shared/platforms.md` marks unverified live in a `wire` module at the top of each
//! adapter so they can be corrected alone.

pub mod http;
pub mod loop_;
pub mod prive;
pub mod recharge;
pub mod skio;
pub mod smartrr;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

pub use http::PlatformHttp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlatformKind {
    Loop,
    Skio,
    Smartrr,
    Prive,
    Recharge,
}

impl PlatformKind {
    pub const ALL: [PlatformKind; 5] = [
        PlatformKind::Loop,
        PlatformKind::Skio,
        PlatformKind::Smartrr,
        PlatformKind::Prive,
        PlatformKind::Recharge,
    ];

    /// The name used in events (`platform` property), config keys and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            PlatformKind::Loop => "loop",
            PlatformKind::Skio => "skio",
            PlatformKind::Smartrr => "smartrr",
            PlatformKind::Prive => "prive",
            PlatformKind::Recharge => "recharge",
        }
    }

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

/// Who sent the reply, as far as we know. Email and Shopify id come from the webhook or the
/// Postscript subscriber record, and are only fetched when a platform needs them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Subscription {
    pub platform: PlatformKind,
    /// The id writes take (Loop: its internal number, not the Shopify id).
    pub id: String,
    pub next: NextDate,
    /// Platform-specific handles a later write needs (Recharge's charge, Smartrr's customer).
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub extra: HashMap<String, String>,
}

/// Why a platform call did not do what we asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PlatformError {
    /// Worth another try later: network trouble, timeouts, 5xx, 429, unreadable answers.
    #[error("{platform} {op}: temporary failure: {detail}")]
    Retryable {
        platform: PlatformKind,
        op: &'static str,
        detail: String,
        retry_after: Option<Duration>,
    },
    /// The platform understood and said no (a 4xx, or `ok: false`): tell the shopper.
    #[error("{platform} {op}: refused: {detail}")]
    Refused {
        platform: PlatformKind,
        op: &'static str,
        detail: String,
    },
    /// Our credentials or request are wrong (401/403/404 on a path we built): an operator must act.
    #[error("{platform} {op}: rejected: {detail}")]
    Rejected {
        platform: PlatformKind,
        op: &'static str,
        detail: String,
    },
}

impl PlatformError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, PlatformError::Retryable { .. })
    }
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PlatformError::Retryable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
    pub fn platform(&self) -> PlatformKind {
        match self {
            PlatformError::Retryable { platform, .. }
            | PlatformError::Refused { platform, .. }
            | PlatformError::Rejected { platform, .. } => *platform,
        }
    }
}

impl std::fmt::Display for PlatformKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a write learned: the new next date when the platform's answer carries it. `None` means
/// "read it back" (the caller does, through [`Platform::get`]).
pub type WriteResult = Result<Option<NextDate>, PlatformError>;

/// One subscription platform, bound to one shop (its token, base URL and time zone).
#[async_trait]
pub trait Platform: Send + Sync {
    fn kind(&self) -> PlatformKind;

    /// Whether this platform can find the shopper with what we have, or needs the email /
    /// Shopify id from the Postscript subscriber first.
    fn needs_identity(&self, shopper: &Shopper) -> bool {
        shopper.email.is_none() && shopper.shopify_customer_id.is_none()
    }

    /// The shopper's active subscriptions with their next dates.
    async fn find_active(&self, shopper: &Shopper) -> Result<Vec<Subscription>, PlatformError>;

    /// Reads one subscription again (after a write whose answer lacks the date, and before
    /// repeating a skip whose outcome is unknown). `None` when it no longer exists or is inactive.
    async fn get(
        &self,
        shopper: &Shopper,
        sub: &Subscription,
    ) -> Result<Option<Subscription>, PlatformError>;

    /// Skips the next order.
    async fn skip_next(&self, sub: &Subscription) -> WriteResult;

    /// Moves the next order to `date` (in the shop's zone). Safe to repeat.
    async fn set_next_date(&self, sub: &Subscription, date: Date) -> WriteResult;
}

/// Builds the adapters a shop has configured.
pub fn build_for_shop(
    shop: &crate::config::ShopConfig,
    http: &PlatformHttp,
) -> Vec<Arc<dyn Platform>> {
    let tz = TimeZone::get(&shop.timezone).unwrap_or(TimeZone::UTC);
    shop.platforms
        .iter()
        .map(|(kind, cfg)| {
            let base = cfg
                .base_url
                .as_ref()
                .map(|u| u.as_str().trim_end_matches('/').to_owned())
                .unwrap_or_else(|| kind.default_base_url().to_owned());
            let adapter: Arc<dyn Platform> = match kind {
                PlatformKind::Skio => Arc::new(skio::Skio::new(
                    http.for_platform(kind, &base, skio::wire::auth(&cfg.api_token), cfg),
                    tz.clone(),
                )),
                PlatformKind::Loop => Arc::new(loop_::Loop::new(
                    http.for_platform(kind, &base, loop_::wire::auth(&cfg.api_token), cfg)
                        .with_op_limit(
                            &["get", "set_date"],
                            "loop:per-subscription",
                            loop_::wire::per_subscription_quota(),
                        ),
                    tz.clone(),
                )),
                PlatformKind::Smartrr => Arc::new(smartrr::Smartrr::new(
                    http.for_platform(kind, &base, smartrr::wire::auth(&cfg.api_token), cfg),
                    tz.clone(),
                )),
                PlatformKind::Prive => Arc::new(prive::Prive::new(
                    http.for_platform(kind, &base, prive::wire::auth(&cfg.api_token), cfg),
                    tz.clone(),
                )),
                PlatformKind::Recharge => Arc::new(recharge::Recharge::new(
                    http.for_platform(kind, &base, recharge::wire::auth(&cfg.api_token), cfg),
                    tz.clone(),
                )),
            };
            adapter
        })
        .collect()
}

/// Converts a platform's date or date-time into the shop's calendar date. Accepts
/// `YYYY-MM-DD`, RFC 3339 with an offset, and offset-less date-times (taken as UTC).
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
        let ts = dt.to_zoned(TimeZone::UTC).ok()?.timestamp();
        return Some(NextDate {
            date: ts.to_zoned(tz.clone()).date(),
            at: Some(ts),
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
    fn new_instant_keeps_time_of_day_across_dst() {
        let ny = TimeZone::get("America/New_York").unwrap();
        // 2026-10-30 09:00 EDT; DST ends 2026-11-01.
        let prev = epoch_to_next(1_793_365_200, &ny).unwrap();
        let later = instant_for(jiff::civil::date(2026, 11, 13), &prev, &ny);
        let z = later.to_zoned(ny.clone());
        assert_eq!(z.time(), prev.at.unwrap().to_zoned(ny).time());
    }
}
