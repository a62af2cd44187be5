//! The job queue. States: `available` → `running` (claimed under a lease) → `completed`, or
//! back to `retryable` (scheduled later, with backoff) or `discarded` (attempts exhausted,
//! kept for the record). A lease that expires without a heartbeat is rescued to `retryable`.
//!
//! Every transition out of `running` is guarded by [`JobGuard`]: the row must still be
//! running, locked by this worker, at this attempt. A worker that lost its lease (it stalled,
//! the job was rescued and claimed again) therefore changes nothing.

use sqlx::{Any, Transaction};

use super::{Backend, Store, now_ms};

pub const KIND_ACT: &str = "act";

#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: &'static str,
    pub message_id: String,
    pub shop_id: String,
    pub subscriber_id: String,
    pub max_attempts: u32,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedJob {
    pub id: i64,
    pub kind: String,
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
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub state: String,
    pub attempt: i64,
    pub max_attempts: i64,
    pub scheduled_at: i64,
    pub attempted_at: Option<i64>,
    pub finalized_at: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
}

const GUARD: &str = "id = $1 AND state = 'running' AND locked_by = $2 AND attempt = $3";

pub(super) async fn insert(
    tx: &mut Transaction<'static, Any>,
    job: &NewJob,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO jobs (kind, message_id, shop_id, subscriber_id, state, attempt, max_attempts, \
         scheduled_at, created_at) VALUES ($1, $2, $3, $6, 'available', 0, $4, $5, $5)",
    )
    .bind(job.kind)
    .bind(&job.message_id)
    .bind(&job.shop_id)
    .bind(i64::from(job.max_attempts))
    .bind(now)
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
    ) -> Result<Option<ClaimedJob>, sqlx::Error> {
        let now = now_ms();
        let lock = match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempt = attempt + 1, attempted_at = $1, \
             locked_by = $2, lease_until = $3 \
             WHERE id IN (SELECT j.id FROM jobs j \
               WHERE j.state IN ('available', 'retryable') AND j.scheduled_at <= $1 \
               AND NOT EXISTS (SELECT 1 FROM jobs e WHERE e.shop_id = j.shop_id \
                 AND e.subscriber_id = j.subscriber_id AND e.id < j.id \
                 AND e.state IN ('available', 'running', 'retryable')) \
               AND (SELECT COUNT(*) FROM jobs r WHERE r.shop_id = j.shop_id AND r.state = 'running') < $4 \
               ORDER BY j.scheduled_at, j.id LIMIT 1 {lock}) \
             RETURNING id, kind, message_id, shop_id, attempt, max_attempts"
        );
        sqlx::query_as(&sql)
            .bind(now)
            .bind(worker)
            .bind(now + lease_ms)
            .bind(per_shop)
            .fetch_optional(&self.pool)
            .await
    }

    /// Extends the lease; false when the job is no longer ours.
    pub async fn heartbeat(&self, g: &JobGuard, lease_ms: i64) -> Result<bool, sqlx::Error> {
        let r = sqlx::query(&format!("UPDATE jobs SET lease_until = $4 WHERE {GUARD}"))
            .bind(g.job_id)
            .bind(&g.worker)
            .bind(g.attempt)
            .bind(now_ms() + lease_ms)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn complete_job(&self, g: &JobGuard) -> Result<bool, sqlx::Error> {
        self.finish(g, "completed", None, None).await
    }

    /// Schedules another attempt at `at_ms`.
    pub async fn retry_job(
        &self,
        g: &JobGuard,
        at_ms: i64,
        error: &str,
    ) -> Result<bool, sqlx::Error> {
        self.finish(g, "retryable", Some(at_ms), Some(error)).await
    }

    pub async fn discard_job(&self, g: &JobGuard, error: &str) -> Result<bool, sqlx::Error> {
        self.finish(g, "discarded", None, Some(error)).await
    }

    async fn finish(
        &self,
        g: &JobGuard,
        state: &str,
        scheduled_at: Option<i64>,
        error: Option<&str>,
    ) -> Result<bool, sqlx::Error> {
        let now = now_ms();
        let finalized = (state != "retryable").then_some(now);
        let r = sqlx::query(&format!(
            "UPDATE jobs SET state = $4, locked_by = NULL, lease_until = NULL, \
             scheduled_at = COALESCE($5, scheduled_at), finalized_at = $6, \
             last_error = COALESCE($7, last_error) WHERE {GUARD}"
        ))
        .bind(g.job_id)
        .bind(&g.worker)
        .bind(g.attempt)
        .bind(state)
        .bind(scheduled_at)
        .bind(finalized)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Returns expired leases to the queue (or discards them when no attempt is left).
    /// Only rows still `running` past their lease are touched, so a job that finished in the
    /// meantime is never overwritten.
    pub async fn rescue_expired(&self) -> Result<u64, sqlx::Error> {
        let now = now_ms();
        let r = sqlx::query(
            "UPDATE jobs SET \
               state = CASE WHEN attempt >= max_attempts THEN 'discarded' ELSE 'retryable' END, \
               finalized_at = CASE WHEN attempt >= max_attempts THEN $1 ELSE NULL END, \
               last_error = 'lease expired (worker stopped or stalled)', \
               locked_by = NULL, lease_until = NULL, scheduled_at = $1 \
             WHERE state = 'running' AND lease_until < $1",
        )
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    pub async fn jobs_for_message(&self, message_id: &str) -> Result<Vec<JobRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, kind, state, attempt, max_attempts, scheduled_at, attempted_at, finalized_at, \
             last_error, created_at FROM jobs WHERE message_id = $1 ORDER BY id",
        )
        .bind(message_id)
        .fetch_all(&self.pool)
        .await
    }

    /// Jobs not yet finished (available, running or retryable): tests and the demo wait on it.
    pub async fn unfinished_jobs(&self) -> Result<i64, sqlx::Error> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM jobs WHERE state IN ('available', 'running', 'retryable')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(n)
    }

    /// Job counts per state, for `/metrics`.
    pub async fn job_counts(&self) -> Result<Vec<(String, i64)>, sqlx::Error> {
        sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state")
            .fetch_all(&self.pool)
            .await
    }
}
