//! Inbound messages: stored with their job in one transaction, de-duplicated on Postscript's
//! `event_data.id`.

use serde::Serialize;
use serde_json::Value;

use super::error::parse;
use super::{NewJob, Store, StoreError, jobs};
use crate::domain::{Action, Intent, now_ms};

/// What the webhook answered for a stored message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    /// A job goes with it.
    Accepted,
    /// Nothing to do (no keyword, a negation...).
    Ignored,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Accepted => "accepted",
            MessageStatus::Ignored => "ignored",
        }
    }
}

impl std::str::FromStr for MessageStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "accepted" => Ok(MessageStatus::Accepted),
            "ignored" => Ok(MessageStatus::Ignored),
            other => Err(format!("unknown message status {other:?}")),
        }
    }
}

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
    pub status: MessageStatus,
    /// How the reply was read, as `keyroute match --json` prints it.
    pub interpretation: String,
    pub action: Option<Action>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    New,
    Duplicate,
}

#[derive(Debug, Clone, Serialize)]
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
    pub status: MessageStatus,
    /// How the reply was read, as `keyroute match --json` prints it.
    pub interpretation: String,
    pub action: Option<Action>,
}

impl StoredMessage {
    /// The intent the webhook stored, read back as the same [`Intent`] the matcher produced.
    /// `None` for a reply that asked for nothing; an unreadable record is an error.
    pub fn intent(&self) -> Result<Option<Intent>, StoreError> {
        let v: Value = serde_json::from_str(&self.interpretation)
            .map_err(|e| StoreError::corrupt("interpretation", e))?;
        if v.get("action").is_none_or(Value::is_null) {
            return Ok(None);
        }
        serde_json::from_value(v)
            .map(Some)
            .map_err(|e| StoreError::corrupt("interpretation", e))
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    shop_id: String,
    subscriber_id: String,
    from_number: String,
    shopify_customer_id: Option<String>,
    body: String,
    webhook_id: Option<String>,
    sent_at: Option<String>,
    received_at: i64,
    status: String,
    interpretation: String,
    action: Option<String>,
}

impl TryFrom<Row> for StoredMessage {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(StoredMessage {
            status: parse("message status", &r.status)?,
            action: r
                .action
                .as_deref()
                .map(|a| parse("action", a))
                .transpose()?,
            id: r.id,
            shop_id: r.shop_id,
            subscriber_id: r.subscriber_id,
            from_number: r.from_number,
            shopify_customer_id: r.shopify_customer_id,
            body: r.body,
            webhook_id: r.webhook_id,
            sent_at: r.sent_at,
            received_at: r.received_at,
            interpretation: r.interpretation,
        })
    }
}

impl Store {
    /// Stores the message and, when given, its job, atomically. A message id seen before
    /// stores nothing and says [`Inserted::Duplicate`], however many deliveries race.
    pub async fn insert_message(
        &self,
        m: &NewMessage,
        job: Option<&NewJob>,
    ) -> Result<Inserted, StoreError> {
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
        .bind(m.status.as_str())
        .bind(&m.interpretation)
        .bind(m.action.map(Action::as_str))
        .fetch_optional(&mut *tx)
        .await?;
        if inserted.is_none() {
            tx.rollback().await?;
            return Ok(Inserted::Duplicate);
        }
        if let Some(job) = job {
            jobs::insert(&mut tx, self.backend, job).await?;
        }
        tx.commit().await?;
        Ok(Inserted::New)
    }

    pub async fn message(&self, id: &str) -> Result<Option<StoredMessage>, StoreError> {
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, shop_id, subscriber_id, from_number, shopify_customer_id, body, webhook_id, \
             sent_at, received_at, status, interpretation, action FROM messages WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(StoredMessage::try_from).transpose()
    }

    pub async fn count_messages(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages")
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }
}
