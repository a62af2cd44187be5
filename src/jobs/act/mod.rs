//! Carrying out one message's intent, in recorded steps:
//! [`lookup`] finds the shopper and what keyroute did before, [`plan`] decides (pure),
//! [`write`] makes each platform write, [`confirm`] sends each Postscript event.
//!
//! Crash safety comes from the records. The plan is stored before any write; each write is
//! marked `writing` before it is sent; each event body is fixed before it is sent, with an
//! `external_id` stable per message and outcome. A retry resumes from the records: it never
//! re-plans, checks whether a `writing` skip already took effect before skipping again, and
//! re-sends only unsent events. Nothing here touches the job queue; [`crate::jobs`] decides
//! what a failure means for the job.

mod confirm;
mod lookup;
pub mod plan;
#[cfg(test)]
mod tests;
mod write;

use std::time::Duration;

use crate::domain::{Action, FailureReason, Intent, now_ms};
use crate::metrics::Metrics;
use crate::outbound::OutboundError;
use crate::shop::Shop;
use crate::store::{EventState, JobGuard, Outcome, OutcomeState, Store, StoreError, StoredMessage};

use plan::Step;

/// Why an attempt stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ActError {
    /// Try again later (platform or Postscript temporarily unavailable, database hiccup).
    #[error("{detail}")]
    Retry {
        detail: String,
        retry_after: Option<Duration>,
    },
    /// It cannot succeed, and the shopper is told why (a refusal, bad credentials).
    #[error("{detail}")]
    Final {
        reason: FailureReason,
        detail: String,
    },
    /// The job's own records are broken or gone: nothing sensible can be sent.
    #[error("{0}")]
    Fatal(String),
    /// Someone else owns the job now; record nothing more.
    #[error("lease lost")]
    LeaseLost,
}

impl ActError {
    /// A failed write: a refusal is the shopper's answer (`not_allowed`), credentials the
    /// operator's (`platform_error`).
    fn write(e: OutboundError) -> Self {
        let reason = match &e {
            OutboundError::Retryable { .. } => return ActError::retry(e),
            OutboundError::Refused { .. } => FailureReason::NotAllowed,
            OutboundError::Operator { .. } => FailureReason::PlatformError,
        };
        tracing::warn!(error = %e, "platform refused the write");
        ActError::Final {
            reason,
            detail: e.to_string(),
        }
    }

    /// A failed read: any final answer to a read means our request or credentials are wrong.
    fn read(e: OutboundError) -> Self {
        if e.is_retryable() {
            return ActError::retry(e);
        }
        tracing::error!(error = %e, "read refused");
        ActError::Final {
            reason: FailureReason::PlatformError,
            detail: e.to_string(),
        }
    }

    fn retry(e: OutboundError) -> Self {
        ActError::Retry {
            retry_after: e.retry_after(),
            detail: e.to_string(),
        }
    }
}

impl From<StoreError> for ActError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::LeaseLost => ActError::LeaseLost,
            StoreError::Corrupt { .. } => ActError::Fatal(e.to_string()),
            StoreError::Db(_) | StoreError::Setup(_) => ActError::Retry {
                detail: e.to_string(),
                retry_after: None,
            },
        }
    }
}

/// How an attempt ended, when it ended without a retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    /// Every outcome is final and told (done, or refused for the shopper's reasons).
    Done,
    /// Some outcome failed for good on our side (`platform_error`): the shopper was told,
    /// and the job is kept as discarded for an operator to look at and retry.
    GaveUp(String),
}

/// One attempt at one message's job.
pub struct Attempt<'a> {
    pub store: &'a Store,
    pub shop: &'a Shop,
    pub message: &'a StoredMessage,
    pub guard: &'a JobGuard,
    pub lease_ms: i64,
    /// On the last attempt, retryable failures become `platform_error` outcomes instead.
    pub last_attempt: bool,
    /// The job kept stopping its worker: tell the shopper it failed, call no platform.
    pub abandon: bool,
    pub metrics: &'a Metrics,
}

