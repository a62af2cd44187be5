//! The job queue. States: `available` → `running` (claimed under a lease) → `completed`, or
//! back to `retryable` (scheduled later, with backoff) or `discarded` (attempts exhausted,
//! kept for the record). A lease that expires without a heartbeat is rescued to `retryable`.
//!
//! Every transition out of `running` is guarded by [`JobGuard`]: the row must still be
//! running, locked by this worker, at this attempt. A worker that lost its lease (it stalled,
//! the job was rescued and claimed again) therefore changes nothing.

use serde::Serialize;
use sqlx::{Any, Transaction};

use super::error::parse;
use super::{Backend, Store, StoreError};

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Carry out one message's intent.
    Act,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Act => "act",
        }
    }
}

impl std::str::FromStr for JobKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "act" => Ok(JobKind::Act),
            other => Err(format!("unknown job kind {other:?}")),
        }
    }
}

/// Where a job is in its life (the `state` column's CHECK lists the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Available,
    Running,
    Retryable,
    Completed,
    Discarded,
}

impl JobState {
    pub const ALL: [JobState; 5] = [
        JobState::Available,
        JobState::Running,
        JobState::Retryable,
        JobState::Completed,
        JobState::Discarded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Available => "available",
            JobState::Running => "running",
            JobState::Retryable => "retryable",
            JobState::Completed => "completed",
            JobState::Discarded => "discarded",
        }
    }

    /// Finished for good: nothing more will happen unless someone retries it.
    pub fn is_final(self) -> bool {
        matches!(self, JobState::Completed | JobState::Discarded)
    }
}

impl std::str::FromStr for JobState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        JobState::ALL
            .into_iter()
            .find(|j| j.as_str() == s)
            .ok_or_else(|| format!("unknown job state {s:?}"))
    }
}

#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: JobKind,
    pub message_id: String,
    pub shop_id: String,
    pub subscriber_id: String,
    pub max_attempts: u32,
}

#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: i64,
    pub kind: JobKind,
    pub message_id: String,
    pub shop_id: String,
    pub attempt: i64,
    pub max_attempts: i64,
}

/// Proof of ownership that every guarded statement checks.
#[derive(Debug, Clone)]
pub struct JobGuard {
    pub job_id: i64,
    pub worker: String,
    pub attempt: i64,
}

impl ClaimedJob {
    pub fn guard(&self, worker: &str) -> JobGuard {
        JobGuard {
            job_id: self.id,
            worker: worker.to_owned(),
            attempt: self.attempt,
        }
    }
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }
    /// A job rescued [`RESCUE_SPARE`] times past its last attempt keeps stopping its worker
    /// (a poison message, a platform call that hangs the process): it is given up without any
    /// platform call, and the shopper is told.
    pub fn must_abandon(&self) -> bool {
        self.attempt > self.max_attempts + RESCUE_SPARE
    }
}

#[derive(sqlx::FromRow)]
struct ClaimedRow {
    id: i64,
    kind: String,
    message_id: String,
    shop_id: String,
    attempt: i64,
    max_attempts: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobRow {
    pub id: i64,
    pub kind: JobKind,
    pub state: JobState,
    pub attempt: i64,
    pub max_attempts: i64,
    pub scheduled_at: i64,
    pub attempted_at: Option<i64>,
    pub finalized_at: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    kind: String,
    state: String,
    attempt: i64,
    max_attempts: i64,
    scheduled_at: i64,
    attempted_at: Option<i64>,
    finalized_at: Option<i64>,
    last_error: Option<String>,
    created_at: i64,
}

impl TryFrom<Row> for JobRow {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(JobRow {
            id: r.id,
            kind: parse("job kind", &r.kind)?,
            state: parse("job state", &r.state)?,
            attempt: r.attempt,
            max_attempts: r.max_attempts,
            scheduled_at: r.scheduled_at,
            attempted_at: r.attempted_at,
            finalized_at: r.finalized_at,
            last_error: r.last_error,
            created_at: r.created_at,
        })
    }
}

/// A job in the operator's list: the job and what it is about.
#[derive(Debug, Clone, Serialize)]
pub struct JobListing {
    #[serde(flatten)]
    pub job: JobRow,
    pub message_id: String,
    pub shop_id: String,
}

#[derive(sqlx::FromRow)]
struct ListingRow {
    #[sqlx(flatten)]
    job: Row,
    message_id: String,
    shop_id: String,
}

/// What asking to retry a job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requeue {
    Queued,
    NotFound,
    /// Only a discarded job can be retried; this one is in another state.
    NotDiscarded(JobState),
}

/// Attempts a job may still get past its last one after being rescued (its worker died).
pub const RESCUE_SPARE: i64 = 3;

