//! The one outbound HTTP setup every platform adapter shares: a single `reqwest::Client`, a
//! rate limiter per (platform, token), metrics per call, and one mapping from HTTP outcomes to
//! [`PlatformError`]. Adapters build requests and read answers; they never see timeouts,
//! 429s or 5xx directly.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use super::{PlatformError, PlatformKind};
use crate::config::{HttpClientConfig, PlatformConfig};

/// One rate limiter per account, shared by everything that uses the account: two shops with
/// the same token share its limit, because the vendor counts per token. Keys are fingerprints
/// of the auth headers, so no secret is kept as a map key.
#[derive(Clone, Default)]
pub struct Limiters {
    map: Arc<Mutex<HashMap<AccountKey, Arc<DefaultDirectRateLimiter>>>>,
}

/// (service name, fingerprint of the account's auth headers).
type AccountKey = (&'static str, u64);

impl Limiters {
    pub fn get(
        &self,
        service: &'static str,
        auth: &HeaderMap,
        quota: Quota,
    ) -> Arc<DefaultDirectRateLimiter> {
        self.map
            .lock()
            .expect("limiter map poisoned")
            .entry((service, token_fingerprint(auth)))
            .or_insert_with(|| Arc::new(RateLimiter::direct(quota)))
            .clone()
    }
}

/// One outbound call as the job that made it records it (see [`recording_calls`]).
#[derive(Debug, Clone)]
pub struct CallRecord {
    pub service: &'static str,
    pub op: &'static str,
    pub method: String,
    /// The path only: query strings carry emails and phone numbers.
    pub path: String,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub at_ms: i64,
}

tokio::task_local! {
    static CALL_LOG: std::cell::RefCell<Vec<CallRecord>>;
}

/// Runs `fut` and returns, with its output, every outbound call made while it ran. Calls
/// made outside such a scope (the demo's own requests, tests) are not collected.
pub async fn recording_calls<F: std::future::Future>(fut: F) -> (F::Output, Vec<CallRecord>) {
    CALL_LOG
        .scope(std::cell::RefCell::new(Vec::new()), async move {
            let out = fut.await;
            let calls = CALL_LOG.with(|log| std::mem::take(&mut *log.borrow_mut()));
            (out, calls)
        })
        .await
}

/// Sends a built request and notes it in the current call log, if any.
pub async fn execute_logged(
    http: &reqwest::Client,
    service: &'static str,
    op: &'static str,
    req: RequestBuilder,
) -> reqwest::Result<reqwest::Response> {
    let request = req.build()?;
    let method = request.method().to_string();
    let path = request.url().path().to_owned();
    let started = Instant::now();
    let at_ms = crate::store::now_ms();
    let result = http.execute(request).await;
    let record = CallRecord {
        service,
        op,
        method,
        path,
        status: result.as_ref().ok().map(|r| r.status().as_u16()),
        error: result.as_ref().err().map(|e| error_chain(e)),
        duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        at_ms,
    };
    let _ = CALL_LOG.try_with(|log| log.borrow_mut().push(record));
    result
}

/// Shared by every shop and platform in the process.
#[derive(Clone)]
pub struct PlatformHttp {
    client: reqwest::Client,
    limiters: Limiters,
}

impl PlatformHttp {
    pub fn new(cfg: &HttpClientConfig) -> anyhow::Result<Self> {
        Ok(Self {
            client: build_client(cfg)?,
            limiters: Limiters::default(),
        })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A client bound to one platform account, throttled by the account's limiter: the
    /// platform's published limit, or the config's `requests_per_second` / `burst`.
    pub fn for_platform(
        &self,
        kind: PlatformKind,
        base: &str,
        auth: HeaderMap,
        cfg: &PlatformConfig,
    ) -> PlatformClient {
        let (default_rate, default_burst) = default_rate(kind);
        let quota = quota(
            cfg.requests_per_second.unwrap_or(default_rate),
            cfg.burst.or(default_burst),
        );
        let limiter = self.limiters.get(kind.as_str(), &auth, quota);
        PlatformClient {
            kind,
            base: base.trim_end_matches('/').to_owned(),
            http: self.client.clone(),
            auth,
            limiter,
            op_limiters: Vec::new(),
            limiters: self.limiters.clone(),
        }
    }
}

/// The one reqwest client configuration of the process (Postscript uses it too).
pub fn build_client(cfg: &HttpClientConfig) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_millis(cfg.timeout_ms))
        .connect_timeout(Duration::from_millis(cfg.connect_timeout_ms))
        .user_agent(concat!("keyroute/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()?)
}

/// Requests per second and burst per token: published limits where platforms.md has them,
/// safe guesses where it does not.
fn default_rate(kind: PlatformKind) -> (u32, Option<u32>) {
    match kind {
        PlatformKind::Loop => (10, None),
        // Unpublished; third parties cite 2,000/min. We stay well under it.
        PlatformKind::Skio => (20, None),
        // Unpublished: conservative.
        PlatformKind::Smartrr => (5, None),
        // Leaky buckets: capacity 50 (Prive) / 40 (Recharge), draining 2 per second.
        PlatformKind::Prive => (2, Some(50)),
        PlatformKind::Recharge => (2, Some(40)),
    }
}

/// `per_second` sustained. Without a published `burst`, requests are paced one every
/// `1/per_second` (burst 1): governor's plain `per_second(n)` allows a burst of n on top of
/// the refill, i.e. up to 2n in the first second, which breaks an "n per second" limit
/// counted over any one-second window. A leaky bucket's capacity is its `burst`.
pub fn quota(per_second: u32, burst: Option<u32>) -> Quota {
    let rate = NonZeroU32::new(per_second.max(1)).expect("non-zero");
    let burst = burst.and_then(NonZeroU32::new).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(rate).allow_burst(burst)
}

fn token_fingerprint(auth: &HeaderMap) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (k, v) in auth {
        k.as_str().hash(&mut h);
        v.as_bytes().hash(&mut h);
    }
    h.finish()
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

/// One platform account: base URL, auth headers, limiter.
#[derive(Clone)]
pub struct PlatformClient {
    kind: PlatformKind,
    base: String,
    http: reqwest::Client,
    auth: HeaderMap,
    limiter: Arc<DefaultDirectRateLimiter>,
    /// Tighter limits on particular calls (Loop: 5/s on reschedule and read-one), on top of
    /// the account's overall limit.
    op_limiters: Vec<(&'static str, Arc<DefaultDirectRateLimiter>)>,
    limiters: Limiters,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_second_limits_are_paced_and_buckets_keep_their_capacity() {
        let paced = RateLimiter::direct(quota(15, None));
        let admitted = (0..15).filter(|_| paced.check().is_ok()).count();
        assert_eq!(admitted, 1, "no burst on top of 15/s");
        let bucket = RateLimiter::direct(quota(2, Some(40)));
        let admitted = (0..50).filter(|_| bucket.check().is_ok()).count();
        assert_eq!(admitted, 40, "a leaky bucket's capacity passes at once");
    }
}

/// A non-retryable answer: 2xx, or a 4xx the adapter interprets.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
    kind: PlatformKind,
    op: &'static str,
}

impl Answer {
    /// The JSON body of a 2xx answer; a 4xx becomes [`PlatformError::Refused`] or
    /// [`PlatformError::Rejected`] with the platform's message.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, PlatformError> {
        if !self.status.is_success() {
            return Err(self.refusal());
        }
        serde_json::from_slice(&self.body).map_err(|e| PlatformError::Retryable {
            platform: self.kind,
            op: self.op,
            detail: format!("unreadable answer ({e}): {}", snippet(&self.body)),
            retry_after: None,
        })
    }

    /// A 4xx as an error: credentials and unknown paths are ours to fix (Rejected); anything
    /// else is the platform declining the action (Refused → `not_allowed`).
    pub fn refusal(&self) -> PlatformError {
        let detail = format!("HTTP {}: {}", self.status.as_u16(), snippet(&self.body));
        match self.status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => PlatformError::Rejected {
                platform: self.kind,
                op: self.op,
                detail,
            },
            _ => PlatformError::Refused {
                platform: self.kind,
                op: self.op,
                detail,
            },
        }
    }
}

