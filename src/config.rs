//! Typed configuration: `keyroute.toml` layered under `KEYROUTE_<SECTION>__<KEY>` environment
//! overrides, validated once at start-up so that a bad value stops the process with a message
//! naming the key. Owns no I/O beyond reading the file; everything downstream receives a
//! validated [`Config`].

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use crate::domain::{Confirm, Multiple, PlatformKind};

/// Where the configuration came from, for the start-up log line.
#[derive(Debug, Clone)]
pub enum Source {
    File(PathBuf),
    Defaults,
}

/// A configuration problem, always naming the key it is about.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config: {0}")]
    Parse(String),
    #[error("config: {key}: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub admin: AdminConfig,
    #[serde(default)]
    pub keywords: KeywordsConfig,
    #[serde(default)]
    pub worker: WorkerConfig,
    #[serde(default)]
    pub http_client: HttpClientConfig,
    /// Deployment-wide Postscript settings (a partner app's key).
    #[serde(default)]
    pub postscript: PostscriptGlobalConfig,
    #[serde(default)]
    pub shops: Vec<ShopConfig>,
    /// Filled in by [`Config::load`]; not a key.
    #[serde(skip)]
    pub source: Option<Source>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    #[serde(default = "default_db_url")]
    pub url: SecretString,
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: default_db_url(),
            max_connections: default_max_connections(),
        }
    }
}

fn default_db_url() -> SecretString {
    SecretString::from("sqlite://keyroute.db?mode=rwc")
}
fn default_max_connections() -> u32 {
    10
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    #[serde(default)]
    pub tokens: Vec<SecretString>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeywordsConfig {
    /// `None` means "the shipped rule files": `keywords/` when it exists in the working
    /// directory, else the copies compiled into the binary.
    pub dir: Option<PathBuf>,
}

/// The job worker. Defaults suit production; tests shorten the timings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerConfig {
    /// Jobs processed at once by this process.
    pub concurrency: usize,
    /// How long a claimed job stays ours without a heartbeat before another worker may rescue it.
    pub lease_seconds: u64,
    /// Attempts before a job is discarded (and the shopper told `platform_error`).
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt, with full jitter, up to `backoff_max_ms`.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// How often an idle worker looks for due jobs (new webhooks wake it at once).
    pub poll_interval_ms: u64,
    /// On SIGTERM/SIGINT: how long in-flight jobs may take to finish before we exit anyway.
    pub shutdown_grace_seconds: u64,
    /// At most this many jobs of one shop run at once in this process, so one shop's burst
    /// (waiting on its own rate limits) never takes every worker from the other shops.
    /// Default: half of `concurrency`, at least 1.
    pub max_running_per_shop: Option<usize>,
    /// How long the platforms together may take to say where a shopper's subscriptions are.
    /// A platform slower than this is treated as down for this attempt.
    pub lookup_timeout_ms: u64,
    /// How long a Postscript subscriber (email, Shopify customer id) is remembered.
    pub subscriber_cache_seconds: u64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 4,
            lease_seconds: 60,
            max_attempts: 8,
            backoff_base_ms: 2_000,
            backoff_max_ms: 300_000,
            poll_interval_ms: 1_000,
            shutdown_grace_seconds: 20,
            max_running_per_shop: None,
            lookup_timeout_ms: 8_000,
            subscriber_cache_seconds: 600,
        }
    }
}

impl WorkerConfig {
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_seconds)
    }

    pub fn running_per_shop(&self) -> usize {
        self.max_running_per_shop
            .unwrap_or(self.concurrency / 2)
            .max(1)
    }
}

