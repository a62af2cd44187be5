//! What a message did, per subscription: the plan, the write's progress, and the event that
//! tells the shopper. Every change is made under the job's lease (checked in the same
//! transaction), so only the current owner of the job can record progress. Rows are read back
//! into typed values; a value that cannot be read is [`StoreError::Corrupt`], never a default.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::error::parse;
use super::{JobGuard, Store, StoreError};
use crate::domain::{
    Action, Event, FailureReason, NextDate, PlatformKind, Shopper, Subscription, now_ms,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutcomeState {
    /// Decided, not yet attempted.
    Planned,
    /// A platform write was (or may have been) sent; its effect must be checked before repeating.
    Writing,
    Done,
    Failed,
}

impl OutcomeState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeState::Planned => "planned",
            OutcomeState::Writing => "writing",
            OutcomeState::Done => "done",
            OutcomeState::Failed => "failed",
        }
    }
}

impl std::str::FromStr for OutcomeState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "planned" => Ok(OutcomeState::Planned),
            "writing" => Ok(OutcomeState::Writing),
            "done" => Ok(OutcomeState::Done),
            "failed" => Ok(OutcomeState::Failed),
            other => Err(format!("unknown outcome state {other:?}")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventState {
    /// No event for this outcome.
    None,
    Pending,
    Sent,
    Failed,
}

impl EventState {
    pub fn as_str(self) -> &'static str {
        match self {
            EventState::None => "none",
            EventState::Pending => "pending",
            EventState::Sent => "sent",
            EventState::Failed => "failed",
        }
    }
}

impl std::str::FromStr for EventState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(EventState::None),
            "pending" => Ok(EventState::Pending),
            "sent" => Ok(EventState::Sent),
            "failed" => Ok(EventState::Failed),
            other => Err(format!("unknown event state {other:?}")),
        }
    }
}

/// What a write acts on: the subscription as planned and the shopper it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub subscription: Subscription,
    pub shopper: Shopper,
}

/// An outcome named from another one (an UNDO names the change it reverses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeRef {
    pub message_id: String,
    pub seq: i64,
}

impl std::fmt::Display for OutcomeRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.message_id, self.seq)
    }
}

impl std::str::FromStr for OutcomeRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (message_id, seq) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("{s:?} is not message:seq"))?;
        Ok(OutcomeRef {
            message_id: message_id.to_owned(),
            seq: seq.parse().map_err(|e| format!("{s:?}: {e}"))?,
        })
    }
}

/// One outcome of a message: per subscription acted on (or one for the whole message when
/// there is no subscription to name).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub message_id: String,
    pub seq: i64,
    pub action: Action,
    pub state: OutcomeState,
    pub platform: Option<PlatformKind>,
    pub subscription_id: Option<String>,
    /// What the write acts on, when there is a write.
    pub target: Option<Target>,
    /// The next order before this outcome (for a failure: the next date the shopper is told).
    pub previous: Option<NextDate>,
    /// The date a set-date write asks for (DELAY, UNDO).
    pub target_date: Option<Date>,
    /// The next order after the write, as the platform reports it.
    pub new_date: Option<Date>,
    pub reason: Option<FailureReason>,
    pub detail: Option<String>,
    /// For an UNDO: the outcome it reverses.
    pub undoes: Option<OutcomeRef>,
    /// The event exactly as sent, fixed once so every retry sends the same thing.
    pub event: Option<Event>,
    pub event_state: EventState,
}

impl Outcome {
    /// A fresh outcome of `action`, nothing decided yet.
    pub fn new(message_id: &str, seq: i64, action: Action) -> Outcome {
        Outcome {
            message_id: message_id.to_owned(),
            seq,
            action,
            state: OutcomeState::Planned,
            platform: None,
            subscription_id: None,
            target: None,
            previous: None,
            target_date: None,
            new_date: None,
            reason: None,
            detail: None,
            undoes: None,
            event: None,
            event_state: EventState::None,
        }
    }
}

/// One of the shopper's earlier changes made by keyroute (a done skip or delay), with when it
/// was recorded and whether an UNDO already reversed it.
#[derive(Debug, Clone, PartialEq)]
pub struct PastChange {
    pub outcome: Outcome,
    pub at_ms: i64,
    pub undone: bool,
}

