//! Telling the shopper: each outcome's Postscript event is fixed once (type, properties and an
//! `external_id` that depends only on the message and the outcome), stored, then sent. A
//! re-send after a lost answer is therefore recognisably the same event.

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::domain::{Action, Event, EventKind, FailureReason, Intent, NextDate, occurred_at};
use crate::store::{EventState, Outcome, OutcomeState, StoredMessage};

use super::plan::{Failure, Step};
use super::{ActError, Attempt};

/// The record of one planned step, with its event when the step already decides it.
pub(super) fn outcome_of(
    message: &StoredMessage,
    intent: &Intent,
    seq: i64,
    step: Step,
) -> Outcome {
    match step {
        Step::Write(w) => {
            let mut o = Outcome::new(&message.id, seq, w.action);
            o.platform = Some(w.target.subscription.platform);
            o.subscription_id = Some(w.target.subscription.id.clone());
            o.previous = Some(w.previous);
            o.target_date = w.target_date;
            o.undoes = w.undoes;
            o.target = Some(w.target);
            o
        }
        Step::Fail(f) => failed(message, intent, seq, f),
        Step::Status { subscription } => {
            let mut o = Outcome::new(&message.id, seq, Action::Status);
            o.state = OutcomeState::Done;
            o.platform = Some(subscription.platform);
            o.subscription_id = Some(subscription.id.clone());
            o.previous = Some(subscription.next);
            let mut props = Map::new();
            props.insert(
                "next_delivery_date".into(),
                json!(subscription.next.date.to_string()),
            );
            props.insert("platform".into(), json!(subscription.platform.as_str()));
            props.insert("subscription_id".into(), json!(subscription.id));
            props.insert("keyword".into(), json!(intent.keyword));
            set_event(&mut o, message, EventKind::OrderStatus, props);
            o
        }
        Step::Help { next_date } => {
            let mut o = Outcome::new(&message.id, seq, Action::Help);
            o.state = OutcomeState::Done;
            let mut props = Map::new();
            if let Some(d) = next_date {
                props.insert("next_delivery_date".into(), json!(d.to_string()));
            }
            props.insert("keyword".into(), json!(intent.keyword));
            set_event(&mut o, message, EventKind::KeywordHelp, props);
            o
        }
    }
}

/// A failed outcome with its `keyword_action_failed` event.
fn failed(message: &StoredMessage, intent: &Intent, seq: i64, f: Failure) -> Outcome {
    let mut o = Outcome::new(&message.id, seq, f.action);
    o.state = OutcomeState::Failed;
    o.reason = Some(f.reason);
    o.platform = f.platform;
    o.subscription_id = f.subscription_id;
    o.undoes = f.undoes;
    o.previous = f.next_date.map(|date| NextDate { date, at: None });
    let mut props = Map::new();
    props.insert("action".into(), json!(f.action.as_str()));
    props.insert("reason".into(), json!(f.reason.as_str()));
    if let Some(d) = f.next_date {
        props.insert("next_delivery_date".into(), json!(d.to_string()));
    }
    props.insert("keyword".into(), json!(intent.keyword));
    tracing::info!(reason = f.reason.as_str(), detail = %f.detail, "action failed");
    o.detail = Some(f.detail);
    set_event(&mut o, message, EventKind::KeywordActionFailed, props);
    o
}

/// Turns a planned write into a failure that still says which subscription it was about.
pub(super) fn into_failure(
    o: &mut Outcome,
    message: &StoredMessage,
    intent: &Intent,
    reason: FailureReason,
    detail: &str,
) {
    let failure = Failure {
        action: o.action,
        reason,
        detail: detail.to_owned(),
        next_date: o.previous.map(|p| p.date),
        platform: o.platform,
        subscription_id: o.subscription_id.clone(),
        undoes: o.undoes.clone(),
    };
    let mut f = failed(message, intent, o.seq, failure);
    f.previous = o.previous;
    f.target = o.target.take();
    f.target_date = o.target_date;
    *o = f;
}