/// Outbound HTTP (Postscript and the platforms): one client, one timeout.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpClientConfig {
    pub timeout_ms: u64,
    pub connect_timeout_ms: u64,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        Self {
            timeout_ms: 10_000,
            connect_timeout_ms: 3_000,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopConfig {
    pub id: String,
    #[serde(default = "default_timezone")]
    pub timezone: String,
    #[serde(default)]
    pub multiple: Multiple,
    /// When a skip or delay asks the shopper first.
    #[serde(default)]
    pub confirm: Confirm,
    /// A SKIP for a subscription whose current next order is the result of keyroute's own
    /// skip less than this many hours ago is answered `already_skipped` instead of skipping the
    /// following order too (double texts, redeliveries under a new id). 0 turns it off.
    #[serde(default = "default_already_skipped_hours")]
    pub already_skipped_window_hours: u64,
    /// UNDO reverses the shopper's last skip or delay made by keyroute within this many hours.
    #[serde(default = "default_undo_hours")]
    pub undo_window_hours: u64,
    pub postscript: PostscriptConfig,
    #[serde(default)]
    pub platforms: PlatformsConfig,
}

fn default_already_skipped_hours() -> u64 {
    72
}

fn default_undo_hours() -> u64 {
    72
}

fn default_timezone() -> String {
    "UTC".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostscriptConfig {
    /// The shop's private key. With partner auth it goes in `X-Postscript-Shop-Token`.
    pub api_key: SecretString,
    /// How this shop's calls authenticate; default: `partner` when `[postscript] partner_key`
    /// is set, else `shop_key`.
    #[serde(default)]
    pub auth: Option<PostscriptAuth>,
    pub webhook_token: SecretString,
    #[serde(default = "default_postscript_url")]
    pub base_url: Url,
    /// Requests per second keyroute allows itself on this key (Postscript's documented 15).
    #[serde(default = "default_postscript_rate")]
    pub requests_per_second: u32,
}

/// How a shop's Postscript calls authenticate (platforms.md, "Two ways to authenticate").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostscriptAuth {
    /// `Authorization: Bearer <partner key>` plus `X-Postscript-Shop-Token: <shop key>`: every
    /// plan.
    Partner,
    /// `Authorization: Bearer <shop key>` alone: Enterprise plans only.
    ShopKey,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostscriptGlobalConfig {
    /// A Postscript partner app's key, for shops reached through the partner app.
    pub partner_key: Option<SecretString>,
}

impl Config {
    /// How a shop's Postscript calls authenticate, its `auth` or the default.
    pub fn postscript_auth(&self, shop: &ShopConfig) -> PostscriptAuth {
        shop.postscript
            .auth
            .unwrap_or(match self.postscript.partner_key {
                Some(_) => PostscriptAuth::Partner,
                None => PostscriptAuth::ShopKey,
            })
    }
}

/// Postscript's documented limit: 15 requests per second per api key.
pub const POSTSCRIPT_REQUESTS_PER_SECOND: u32 = 15;

fn default_postscript_rate() -> u32 {
    POSTSCRIPT_REQUESTS_PER_SECOND
}

fn default_postscript_url() -> Url {
    Url::parse("https://api.postscript.io").expect("static URL")
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformsConfig {
    pub skio: Option<PlatformConfig>,
    #[serde(rename = "loop")]
    pub loop_: Option<PlatformConfig>,
    pub smartrr: Option<PlatformConfig>,
    pub prive: Option<PlatformConfig>,
    pub recharge: Option<PlatformConfig>,
}

impl PlatformsConfig {
    /// The configured platforms, in a stable order.
    pub fn iter(&self) -> impl Iterator<Item = (PlatformKind, &PlatformConfig)> {
        [
            (PlatformKind::Skio, &self.skio),
            (PlatformKind::Loop, &self.loop_),
            (PlatformKind::Smartrr, &self.smartrr),
            (PlatformKind::Prive, &self.prive),
            (PlatformKind::Recharge, &self.recharge),
        ]
        .into_iter()
        .filter_map(|(kind, cfg)| cfg.as_ref().map(|c| (kind, c)))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformConfig {
    pub api_token: SecretString,
    /// Defaults to the platform's public API ([`PlatformKind::default_base_url`]).
    pub base_url: Option<Url>,
    /// Overrides the platform's default rate limit for this token (requests per second).
    pub requests_per_second: Option<u32>,
    /// Overrides the burst the limiter allows (a leaky bucket's capacity).
    pub burst: Option<u32>,
}

impl Config {
    /// Resolves the file per the contract: an explicit `--config`, else `keyroute.toml` in the
    /// working directory, else `$KEYROUTE_CONFIG`, else built-in defaults; then applies
    /// `KEYROUTE_<SECTION>__<KEY>` overrides and validates.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let path = match explicit {
            Some(p) => {
                if !p.is_file() {
                    return Err(invalid(
                        "--config",
                        format!("no such file: {}", p.display()),
                    ));
                }
                Some(p.to_path_buf())
            }
            None => {
                let local = PathBuf::from("keyroute.toml");
                if local.is_file() {
                    Some(local)
                } else {
                    match std::env::var_os("KEYROUTE_CONFIG") {
                        Some(p) if !p.is_empty() => {
                            let p = PathBuf::from(p);
                            if !p.is_file() {
                                return Err(invalid(
                                    "KEYROUTE_CONFIG",
                                    format!("no such file: {}", p.display()),
                                ));
                            }
                            Some(p)
                        }
                        _ => None,
                    }
                }
            }
        };
        let mut figment = Figment::new();
        if let Some(p) = &path {
            figment = figment.merge(Toml::file_exact(p));
        }
        figment = figment.merge(env_overrides());
        let mut config = Self::from_figment(figment)?;
        config.source = Some(match path {
            Some(p) => Source::File(p),
            None => Source::Defaults,
        });
        Ok(config)
    }

    /// Parses and validates a TOML document (no environment): for tests and the sandbox.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        Self::from_figment(Figment::from(Toml::string(text)))
    }

    fn from_figment(figment: Figment) -> Result<Config, ConfigError> {
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Parse(describe_figment_error(e)))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let url = self.database.url.expose_secret();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database.url",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        if self.database.max_connections == 0 {
            return Err(invalid("database.max_connections", "must be at least 1"));
        }
        for (i, t) in self.admin.tokens.iter().enumerate() {
            let key = format!("admin.tokens[{i}]");
            check_secret(t, &key)?;
            if t.expose_secret().trim().len() < 8 {
                return Err(invalid(key, "must be at least 8 characters"));
            }
        }
        if let Some(k) = &self.postscript.partner_key {
            check_secret(k, "postscript.partner_key")?;
        }
        let w = &self.worker;
        if w.concurrency == 0 {
            return Err(invalid("worker.concurrency", "must be at least 1"));
        }
        if w.max_attempts == 0 {
            return Err(invalid("worker.max_attempts", "must be at least 1"));
        }
        if w.lease_seconds == 0 {
            return Err(invalid("worker.lease_seconds", "must be at least 1"));
        }
        if w.backoff_base_ms > w.backoff_max_ms {
            return Err(invalid(
                "worker.backoff_base_ms",
                "must not exceed worker.backoff_max_ms",
            ));
        }
        let mut seen = HashSet::new();
        for (i, shop) in self.shops.iter().enumerate() {
            let key = |k: &str| format!("shops[{i}].{k}");
            if shop.id.trim().is_empty() {
                return Err(invalid(key("id"), "must not be empty"));
            }
            if !seen.insert(shop.id.as_str()) {
                return Err(invalid(
                    key("id"),
                    format!("shop {:?} is listed twice", shop.id),
                ));
            }
            if jiff::tz::TimeZone::get(&shop.timezone).is_err() {
                return Err(invalid(
                    key("timezone"),
                    format!(
                        "unknown time zone {:?} (use an IANA name such as \"America/New_York\")",
                        shop.timezone
                    ),
                ));
            }
            check_secret(&shop.postscript.api_key, &key("postscript.api_key"))?;
            if shop.postscript.auth == Some(PostscriptAuth::Partner)
                && self.postscript.partner_key.is_none()
            {
                return Err(invalid(
                    key("postscript.auth"),
                    "\"partner\" needs [postscript] partner_key (the partner app's key)",
                ));
            }
            check_secret(
                &shop.postscript.webhook_token,
                &key("postscript.webhook_token"),
            )?;
            check_url(&shop.postscript.base_url, &key("postscript.base_url"))?;
            if shop.postscript.requests_per_second == 0 {
                return Err(invalid(
                    key("postscript.requests_per_second"),
                    "must be at least 1",
                ));
            }
            for (kind, p) in shop.platforms.iter() {
                let k = format!("shops[{i}].platforms.{}", kind.as_str());
                check_secret(&p.api_token, &format!("{k}.api_token"))?;
                if let Some(u) = &p.base_url {
                    check_url(u, &format!("{k}.base_url"))?;
                }
                if p.requests_per_second == Some(0) {
                    return Err(invalid(
                        format!("{k}.requests_per_second"),
                        "must be at least 1",
                    ));
                }
                if p.burst == Some(0) {
                    return Err(invalid(format!("{k}.burst"), "must be at least 1"));
                }
            }
        }
        Ok(())
    }

    pub fn shop(&self, id: &str) -> Option<&ShopConfig> {
        self.shops.iter().find(|s| s.id == id)
    }

    /// Contradictions that do not stop start-up but deserve a line in the log.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let lease_ms = self.worker.lease_seconds * 1000;
        if lease_ms < 2 * self.http_client.timeout_ms {
            out.push(format!(
                "worker.lease_seconds ({}s) is shorter than two outbound HTTP timeouts ({}ms): a slow platform call may see its job rescued and retried while it is still running",
                self.worker.lease_seconds, self.http_client.timeout_ms
            ));
        }
        if self.admin.tokens.is_empty() {
            out.push("admin.tokens is empty: /api/v1 and /admin refuse every request".to_owned());
        }
        if self.shops.is_empty() {
            out.push("no [[shops]] configured: every webhook is refused with 401".to_owned());
        }
        out
    }
}