const GUARD: &str = "id = $1 AND state = 'running' AND locked_by = $2 AND attempt = $3";

pub(super) async fn insert(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    job: &NewJob,
) -> Result<(), sqlx::Error> {
    let now = backend.now_ms_sql();
    sqlx::query(&format!(
        "INSERT INTO jobs (kind, message_id, shop_id, subscriber_id, state, attempt, max_attempts, \
         scheduled_at, created_at) VALUES ($1, $2, $3, $5, 'available', 0, $4, {now}, {now})"
    ))
    .bind(job.kind.as_str())
    .bind(&job.message_id)
    .bind(&job.shop_id)
    .bind(i64::from(job.max_attempts))
    .bind(&job.subscriber_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Claims the next due job for `worker`, or none. Eligible: due, the oldest unfinished
    /// job of its shopper (one shopper's messages run one at a time, in order), and its shop
    /// below `per_shop` running jobs (one shop's burst cannot take every worker). On
    /// PostgreSQL, replicas skip each other's locked rows; SQLite has a single writer, so the
    /// UPDATE is atomic as it is.
    pub async fn claim_job(
        &self,
        worker: &str,
        lease_ms: i64,
        per_shop: i64,
    ) -> Result<Option<ClaimedJob>, StoreError> {
        let now = self.backend.now_ms_sql();
        let lock = match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        // Every time here is the database's clock, so replicas with skewed clocks still agree
        // on when a lease ends.
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempt = attempt + 1, attempted_at = {now}, \
             locked_by = $2, lease_until = {now} + $3 \
             WHERE id IN (SELECT j.id FROM jobs j \
               WHERE j.state IN ('available', 'retryable') AND j.scheduled_at <= {now} \
               AND NOT EXISTS (SELECT 1 FROM jobs e WHERE e.shop_id = j.shop_id \
                 AND e.subscriber_id = j.subscriber_id AND e.id < j.id \
                 AND e.state IN ('available', 'running', 'retryable')) \
               AND (SELECT COUNT(*) FROM jobs r WHERE r.shop_id = j.shop_id AND r.state = 'running') < $4 \
               ORDER BY j.scheduled_at, j.id LIMIT 1 {lock}) \
             RETURNING id, kind, message_id, shop_id, attempt, max_attempts"
        );
        let row: Option<ClaimedRow> = sqlx::query_as(&sql)
            .bind(0_i64) // $1 is unused; positions stay stable for both dialects
            .bind(worker)
            .bind(lease_ms)
            .bind(per_shop)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(ClaimedJob {
                kind: parse("job kind", &r.kind)?,
                id: r.id,
                message_id: r.message_id,
                shop_id: r.shop_id,
                attempt: r.attempt,
                max_attempts: r.max_attempts,
            })
        })
        .transpose()
    }

    /// Extends the lease; false when the job is no longer ours.
    pub async fn heartbeat(&self, g: &JobGuard, lease_ms: i64) -> Result<bool, StoreError> {
        let now = self.backend.now_ms_sql();
        let r = sqlx::query(&format!(
            "UPDATE jobs SET lease_until = {now} + $4 WHERE {GUARD}"
        ))
        .bind(g.job_id)
        .bind(&g.worker)
        .bind(g.attempt)
        .bind(lease_ms)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn complete_job(&self, g: &JobGuard) -> Result<bool, StoreError> {
        self.finish(g, JobState::Completed, None, None).await
    }

    /// Schedules another attempt `delay_ms` from now (the database's now).
    pub async fn retry_job(
        &self,
        g: &JobGuard,
        delay_ms: i64,
        error: &str,
    ) -> Result<bool, StoreError> {
        self.finish(g, JobState::Retryable, Some(delay_ms), Some(error))
            .await
    }

    pub async fn discard_job(&self, g: &JobGuard, error: &str) -> Result<bool, StoreError> {
        self.finish(g, JobState::Discarded, None, Some(error)).await
    }

    async fn finish(
        &self,
        g: &JobGuard,
        state: JobState,
        delay_ms: Option<i64>,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let now = self.backend.now_ms_sql();
        let finalized = if state.is_final() { now } else { "NULL" };
        let r = sqlx::query(&format!(
            "UPDATE jobs SET state = $4, locked_by = NULL, lease_until = NULL, \
             scheduled_at = COALESCE({now} + $5, scheduled_at), finalized_at = {finalized}, \
             last_error = COALESCE($6, last_error) WHERE {GUARD}"
        ))
        .bind(g.job_id)
        .bind(&g.worker)
        .bind(g.attempt)
        .bind(state.as_str())
        .bind(delay_ms)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Returns expired leases to the queue. A job rescued on (or after) its last attempt
    /// gets one more, run as a last attempt, so the shopper is still told what happened. A
    /// job that keeps dying past [`RESCUE_SPARE`] more is given up without calling the
    /// platform at all (see [`ClaimedJob::must_abandon`]); only one that dies even then is
    /// discarded here, loudly. Only rows still `running` past their lease are touched, so a
    /// job that finished in the meantime is never overwritten.
    pub async fn rescue_expired(&self) -> Result<u64, StoreError> {
        let now = self.backend.now_ms_sql();
        let r = sqlx::query(&format!(
            "UPDATE jobs SET \
               state = CASE WHEN attempt > max_attempts + $1 + 1 THEN 'discarded' ELSE 'retryable' END, \
               finalized_at = CASE WHEN attempt > max_attempts + $1 + 1 THEN {now} ELSE NULL END, \
               last_error = 'lease expired (worker stopped or stalled)', \
               locked_by = NULL, lease_until = NULL, scheduled_at = {now} \
             WHERE state = 'running' AND lease_until < {now}"
        ))
        .bind(RESCUE_SPARE)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    pub async fn jobs_for_message(&self, message_id: &str) -> Result<Vec<JobRow>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, kind, state, attempt, max_attempts, scheduled_at, attempted_at, finalized_at, \
             last_error, created_at FROM jobs WHERE message_id = $1 ORDER BY id",
        )
        .bind(message_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(JobRow::try_from).collect()
    }

    /// The queue for an operator: newest first, optionally one state and one shop.
    pub async fn list_jobs(
        &self,
        state: Option<JobState>,
        shop: Option<&str>,
        limit: i64,
    ) -> Result<Vec<JobListing>, StoreError> {
        let rows: Vec<ListingRow> = sqlx::query_as(
            "SELECT id, kind, state, attempt, max_attempts, scheduled_at, attempted_at, finalized_at, \
             last_error, created_at, message_id, shop_id FROM jobs \
             WHERE (CAST($1 AS TEXT) IS NULL OR state = $1) \
             AND (CAST($2 AS TEXT) IS NULL OR shop_id = $2) \
             ORDER BY id DESC LIMIT $3",
        )
        .bind(state.map(JobState::as_str))
        .bind(shop)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(JobListing {
                    message_id: r.message_id,
                    shop_id: r.shop_id,
                    job: JobRow::try_from(r.job)?,
                })
            })
            .collect()
    }

    /// Puts a discarded job back in the queue, once its cause is fixed, in one transaction.
    /// Its outcomes that failed on our side (`platform_error`) are reopened: one that names a
    /// write goes back to `writing`, so the next attempt reads the platform before it writes
    /// again (the write may have landed); a failure before anything was planned is removed,
    /// so the job plans afresh. Outcomes that are done, or refused for the shopper's reasons,
    /// stay as they are.
    pub async fn requeue_discarded(&self, id: i64) -> Result<Requeue, StoreError> {
        let now = self.backend.now_ms_sql();
        let mut tx = self.pool.begin().await?;
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT state, message_id FROM jobs WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((state, message_id)) = row else {
            return Ok(Requeue::NotFound);
        };
        let state: JobState = parse("job state", &state)?;
        if state != JobState::Discarded {
            return Ok(Requeue::NotDiscarded(state));
        }
        sqlx::query(
            "DELETE FROM outcomes WHERE message_id = $1 AND state = 'failed' \
             AND reason = 'platform_error' AND context IS NULL \
             AND NOT EXISTS (SELECT 1 FROM outcomes o WHERE o.message_id = $1 \
               AND NOT (o.state = 'failed' AND o.reason = 'platform_error' AND o.context IS NULL))",
        )
        .bind(&message_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!(
            "UPDATE outcomes SET state = 'writing', reason = NULL, detail = NULL, \
             event_type = NULL, event_body = NULL, event_state = 'none', updated_at = {now} \
             WHERE message_id = $1 AND state = 'failed' AND reason = 'platform_error' \
             AND context IS NOT NULL"
        ))
        .bind(&message_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!(
            "UPDATE jobs SET state = 'available', attempt = 0, scheduled_at = {now}, \
             finalized_at = NULL, locked_by = NULL, lease_until = NULL WHERE id = $1"
        ))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Requeue::Queued)
    }

    /// Jobs not yet finished (available, running or retryable): tests and the demo wait on it.
    pub async fn unfinished_jobs(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM jobs WHERE state IN ('available', 'running', 'retryable')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(n)
    }

    /// Job counts per state, for `/metrics`.
    pub async fn job_counts(&self) -> Result<Vec<(JobState, i64)>, StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state")
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|(s, n)| Ok((parse("job state", &s)?, n)))
            .collect()
    }
}
