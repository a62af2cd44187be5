//! Prometheus metrics, one registry per running app: each app (and each test) counts
//! only its own work, so one test's counter can never satisfy another test's assertion.
//! Everything that counts holds an `Arc<Metrics>` and calls one of its typed methods; nothing
//! else names a metric.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

fn labels<const N: usize>(pairs: [(&'static str, &str); N]) -> Labels {
    pairs.into_iter().map(|(k, v)| (k, v.to_owned())).collect()
}

/// Shown without its counters: a registry is not worth printing in a log line.
impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

pub struct Metrics {
    registry: Registry,
    webhooks: Family<Labels, Counter>,
    outbound_calls: Family<Labels, Counter>,
    outbound_seconds: Family<Labels, Histogram>,
    outbound_auth_failures: Family<Labels, Counter>,
    outbound_operator_errors: Family<Labels, Counter>,
    events: Family<Labels, Counter>,
    outcomes: Family<Labels, Counter>,
    job_attempts: Family<Labels, Counter>,
    jobs_rescued: Counter,
    jobs: Family<Labels, Gauge<f64, AtomicU64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let webhooks = Family::<Labels, Counter>::default();
        registry.register(
            "keyroute_webhooks",
            "Webhook deliveries by answer (accepted, duplicate, ignored, 400, 401, 413, ...)",
            webhooks.clone(),
        );
        let outbound_calls = Family::<Labels, Counter>::default();
        registry.register(
            "keyroute_platform_calls",
            "Outbound calls to the platforms and Postscript, by service (platform), op and HTTP status (or error)",
            outbound_calls.clone(),
        );
        let outbound_seconds =
            Family::<Labels, Histogram>::new_with_constructor(|| -> Histogram {
                Histogram::new(exponential_buckets(0.005, 2.0, 12))
            });
        registry.register(
            "keyroute_platform_call_seconds",
            "Outbound call latency by service (platform) and op",
            outbound_seconds.clone(),
        );
        let outbound_auth_failures = Family::<Labels, Counter>::default();
        registry.register(
            "keyroute_outbound_auth_failures",
            "Outbound calls refused for our credentials (401/403): an operator must fix the token",
            outbound_auth_failures.clone(),
        );
        let outbound_operator_errors = Family::<Labels, Counter>::default();
        registry.register(
            "keyroute_outbound_operator_errors",
            "Outbound calls refused for a cause an operator must fix: credentials (401/403), or \
             a request the platform's schema rejects",
            outbound_operator_errors.clone(),
        );
        let events = Family::<Labels, Counter>::default();
        registry.register(
            "keyroute_events",
            "Postscript custom events sent, by type and HTTP status",
            events.clone(),
        );
        let outcomes = Family::<Labels, Counter>::default();
        registry.register(
            "keyroute_outcomes",
            "Finished outcomes (one per subscription acted on), by event type and platform",
            outcomes.clone(),
        );
        let job_attempts = Family::<Labels, Counter>::default();
        registry.register(
            "keyroute_job_attempts",
            "Job attempts by result (completed, retryable, discarded, lease_lost)",
            job_attempts.clone(),
        );
        let jobs_rescued = Counter::default();
        registry.register(
            "keyroute_jobs_rescued",
            "Jobs returned to the queue after their lease expired",
            jobs_rescued.clone(),
        );
        let jobs = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "keyroute_jobs",
            "Jobs in the queue by state, read at scrape time",
            jobs.clone(),
        );
        Metrics {
            registry,
            webhooks,
            outbound_calls,
            outbound_seconds,
            outbound_auth_failures,
            outbound_operator_errors,
            events,
            outcomes,
            job_attempts,
            jobs_rescued,
            jobs,
        }
    }

    pub fn webhook(&self, status: &str) {
        self.webhooks
            .get_or_create(&labels([("status", status)]))
            .inc();
    }

    pub fn outbound_call(&self, service: &str, op: &str, status: &str, seconds: f64) {
        self.outbound_calls
            .get_or_create(&labels([
                ("platform", service),
                ("op", op),
                ("status", status),
            ]))
            .inc();
        self.outbound_seconds
            .get_or_create(&labels([("platform", service), ("op", op)]))
            .observe(seconds);
    }

    pub fn outbound_auth_failure(&self, service: &str, op: &str) {
        self.outbound_auth_failures
            .get_or_create(&labels([("service", service), ("op", op)]))
            .inc();
    }

    pub fn outbound_operator_error(&self, service: &str, op: &str) {
        self.outbound_operator_errors
            .get_or_create(&labels([("service", service), ("op", op)]))
            .inc();
    }

    pub fn event(&self, kind: &str, status: &str) {
        self.events
            .get_or_create(&labels([("type", kind), ("status", status)]))
            .inc();
    }

    pub fn outcome(&self, event: &str, platform: &str) {
        self.outcomes
            .get_or_create(&labels([("event", event), ("platform", platform)]))
            .inc();
    }

    pub fn job_attempt(&self, result: &str) {
        self.job_attempts
            .get_or_create(&labels([("result", result)]))
            .inc();
    }

    pub fn jobs_rescued(&self, n: u64) {
        self.jobs_rescued.inc_by(n);
    }

    pub fn set_jobs(&self, state: &str, n: i64) {
        self.jobs
            .get_or_create(&labels([("state", state)]))
            .set(n as f64);
    }

    /// The Prometheus text exposition of everything counted so far.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_registry_counts_only_its_own() {
        let a = Metrics::new();
        let b = Metrics::new();
        a.webhook("accepted");
        let text = a.render();
        assert!(
            text.contains("keyroute_webhooks_total{status=\"accepted\"} 1"),
            "{text}"
        );
        assert!(text.contains("# HELP keyroute_webhooks"), "{text}");
        assert!(!b.render().contains("status=\"accepted\""));
    }
}
