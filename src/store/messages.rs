//! Inbound messages: stored with their job in one transaction, de-duplicated on Postscript's
//! `event_data.id`.

use super::{NewJob, Store, jobs, now_ms};

/// A verified inbound reply, ready to store.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: String,
    pub shop_id: String,
    pub subscriber_id: String,
    pub from_number: String,
    pub shopify_customer_id: Option<String>,
    pub body: String,
    pub webhook_id: Option<String>,
    pub sent_at: Option<String>,
    /// `accepted` when a job goes with it, else `ignored`.
    pub status: &'static str,
    pub interpretation: String,
    pub action: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    New,
    Duplicate,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct StoredMessage {
    pub id: String,
    pub shop_id: String,
    pub subscriber_id: String,
    pub from_number: String,
    pub shopify_customer_id: Option<String>,
    pub body: String,
    pub webhook_id: Option<String>,
    pub sent_at: Option<String>,
    pub received_at: i64,
    pub status: String,
    pub interpretation: String,
    pub action: Option<String>,
}

impl Store {
    /// Stores the message and, when given, its job, atomically. A message id seen before
    /// stores nothing and says [`Inserted::Duplicate`], however many deliveries race.
    pub async fn insert_message(
        &self,
        m: &NewMessage,
        job: Option<&NewJob>,
    ) -> Result<Inserted, sqlx::Error> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let inserted: Option<(String,)> = sqlx::query_as(
            "INSERT INTO messages (id, shop_id, subscriber_id, from_number, shopify_customer_id, body, \
             webhook_id, sent_at, received_at, status, interpretation, action) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (id) DO NOTHING RETURNING id",
        )
        .bind(&m.id)
        .bind(&m.shop_id)
        .bind(&m.subscriber_id)
        .bind(&m.from_number)
        .bind(&m.shopify_customer_id)
        .bind(&m.body)
        .bind(&m.webhook_id)
        .bind(&m.sent_at)
        .bind(now)
        .bind(m.status)
        .bind(&m.interpretation)
        .bind(m.action)
        .fetch_optional(&mut *tx)
        .await?;
        if inserted.is_none() {
            tx.rollback().await?;
            return Ok(Inserted::Duplicate);
        }
        if let Some(job) = job {
            jobs::insert(&mut tx, job, now).await?;
        }
        tx.commit().await?;
        Ok(Inserted::New)
    }

    pub async fn message(&self, id: &str) -> Result<Option<StoredMessage>, sqlx::Error> {
        sqlx::query_as("SELECT * FROM messages WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    pub async fn count_messages(&self) -> Result<i64, sqlx::Error> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages")
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }
}