fn check_secret(s: &SecretString, key: &str) -> Result<(), ConfigError> {
    let v = s.expose_secret().trim();
    if v.is_empty() {
        return Err(invalid(key, "must not be empty"));
    }
    if is_placeholder(v) {
        return Err(invalid(
            key,
            "is a placeholder from the example file; put the real secret here",
        ));
    }
    Ok(())
}

/// The example file's placeholders (`...`, `sk_...`, `change-me...`): a copied example must
/// not start with secrets anyone can guess.
fn is_placeholder(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    lower.contains("...") || lower.starts_with("change-me") || lower == "changeme"
}

fn check_url(u: &Url, key: &str) -> Result<(), ConfigError> {
    if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
        return Err(invalid(key, format!("{u} is not an http(s) URL")));
    }
    Ok(())
}

/// `KEYROUTE_DATABASE__URL` → `database.url`. Only `<SECTION>__<KEY>` forms are keys: other
/// `KEYROUTE_*` variables (`KEYROUTE_CONFIG`, `KEYROUTE_LOG_FORMAT`) mean something else.
fn env_overrides() -> Env {
    Env::prefixed("KEYROUTE_")
        .split("__")
        .filter(|k| k.as_str().contains('.'))
}

/// Figment's errors already carry the key path; render it as `key: problem (source)`.
fn describe_figment_error(e: figment::Error) -> String {
    e.into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                None
            } else {
                Some(e.path.join("."))
            };
            let src = e
                .metadata
                .as_ref()
                .and_then(|m| m.source.as_ref())
                .map(|s| format!(" (in {s})"))
                .unwrap_or_default();
            match key {
                Some(k) => format!("{k}: {}{src}", e.kind),
                None => format!("{}{src}", e.kind),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOP: &str = r#"
[[shops]]
id = "shop_1"
timezone = "America/New_York"
[shops.postscript]
api_key = "sk_test"
webhook_token = "tok"
[shops.platforms.skio]
api_token = "skio"
"#;

    #[test]
    fn defaults_apply_and_shop_parses() {
        let c = Config::from_toml_str(SHOP).unwrap();
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
        let s = c.shop("shop_1").unwrap();
        assert_eq!(s.postscript.base_url.as_str(), "https://api.postscript.io/");
        assert_eq!(s.platforms.iter().count(), 1);
    }

    #[test]
    fn unknown_key_is_named() {
        let e =
            Config::from_toml_str("[server]\nlisten = \"127.0.0.1:1\"\nlisen = 1\n").unwrap_err();
        assert!(e.to_string().contains("lisen"), "{e}");
    }

    #[test]
    fn bad_timezone_is_named() {
        let e = Config::from_toml_str(&SHOP.replace("America/New_York", "Mars/Base")).unwrap_err();
        assert!(e.to_string().contains("shops[0].timezone"), "{e}");
    }

    #[test]
    fn missing_token_is_named() {
        let e = Config::from_toml_str(&SHOP.replace("webhook_token = \"tok\"", "")).unwrap_err();
        assert!(e.to_string().contains("webhook_token"), "{e}");
    }

    #[test]
    fn bad_url_is_named() {
        let e = Config::from_toml_str(&format!("{SHOP}base_url = \"not a url\"\n")).unwrap_err();
        assert!(e.to_string().contains("base_url"), "{e}");
    }

    #[test]
    fn placeholder_secrets_are_refused() {
        for (from, to) in [
            ("webhook_token = \"tok\"", "webhook_token = \"...\""),
            ("api_key = \"sk_test\"", "api_key = \"sk_...\""),
            ("api_token = \"skio\"", "api_token = \"...\""),
        ] {
            let e = Config::from_toml_str(&SHOP.replace(from, to)).unwrap_err();
            assert!(e.to_string().contains("placeholder"), "{e}");
        }
        let e = Config::from_toml_str(&format!(
            "[admin]\ntokens = [\"change-me-to-a-long-random-string\"]\n{SHOP}"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("admin.tokens[0]"), "{e}");
    }

    #[test]
    fn partner_auth_needs_the_partner_key() {
        let partner = SHOP.replace(
            "api_key = \"sk_test\"",
            "api_key = \"sk_test\"\nauth = \"partner\"",
        );
        let e = Config::from_toml_str(&partner).unwrap_err();
        assert!(e.to_string().contains("shops[0].postscript.auth"), "{e}");
        let c = Config::from_toml_str(&format!(
            "[postscript]\npartner_key = \"sk_partner_live\"\n{partner}"
        ))
        .unwrap();
        assert_eq!(c.postscript_auth(&c.shops[0]), PostscriptAuth::Partner);
        let c = Config::from_toml_str(&format!(
            "[postscript]\npartner_key = \"sk_partner_live\"\n{SHOP}"
        ))
        .unwrap();
        assert_eq!(
            c.postscript_auth(&c.shops[0]),
            PostscriptAuth::Partner,
            "the default once a partner key is set"
        );
        let c = Config::from_toml_str(SHOP).unwrap();
        assert_eq!(c.postscript_auth(&c.shops[0]), PostscriptAuth::ShopKey);
    }

    #[test]
    fn secrets_do_not_leak_through_debug() {
        let c = Config::from_toml_str(SHOP).unwrap();
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("sk_test") && !dbg.contains("\"tok\""),
            "{dbg}"
        );
    }
}
