//! One test harness for everything that runs keyroute against simulators: the API tests, the
//! replay sandbox (and so the demo), and the benches. It seeds a world into the simulators
//! (`keyroute_sandbox::Sims`) and builds the config that points keyroute at them, in one
//! place.

use std::fmt::Write as _;
use std::path::Path;

use sqlx::Connection;

use crate::config::{Config, ConfigError};
use crate::domain::{Multiple, PlatformKind};
use keyroute_sandbox::Sims;

/// One `[[shops]]` entry, pointed at a set of simulators.
pub struct ShopSetup<'a> {
    pub id: &'a str,
    pub timezone: &'a str,
    pub multiple: Multiple,
    pub sims: &'a Sims,
    /// The platforms the shop lists, each pointed at its simulator with its token.
    pub platforms: &'a [PlatformKind],
    /// Extra keys for particular platform tables (rate overrides).
    pub platform_keys: &'a [(PlatformKind, &'a str)],
    /// Extra keys for every platform table of this shop.
    pub all_platform_keys: &'a str,
    /// Extra keys for the shop's `[shops.postscript]` table.
    pub postscript_keys: &'a str,
}

/// The process-wide settings a harness run changes; `None` keeps keyroute's default.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub admin_token: Option<String>,
    /// `[postscript] partner_key`.
    pub partner_key: Option<String>,
    pub max_connections: Option<u32>,
    pub concurrency: Option<usize>,
    pub lease_seconds: Option<u64>,
    pub max_attempts: Option<u32>,
    pub backoff_base_ms: Option<u64>,
    pub backoff_max_ms: Option<u64>,
    pub poll_interval_ms: Option<u64>,
    pub shutdown_grace_seconds: Option<u64>,
    pub lookup_timeout_ms: Option<u64>,
    pub http_timeout_ms: Option<u64>,
    pub http_connect_timeout_ms: Option<u64>,
}

fn key<T: std::fmt::Display>(out: &mut String, name: &str, value: &Option<T>) {
    if let Some(v) = value {
        let _ = writeln!(out, "{name} = {v}");
    }
}

/// The `keyroute.toml` text for `shops` on `db_url`, listening on a free port.
pub fn config_toml(db_url: &str, settings: &Settings, shops: &[ShopSetup<'_>]) -> String {
    let s = settings;
    let mut out = String::new();
    let _ = writeln!(out, "[server]\nlisten = \"127.0.0.1:0\"");
    let _ = writeln!(out, "[database]\nurl = \"{db_url}\"");
    key(&mut out, "max_connections", &s.max_connections);
    if let Some(t) = &s.admin_token {
        let _ = writeln!(out, "[admin]\ntokens = [\"{t}\"]");
    }
    let _ = writeln!(out, "[worker]");
    key(&mut out, "concurrency", &s.concurrency);
    key(&mut out, "lease_seconds", &s.lease_seconds);
    key(&mut out, "max_attempts", &s.max_attempts);
    key(&mut out, "backoff_base_ms", &s.backoff_base_ms);
    key(&mut out, "backoff_max_ms", &s.backoff_max_ms);
    key(&mut out, "poll_interval_ms", &s.poll_interval_ms);
    key(
        &mut out,
        "shutdown_grace_seconds",
        &s.shutdown_grace_seconds,
    );
    key(&mut out, "lookup_timeout_ms", &s.lookup_timeout_ms);
    if let Some(k) = &s.partner_key {
        let _ = writeln!(out, "[postscript]\npartner_key = \"{k}\"");
    }
    let _ = writeln!(out, "[http_client]");
    key(&mut out, "timeout_ms", &s.http_timeout_ms);
    key(&mut out, "connect_timeout_ms", &s.http_connect_timeout_ms);
    for shop in shops {
        let c = &shop.sims.credentials;
        let multiple = match shop.multiple {
            Multiple::Next => "next",
            Multiple::All => "all",
        };
        let _ = write!(
            out,
            "\n[[shops]]\nid = \"{id}\"\ntimezone = \"{tz}\"\nmultiple = \"{multiple}\"\n\
             [shops.postscript]\napi_key = \"{key}\"\nwebhook_token = \"{token}\"\nbase_url = \"{url}\"\n{extra}\n",
            id = shop.id,
            tz = shop.timezone,
            key = c.postscript_key,
            token = c.webhook_token,
            url = shop.sims.postscript.base_url(),
            extra = shop.postscript_keys,
        );
        for kind in shop.platforms {
            let name = kind.as_str();
            let extra = shop
                .platform_keys
                .iter()
                .filter(|(k, _)| k == kind)
                .map(|(_, v)| *v)
                .collect::<Vec<_>>()
                .join("\n");
            let _ = write!(
                out,
                "[shops.platforms.{name}]\napi_token = \"{token}\"\nbase_url = \"{url}\"\n{all}\n{extra}\n",
                token = shop.sims.token(name).expect("a simulator per platform"),
                url = shop.sims.base_url(name).expect("a simulator per platform"),
                all = shop.all_platform_keys,
            );
        }
    }
    out
}

/// [`config_toml`], parsed and validated.
pub fn config(
    db_url: &str,
    settings: &Settings,
    shops: &[ShopSetup<'_>],
) -> Result<Config, ConfigError> {
    Config::from_toml_str(&config_toml(db_url, settings, shops))
}

/// A fresh database for one run: a new PostgreSQL database when `TEST_POSTGRES_URL` names a
/// server (`.ci/run` sets it, and drops them afterwards), else a SQLite file in `dir`.
pub async fn fresh_database(dir: &Path) -> anyhow::Result<String> {
    match fresh_postgres_database().await? {
        Some(url) => Ok(url),
        None => Ok(format!("sqlite://{}/keyroute.db?mode=rwc", dir.display())),
    }
}

/// A new, empty PostgreSQL database when `TEST_POSTGRES_URL` is set, else `None`.
pub async fn fresh_postgres_database() -> anyhow::Result<Option<String>> {
    let Some(admin_url) = std::env::var("TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        return Ok(None);
    };
    let name = format!("keyroute_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin_url)
        .await
        .map_err(|e| anyhow::anyhow!("TEST_POSTGRES_URL: {e}"))?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await?;
    conn.close().await.ok();
    let mut url = url::Url::parse(&admin_url)?;
    url.set_path(&format!("/{name}"));
    Ok(Some(url.to_string()))
}

/// A temporary folder removed on drop.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> std::io::Result<TempDir> {
        let d = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&d)?;
        Ok(TempDir(d))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
