//! The one way out of the process. Every call to a platform or to Postscript goes through an
//! [`Account`]: one `reqwest::Client` for the process, a rate-limit permit per account taken
//! before sending, the call log and metrics, and the one classification of every answer
//! ([`OutboundError`]). Adapters build requests and read answers; they never see timeouts,
//! 429s, 5xx or 401s directly.

mod error;
mod limits;
mod log;

use std::sync::Arc;
use std::time::{Duration, Instant};

use governor::Quota;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Method, RequestBuilder};
use secrecy::{ExposeSecret, SecretString};

pub use error::{Answer, Class, OutboundError, classify, error_chain, snippet};
pub use limits::{Limiter, quota};
pub use log::{CallRecord, recording_calls, with_call_timeout};

use crate::config::HttpClientConfig;
use crate::metrics::Metrics;
use limits::Limiters;

/// Shared by every shop, platform and Postscript account in the process.
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    limiters: Limiters,
    metrics: Arc<Metrics>,
}

impl Outbound {
    pub fn new(cfg: &HttpClientConfig, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(cfg.timeout_ms))
            .connect_timeout(Duration::from_millis(cfg.connect_timeout_ms))
            .user_agent(concat!("keyroute/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()?;
        Ok(Self {
            client,
            limiters: Limiters::default(),
            metrics,
        })
    }

    /// One account at one service: its base URL, its auth headers, and its rate limit. Two
    /// accounts with the same service and credentials share one limiter, because vendors count
    /// per key, not per shop.
    pub fn account(
        &self,
        service: &'static str,
        base: &str,
        auth: HeaderMap,
        quota: Quota,
    ) -> Account {
        let limiter = self.limiters.get(service, &auth, quota);
        Account {
            service,
            base: base.trim_end_matches('/').to_owned(),
            http: self.client.clone(),
            auth,
            limiter,
            op_limiters: Vec::new(),
            limiters: self.limiters.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

/// Builds one sensitive header (reqwest then redacts it from Debug output).
pub fn secret_header(name: &'static str, prefix: &str, token: &SecretString) -> HeaderMap {
    let mut map = HeaderMap::new();
    let mut value = HeaderValue::from_str(&format!("{prefix}{}", token.expose_secret()))
        .unwrap_or_else(|_| HeaderValue::from_static("invalid-token"));
    value.set_sensitive(true);
    map.insert(HeaderName::from_static(name), value);
    map
}

/// One account at one service: base URL, auth headers, permits.
#[derive(Clone)]
pub struct Account {
    service: &'static str,
    base: String,
    http: reqwest::Client,
    auth: HeaderMap,
    limiter: Arc<Limiter>,
    /// Tighter limits on particular calls (Loop: 5/s on reschedule and read-one), on top of
    /// the account's overall limit.
    op_limiters: Vec<(&'static str, Arc<Limiter>)>,
    limiters: Limiters,
    metrics: Arc<Metrics>,
}

impl Account {
    pub fn service(&self) -> &'static str {
        self.service
    }

    /// The app's metrics, for counters only this account's caller knows (events by type).
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Adds a limit for the calls named `ops`, shared by every account with these credentials.
    pub fn with_op_limit(mut self, ops: &[&'static str], key: &'static str, q: Quota) -> Self {
        let limiter = self.limiters.get(key, &self.auth, q);
        for op in ops {
            self.op_limiters.push((op, limiter.clone()));
        }
        self
    }

    /// `base + path` with the account's auth headers.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.base, path))
            .headers(self.auth.clone())
    }

    /// One JSON call: `method path` with an optional JSON body; the answer's JSON for a 2xx,
    /// a refusal for a 4xx (see [`Answer::json`]).
    pub async fn json_call(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, OutboundError> {
        let mut req = self.request(method, path);
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.send(op, req).await?.json()
    }

    /// Takes the account's permits, sends, and classifies the answer (see [`Ready::send`]).
    pub async fn send(
        &self,
        op: &'static str,
        req: RequestBuilder,
    ) -> Result<Answer, OutboundError> {
        self.ready(op, req).await.send().await
    }

    /// Waits for the permits of one call and returns it ready to go: sending it then waits
    /// for nothing. A write takes its permit before it is recorded as in flight, so no wait
    /// for a limiter ever sits between "recorded" and "sent".
    pub async fn ready(&self, op: &'static str, req: RequestBuilder) -> Ready {
        for (_, limiter) in self.op_limiters.iter().filter(|(o, _)| *o == op) {
            limiter.until_ready().await;
        }
        self.limiter.until_ready().await;
        Ready {
            account: self.clone(),
            op,
            req,
        }
    }

    /// Sends at once (the permits are taken) and classifies the answer: network failures,
    /// timeouts, 408, 429 and 5xx are [`OutboundError::Retryable`] (with `Retry-After` when
    /// given); 401/403 are [`OutboundError::Operator`], logged and counted here once; anything
    /// else is an [`Answer`] for the adapter to read.
    async fn send_now(
        &self,
        op: &'static str,
        req: RequestBuilder,
    ) -> Result<Answer, OutboundError> {
        let service = self.service;
        let mut request = req
            .build()
            .map_err(|e| OutboundError::operator(service, op, error_chain(&e)))?;
        if let Some(limit) = log::call_timeout() {
            let t = request.timeout_mut();
            *t = Some(t.map_or(limit, |own| own.min(limit)));
        }
        let method = request.method().to_string();
        let path = request.url().path().to_owned();
        let started = Instant::now();
        let at_ms = crate::domain::now_ms();
        let result = self.http.execute(request).await;
        let (status, retry_after, body) = match result {
            Ok(resp) => {
                let status = resp.status();
                let retry_after = parse_retry_after(resp.headers());
                match resp.bytes().await {
                    Ok(body) => (Ok(status), retry_after, body),
                    Err(e) => (
                        Err(format!("reading answer: {}", error_chain(&e))),
                        None,
                        Default::default(),
                    ),
                }
            }
            Err(e) => {
                let what = if e.is_timeout() {
                    "timed out"
                } else {
                    "request failed"
                };
                (
                    Err(format!("{what}: {}", error_chain(&e))),
                    None,
                    Default::default(),
                )
            }
        };
        let elapsed = started.elapsed();
        log::note(CallRecord {
            service,
            op,
            method,
            path,
            status: status.as_ref().ok().map(|s| s.as_u16()),
            error: status.as_ref().err().cloned(),
            duration_ms: i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX),
            at_ms,
        });
        let status_label = status.as_ref().map_or("error", |s| s.as_str());
        self.metrics
            .outbound_call(service, op, status_label, elapsed.as_secs_f64());
        let status = status.map_err(|detail| OutboundError::retryable(service, op, detail))?;
        match classify(status) {
            Class::Retry => Err(OutboundError::Retryable {
                service,
                op,
                detail: format!("HTTP {}: {}", status.as_u16(), snippet(&body)),
                retry_after,
            }),
            Class::Credentials => {
                self.metrics.outbound_auth_failure(service, op);
                self.metrics.outbound_operator_error(service, op);
                let detail = format!(
                    "HTTP {}: {} (check this account's token in the config)",
                    status.as_u16(),
                    snippet(&body)
                );
                tracing::error!(service, op, %detail, "credentials refused");
                Err(OutboundError::operator(service, op, detail))
            }
            Class::Success | Class::ClientError => Ok(Answer {
                status,
                body,
                service,
                op,
                metrics: self.metrics.clone(),
            }),
        }
    }
}

/// One call whose permits are taken.
pub struct Ready {
    account: Account,
    op: &'static str,
    req: RequestBuilder,
}

impl Ready {
    pub async fn send(self) -> Result<Answer, OutboundError> {
        self.account.send_now(self.op, self.req).await
    }
}

/// `Retry-After` in seconds (the HTTP-date form is rare from APIs and ignored).
fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}