/// keyroute's latest skip of one subscription (for any message but the current one).
#[derive(Debug, Clone, PartialEq)]
pub struct LastSkip {
    pub platform: PlatformKind,
    pub subscription_id: String,
    pub new_date: Date,
    pub at_ms: i64,
}

/// What keyroute already did for a shopper: the planner's memory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Newest first.
    pub changes: Vec<PastChange>,
    pub last_skips: Vec<LastSkip>,
}

#[derive(sqlx::FromRow)]
struct Row {
    message_id: String,
    seq: i64,
    platform: Option<String>,
    subscription_id: Option<String>,
    context: Option<String>,
    action: String,
    state: String,
    previous_date: Option<String>,
    previous_at: Option<i64>,
    target_date: Option<String>,
    new_date: Option<String>,
    reason: Option<String>,
    detail: Option<String>,
    undoes: Option<String>,
    event_body: Option<String>,
    event_state: String,
}

fn date(what: &'static str, s: Option<&str>) -> Result<Option<Date>, StoreError> {
    s.map(|d| parse(what, d)).transpose()
}

fn json<T: for<'de> Deserialize<'de>>(
    what: &'static str,
    s: Option<&str>,
) -> Result<Option<T>, StoreError> {
    s.map(|v| serde_json::from_str(v).map_err(|e| StoreError::corrupt(what, e)))
        .transpose()
}

impl TryFrom<Row> for Outcome {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        let previous = match date("outcome previous_date", r.previous_date.as_deref())? {
            Some(date) => Some(NextDate {
                date,
                at: r
                    .previous_at
                    .map(|ms| {
                        jiff::Timestamp::from_millisecond(ms)
                            .map_err(|e| StoreError::corrupt("outcome previous_at", e))
                    })
                    .transpose()?,
            }),
            None => None,
        };
        Ok(Outcome {
            action: parse("outcome action", &r.action)?,
            state: parse("outcome state", &r.state)?,
            platform: r
                .platform
                .as_deref()
                .map(|p| parse("outcome platform", p))
                .transpose()?,
            target: json("outcome context", r.context.as_deref())?,
            previous,
            target_date: date("outcome target_date", r.target_date.as_deref())?,
            new_date: date("outcome new_date", r.new_date.as_deref())?,
            reason: r
                .reason
                .as_deref()
                .map(|x| parse("outcome reason", x))
                .transpose()?,
            undoes: r
                .undoes
                .as_deref()
                .map(|u| parse("outcome undoes", u))
                .transpose()?,
            event: json("outcome event", r.event_body.as_deref())?,
            event_state: parse("outcome event_state", &r.event_state)?,
            message_id: r.message_id,
            seq: r.seq,
            subscription_id: r.subscription_id,
            detail: r.detail,
        })
    }
}

const COLUMNS: &str = "o.message_id, o.seq, o.platform, o.subscription_id, o.context, o.action, \
    o.state, o.previous_date, o.previous_at, o.target_date, o.new_date, o.reason, o.detail, o.undoes, \
    o.event_body, o.event_state";

#[derive(sqlx::FromRow)]
struct ChangeRow {
    #[sqlx(flatten)]
    row: Row,
    updated_at: i64,
    undone: i64,
}

