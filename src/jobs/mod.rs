//! The job loop: claim due jobs under a lease, run each attempt, and turn its result into the
//! next state (completed, retryable with backoff, discarded). A rescuer returns jobs whose
//! lease expired (their worker died) to the queue. On shutdown the loop stops claiming and
//! gives in-flight attempts a deadline; whatever is still running then is dropped, and its
//! lease brings it back later: an attempt is always safe to repeat (see [`act`]).

pub mod act;

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::config::WorkerConfig;
use crate::metrics::Metrics;
use crate::outbound::recording_calls;
use crate::shop::Shops;
use crate::store::{ClaimedJob, JobGuard, Store};
use crate::telemetry::mask_phone;
use act::{ActError, Attempt, Finished};

/// What the worker needs; shared with the HTTP side.
pub struct WorkerContext {
    pub store: Store,
    pub shops: Arc<Shops>,
    pub metrics: Arc<Metrics>,
    pub config: WorkerConfig,
    /// Woken by the webhook handler when it enqueues, so a new job starts at once.
    pub wake: Arc<Notify>,
    /// Unique per process: `host-pid-random`.
    pub worker_id: String,
}

pub fn worker_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "keyroute".to_owned());
    let suffix: u32 = rand::rng().random();
    format!("{host}-{}-{suffix:08x}", std::process::id())
}

/// Delay before attempt `attempt + 1`: exponential from `base`, capped at `max`, with jitter
/// over the upper half so retries from a burst spread out. A platform's `Retry-After` wins
/// when it asks for longer, still within `max`.
pub fn backoff(cfg: &WorkerConfig, attempt: i64, retry_after: Option<Duration>) -> Duration {
    let exp = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let ceiling = cfg
        .backoff_base_ms
        .saturating_mul(1u64 << exp)
        .min(cfg.backoff_max_ms)
        .max(1);
    let jittered = rand::rng().random_range(ceiling / 2..=ceiling);
    let wanted = retry_after.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Duration::from_millis(jittered.max(wanted.min(cfg.backoff_max_ms)))
}

/// Runs until `shutdown` fires, then drains within the grace period.
pub async fn run(ctx: Arc<WorkerContext>, shutdown: CancellationToken) {
    let permits = Arc::new(Semaphore::new(ctx.config.concurrency));
    let mut in_flight = JoinSet::new();
    let poll = Duration::from_millis(ctx.config.poll_interval_ms);
    let rescuer = tokio::spawn(rescue_loop(ctx.clone(), shutdown.clone()));
    tracing::info!(worker = %ctx.worker_id, concurrency = ctx.config.concurrency, "worker started");
    loop {
        while in_flight.try_join_next().is_some() {}
        if shutdown.is_cancelled() {
            break;
        }
        if permits.available_permits() == 0 {
            tokio::select! {
                _ = in_flight.join_next() => continue,
                _ = shutdown.cancelled() => break,
            }
        }
        let lease_ms = lease_ms(&ctx.config);
        let per_shop = i64::try_from(ctx.config.running_per_shop()).unwrap_or(i64::MAX);
        let mut idle = true;
        // One claim per free slot: each claim sees the previous one, so the per-shop cap holds.
        while permits.available_permits() > 0 {
            let job = match ctx
                .store
                .claim_job(&ctx.worker_id, lease_ms, per_shop)
                .await
            {
                Ok(Some(job)) => job,
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(error = %e, "claiming jobs failed");
                    break;
                }
            };
            idle = false;
            let permit = permits
                .clone()
                .acquire_owned()
                .await
                .expect("semaphore open");
            let ctx = ctx.clone();
            in_flight.spawn(async move {
                process(&ctx, job).await;
                drop(permit);
            });
        }
        if idle {
            tokio::select! {
                _ = ctx.wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.cancelled() => break,
            }
        }
    }
    let grace = Duration::from_secs(ctx.config.shutdown_grace_seconds);
    tracing::info!(
        in_flight = in_flight.len(),
        "worker stopping; finishing in-flight jobs"
    );
    let drained = tokio::time::timeout(grace, async {
        while in_flight.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = in_flight.len(),
            "shutdown deadline passed; abandoning attempts (their leases will bring them back)"
        );
        in_flight.abort_all();
    }
    rescuer.abort();
    tracing::info!("worker stopped");
}

fn lease_ms(cfg: &WorkerConfig) -> i64 {
    i64::try_from(cfg.lease().as_millis()).unwrap_or(i64::MAX)
}

async fn rescue_loop(ctx: Arc<WorkerContext>, shutdown: CancellationToken) {
    let every = (ctx.config.lease() / 4).clamp(Duration::from_millis(100), Duration::from_secs(15));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => return,
        }
        match ctx.store.rescue_expired().await {
            Ok(0) => {}
            Ok(n) => {
                tracing::warn!(jobs = n, "rescued jobs whose lease expired");
                ctx.metrics.jobs_rescued(n);
                ctx.wake.notify_one();
            }
            Err(e) => tracing::error!(error = %e, "rescuing expired jobs failed"),
        }
    }
}