impl Attempt<'_> {
    /// Runs the job to its end or to the first failure worth retrying.
    pub async fn run(&self) -> Result<Finished, ActError> {
        let Some(intent) = self.message.intent()? else {
            return Ok(Finished::Done); // an ignored message never gets a job, but be safe
        };
        let mut outcomes = self.store.outcomes(&self.message.id).await?;
        if self.abandon {
            return self.abandon(&intent, outcomes).await;
        }
        if outcomes.is_empty() {
            let steps = match self.decide(&intent).await {
                Ok(steps) => steps,
                Err(e) => vec![Step::Fail(self.give_up(intent.action, e)?)],
            };
            outcomes = steps
                .into_iter()
                .enumerate()
                .map(|(seq, step)| confirm::outcome_of(self.message, &intent, seq as i64, step))
                .collect();
            self.store
                .record_outcomes(self.guard, self.lease_ms, &outcomes)
                .await?;
        }
        for o in outcomes.iter_mut() {
            if matches!(o.state, OutcomeState::Planned | OutcomeState::Writing)
                && let Err(e) = self.execute(o, &intent).await
            {
                let giving_up = matches!(e, ActError::Retry { .. }) && self.last_attempt;
                let failure = self.give_up(o.action, e)?;
                // Before telling the shopper it failed, check whether a write in flight
                // landed after all.
                if giving_up && o.state == OutcomeState::Writing && self.landed(o, &intent).await? {
                    continue;
                }
                self.fail(o, &intent, failure.reason, &failure.detail)
                    .await?;
            }
        }
        for o in outcomes.iter_mut() {
            if o.event_state == EventState::Pending {
                self.send_event(o).await?;
            }
        }
        Ok(
            match outcomes
                .iter()
                .find(|o| o.reason == Some(FailureReason::PlatformError))
            {
                Some(o) => Finished::GaveUp(o.detail.clone().unwrap_or_default()),
                None => Finished::Done,
            },
        )
    }

    /// Gives the job up without a platform call: every outcome not yet final fails as
    /// `platform_error` (a write in flight may have landed; the operator's retry reads it
    /// back), and the shopper is told.
    async fn abandon(
        &self,
        intent: &Intent,
        mut outcomes: Vec<Outcome>,
    ) -> Result<Finished, ActError> {
        let detail = "the job stopped its worker on every attempt; given up without calling \
                      the platform";
        tracing::error!("job keeps stopping its worker; giving it up and telling the shopper");
        if outcomes.is_empty() {
            let failure = plan::Failure {
                action: intent.action,
                reason: FailureReason::PlatformError,
                detail: detail.to_owned(),
                next_date: None,
                platform: None,
                subscription_id: None,
                undoes: None,
            };
            outcomes = vec![confirm::outcome_of(
                self.message,
                intent,
                0,
                Step::Fail(failure),
            )];
            self.store
                .record_outcomes(self.guard, self.lease_ms, &outcomes)
                .await?;
        }
        for o in outcomes.iter_mut() {
            if matches!(o.state, OutcomeState::Planned | OutcomeState::Writing) {
                self.fail(o, intent, FailureReason::PlatformError, detail)
                    .await?;
            }
        }
        for o in outcomes.iter_mut() {
            if o.event_state == EventState::Pending {
                self.send_event(o).await?;
            }
        }
        Ok(Finished::GaveUp(detail.to_owned()))
    }

    /// Looks up what the plan needs and plans. Reads only: nothing is written anywhere until
    /// the plan is stored.
    async fn decide(&self, intent: &Intent) -> Result<Vec<Step>, ActError> {
        let policy = &self.shop.policy;
        match intent.action {
            Action::Help => Ok(plan::plan_help(self.help_subscriptions().await?.as_deref())),
            Action::Undo => {
                let history = self.history(&[]).await?;
                let originals = plan::undo_originals(policy, now_ms(), &history);
                let checks = self.undo_checks(originals).await?;
                Ok(plan::plan_undo(checks))
            }
            Action::Status => {
                let identity = self.identify().await;
                let subs = self.find_subscriptions(&identity).await?;
                Ok(plan::plan_status(policy, subs))
            }
            Action::Skip | Action::Delay => {
                let identity = self.identify().await;
                let subs = self.find_subscriptions(&identity).await?;
                let history = self.history(&subs).await?;
                Ok(plan::plan_change(
                    intent,
                    policy,
                    now_ms(),
                    &identity.shopper,
                    subs,
                    &history,
                ))
            }
        }
    }

    /// What a failure means for an outcome: a final failure to tell the shopper, or (when
    /// attempts remain) a retry of the whole attempt.
    fn give_up(&self, action: Action, e: ActError) -> Result<plan::Failure, ActError> {
        let (reason, detail) = match e {
            ActError::Final { reason, detail } => (reason, detail),
            ActError::Retry { detail, .. } if self.last_attempt => {
                (FailureReason::PlatformError, detail)
            }
            other => return Err(other),
        };
        Ok(plan::Failure {
            action,
            reason,
            detail,
            next_date: None,
            platform: None,
            subscription_id: None,
            undoes: None,
        })
    }

    /// Stores one outcome's progress, under the job's lease.
    async fn record(&self, o: &Outcome) -> Result<(), ActError> {
        Ok(self
            .store
            .record_outcomes(self.guard, self.lease_ms, std::slice::from_ref(o))
            .await?)
    }

    /// Turns a planned write into a failure (with its `keyword_action_failed` event) that
    /// still says which subscription it was about, and records it.
    async fn fail(
        &self,
        o: &mut Outcome,
        intent: &Intent,
        reason: FailureReason,
        detail: &str,
    ) -> Result<(), ActError> {
        confirm::into_failure(o, self.message, intent, reason, detail);
        self.record(o).await
    }
}
