//! The outbound calls each job attempt made, kept for the message view.

use serde::Serialize;

use super::{ClaimedJob, Store, StoreError};
use crate::outbound::CallRecord;

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct CallRow {
    pub job_id: i64,
    pub attempt: i64,
    pub service: String,
    pub op: String,
    pub method: String,
    pub path: String,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub at: i64,
}

impl Store {
    /// Appends an attempt's calls. A log, not state: written whatever became of the attempt.
    pub async fn record_calls(
        &self,
        job: &ClaimedJob,
        calls: &[CallRecord],
    ) -> Result<(), StoreError> {
        if calls.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for c in calls {
            sqlx::query(
                "INSERT INTO calls (message_id, job_id, attempt, service, op, method, path, status, \
                 error, duration_ms, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(&job.message_id)
            .bind(job.id)
            .bind(job.attempt)
            .bind(c.service)
            .bind(c.op)
            .bind(&c.method)
            .bind(&c.path)
            .bind(c.status.map(i64::from))
            .bind(&c.error)
            .bind(c.duration_ms)
            .bind(c.at_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn calls_for_message(&self, message_id: &str) -> Result<Vec<CallRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT job_id, attempt, service, op, method, path, status, error, duration_ms, at \
             FROM calls WHERE message_id = $1 ORDER BY id",
        )
        .bind(message_id)
        .fetch_all(&self.pool)
        .await?)
    }
}