/// One attempt at one job, from claim to its next state.
async fn process(ctx: &WorkerContext, job: ClaimedJob) {
    let span = tracing::info_span!("job", job_id = job.id, message_id = %job.message_id, shop = %job.shop_id, attempt = job.attempt);
    async {
        let guard = job.guard(&ctx.worker_id);
        let (result, calls) =
            recording_calls(with_heartbeat(ctx, &guard, attempt(ctx, &job, &guard))).await;
        if let Err(e) = ctx.store.record_calls(&job, &calls).await {
            tracing::warn!(error = %e, "could not keep the attempt's call log");
        }
        let store = &ctx.store;
        let (label, recorded) = match result {
            Ok(Finished::Done) => ("completed", store.complete_job(&guard).await),
            Ok(Finished::GaveUp(detail)) => {
                // The shopper was told platform_error; the job stays visible, and retryable by
                // an operator once the cause is fixed.
                tracing::error!(error = %detail, "job failed for good; kept as discarded");
                ("discarded", store.discard_job(&guard, &detail).await)
            }
            Err(ActError::LeaseLost) => {
                tracing::warn!("lease lost mid-attempt; another worker owns the job now");
                ("lease_lost", Ok(true))
            }
            Err(ActError::Fatal(e)) => {
                tracing::error!(error = %e, "job cannot succeed; discarding");
                ("discarded", store.discard_job(&guard, &e).await)
            }
            Err(ActError::Final { detail, .. }) => {
                // An attempt records final failures as outcomes itself; one that escapes
                // means the failure could not be recorded either.
                tracing::error!(error = %detail, "job failed for good; discarding");
                ("discarded", store.discard_job(&guard, &detail).await)
            }
            Err(ActError::Retry { detail, retry_after }) => {
                if job.is_last_attempt() {
                    tracing::error!(error = %detail, "attempts exhausted; discarding");
                    ("discarded", store.discard_job(&guard, &detail).await)
                } else {
                    let wait = backoff(&ctx.config, job.attempt, retry_after);
                    tracing::warn!(error = %detail, retry_in_ms = wait.as_millis() as u64, "attempt failed; will retry");
                    let delay = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
                    ("retryable", store.retry_job(&guard, delay, &detail).await)
                }
            }
        };
        ctx.metrics.job_attempt(label);
        match recorded {
            Ok(true) => tracing::info!(result = label, "job attempt finished"),
            Ok(false) => tracing::warn!(result = label, "job changed hands before its result was recorded"),
            Err(e) => tracing::error!(error = %e, "recording job result failed; the lease will bring it back"),
        }
    }
    .instrument(span)
    .await
}

/// Runs an attempt while extending its lease every third of the lease, so a long wait (a rate
/// limiter, a slow platform) never lets another worker take the job while this one may still
/// write. If the lease is lost anyway (the database was unreachable for a whole lease), the
/// attempt is dropped on the spot: its in-flight call is cancelled and nothing more is sent.
async fn with_heartbeat(
    ctx: &WorkerContext,
    guard: &JobGuard,
    attempt: impl std::future::Future<Output = Result<Finished, ActError>>,
) -> Result<Finished, ActError> {
    let lease = lease_ms(&ctx.config);
    let every = Duration::from_millis(u64::try_from(lease / 3).unwrap_or(1000).max(50));
    let heartbeat = async {
        let mut failures = 0u32;
        loop {
            tokio::time::sleep(every).await;
            match ctx.store.heartbeat(guard, lease).await {
                Ok(true) => failures = 0,
                Ok(false) => return,
                // One missed beat is survivable; the lease is three beats long.
                Err(e) if failures < 1 => {
                    failures += 1;
                    tracing::warn!(error = %e, "lease heartbeat failed");
                }
                Err(_) => return,
            }
        }
    };
    tokio::select! {
        result = attempt => result,
        () = heartbeat => Err(ActError::LeaseLost),
    }
}

async fn attempt(
    ctx: &WorkerContext,
    job: &ClaimedJob,
    guard: &JobGuard,
) -> Result<Finished, ActError> {
    let message = ctx
        .store
        .message(&job.message_id)
        .await?
        .ok_or_else(|| ActError::Fatal(format!("message {} not found", job.message_id)))?;
    let shop = ctx
        .shops
        .get(&job.shop_id)
        .ok_or_else(|| ActError::Fatal(format!("shop {} is no longer configured", job.shop_id)))?;
    tracing::debug!(from = %mask_phone(&message.from_number), "attempt started");
    Attempt {
        store: &ctx.store,
        shop,
        message: &message,
        guard,
        lease_ms: lease_ms(&ctx.config),
        last_attempt: job.is_last_attempt(),
        abandon: job.must_abandon(),
        metrics: &ctx.metrics,
    }
    .run()
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_honours_retry_after() {
        let cfg = WorkerConfig {
            backoff_base_ms: 1000,
            backoff_max_ms: 8000,
            ..WorkerConfig::default()
        };
        for _ in 0..50 {
            let first = backoff(&cfg, 1, None).as_millis();
            assert!((500..=1000).contains(&first), "{first}");
            let late = backoff(&cfg, 10, None).as_millis();
            assert!((4000..=8000).contains(&late), "{late}");
            let asked = backoff(&cfg, 1, Some(Duration::from_secs(5))).as_millis();
            assert_eq!(asked, 5000);
            let capped = backoff(&cfg, 1, Some(Duration::from_secs(60))).as_millis();
            assert!(capped <= 8000);
        }
    }
}