impl Store {
    /// The shopper's done skips and delays since `since_ms`, newest first, each with whether
    /// an UNDO (not failed) already reversed it.
    pub async fn shopper_changes(
        &self,
        shop_id: &str,
        subscriber_id: &str,
        since_ms: i64,
    ) -> Result<Vec<PastChange>, StoreError> {
        let rows: Vec<ChangeRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS}, o.updated_at, \
             CASE WHEN EXISTS (SELECT 1 FROM outcomes u \
               WHERE u.undoes = o.message_id || ':' || CAST(o.seq AS TEXT) AND u.state <> 'failed') \
             THEN 1 ELSE 0 END AS undone \
             FROM outcomes o JOIN messages m ON m.id = o.message_id \
             WHERE m.shop_id = $1 AND m.subscriber_id = $2 AND o.action IN ('skip', 'delay') \
             AND o.state = 'done' AND o.updated_at >= $3 \
             ORDER BY o.updated_at DESC, o.seq"
        ))
        .bind(shop_id)
        .bind(subscriber_id)
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(PastChange {
                    at_ms: r.updated_at,
                    undone: r.undone != 0,
                    outcome: Outcome::try_from(r.row)?,
                })
            })
            .collect()
    }

    pub async fn outcomes(&self, message_id: &str) -> Result<Vec<Outcome>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM outcomes o WHERE o.message_id = $1 ORDER BY o.seq"
        ))
        .bind(message_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Outcome::try_from).collect()
    }

    /// keyroute's latest done skip of this subscription since `since_ms`, for another message
    /// of the shop than `other_than_message`.
    pub async fn last_skip(
        &self,
        shop_id: &str,
        platform: PlatformKind,
        subscription_id: &str,
        since_ms: i64,
        other_than_message: &str,
    ) -> Result<Option<LastSkip>, StoreError> {
        let row: Option<(Option<String>, i64)> = sqlx::query_as(
            "SELECT o.new_date, o.updated_at FROM outcomes o JOIN messages m ON m.id = o.message_id \
             WHERE o.platform = $1 AND o.subscription_id = $2 AND o.action = 'skip' \
             AND o.state = 'done' AND m.shop_id = $3 AND o.updated_at >= $4 AND o.message_id <> $5 \
             ORDER BY o.updated_at DESC LIMIT 1",
        )
        .bind(platform.as_str())
        .bind(subscription_id)
        .bind(shop_id)
        .bind(since_ms)
        .bind(other_than_message)
        .fetch_optional(&self.pool)
        .await?;
        let Some((new_date, at_ms)) = row else {
            return Ok(None);
        };
        Ok(
            date("outcome new_date", new_date.as_deref())?.map(|new_date| LastSkip {
                platform,
                subscription_id: subscription_id.to_owned(),
                new_date,
                at_ms,
            }),
        )
    }

    /// Inserts or replaces outcome rows, in one transaction that first proves the job is still
    /// ours (and extends its lease).
    pub async fn record_outcomes(
        &self,
        g: &JobGuard,
        lease_ms: i64,
        outcomes: &[Outcome],
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let db_now = self.backend.now_ms_sql();
        let mut tx = self.pool.begin().await?;
        let owned = sqlx::query(&format!(
            "UPDATE jobs SET lease_until = {db_now} + $4 \
             WHERE id = $1 AND state = 'running' AND locked_by = $2 AND attempt = $3"
        ))
        .bind(g.job_id)
        .bind(&g.worker)
        .bind(g.attempt)
        .bind(lease_ms)
        .execute(&mut *tx)
        .await?;
        if owned.rows_affected() != 1 {
            tx.rollback().await?;
            return Err(StoreError::LeaseLost);
        }
        for o in outcomes {
            let context = o
                .target
                .as_ref()
                .map(|t| serde_json::to_string(t).expect("target serialises"));
            let event_body = o
                .event
                .as_ref()
                .map(|e| serde_json::to_string(e).expect("event serialises"));
            sqlx::query(
                "INSERT INTO outcomes (message_id, seq, platform, subscription_id, context, action, \
                 state, previous_date, previous_at, target_date, new_date, reason, detail, \
                 event_type, event_body, event_state, created_at, updated_at, undoes) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17, $18) \
                 ON CONFLICT (message_id, seq) DO UPDATE SET state = excluded.state, \
                 platform = excluded.platform, subscription_id = excluded.subscription_id, \
                 context = excluded.context, \
                 previous_date = excluded.previous_date, previous_at = excluded.previous_at, \
                 target_date = excluded.target_date, new_date = excluded.new_date, \
                 reason = excluded.reason, detail = excluded.detail, event_type = excluded.event_type, \
                 event_body = excluded.event_body, event_state = excluded.event_state, \
                 updated_at = excluded.updated_at",
            )
            .bind(&o.message_id)
            .bind(o.seq)
            .bind(o.platform.map(PlatformKind::as_str))
            .bind(&o.subscription_id)
            .bind(context)
            .bind(o.action.as_str())
            .bind(o.state.as_str())
            .bind(o.previous.map(|p| p.date.to_string()))
            .bind(o.previous.and_then(|p| p.at).map(|t| t.as_millisecond()))
            .bind(o.target_date.map(|d| d.to_string()))
            .bind(o.new_date.map(|d| d.to_string()))
            .bind(o.reason.map(FailureReason::as_str))
            .bind(&o.detail)
            .bind(o.event.as_ref().map(|e| e.kind.as_str()))
            .bind(event_body)
            .bind(o.event_state.as_str())
            .bind(now)
            .bind(o.undoes.as_ref().map(ToString::to_string))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
