//! What a message did, per subscription: the plan, the write's progress, and the event that
//! tells the shopper. Every change is made under the job's lease (checked in the same
//! transaction), so only the current owner of the job can record progress.

use serde::Serialize;

use super::{JobGuard, Store, now_ms};

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
    fn parse(s: &str) -> OutcomeState {
        match s {
            "writing" => OutcomeState::Writing,
            "done" => OutcomeState::Done,
            "failed" => OutcomeState::Failed,
            _ => OutcomeState::Planned,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventState {
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
    fn parse(s: &str) -> EventState {
        match s {
            "pending" => EventState::Pending,
            "sent" => EventState::Sent,
            "failed" => EventState::Failed,
            _ => EventState::None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub message_id: String,
    pub seq: i64,
    pub platform: Option<String>,
    pub subscription_id: Option<String>,
    /// The subscription and shopper as planned (JSON).
    pub context: Option<String>,
    pub action: String,
    pub state: OutcomeState,
    pub previous_date: Option<String>,
    /// The previous next date's instant (epoch ms), when the platform works in instants.
    pub previous_at: Option<i64>,
    pub target_date: Option<String>,
    pub new_date: Option<String>,
    pub reason: Option<String>,
    pub detail: Option<String>,
    /// For an UNDO: the outcome it reverses (`message_id:seq`).
    pub undoes: Option<String>,
    pub event_type: Option<String>,
    /// The event exactly as sent (JSON), fixed once so every retry sends the same thing.
    pub event_body: Option<String>,
    pub event_state: EventState,
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
    event_type: Option<String>,
    event_body: Option<String>,
    event_state: String,
}

impl From<Row> for Outcome {
    fn from(r: Row) -> Self {
        Outcome {
            message_id: r.message_id,
            seq: r.seq,
            platform: r.platform,
            subscription_id: r.subscription_id,
            context: r.context,
            action: r.action,
            state: OutcomeState::parse(&r.state),
            previous_date: r.previous_date,
            previous_at: r.previous_at,
            target_date: r.target_date,
            new_date: r.new_date,
            reason: r.reason,
            detail: r.detail,
            undoes: r.undoes,
            event_type: r.event_type,
            event_body: r.event_body,
            event_state: EventState::parse(&r.event_state),
        }
    }
}

/// The job no longer belongs to this worker; stop without recording anything.
#[derive(Debug, thiserror::Error)]
#[error("lease lost: the job was rescued or finished elsewhere")]
pub struct LeaseLost;

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    LeaseLost(#[from] LeaseLost),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

const COLUMNS: &str = "o.message_id, o.seq, o.platform, o.subscription_id, o.context, o.action, \
    o.state, o.previous_date, o.previous_at, o.target_date, o.new_date, o.reason, o.detail, o.undoes, \
    o.event_type, o.event_body, o.event_state";

impl Store {
    /// What UNDO would reverse for this shopper: the done skips and delays of their latest
    /// message (since `since_ms`) that has any not yet undone.
    pub async fn undoable(
        &self,
        shop_id: &str,
        subscriber_id: &str,
        since_ms: i64,
    ) -> Result<Vec<Outcome>, sqlx::Error> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM outcomes o JOIN messages m ON m.id = o.message_id \
             WHERE m.shop_id = $1 AND m.subscriber_id = $2 AND o.action IN ('skip', 'delay') \
             AND o.state = 'done' AND o.updated_at >= $3 \
             AND NOT EXISTS (SELECT 1 FROM outcomes u \
               WHERE u.undoes = o.message_id || ':' || CAST(o.seq AS TEXT) AND u.state <> 'failed') \
             ORDER BY o.updated_at DESC, o.seq"
        ))
        .bind(shop_id)
        .bind(subscriber_id)
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        let latest = rows.first().map(|r| r.message_id.clone());
        Ok(rows
            .into_iter()
            .filter(|r| Some(&r.message_id) == latest.as_ref())
            .map(Outcome::from)
            .collect())
    }

    pub async fn outcomes(&self, message_id: &str) -> Result<Vec<Outcome>, sqlx::Error> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM outcomes o WHERE o.message_id = $1 ORDER BY o.seq"
        ))
        .bind(message_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Outcome::from).collect())
    }

    /// The new next date of the latest skip keyroute made on this subscription since `since_ms`
    /// for another message of the shop: if it is still the subscription's next date, the
    /// shopper's upcoming order is already skipped.
    pub async fn last_skip(
        &self,
        shop_id: &str,
        platform: &str,
        subscription_id: &str,
        since_ms: i64,
        other_than_message: &str,
    ) -> Result<Option<String>, sqlx::Error> {
        let row: Option<(Option<String>,)> = sqlx::query_as(
            "SELECT o.new_date FROM outcomes o JOIN messages m ON m.id = o.message_id \
             WHERE o.platform = $1 AND o.subscription_id = $2 AND o.action = 'skip' \
             AND o.state = 'done' AND m.shop_id = $3 AND o.updated_at >= $4 AND o.message_id <> $5 \
             ORDER BY o.updated_at DESC LIMIT 1",
        )
        .bind(platform)
        .bind(subscription_id)
        .bind(shop_id)
        .bind(since_ms)
        .bind(other_than_message)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|(d,)| d))
    }

    /// Inserts or replaces outcome rows, in one transaction that first proves the job is still
    /// ours (and extends its lease).
    pub async fn record_outcomes(
        &self,
        g: &JobGuard,
        lease_ms: i64,
        outcomes: &[Outcome],
    ) -> Result<(), RecordError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let owned = sqlx::query(
            "UPDATE jobs SET lease_until = $4 \
             WHERE id = $1 AND state = 'running' AND locked_by = $2 AND attempt = $3",
        )
        .bind(g.job_id)
        .bind(&g.worker)
        .bind(g.attempt)
        .bind(now + lease_ms)
        .execute(&mut *tx)
        .await?;
        if owned.rows_affected() != 1 {
            tx.rollback().await?;
            return Err(LeaseLost.into());
        }
        for o in outcomes {
            sqlx::query(
                "INSERT INTO outcomes (message_id, seq, platform, subscription_id, context, action, \
                 state, previous_date, previous_at, target_date, new_date, reason, detail, \
                 event_type, event_body, event_state, created_at, updated_at, undoes) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17, $18) \
                 ON CONFLICT (message_id, seq) DO UPDATE SET state = excluded.state, \
                 previous_date = excluded.previous_date, previous_at = excluded.previous_at, \
                 target_date = excluded.target_date, new_date = excluded.new_date, \
                 reason = excluded.reason, detail = excluded.detail, event_type = excluded.event_type, \
                 event_body = excluded.event_body, event_state = excluded.event_state, \
                 updated_at = excluded.updated_at",
            )
            .bind(&o.message_id)
            .bind(o.seq)
            .bind(&o.platform)
            .bind(&o.subscription_id)
            .bind(&o.context)
            .bind(&o.action)
            .bind(o.state.as_str())
            .bind(&o.previous_date)
            .bind(o.previous_at)
            .bind(&o.target_date)
            .bind(&o.new_date)
            .bind(&o.reason)
            .bind(&o.detail)
            .bind(&o.event_type)
            .bind(&o.event_body)
            .bind(o.event_state.as_str())
            .bind(now)
            .bind(&o.undoes)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
