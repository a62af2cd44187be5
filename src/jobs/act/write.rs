//! The write protocol for one planned outcome: mark it `writing`, send it, learn the new date
//! (from the answer or by reading back), record it. A retry that finds a `writing` skip first
//! reads the subscription: if the next date already moved past the planned one, the skip
//! took effect and is recorded, never repeated. A set-date is safe to repeat.

use crate::domain::{Action, Intent, NextDate};
use crate::store::{Outcome, OutcomeState};

use super::{ActError, Attempt, confirm};

impl Attempt<'_> {
    /// Makes (or confirms) one outcome's platform write and records the result. A final
    /// failure comes back as [`ActError::Final`] for the caller to record.
    pub(super) async fn execute(&self, o: &mut Outcome, intent: &Intent) -> Result<(), ActError> {
        let target = o
            .target
            .clone()
            .ok_or_else(|| ActError::Fatal(format!("outcome {} has no target", o.seq)))?;
        let sub = &target.subscription;
        let Some(platform) = self.shop.platform(sub.platform) else {
            return Err(ActError::Final {
                reason: crate::domain::FailureReason::PlatformError,
                detail: format!("platform {} is no longer configured", sub.platform),
            });
        };
        if o.action == Action::Skip && o.state == OutcomeState::Writing {
            // A previous attempt sent this skip and never learned the answer. If the next date
            // already moved past the one the shopper was about to receive, it took effect.
            match platform
                .get(&target.shopper, sub)
                .await
                .map_err(ActError::read)?
            {
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
                        reason: crate::domain::FailureReason::NotAllowed,
                        detail: "subscription is no longer active".into(),
                    });
                }
            }
        }
        o.state = OutcomeState::Writing;
        self.record(o).await?;
        let written = match o.action {
            Action::Skip => platform.skip_next(sub).await,
            Action::Delay | Action::Undo => {
                let date = o
                    .target_date
                    .ok_or_else(|| ActError::Fatal("outcome without a target date".into()))?;
                platform.set_next_date(sub, date).await
            }
            Action::Help => {
                return Err(ActError::Fatal(format!(
                    "outcome {} plans a write for HELP",
                    o.seq
                )));
            }
        };
        let new_next = match written.map_err(ActError::write)? {
            Some(next) => next,
            None => match platform
                .get(&target.shopper, sub)
                .await
                .map_err(ActError::read)?
            {
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
        self.finish_write(o, intent, new_next).await
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
