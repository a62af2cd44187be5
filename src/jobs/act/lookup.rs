//! Finding what the plan needs: who the shopper is, their active subscriptions on the shop's
//! platforms, what keyroute did for them before, and (for UNDO) where their last change
//! stands now. Reads only.

use crate::domain::{Shopper, Subscription, now_ms};
use crate::outbound::{OutboundError, with_call_timeout};
use crate::store::{History, PastChange};
use crate::telemetry::mask_email;

use super::plan::{self, Now, UndoCheck};
use super::{ActError, Attempt};

/// Who the shopper is, as far as we could learn.
pub(super) struct Identity {
    pub shopper: Shopper,
    /// Why Postscript's subscriber could not be read, when it could not.
    pub unreadable: Option<OutboundError>,
}

impl Attempt<'_> {
    /// The shopper as the webhook knows them, completed from the Postscript subscriber when a
    /// configured platform cannot search by phone. When Postscript cannot be read, the
    /// shopper is what the webhook said, with the reason: platforms that search by phone can
    /// still find them.
    pub(super) async fn identify(&self) -> Identity {
        let mut shopper = Shopper {
            phone: self.message.from_number.clone(),
            email: None,
            shopify_customer_id: self.message.shopify_customer_id.clone(),
        };
        if !self
            .shop
            .platforms
            .iter()
            .any(|p| p.needs_identity(&shopper))
        {
            return Identity {
                shopper,
                unreadable: None,
            };
        }
        match self
            .shop
            .subscribers
            .get(&self.shop.postscript, &self.message.subscriber_id)
            .await
        {
            Ok(Some(sub)) => {
                shopper.email = sub.email;
                if shopper.shopify_customer_id.is_none() {
                    shopper.shopify_customer_id = sub.shopify_customer_id;
                }
                tracing::debug!(
                    email = shopper.email.as_deref().map(mask_email).unwrap_or_default(),
                    shopify_customer = shopper.shopify_customer_id.is_some(),
                    "shopper identified through Postscript"
                );
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "Postscript subscriber unreadable");
                return Identity {
                    shopper,
                    unreadable: Some(e),
                };
            }
        }
        Identity {
            shopper,
            unreadable: None,
        }
    }

    /// Asks every configured platform at once, each call bounded by the shop's lookup timeout
    /// (waits for rate-limit permits are not: a throttled platform is not a down one).
    /// A platform that fails or is too slow does not hold up the others: if another platform
    /// holds the shopper, we act there; only when nothing was found and some platform could
    /// not answer is the attempt retried, so an outage never reads as "no subscription".
    /// A platform that refuses our credentials, when no other platform holds the shopper,
    /// ends as `platform_error`: the operator must fix it.
    pub(super) async fn find_subscriptions(
        &self,
        identity: &Identity,
    ) -> Result<Vec<Subscription>, ActError> {
        let timeout = self.shop.lookup_timeout;
        let shopper = &identity.shopper;
        let lookups = self.shop.platforms.iter().map(|p| {
            let p = p.clone();
            async move {
                let kind = p.kind();
                match &identity.unreadable {
                    // This platform needed what Postscript could not tell us.
                    Some(e) if p.needs_identity(shopper) => (kind, Err(e.clone())),
                    _ => (
                        kind,
                        with_call_timeout(timeout, p.find_active(shopper)).await,
                    ),
                }
            }
        });
        let mut subs = Vec::new();
        let mut unanswered = None;
        let mut misconfigured = None;
        for (kind, result) in futures::future::join_all(lookups).await {
            match result {
                Ok(found) => {
                    tracing::debug!(platform = %kind, count = found.len(), "lookup");
                    subs.extend(found);
                }
                Err(e @ OutboundError::Retryable { .. }) => {
                    tracing::warn!(platform = %kind, error = %e, "lookup failed");
                    unanswered.get_or_insert(e);
                }
                Err(
                    e @ OutboundError::Refused {
                        service: "postscript",
                        ..
                    },
                ) => {
                    // Postscript refused our subscriber read: our request is wrong.
                    misconfigured.get_or_insert(e);
                }
                Err(e @ OutboundError::Refused { .. }) => {
                    // The platform does not know this shopper (a 404 or 422 on a search).
                    tracing::info!(platform = %kind, error = %e, "lookup refused: not found here");
                }
                Err(e @ OutboundError::Operator { .. }) => {
                    tracing::error!(platform = %kind, error = %e, "lookup rejected our credentials");
                    misconfigured.get_or_insert(e);
                }
            }
        }
        if !subs.is_empty() {
            if let Some(e) = unanswered.as_ref().or(misconfigured.as_ref()) {
                tracing::warn!(error = %e, "acting on the platforms that answered");
            }
            return Ok(subs);
        }
        match (unanswered, misconfigured) {
            (Some(e), _) => Err(ActError::retry(e)),
            (None, Some(e)) => Err(ActError::read(e)),
            (None, None) => Ok(subs),
        }
    }

    /// HELP's subscriptions: `None` when they cannot be learned now and the attempt should not
    /// wait (the last attempt, or a final error), so HELP is still answered.
    pub(super) async fn help_subscriptions(&self) -> Result<Option<Vec<Subscription>>, ActError> {
        let found = self.find_subscriptions(&self.identify().await).await;
        match found {
            Ok(subs) => Ok(Some(subs)),
            Err(ActError::Retry { detail, .. }) if self.last_attempt => {
                tracing::warn!(error = %detail, "answering HELP without the next date");
                Ok(None)
            }
            Err(ActError::Final { detail, .. }) => {
                tracing::warn!(error = %detail, "answering HELP without the next date");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// What keyroute did for this shopper within the planner's windows, and its latest skip of
    /// each of `subs` (for any other message).
    pub(super) async fn history(&self, subs: &[Subscription]) -> Result<History, ActError> {
        let policy = &self.shop.policy;
        let window = plan::history_window(policy);
        let since = now_ms() - i64::try_from(window.as_millis()).unwrap_or(i64::MAX / 2);
        let changes = self
            .store
            .shopper_changes(&self.shop.id, &self.message.subscriber_id, since)
            .await?;
        let mut last_skips = Vec::new();
        if !policy.already_skipped_window.is_zero() {
            for sub in subs {
                if let Some(skip) = self
                    .store
                    .last_skip(
                        &self.shop.id,
                        sub.platform,
                        &sub.id,
                        since,
                        &self.message.id,
                    )
                    .await?
                {
                    last_skips.push(skip);
                }
            }
        }
        Ok(History {
            changes,
            last_skips,
        })
    }

    /// Reads the current state of each subscription UNDO would set back.
    pub(super) async fn undo_checks(
        &self,
        originals: Vec<&PastChange>,
    ) -> Result<Vec<UndoCheck>, ActError> {
        let mut checks = Vec::with_capacity(originals.len());
        for change in originals {
            let platform = change
                .outcome
                .target
                .as_ref()
                .and_then(|t| self.shop.platform(t.subscription.platform).map(|p| (t, p)));
            let now = match platform {
                None => Now::Unreachable,
                Some((target, platform)) => {
                    match platform
                        .get(&target.shopper, &target.subscription)
                        .await
                        .map_err(ActError::read)?
                    {
                        Some(cur) => Now::Is(cur),
                        None => Now::Gone,
                    }
                }
            };
            checks.push(UndoCheck {
                change: change.clone(),
                now,
            });
        }
        Ok(checks)
    }
}