/// The first few hundred characters of an answer, for error messages and logs.
pub fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let mut out: String = s.chars().take(300).collect();
    if s.chars().count() > 300 {
        out.push('…');
    }
    out
}

impl PlatformClient {
    pub fn kind(&self) -> PlatformKind {
        self.kind
    }

    /// Adds a limit for the calls named `ops`, shared by every client of this token.
    pub fn with_op_limit(mut self, ops: &[&'static str], service: &'static str, q: Quota) -> Self {
        let limiter = self.limiters.get(service, &self.auth, q);
        for op in ops {
            self.op_limiters.push((op, limiter.clone()));
        }
        self
    }

    /// One JSON call: `method path` with an optional JSON body; the answer's JSON for a 2xx,
    /// a refusal for a 4xx (see [`Answer::json`]).
    pub async fn json_call(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, PlatformError> {
        let mut req = self.request(method, path);
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.send(op, req).await?.json()
    }

    /// `base + path` with the account's auth headers.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.base, path))
            .headers(self.auth.clone())
    }

    /// Sends after the rate limiter allows it. Network failures, timeouts, 429 and 5xx come
    /// back as [`PlatformError::Retryable`] (with `Retry-After` when given); everything else is
    /// an [`Answer`] for the adapter to read.
    pub async fn send(
        &self,
        op: &'static str,
        req: RequestBuilder,
    ) -> Result<Answer, PlatformError> {
        for (_, limiter) in self.op_limiters.iter().filter(|(o, _)| *o == op) {
            limiter.until_ready().await;
        }
        self.limiter.until_ready().await;
        let started = Instant::now();
        let result = execute_logged(&self.http, self.kind.as_str(), op, req).await;
        let platform = self.kind.as_str();
        let retryable = |detail: String, retry_after| PlatformError::Retryable {
            platform: self.kind,
            op,
            detail,
            retry_after,
        };
        let resp = match result {
            Ok(r) => r,
            Err(e) => {
                record(platform, op, "error", started);
                let what = if e.is_timeout() {
                    "timed out"
                } else {
                    "request failed"
                };
                return Err(retryable(format!("{what}: {}", error_chain(&e)), None));
            }
        };
        let status = resp.status();
        let retry_after = parse_retry_after(resp.headers());
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => {
                record(platform, op, "error", started);
                return Err(retryable(
                    format!("reading answer: {}", error_chain(&e)),
                    None,
                ));
            }
        };
        record(platform, op, status.as_str(), started);
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(retryable(
                format!("HTTP 429: {}", snippet(&body)),
                retry_after,
            ));
        }
        if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            return Err(retryable(
                format!("HTTP {}: {}", status.as_u16(), snippet(&body)),
                retry_after,
            ));
        }
        Ok(Answer {
            status,
            body,
            kind: self.kind,
            op,
        })
    }
}

fn record(platform: &'static str, op: &'static str, status: &str, started: Instant) {
    metrics::counter!("keyroute_platform_calls_total", "platform" => platform, "op" => op, "status" => status.to_owned())
        .increment(1);
    metrics::histogram!("keyroute_platform_call_seconds", "platform" => platform, "op" => op)
        .record(started.elapsed().as_secs_f64());
}

/// `Retry-After` in seconds (the HTTP-date form is rare from APIs and ignored).
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// reqwest's top-level message hides the cause ("error sending request"); show the chain.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}