/// Records a write as done, with the event that confirms it.
pub(super) fn into_done(o: &mut Outcome, message: &StoredMessage, intent: &Intent, next: NextDate) {
    o.state = OutcomeState::Done;
    o.new_date = Some(next.date);
    let prev = o.previous.map(|p| p.date.to_string()).unwrap_or_default();
    let mut props = Map::new();
    props.insert("new_delivery_date".into(), json!(next.date.to_string()));
    let kind = match o.action {
        Action::Skip => {
            props.insert("skipped_date".into(), json!(prev));
            EventKind::OrderSkipped
        }
        Action::Undo => {
            props.insert("previous_delivery_date".into(), json!(prev));
            EventKind::OrderUnskipped
        }
        Action::Delay => {
            props.insert("previous_delivery_date".into(), json!(prev));
            props.insert("delay_days".into(), json!(delay_days(o, next, intent)));
            EventKind::OrderDelayed
        }
        // Neither writes; an outcome of theirs never gets here.
        Action::Help => EventKind::KeywordHelp,
        Action::Status => EventKind::OrderStatus,
    };
    props.insert(
        "platform".into(),
        json!(o.platform.map(|p| p.as_str()).unwrap_or_default()),
    );
    props.insert(
        "subscription_id".into(),
        json!(o.subscription_id.clone().unwrap_or_default()),
    );
    props.insert("keyword".into(), json!(intent.keyword));
    set_event(o, message, kind, props);
}

/// The delay's days: asked for, or (a delay to a date) between the old and new dates.
fn delay_days(o: &Outcome, next: NextDate, intent: &Intent) -> i64 {
    match (intent.days, o.previous) {
        (Some(d), _) => i64::from(d),
        (None, Some(prev)) => i64::from((next.date - prev.date).get_days()),
        (None, None) => 0,
    }
}

/// Fixes the event for an outcome.
fn set_event(
    o: &mut Outcome,
    message: &StoredMessage,
    kind: EventKind,
    properties: Map<String, Value>,
) {
    o.event = Some(Event {
        kind,
        subscriber_id: message.subscriber_id.clone(),
        phone: message.from_number.clone(),
        occurred_at: occurred_at(Timestamp::now()),
        external_id: format!("keyroute-{}-{}-{}", message.id, o.seq, kind),
        properties,
    });
    o.event_state = EventState::Pending;
}

impl Attempt<'_> {
    /// Sends one outcome's fixed event and records that it went (or that it never will).
    pub(super) async fn send_event(&self, o: &mut Outcome) -> Result<(), ActError> {
        let event = o
            .event
            .clone()
            .ok_or_else(|| ActError::Fatal(format!("outcome {} has no event", o.seq)))?;
        match self.shop.postscript.send_event(&event).await {
            Ok(()) => {
                o.event_state = EventState::Sent;
                // Counted here, once the outcome is final and knows its platform: with
                // keyroute_platform_calls_total this gives calls per action per platform.
                self.metrics.outcome(
                    event.kind.as_str(),
                    o.platform.map_or("none", |p| p.as_str()),
                );
                tracing::info!(event = %event.kind, external_id = %event.external_id, "event sent");
            }
            Err(e) if !e.is_retryable() => {
                // A 4xx will not change on retry; keep the record and move on.
                tracing::error!(event = %event.kind, error = %e, "Postscript rejected the event");
                o.event_state = EventState::Failed;
                o.detail = Some(format!("event rejected: {e}"));
            }
            Err(e) if self.last_attempt => {
                tracing::error!(event = %event.kind, error = %e, "event not delivered; giving up");
                o.event_state = EventState::Failed;
                o.detail = Some(format!("event not delivered: {e}"));
            }
            Err(e) => return Err(ActError::retry(e)),
        }
        self.record(o).await
    }
}
