//! Carrying out one message's intent: find the shopper's subscriptions, choose the targets,
//! make the platform writes, learn the new dates, send the Postscript events.
//!
//! Crash safety comes from doing it in recorded steps. The plan (which subscriptions, from
//! which dates) is stored before any write; each write is marked `writing` before it is sent;
//! each event body is fixed before it is sent, with an `external_id` stable per message and
//! outcome. A retry resumes from the records: it never re-plans, checks whether a `writing`
//! skip already took effect before skipping again, and re-sends only unsent events.
//! Nothing here talks to the job queue; [`crate::worker`] decides what a failure means.

use std::sync::Arc;
use std::time::Duration;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::config::Multiple;
use crate::keywords::{Action, RuleSet};
use crate::platforms::{NextDate, Platform, PlatformError, PlatformKind, Shopper, Subscription};
use crate::postscript::{Event, PostscriptAccount, PostscriptError, SubscriberCache, occurred_at};
use crate::store::outcomes::RecordError;
use crate::store::{EventState, JobGuard, Outcome, OutcomeState, Store, StoredMessage};
use crate::telemetry::mask_email;

/// Everything keyroute knows about one configured shop, built once at start-up.
pub struct Shop {
    pub id: String,
    pub tz: TimeZone,
    pub multiple: Multiple,
    pub webhook_token: SecretString,
    pub postscript: PostscriptAccount,
    pub subscribers: SubscriberCache,
    pub platforms: Vec<Arc<dyn Platform>>,
    pub rules: Arc<RuleSet>,
    /// See `ShopConfig::already_skipped_window_hours`; zero turns the check off.
    pub already_skipped_window: Duration,
    /// How far back UNDO looks for the shopper's last skip or delay.
    pub undo_window: Duration,
    /// How long the platforms together may take to find the shopper.
    pub lookup_timeout: Duration,
}

impl Shop {
    fn platform(&self, kind: PlatformKind) -> Option<&Arc<dyn Platform>> {
        self.platforms.iter().find(|p| p.kind() == kind)
    }
}

/// Reasons the contract names for `keyword_action_failed`.
pub mod reason {
    pub const NO_SUBSCRIPTION: &str = "no_subscription";
    pub const ALREADY_SKIPPED: &str = "already_skipped";
    pub const NOT_ALLOWED: &str = "not_allowed";
    pub const PLATFORM_ERROR: &str = "platform_error";
}

/// Why an attempt stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ActError {
    /// Try again later (platform or Postscript temporarily unavailable, database hiccup).
    #[error("{detail}")]
    Retry {
        detail: String,
        retry_after: Option<Duration>,
    },
    /// The job cannot ever succeed (its message or shop is gone).
    #[error("{0}")]
    Fatal(String),
    /// Someone else owns the job now; record nothing more.
    #[error("lease lost")]
    LeaseLost,
}

impl From<RecordError> for ActError {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::LeaseLost(_) => ActError::LeaseLost,
            RecordError::Db(e) => ActError::Retry {
                detail: format!("database: {e}"),
                retry_after: None,
            },
        }
    }
}

impl From<sqlx::Error> for ActError {
    fn from(e: sqlx::Error) -> Self {
        ActError::Retry {
            detail: format!("database: {e}"),
            retry_after: None,
        }
    }
}

impl From<PlatformError> for ActError {
    fn from(e: PlatformError) -> Self {
        ActError::Retry {
            retry_after: e.retry_after(),
            detail: e.to_string(),
        }
    }
}

impl From<PostscriptError> for ActError {
    fn from(e: PostscriptError) -> Self {
        let retry_after = match &e {
            PostscriptError::Retryable { retry_after, .. } => *retry_after,
            PostscriptError::Rejected { .. } => None,
        };
        ActError::Retry {
            detail: e.to_string(),
            retry_after,
        }
    }
}

/// The stored interpretation's fields the worker needs.
#[derive(Debug, Clone, Deserialize)]
struct StoredIntent {
    action: Option<Action>,
    #[serde(default)]
    days: Option<u32>,
    #[serde(default)]
    keyword: Option<String>,
    #[serde(default)]
    max_days: Option<u32>,
}

/// What an outcome row remembers about its target.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Context {
    subscription: Subscription,
    shopper: Shopper,
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
}

