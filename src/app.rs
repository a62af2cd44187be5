//! Wiring. [`App::start`] turns a validated [`Config`] into a running server and worker on
//! the configured address (port 0 picks a free port, which tests and the demo use), and
//! [`App::shutdown`] stops both gracefully.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context as _;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::act::Shop;
use crate::config::Config;
use crate::http::{self, AppState};
use crate::keywords::RuleSet;
use crate::platforms::{self, PlatformHttp};
use crate::postscript::{Postscript, SubscriberCache};
use crate::store::Store;
use crate::worker::{self, WorkerContext};

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Apply pending migrations before serving (`serve` does unless `--no-migrate`).
    pub migrate: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self { migrate: true }
    }
}

pub struct App {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    shutdown: CancellationToken,
    server: JoinHandle<()>,
    worker: JoinHandle<()>,
}

/// The process-wide Prometheus recorder (metrics are global; so is this).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .install_recorder()
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder().handle())
        })
        .clone()
}

/// The rule set a config asks for: its `keywords.dir`, else `./keywords` when present, else
/// the rule files compiled into the binary.
pub fn load_rules(config: &Config) -> anyhow::Result<RuleSet> {
    match &config.keywords.dir {
        Some(dir) => {
            RuleSet::load_dir(dir).with_context(|| format!("keywords.dir: {}", dir.display()))
        }
        None if Path::new("keywords").is_dir() => RuleSet::load_dir(Path::new("keywords"))
            .context("keywords/ (the default rule directory)"),
        None => Ok(RuleSet::embedded()),
    }
}

/// Builds every configured shop: its Postscript account, platform adapters and rules.
pub fn build_shops(
    config: &Config,
    rules: Arc<RuleSet>,
) -> anyhow::Result<HashMap<String, Arc<Shop>>> {
    let platform_http = PlatformHttp::new(&config.http_client)?;
    let postscript = Postscript::new(platform_http.client().clone());
    let mut shops = HashMap::new();
    for shop in &config.shops {
        let adapters = platforms::build_for_shop(shop, &platform_http);
        shops.insert(
            shop.id.clone(),
            Arc::new(Shop {
                id: shop.id.clone(),
                tz: jiff::tz::TimeZone::get(&shop.timezone)
                    .with_context(|| format!("shops: {}: timezone", shop.id))?,
                multiple: shop.multiple,
                webhook_token: SecretString::from(
                    shop.postscript.webhook_token.expose_secret().to_owned(),
                ),
                postscript: postscript.account(&shop.postscript),
                subscribers: SubscriberCache::new(Duration::from_secs(
                    config.worker.subscriber_cache_seconds,
                )),
                platforms: adapters,
                rules: rules.clone(),
                already_skipped_window: Duration::from_secs(
                    shop.already_skipped_window_hours * 3600,
                ),
                undo_window: Duration::from_secs(shop.undo_window_hours * 3600),
                lookup_timeout: Duration::from_millis(config.worker.lookup_timeout_ms),
            }),
        );
    }
    Ok(shops)
}

impl App {
    pub async fn start(config: &Config, options: Options) -> anyhow::Result<App> {
        for w in config.warnings() {
            tracing::warn!("{w}");
        }
        let store = Store::connect(&config.database).await?;
        if options.migrate {
            store.migrate().await?;
        }
        let rules = Arc::new(load_rules(config)?);
        let shops = Arc::new(build_shops(config, rules)?);
        let wake = Arc::new(Notify::new());
        let state = Arc::new(AppState {
            store: store.clone(),
            shops: shops.clone(),
            admin_tokens: config
                .admin
                .tokens
                .iter()
                .map(|t| SecretString::from(t.expose_secret().to_owned()))
                .collect(),
            wake: wake.clone(),
            max_attempts: config.worker.max_attempts,
            metrics: metrics_handle(),
        });
        let listener = tokio::net::TcpListener::bind(config.server.listen)
            .await
            .with_context(|| format!("server.listen: cannot bind {}", config.server.listen))?;
        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let router = http::router(state.clone());
        let server_stop = shutdown.clone();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, router)
                .with_graceful_shutdown(async move { server_stop.cancelled().await });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "server stopped with an error");
            }
        });
        let ctx = Arc::new(WorkerContext {
            store,
            shops,
            config: config.worker.clone(),
            wake,
            worker_id: worker::worker_id(),
        });
        let worker = tokio::spawn(worker::run(ctx, shutdown.clone()));
        tracing::info!(%addr, "keyroute listening");
        Ok(App {
            addr,
            state,
            shutdown,
            server,
            worker,
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Stops accepting requests and claiming jobs, lets in-flight work finish within the
    /// worker's grace period, then returns.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let _ = self.server.await;
        let _ = self.worker.await;
        self.state.store.close().await;
    }

    /// Stops everything at once, mid-flight, as a crash would: jobs keep their leases and
    /// nothing more is recorded. For tests of crash recovery.
    pub fn crash(self) {
        self.server.abort();
        self.worker.abort();
        // Only the rescuer still listens; it should die with its process too.
        self.shutdown.cancel();
    }

    /// Waits until no job is available, running or retryable. False on timeout.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if matches!(self.state.store.unfinished_jobs().await, Ok(0)) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// SIGINT and SIGTERM, registered when created: create it before starting anything, so a
/// signal that arrives during start-up still means a graceful stop rather than the default
/// kill.
pub struct TerminationSignal {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl TerminationSignal {
    pub fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Resolves on the first SIGINT or SIGTERM.
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
