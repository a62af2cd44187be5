//! Wiring. [`App::start`] turns a validated [`Config`] into a running server and worker on
//! the configured address (port 0 picks a free port, which tests and the demo use), and
//! [`App::shutdown`] stops both gracefully.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::http::{self, AppState};
use crate::jobs::{self, WorkerContext};
use crate::metrics::Metrics;
use crate::outbound::Outbound;
use crate::shop;
use crate::store::Store;

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

impl App {
    pub async fn start(config: &Config, options: Options) -> anyhow::Result<App> {
        for w in config.warnings() {
            tracing::warn!("{w}");
        }
        let store = Store::connect(&config.database).await?;
        if options.migrate {
            store.migrate().await?;
        } else if let Some(why) = store.schema_missing().await? {
            // Serve anyway (the operator may migrate from elsewhere), but not as ready.
            tracing::error!("{why}; /readyz answers 503 until it is");
        }
        let metrics = Arc::new(Metrics::new());
        let outbound = Outbound::new(&config.http_client, metrics.clone())?;
        let rules = Arc::new(shop::load_rules(config)?);
        let shops = Arc::new(shop::build_shops(config, rules, &outbound)?);
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
            metrics: metrics.clone(),
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
            metrics,
            config: config.worker.clone(),
            wake,
            worker_id: jobs::worker_id(),
        });
        let worker = tokio::spawn(jobs::run(ctx, shutdown.clone()));
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
