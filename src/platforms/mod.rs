//! Subscription platforms behind one trait. Each adapter owns its wire format (paths, auth,
//! bodies, answer shapes) and nothing else: no database, no retries, no events. Sending,
//! permits and the classification of answers are [`crate::outbound`]'s; retrying is the
//! job's.
//!
//! Facts that `shared/platforms.md` marks unverified live in a `wire` module at the top of each
//! adapter so they can be corrected alone.

pub mod loop_;
pub mod prive;
pub mod recharge;
pub mod skio;
pub mod smartrr;

use std::sync::Arc;

use async_trait::async_trait;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::config::ShopConfig;
use crate::domain::{NextDate, PlatformKind, Shopper, Subscription};
use crate::outbound::{Answer, Outbound, OutboundError, Ready, quota};

/// What a write learned: the new next date when the platform's answer carries it. `None` means
/// "read it back" (the caller does, through [`Platform::get`]): an adapter never reports the
/// date it asked for as the date the platform holds.
pub type WriteResult = Result<Option<NextDate>, OutboundError>;

/// A write whose reads are done and whose rate-limit permit is taken: sending it waits for
/// nothing, so the caller can record it as in flight right before [`PreparedWrite::send`].
pub struct PreparedWrite {
    call: Ready,
    read: Box<dyn FnOnce(Answer) -> WriteResult + Send>,
}

impl PreparedWrite {
    /// `read` turns the answer into what the write learned.
    pub fn new(call: Ready, read: impl FnOnce(Answer) -> WriteResult + Send + 'static) -> Self {
        PreparedWrite {
            call,
            read: Box::new(read),
        }
    }

    pub async fn send(self) -> WriteResult {
        let answer = self.call.send().await?;
        (self.read)(answer)
    }
}

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
    async fn find_active(&self, shopper: &Shopper) -> Result<Vec<Subscription>, OutboundError>;

    /// Reads one subscription again (after a write whose answer lacks the date, and before
    /// repeating a skip whose outcome is unknown). `None` when it no longer exists or is inactive.
    async fn get(
        &self,
        shopper: &Shopper,
        sub: &Subscription,
    ) -> Result<Option<Subscription>, OutboundError>;

    /// Prepares the skip of the next order (any reads it needs, and its permit).
    async fn prepare_skip(&self, sub: &Subscription) -> Result<PreparedWrite, OutboundError>;

    /// Prepares moving the next order to `date` (in the shop's zone). Safe to repeat.
    async fn prepare_set_date(
        &self,
        sub: &Subscription,
        date: Date,
    ) -> Result<PreparedWrite, OutboundError>;

    /// Skips the next order (prepare and send).
    async fn skip_next(&self, sub: &Subscription) -> WriteResult {
        self.prepare_skip(sub).await?.send().await
    }

    /// Moves the next order to `date` (prepare and send).
    async fn set_next_date(&self, sub: &Subscription, date: Date) -> WriteResult {
        self.prepare_set_date(sub, date).await?.send().await
    }
}

/// Requests per second and burst per token: published limits where platforms.md has them,
/// safe guesses where it does not.
fn default_rate(kind: PlatformKind) -> (u32, Option<u32>) {
    match kind {
        PlatformKind::Loop => (loop_::wire::REQUESTS_PER_SECOND, None),
        // Unpublished; third parties cite 2,000/min. We stay well under it.
        PlatformKind::Skio => (20, None),
        // Unpublished: conservative.
        PlatformKind::Smartrr => (5, None),
        // Leaky buckets: capacity 50 (Prive) / 40 (Recharge), draining 2 per second.
        PlatformKind::Prive => (2, Some(50)),
        PlatformKind::Recharge => (2, Some(40)),
    }
}

/// Builds the adapters a shop has configured, each on its own account: the platform's
/// published limit, or the config's `requests_per_second` / `burst`.
pub fn build_for_shop(
    shop: &ShopConfig,
    outbound: &Outbound,
    cache_ttl: std::time::Duration,
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
            let (rate, burst) = default_rate(kind);
            let quota = quota(cfg.requests_per_second.unwrap_or(rate), cfg.burst.or(burst));
            let account = |auth| outbound.account(kind.as_str(), &base, auth, quota);
            let adapter: Arc<dyn Platform> = match kind {
                PlatformKind::Skio => Arc::new(skio::Skio::new(
                    account(skio::wire::auth(&cfg.api_token)),
                    tz.clone(),
                )),
                PlatformKind::Loop => Arc::new(loop_::Loop::new(
                    loop_::wire::limits(
                        account(loop_::wire::auth(&cfg.api_token)),
                        f64::from(cfg.requests_per_second.unwrap_or(rate))
                            / f64::from(loop_::wire::REQUESTS_PER_SECOND),
                    ),
                    tz.clone(),
                    cache_ttl,
                )),
                PlatformKind::Smartrr => Arc::new(smartrr::Smartrr::new(
                    account(smartrr::wire::auth(&cfg.api_token)),
                    tz.clone(),
                )),
                PlatformKind::Prive => Arc::new(prive::Prive::new(
                    account(prive::wire::auth(&cfg.api_token)),
                    tz.clone(),
                )),
                PlatformKind::Recharge => Arc::new(recharge::Recharge::new(
                    account(recharge::wire::auth(&cfg.api_token)),
                    tz.clone(),
                )),
            };
            adapter
        })
        .collect()
}