impl Attempt<'_> {
    /// Runs the job to its end or to the first failure worth retrying.
    pub async fn run(&self) -> Result<(), ActError> {
        let intent: StoredIntent = serde_json::from_str(&self.message.interpretation)
            .map_err(|e| ActError::Fatal(format!("stored interpretation unreadable: {e}")))?;
        let Some(action) = intent.action else {
            return Ok(()); // nothing to do: an ignored message never gets a job, but be safe
        };
        let mut outcomes = self.store.outcomes(&self.message.id).await?;
        if outcomes.is_empty() {
            outcomes = match self.plan(action, &intent).await {
                Ok(o) => o,
                Err(ActError::Retry { detail, .. }) if self.last_attempt => {
                    vec![self.failure(0, action, &intent, None, reason::PLATFORM_ERROR, &detail)]
                }
                Err(e) => return Err(e),
            };
            self.store
                .record_outcomes(self.guard, self.lease_ms, &outcomes)
                .await?;
        }
        for o in outcomes.iter_mut() {
            if matches!(o.state, OutcomeState::Planned | OutcomeState::Writing) {
                match self.execute(o, &intent).await {
                    Ok(()) => {}
                    Err(ActError::Retry { detail, .. }) if self.last_attempt => {
                        self.fail(o, &intent, reason::PLATFORM_ERROR, &detail)
                            .await?;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        for o in outcomes.iter_mut() {
            if o.event_state == EventState::Pending {
                self.send_event(o).await?;
            }
        }
        Ok(())
    }

    /// Finds the subscriptions and decides what to do to each. Reads only: nothing is written
    /// anywhere until the plan is stored.
    async fn plan(&self, action: Action, intent: &StoredIntent) -> Result<Vec<Outcome>, ActError> {
        if action == Action::Undo {
            return self.plan_undo(intent).await;
        }
        if action == Action::Help {
            return self.plan_help(intent).await;
        }
        let shopper = self.identify().await?;
        let subs = self.find_subscriptions(&shopper).await?;
        let earliest = subs.iter().map(|s| s.next.date).min();
        if subs.is_empty() {
            return Ok(vec![self.failure(
                0,
                action,
                intent,
                None,
                reason::NO_SUBSCRIPTION,
                "no active subscription on any configured platform",
            )]);
        }
        if action == Action::Delay
            && let (Some(days), Some(max)) = (intent.days, intent.max_days)
            && days > max
        {
            let prev = earliest.map(|d| d.to_string());
            return Ok(vec![self.failure(
                0,
                action,
                intent,
                prev,
                reason::NOT_ALLOWED,
                &format!("delay of {days} days exceeds the rule's maximum of {max}"),
            )]);
        }
        let double_text = action == Action::Skip && self.recent_skip_in_effect(&subs).await?;
        let targets = choose_targets(subs, self.shop.multiple);
        let mut out = Vec::with_capacity(targets.len());
        for (seq, sub) in targets.into_iter().enumerate() {
            if action == Action::Skip && (double_text || self.already_skipped(&sub).await?) {
                let next = Some(sub.next.date.to_string());
                let mut o = self.failure(
                    seq as i64,
                    action,
                    intent,
                    next,
                    reason::ALREADY_SKIPPED,
                    "this order was already skipped by an earlier SKIP",
                );
                o.platform = Some(sub.platform.as_str().to_owned());
                o.subscription_id = Some(sub.id.clone());
                out.push(o);
                continue;
            }
            let mut o = self.blank(seq as i64, action);
            o.platform = Some(sub.platform.as_str().to_owned());
            o.subscription_id = Some(sub.id.clone());
            o.previous_date = Some(sub.next.date.to_string());
            o.previous_at = sub.next.at.map(|t| t.as_millisecond());
            if action == Action::Delay {
                let days = intent.days.unwrap_or(0);
                o.target_date = Some(add_days(sub.next.date, days).to_string());
            }
            o.context = Some(
                serde_json::to_string(&Context {
                    subscription: sub,
                    shopper: shopper.clone(),
                })
                .expect("context serialises"),
            );
            out.push(o);
        }
        Ok(out)
    }

    /// HELP can always be answered: `keyword_help`, with the next delivery date when it can be
    /// learned (a shopper with no subscription, or platforms still down on the last attempt,
    /// get the help text without a date).
    async fn plan_help(&self, intent: &StoredIntent) -> Result<Vec<Outcome>, ActError> {
        let found = async {
            let shopper = self.identify().await?;
            self.find_subscriptions(&shopper).await
        }
        .await;
        let subs = match found {
            Ok(subs) => subs,
            Err(ActError::Retry { detail, .. }) if self.last_attempt => {
                tracing::warn!(error = %detail, "answering HELP without the next date");
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        let mut o = self.blank(0, Action::Help);
        o.state = OutcomeState::Done;
        let mut props = Map::new();
        if let Some(d) = subs.iter().map(|s| s.next.date).min() {
            props.insert("next_delivery_date".into(), json!(d.to_string()));
        }
        props.insert("keyword".into(), json!(keyword(intent)));
        self.set_event(&mut o, "keyword_help", props);
        Ok(vec![o])
    }

    /// UNDO: set each subscription of the shopper's last skip or delay (within the window)
    /// back to the date it had before, provided its next date is still the one keyroute set.
    /// Anything else (nothing to undo, the date changed since) is `not_allowed`.
    async fn plan_undo(&self, intent: &StoredIntent) -> Result<Vec<Outcome>, ActError> {
        let since = crate::store::now_ms()
            - i64::try_from(self.shop.undo_window.as_millis()).unwrap_or(i64::MAX / 2);
        let originals = self
            .store
            .undoable(&self.shop.id, &self.message.subscriber_id, since)
            .await?;
        if originals.is_empty() {
            return Ok(vec![self.failure(
                0,
                Action::Undo,
                intent,
                None,
                reason::NOT_ALLOWED,
                "nothing to undo",
            )]);
        }
        let mut out = Vec::with_capacity(originals.len());
        for (seq, orig) in originals.into_iter().enumerate() {
            let seq = seq as i64;
            let ctx: Option<Context> = orig
                .context
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok());
            let (Some(ctx), Some(platform)) = (
                ctx.clone(),
                ctx.as_ref()
                    .and_then(|c| self.shop.platform(c.subscription.platform)),
            ) else {
                out.push(self.failure(
                    seq,
                    Action::Undo,
                    intent,
                    orig.new_date.clone(),
                    reason::NOT_ALLOWED,
                    "the original change cannot be reversed here",
                ));
                continue;
            };
            let current = platform.get(&ctx.shopper, &ctx.subscription).await?;
            let mut o = match current {
                Some(cur) if Some(cur.next.date.to_string()) == orig.new_date => {
                    let mut o = self.blank(seq, Action::Undo);
                    o.previous_date = Some(cur.next.date.to_string());
                    o.previous_at = cur.next.at.map(|t| t.as_millisecond());
                    o.target_date = orig.previous_date.clone();
                    o.context = Some(
                        serde_json::to_string(&Context {
                            subscription: cur,
                            shopper: ctx.shopper,
                        })
                        .expect("context serialises"),
                    );
                    o
                }
                Some(cur) => self.failure(
                    seq,
                    Action::Undo,
                    intent,
                    Some(cur.next.date.to_string()),
                    reason::NOT_ALLOWED,
                    "the order date changed since keyroute set it",
                ),
                None => self.failure(
                    seq,
                    Action::Undo,
                    intent,
                    None,
                    reason::NOT_ALLOWED,
                    "the subscription is no longer active",
                ),
            };
            o.platform = orig.platform.clone();
            o.subscription_id = orig.subscription_id.clone();
            o.undoes = Some(format!("{}:{}", orig.message_id, orig.seq));
            out.push(o);
        }
        Ok(out)
    }

    /// The shopper as the webhook knows them, completed from the Postscript subscriber when a
    /// configured platform cannot search by phone.
    async fn identify(&self) -> Result<Shopper, ActError> {
        let mut shopper = Shopper {
            phone: self.message.from_number.clone(),
            email: None,
            shopify_customer_id: self.message.shopify_customer_id.clone(),
        };
        if self
            .shop
            .platforms
            .iter()
            .any(|p| p.needs_identity(&shopper))
            && let Some(sub) = self
                .shop
                .subscribers
                .get(&self.shop.postscript, &self.message.subscriber_id)
                .await?
        {
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
        Ok(shopper)
    }

    /// Asks every configured platform at once, each bounded by the shop's lookup timeout.
    /// A platform that fails or is too slow does not hold up the others: if another platform
    /// holds the shopper, we act there; only when nothing was found and some platform could
    /// not answer is the attempt retried, so an outage never reads as "no subscription".
    async fn find_subscriptions(&self, shopper: &Shopper) -> Result<Vec<Subscription>, ActError> {
        let timeout = self.shop.lookup_timeout;
        let lookups = self.shop.platforms.iter().map(|p| {
            let p = p.clone();
            async move {
                let kind = p.kind();
                let result = match tokio::time::timeout(timeout, p.find_active(shopper)).await {
                    Ok(r) => r,
                    Err(_) => Err(PlatformError::Retryable {
                        platform: kind,
                        op: "lookup",
                        detail: format!("no answer within {} ms", timeout.as_millis()),
                        retry_after: None,
                    }),
                };
                (kind, result)
            }
        });
        let mut subs = Vec::new();
        let mut unanswered = None;
        for (kind, result) in futures::future::join_all(lookups).await {
            match result {
                Ok(found) => {
                    tracing::debug!(platform = %kind, count = found.len(), "lookup");
                    subs.extend(found);
                }
                Err(e) if e.is_retryable() => {
                    tracing::warn!(platform = %kind, error = %e, "lookup failed");
                    unanswered.get_or_insert(e);
                }
                Err(e) => {
                    // Refused or rejected lookups (bad token, unknown customer) mean "not
                    // found here"; the operator sees the error in the log.
                    tracing::error!(platform = %kind, error = %e, "lookup refused");
                }
            }
        }
        match unanswered {
            Some(e) if subs.is_empty() => Err(e.into()),
            Some(e) => {
                tracing::warn!(error = %e, "acting on the platforms that answered");
                Ok(subs)
            }
            None => Ok(subs),
        }
    }

    /// For a SKIP: true when the shopper's latest keyroute change within the window was a skip
    /// that is still in effect (a subscription's date is still the one it produced). A second
    /// SKIP then is a double text, not a request to skip whatever ships next now, which with
    /// two subscriptions would be the other one.
    async fn recent_skip_in_effect(&self, subs: &[Subscription]) -> Result<bool, ActError> {
        let window = self.shop.already_skipped_window;
        if window.is_zero() {
            return Ok(false);
        }
        let since =
            crate::store::now_ms() - i64::try_from(window.as_millis()).unwrap_or(i64::MAX / 2);
        let latest = self
            .store
            .undoable(&self.shop.id, &self.message.subscriber_id, since)
            .await?;
        let in_effect = latest.iter().all(|o| o.action == "skip")
            && latest.iter().any(|o| {
                subs.iter().any(|s| {
                    Some(s.platform.as_str()) == o.platform.as_deref()
                        && Some(&s.id) == o.subscription_id.as_ref()
                        && Some(s.next.date.to_string()) == o.new_date
                })
            });
        Ok(in_effect)
    }

    /// For a SKIP: true when keyroute itself skipped this subscription within the window and
    /// its next date is still the one that skip produced, i.e. the order the shopper is
    /// looking at has already been skipped.
    async fn already_skipped(&self, sub: &Subscription) -> Result<bool, ActError> {
        let window = self.shop.already_skipped_window;
        if window.is_zero() {
            return Ok(false);
        }
        let since =
            crate::store::now_ms() - i64::try_from(window.as_millis()).unwrap_or(i64::MAX / 2);
        let last = self
            .store
            .last_skip(
                &self.shop.id,
                sub.platform.as_str(),
                &sub.id,
                since,
                &self.message.id,
            )
            .await?;
        Ok(last.as_deref() == Some(sub.next.date.to_string().as_str()))
    }

    /// Makes (or confirms) one outcome's platform write and records the result.
    async fn execute(&self, o: &mut Outcome, intent: &StoredIntent) -> Result<(), ActError> {
        let ctx: Context = o
            .context
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok())
            .ok_or_else(|| ActError::Fatal(format!("outcome {} has no readable context", o.seq)))?;
        let sub = ctx.subscription;
        let Some(platform) = self.shop.platform(sub.platform) else {
            return self
                .fail(
                    o,
                    intent,
                    reason::PLATFORM_ERROR,
                    "platform no longer configured",
                )
                .await;
        };
        let action = action_of(o);
        if action == Action::Skip && o.state == OutcomeState::Writing {
            // A previous attempt sent this skip and never learned the answer. If the next date
            // already moved past the one the shopper was about to receive, it took effect.
            match platform.get(&ctx.shopper, &sub).await? {
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
                    return self
                        .fail(
                            o,
                            intent,
                            reason::NOT_ALLOWED,
                            "subscription is no longer active",
                        )
                        .await;
                }
            }
        }
        o.state = OutcomeState::Writing;
        self.record(o).await?;
        let written = match action {
            Action::Skip => platform.skip_next(&sub).await,
            Action::Delay | Action::Undo => {
                let target: Date = o
                    .target_date
                    .as_deref()
                    .and_then(|d| d.parse().ok())
                    .ok_or_else(|| ActError::Fatal("outcome without a target date".into()))?;
                platform.set_next_date(&sub, target).await
            }
            Action::Help => unreachable!("help plans no writes"),
        };
        let new_next = match written {
            Ok(Some(next)) => next,
            Ok(None) => match platform.get(&ctx.shopper, &sub).await? {
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
            Err(e) if e.is_retryable() => return Err(e.into()),
            Err(e) => {
                let why = match e {
                    PlatformError::Refused { .. } => reason::NOT_ALLOWED,
                    _ => reason::PLATFORM_ERROR,
                };
                tracing::warn!(error = %e, subscription = %sub.id, "platform refused");
                return self.fail(o, intent, why, &e.to_string()).await;
            }
        };
        self.finish_write(o, intent, new_next).await
    }

    async fn finish_write(
        &self,
        o: &mut Outcome,
        intent: &StoredIntent,
        next: NextDate,
    ) -> Result<(), ActError> {
        o.state = OutcomeState::Done;
        o.new_date = Some(next.date.to_string());
        let mut props = Map::new();
        props.insert("new_delivery_date".into(), json!(next.date.to_string()));
        let prev = o.previous_date.clone().unwrap_or_default();
        let event_type = match action_of(o) {
            Action::Skip => {
                props.insert("skipped_date".into(), json!(prev));
                "order_skipped"
            }
            Action::Undo => {
                props.insert("previous_delivery_date".into(), json!(prev));
                "order_unskipped"
            }
            _ => {
                props.insert("previous_delivery_date".into(), json!(prev));
                props.insert("delay_days".into(), json!(intent.days.unwrap_or(0)));
                "order_delayed"
            }
        };
        props.insert(
            "platform".into(),
            json!(o.platform.clone().unwrap_or_default()),
        );
        props.insert(
            "subscription_id".into(),
            json!(o.subscription_id.clone().unwrap_or_default()),
        );
        props.insert("keyword".into(), json!(keyword(intent)));
        self.set_event(o, event_type, props);
        tracing::info!(
            event = event_type,
            platform = o.platform.as_deref().unwrap_or(""),
            subscription = o.subscription_id.as_deref().unwrap_or(""),
            new_date = %next.date,
            "write done"
        );
        self.record(o).await
    }

    async fn send_event(&self, o: &mut Outcome) -> Result<(), ActError> {
        let event: Event = o
            .event_body
            .as_deref()
            .and_then(|b| serde_json::from_str(b).ok())
            .ok_or_else(|| ActError::Fatal(format!("outcome {} has no readable event", o.seq)))?;
        match self.shop.postscript.send_event(&event).await {
            Ok(()) => {
                o.event_state = EventState::Sent;
                // Counted here, once the outcome is final and knows its platform: with
                // keyroute_platform_calls_total this gives calls per action per platform.
                metrics::counter!(
                    "keyroute_outcomes_total",
                    "event" => event.kind.clone(),
                    "platform" => o.platform.clone().unwrap_or_else(|| "none".to_owned()),
                )
                .increment(1);
                tracing::info!(event = %event.kind, external_id = %event.external_id, "event sent");
            }
            Err(PostscriptError::Rejected { status, detail, .. }) => {
                // A 4xx will not change on retry; keep the record and move on.
                tracing::error!(event = %event.kind, status, detail = %detail, "Postscript rejected the event");
                o.event_state = EventState::Failed;
                o.detail = Some(format!("event rejected: HTTP {status}: {detail}"));
            }
            Err(e) if self.last_attempt => {
                tracing::error!(event = %event.kind, error = %e, "event not delivered; giving up");
                o.event_state = EventState::Failed;
                o.detail = Some(format!("event not delivered: {e}"));
            }
            Err(e) => return Err(e.into()),
        }
        self.record(o).await
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
        intent: &StoredIntent,
        why: &str,
        detail: &str,
    ) -> Result<(), ActError> {
        let mut failed = self.failure(
            o.seq,
            action_of(o),
            intent,
            o.previous_date.clone(),
            why,
            detail,
        );
        failed.platform = o.platform.take();
        failed.subscription_id = o.subscription_id.take();
        failed.context = o.context.take();
        failed.previous_at = o.previous_at;
        failed.target_date = o.target_date.take();
        *o = failed;
        self.record(o).await
    }

    fn blank(&self, seq: i64, action: Action) -> Outcome {
        Outcome {
            message_id: self.message.id.clone(),
            seq,
            platform: None,
            subscription_id: None,
            context: None,
            action: action.as_str().to_owned(),
            state: OutcomeState::Planned,
            previous_date: None,
            previous_at: None,
            target_date: None,
            new_date: None,
            reason: None,
            detail: None,
            undoes: None,
            event_type: None,
            event_body: None,
            event_state: EventState::None,
        }
    }

    /// A failed outcome with its `keyword_action_failed` event.
    fn failure(
        &self,
        seq: i64,
        action: Action,
        intent: &StoredIntent,
        next_date: Option<String>,
        why: &str,
        detail: &str,
    ) -> Outcome {
        let mut o = self.blank(seq, action);
        o.state = OutcomeState::Failed;
        o.reason = Some(why.to_owned());
        o.detail = Some(detail.to_owned());
        let mut props = Map::new();
        props.insert("action".into(), json!(action.as_str()));
        props.insert("reason".into(), json!(why));
        if let Some(d) = &next_date {
            props.insert("next_delivery_date".into(), json!(d));
        }
        props.insert("keyword".into(), json!(keyword(intent)));
        o.previous_date = next_date;
        self.set_event(&mut o, "keyword_action_failed", props);
        tracing::info!(reason = why, detail, "action failed");
        o
    }

    /// Fixes the event for an outcome. Its `external_id` depends only on the message and the
    /// outcome, so a re-send after a lost answer is recognisably the same event.
    fn set_event(&self, o: &mut Outcome, event_type: &str, properties: Map<String, Value>) {
        let event = Event {
            kind: event_type.to_owned(),
            subscriber_id: self.message.subscriber_id.clone(),
            phone: self.message.from_number.clone(),
            occurred_at: occurred_at(jiff::Timestamp::now()),
            external_id: format!("keyroute-{}-{}-{}", self.message.id, o.seq, event_type),
            properties,
        };
        o.event_type = Some(event_type.to_owned());
        o.event_body = Some(serde_json::to_string(&event).expect("event serialises"));
        o.event_state = EventState::Pending;
    }
}

fn action_of(o: &Outcome) -> Action {
    match o.action.as_str() {
        "skip" => Action::Skip,
        "delay" => Action::Delay,
        "undo" => Action::Undo,
        _ => Action::Help,
    }
}

fn keyword(intent: &StoredIntent) -> String {
    intent.keyword.clone().unwrap_or_default()
}

fn add_days(d: Date, days: u32) -> Date {
    d.checked_add(jiff::Span::new().days(i64::from(days)))
        .unwrap_or(d)
}

/// The subscriptions a SKIP or DELAY acts on. `Next`: every one whose next date is the
/// earliest (orders on the same day ship together). `All`: every active one.
pub fn choose_targets(mut subs: Vec<Subscription>, multiple: Multiple) -> Vec<Subscription> {
    subs.sort_by(|a, b| {
        (a.next.date, a.platform.as_str(), &a.id).cmp(&(b.next.date, b.platform.as_str(), &b.id))
    });
    if multiple == Multiple::Next
        && let Some(first) = subs.first().map(|s| s.next.date)
    {
        subs.retain(|s| s.next.date == first);
    }
    subs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(id: &str, date: &str) -> Subscription {
        Subscription {
            platform: PlatformKind::Skio,
            id: id.into(),
            next: NextDate {
                date: date.parse().unwrap(),
                at: None,
            },
            extra: Default::default(),
        }
    }

    #[test]
    fn next_takes_every_subscription_on_the_earliest_date() {
        let subs = vec![
            sub("b", "2026-12-05"),
            sub("a", "2026-12-01"),
            sub("c", "2026-12-01"),
        ];
        let ids: Vec<_> = choose_targets(subs.clone(), Multiple::Next)
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(ids, ["a", "c"]);
        assert_eq!(choose_targets(subs, Multiple::All).len(), 3);
    }
}
