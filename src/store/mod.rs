//! The database: one pool over SQLite (the embedded default, WAL) or PostgreSQL (many replicas),
//! with the same SQL for both wherever the dialects agree. Times are epoch milliseconds.
//! This module owns every SQL statement; nothing else in the crate writes SQL.

pub mod calls;
mod error;
pub mod jobs;
pub mod messages;
pub mod outcomes;

use std::str::FromStr;
use std::sync::Once;
use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};

use crate::config::DatabaseConfig;

pub use error::StoreError;
pub use jobs::{ClaimedJob, JobGuard, JobKind, JobListing, JobState, NewJob, Requeue};
pub use messages::{Inserted, MessageStatus, NewMessage, StoredMessage};
pub use outcomes::{
    EventState, History, LastSkip, Outcome, OutcomeRef, OutcomeState, PastChange, Target,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The database's clock, in epoch milliseconds, as an SQL expression. Leases and
    /// schedules use it, so replicas whose clocks disagree still agree on when a lease ends.
    pub(crate) fn now_ms_sql(self) -> &'static str {
        match self {
            Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
            Backend::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        }
    }
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    pub async fn connect(cfg: &DatabaseConfig) -> Result<Store, StoreError> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let url = cfg.url.expose_secret();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let options = AnyConnectOptions::from_str(url)
            .map_err(|e| StoreError::Setup(format!("database.url: {e}")))?
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1));
        let pool = AnyPoolOptions::new()
            .max_connections(cfg.max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the writer; FULL sync makes "stored,
                        // then answered" hold across a power cut, not just a process crash;
                        // a generous busy timeout queues writers instead of failing them.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                             PRAGMA busy_timeout = 15000; PRAGMA foreign_keys = ON;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Setup(format!("database: cannot connect: {e}")))?;
        Ok(Store { pool, backend })
    }

    /// Applies the embedded migrations for this backend.
    /// SQLite migrations run on one connection with foreign keys off, because a table
    /// rebuild (SQLite's only way to change a constraint) drops a table others refer to.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let failed = |e: sqlx::migrate::MigrateError| StoreError::Setup(format!("migrations: {e}"));
        match self.backend {
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await.map_err(failed),
            Backend::Sqlite => {
                let mut conn = self.pool.acquire().await?;
                conn.execute("PRAGMA foreign_keys = OFF").await?;
                let ran = SQLITE_MIGRATIONS.run(&mut *conn).await.map_err(failed);
                // The connection goes back to the pool: foreign keys on again, whatever happened.
                let on = conn.execute("PRAGMA foreign_keys = ON").await;
                ran?;
                on?;
                Ok(())
            }
        }
    }

    /// Whether every migration this binary knows has been applied: `Ok(None)` when ready,
    /// `Ok(Some(why))` when not (for `/readyz` and `serve --no-migrate`).
    pub async fn schema_missing(&self) -> Result<Option<String>, StoreError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        let applied: Vec<(i64,)> =
            match sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await
            {
                Ok(rows) => rows,
                // No migration table: nothing was ever applied.
                Err(sqlx::Error::Database(_)) => Vec::new(),
                Err(e) => return Err(e.into()),
            };
        let missing: Vec<String> = migrator
            .iter()
            .filter(|m| !applied.iter().any(|(v,)| *v == m.version))
            .map(|m| m.version.to_string())
            .collect();
        Ok((!missing.is_empty()).then(|| {
            format!(
                "database schema is not migrated (missing {}): run `keyroute migrate`, or serve without --no-migrate",
                missing.join(", ")
            )
        }))
    }

    /// True when the database answers a trivial query (for `/readyz`).
    pub async fn ping(&self) -> bool {
        tokio::time::timeout(
            Duration::from_secs(2),
            sqlx::query("SELECT 1").execute(&self.pool),
        )
        .await
        .is_ok_and(|r| r.is_ok())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Action;
    use crate::harness::{TempDir, fresh_database};
    use sqlx::migrate::Migrate;

    /// A database made by the first release, with a message and its job, upgrades to the
    /// current schema without losing either, and then takes a STATUS reply.
    #[tokio::test]
    async fn an_old_database_upgrades_with_its_data() {
        let dir = TempDir::new("kr-migrate").unwrap();
        let url = fresh_database(dir.path()).await.unwrap();
        let cfg = DatabaseConfig {
            url: url.into(),
            ..DatabaseConfig::default()
        };
        let store = Store::connect(&cfg).await.unwrap();
        let migrator = match store.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        {
            let mut conn = store.pool.acquire().await.unwrap();
            conn.ensure_migrations_table().await.unwrap();
            conn.apply(migrator.iter().next().unwrap()).await.unwrap();
        }
        assert!(store.schema_missing().await.unwrap().is_some());
        let message = |id: &str, action: Action| NewMessage {
            id: id.into(),
            shop_id: "shop".into(),
            subscriber_id: "sub".into(),
            from_number: "+15555550100".into(),
            shopify_customer_id: None,
            body: action.as_str().into(),
            webhook_id: None,
            sent_at: None,
            status: MessageStatus::Accepted,
            interpretation: format!(
                r#"{{"action":"{}","rule":"r","keyword":"k"}}"#,
                action.as_str()
            ),
            action: Some(action),
        };
        let job = |id: &str| NewJob {
            kind: JobKind::Act,
            message_id: id.into(),
            shop_id: "shop".into(),
            subscriber_id: "sub".into(),
            max_attempts: 8,
        };
        store
            .insert_message(&message("m1", Action::Skip), Some(&job("m1")))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        assert_eq!(store.schema_missing().await.unwrap(), None);
        let old = store.message("m1").await.unwrap().expect("kept");
        assert_eq!(old.action, Some(Action::Skip));
        let jobs: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE message_id = 'm1'")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(jobs.0, 1);
        store
            .insert_message(&message("m2", Action::Status), Some(&job("m2")))
            .await
            .unwrap();
        // Foreign keys still hold after the rebuild.
        if store.backend == Backend::Sqlite {
            let bad = sqlx::query(
                "INSERT INTO jobs (kind, message_id, shop_id, subscriber_id, state, max_attempts, \
                 scheduled_at, created_at) VALUES ('act', 'nope', 's', 's', 'available', 8, 0, 0)",
            )
            .execute(&store.pool)
            .await;
            assert!(bad.is_err(), "a job for a missing message must be refused");
        }
        store.close().await;
    }
}
