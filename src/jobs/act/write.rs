//! The write protocol for one planned outcome: prepare the write (its reads, and its
//! rate-limit permit), mark the outcome `writing`, send, learn the new date (from the answer,
//! or by reading back), record it. Nothing waits between "recorded as writing" and "sent".
//! A retry that finds a `writing` skip first reads the subscription: if the next date already
//! moved past the planned one, the skip took effect and is recorded, never repeated. A
//! set-date is safe to repeat.

use crate::domain::{Action, FailureReason, Intent, NextDate, Subscription};
use crate::platforms::Platform;
use crate::store::{Outcome, OutcomeState, Target};

use super::{ActError, Attempt, confirm};

impl Attempt<'_> {
    /// Makes (or confirms) one outcome's platform write and records the result. A final
    /// failure comes back as [`ActError::Final`] for the caller to record.
    pub(super) async fn execute(&self, o: &mut Outcome, intent: &Intent) -> Result<(), ActError> {
        let (target, platform) = self.target_of(o)?;
        let sub = &target.subscription;
        if o.action == Action::Skip && o.state == OutcomeState::Writing {
            // A previous attempt sent this skip and never learned the answer. If the next date
            // already moved past the one the shopper was about to receive, it took effect.
            match self.current(platform, &target).await? {
                Some(current) if current.next.date > sub.next.date => {
                    tracing::info!(
                        subscription = %sub.id,
                        platform = %sub.platform,
                        "skip from an earlier attempt had taken effect; not repeating it"
                    );
                    return self.finish_write(o, intent, current.next).await;
                }
                Some(_) => {}
                None => {
                    return Err(ActError::Final {
                        reason: FailureReason::NotAllowed,
                        detail: "subscription is no longer active".into(),
                    });
                }
            }
        }
        let prepared = match o.action {
            Action::Skip => platform.prepare_skip(sub).await,
            Action::Delay | Action::Undo => {
                let date = o
                    .target_date
                    .ok_or_else(|| ActError::Fatal("outcome without a target date".into()))?;
                platform.prepare_set_date(sub, date).await
            }
            Action::Help | Action::Status => {
                return Err(ActError::Fatal(format!(
                    "outcome {} plans a write for {}",
                    o.seq, o.action
                )));
            }
        }
        .map_err(ActError::read)?;
        o.state = OutcomeState::Writing;
        self.record(o).await?;
        let written = prepared.send().await.map_err(ActError::write)?;
        let new_next = match written {
            Some(next) => next,
            None => match self.current(platform, &target).await? {
                Some(current) => current.next,
                None => {
                    return Err(ActError::Retry {
                        detail: format!(
                            "{} {}: not readable after the write",
                            sub.platform, sub.id
                        ),
                        retry_after: None,
                    });
                }
            },
        };
        if o.action == Action::Skip && new_next.date <= sub.next.date {
            // The platform accepted the skip but still shows the same order. Never tell the
            // shopper an unchanged date is the new one, and never skip again on a retry (the
            // skip may have taken effect in a way the date does not show): an operator looks.
            return Err(ActError::Final {
                reason: FailureReason::PlatformError,
                detail: format!(
                    "{} {}: the skip was accepted but the next date is still {}",
                    sub.platform, sub.id, new_next.date
                ),
            });
        }
        self.finish_write(o, intent, new_next).await
    }

    /// On the last attempt, before a write in flight is reported as failed: did it land? A
    /// skip landed when the next date moved past the planned one; a set-date when the next
    /// date is the one asked for. If so, the shopper gets the success event.
    pub(super) async fn landed(&self, o: &mut Outcome, intent: &Intent) -> Result<bool, ActError> {
        let Ok((target, platform)) = self.target_of(o) else {
            return Ok(false);
        };
        let current = match self.current(platform, &target).await {
            Ok(Some(current)) => current,
            Ok(None) | Err(ActError::Retry { .. } | ActError::Final { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        // A set-date landed when the date moved to the one asked for, or to a day beside it:
        // a platform may hold the day before or after (Skio keeps its UTC time of day).
        let took = match o.action {
            Action::Skip => current.next.date > target.subscription.next.date,
            _ => o.target_date.is_some_and(|want| {
                current.next.date == want
                    || current.next.date != target.subscription.next.date
                        && (current.next.date - want).get_days().abs() <= 1
            }),
        };
        if !took {
            return Ok(false);
        }
        tracing::info!(subscription = %target.subscription.id, "the write in flight had landed");
        self.finish_write(o, intent, current.next).await?;
        Ok(true)
    }

    fn target_of(&self, o: &Outcome) -> Result<(Target, &dyn Platform), ActError> {
        let target = o
            .target
            .clone()
            .ok_or_else(|| ActError::Fatal(format!("outcome {} has no target", o.seq)))?;
        let platform = self
            .shop
            .platform(target.subscription.platform)
            .ok_or_else(|| ActError::Final {
                reason: FailureReason::PlatformError,
                detail: format!(
                    "platform {} is no longer configured",
                    target.subscription.platform
                ),
            })?;
        Ok((target, platform.as_ref()))
    }

    /// The subscription as the platform has it now.
    async fn current(
        &self,
        platform: &dyn Platform,
        target: &Target,
    ) -> Result<Option<Subscription>, ActError> {
        platform
            .get(&target.shopper, &target.subscription)
            .await
            .map_err(ActError::read)
    }

    /// Records a write as done, with the event that confirms it.
    async fn finish_write(
        &self,
        o: &mut Outcome,
        intent: &Intent,
        next: NextDate,
    ) -> Result<(), ActError> {
        confirm::into_done(o, self.message, intent, next);
        tracing::info!(
            event = o.event.as_ref().map(|e| e.kind.as_str()).unwrap_or(""),
            platform = o.platform.map(|p| p.as_str()).unwrap_or(""),
            subscription = o.subscription_id.as_deref().unwrap_or(""),
            new_date = %next.date,
            "write done"
        );
        self.record(o).await
    }
}
