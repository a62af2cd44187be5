//! Plumbing shared by every simulated platform: the HTTP server, request recording, the auth
//! gate, rate limiting and fault injection.
//!
//! A platform only describes itself through [`Platform`]: how to recognise a call, how to apply
//! it to its state, and what its error, refusal and rate-limit answers look like. Everything that
//! is the same for all platforms lives here, once, so a new simulator (Smartrr, Prive, Recharge)
//! is one file with a `Platform` impl, a `pub type XSim = Simulator<XState>` and its seeding and
//! reading methods.
//!
//! Every request goes through the same steps, in this order:
//! 1. it is recorded (method, path, query, headers, body and the platform's name for the call);
//! 2. the auth check: a request without the right credentials gets a 401 and changes nothing
//!    (recorded with op `"unauthorized"`);
//! 3. the rate limit, when the platform has one (a sliding one-second window or a leaky bucket,
//!    see [`RateLimit`]): over it, a 429 that changes nothing;
//! 4. the first injected [`Fault`] whose op matches, if any, decides what happens;
//! 5. otherwise the platform applies the call and answers.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// One request as the simulator received it, kept for assertions.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// HTTP method, upper case (`"POST"`).
    pub method: String,
    /// Path as sent, still percent-encoded (`"/api/v2/events"`).
    pub path: String,
    /// Raw query string without the `?`, still encoded, if the URL had one.
    pub query: Option<String>,
    /// Every header, names in lower case (repeated headers keep their relative order).
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy UTF-8).
    pub body: String,
    /// The simulator's name for the call (`"lookup"`, `"skip"`, `"set_date"`, `"event"`, ...),
    /// `"unauthorized"` when the credentials were missing or wrong, `"unknown"` for a path or
    /// query the simulator does not know.
    pub op: String,
}

impl RecordedRequest {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// A misbehaviour to inject into the next `times` calls whose op is `op`.
///
/// Faults are consulted in the order they were injected; the first whose op matches is used and
/// its `times` decremented (it is removed at zero). At most one fault applies to a request.
/// `op` `"*"` matches every authorised call.
#[derive(Clone, Debug)]
pub struct Fault {
    /// The op to disturb (see [`RecordedRequest::op`]), or `"*"` for any.
    pub op: String,
    /// How many matching calls to disturb.
    pub times: u32,
    /// What to do to them.
    pub kind: FaultKind,
}

impl Fault {
    /// A fault for the next matching call only.
    pub fn once(op: &str, kind: FaultKind) -> Fault {
        Fault::times(op, 1, kind)
    }

    /// A fault for the next `times` matching calls.
    pub fn times(op: &str, times: u32, kind: FaultKind) -> Fault {
        Fault {
            op: op.to_owned(),
            times,
            kind,
        }
    }
}

/// What an injected [`Fault`] does to a call.
#[derive(Clone, Debug)]
pub enum FaultKind {
    /// Answer this status, with the platform's error body, without applying the call.
    Status(u16),
    /// Answer 429 with the platform's rate-limit body, with `Retry-After: <secs>` when `Some`,
    /// without applying the call.
    RateLimited { retry_after: Option<u64> },
    /// Apply the call, then answer this status as if it had failed: the answer is lost, which is
    /// what a client's retry logic must survive.
    ApplyThenStatus(u16),
    /// Apply the call, then never answer (a crash mid-call). The client has to time out or be
    /// dropped; the handler is released when the simulator is dropped.
    ApplyThenHang,
    /// Wait this long, then behave normally. The call is applied after the delay even if the
    /// client gave up in the meantime (a slow server, not a dead one).
    Delay(Duration),
    /// The platform's business refusal (Skio: 200 with `ok: false`; Loop: 400
    /// `{"success": false}`; Postscript: 400), without applying the call.
    Refuse,
}

/// A request as handed to a [`Platform`]: the parts of the HTTP request it may look at.
pub struct Incoming {
    pub method: Method,
    /// Path as sent (percent-encoded).
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    pub headers: HeaderMap,
    /// Body as text (lossy UTF-8).
    pub body: String,
    json: Option<Value>,
}

impl Incoming {
    fn new(method: Method, uri: &Uri, headers: HeaderMap, body: &[u8]) -> Incoming {
        Incoming {
            method,
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            headers,
            body: String::from_utf8_lossy(body).into_owned(),
            json: serde_json::from_slice(body).ok(),
        }
    }

    /// A header's value, if present and valid text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body parsed as JSON, or `None` when it is not JSON (or empty).
    pub fn json(&self) -> Option<&Value> {
        self.json.as_ref()
    }

    /// A query parameter decoded as a server would (`application/x-www-form-urlencoded`): `%XX`
    /// is decoded and a bare `+` becomes a space. So a phone number sent as `+1555...` instead of
    /// `%2B1555...` arrives as `" 1555..."` and matches nothing, exactly like on the real API.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.as_deref()?.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(key) == name).then(|| form_decode(value))
        })
    }

    /// The path's segments, percent-decoded, without empty ones (`/a//b/` gives `["a", "b"]`).
    pub fn segments(&self) -> Vec<String> {
        self.path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect()
    }

    /// `true` when header `name` is exactly `prefix` followed by `secret`. Used for every
    /// platform's auth check; the prefix (`"Bearer "`, `"API "`) is part of what is checked.
    pub fn header_is(&self, name: &str, prefix: &str, secret: &str) -> bool {
        self.header(name)
            .and_then(|v| v.strip_prefix(prefix))
            .is_some_and(|v| v == secret)
    }
}

/// A platform's answer: status, optional JSON body and extra headers.
pub struct Reply {
    pub status: StatusCode,
    pub body: Option<Value>,
    pub headers: Vec<(HeaderName, String)>,
}

impl Reply {
    /// An answer with a JSON body.
    pub fn json(status: StatusCode, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    /// An answer without a body (`204`).
    pub fn empty(status: StatusCode) -> Reply {
        Reply {
            status,
            body: None,
            headers: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: HeaderName, value: String) -> Reply {
        self.headers.push((name, value));
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = match self.body {
            Some(body) => (self.status, axum::Json(body)).into_response(),
            None => self.status.into_response(),
        };
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

/// What a simulated platform must provide; the plumbing in this file does the rest.
///
/// `pub` only so it can bound [`Simulator`]'s methods; it is not re-exported.
pub trait Platform: Send + 'static {
    /// A call as the platform understands it, parsed once from the request.
    type Call: Send + 'static;

    /// Name used in logs (`"skio"`).
    const NAME: &'static str;

    /// Whether the request carries this platform's credentials.
    fn authorized(&self, req: &Incoming) -> bool;

    /// Recognises the call. Must not fail: an unknown path becomes a call whose op is
    /// `"unknown"` and which `apply` answers with a 404 (or the platform's equivalent).
    fn parse(&self, req: &Incoming) -> Self::Call;

    /// The simulator's name for the call, recorded and matched against [`Fault::op`].
    fn op(call: &Self::Call) -> &'static str;

    /// Applies the call to the state and answers it.
    fn apply(&mut self, call: &Self::Call) -> Reply;

    /// The platform's error answer for `status` (used for 401, injected statuses, 404s).
    fn error(&self, status: StatusCode, message: &str) -> Reply;

    /// The platform's business refusal for this call ([`FaultKind::Refuse`]).
    fn refusal(&self, call: &Self::Call) -> Reply;

    /// The body of a 429. The plumbing adds `Retry-After` only for
    /// [`FaultKind::RateLimited`] with `Some`.
    fn rate_limited(&self) -> Reply {
        self.error(StatusCode::TOO_MANY_REQUESTS, "Too many requests")
    }

    /// Requests per second allowed before answering 429 (`None`: no limit). Since a simulator
    /// accepts a single credential and only authorised requests count, this is "per key".
    fn rate_limit(&self) -> Option<u32> {
        None
    }

    /// The limit the simulator starts with. By default a one-second window of
    /// [`Platform::rate_limit`] requests; a platform documented with a leaky bucket (Prive,
    /// Recharge) overrides this instead, so that bursts behave as on the real API.
    fn rate_limiter(&self) -> Option<RateLimit> {
        self.rate_limit().map(RateLimit::PerSecond)
    }
}

/// How a simulator limits authorised requests (see [`Simulator::set_rate_limiter`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateLimit {
    /// At most this many requests in any sliding one-second window.
    PerSecond(u32),
    /// A leaky bucket: each request adds one unit, the bucket drains `drain_per_second` units a
    /// second, and a request that would overflow `capacity` is refused. A full burst of
    /// `capacity` passes at once; after that, requests pass at the drain rate.
    LeakyBucket {
        capacity: u32,
        drain_per_second: u32,
    },
}

/// A simulated platform served over HTTP on `127.0.0.1:<random port>`.
///
/// Each platform file adds `start`, seeding and reading methods on its own
/// `Simulator<XState>`, under an alias (`SkioSim`). Dropping the simulator stops the server and
/// releases any handler left hanging by [`FaultKind::ApplyThenHang`].
pub struct Simulator<P> {
    shared: Arc<Mutex<Shared<P>>>,
    base_url: String,
    task: JoinHandle<()>,
    /// Never sent on: dropping it (with the simulator) wakes the hanging handlers.
    _shutdown: watch::Sender<()>,
}

/// State behind the lock. The lock is only ever held for short synchronous sections, never
/// across an `.await`.
struct Shared<P> {
    platform: P,
    requests: Vec<RecordedRequest>,
    faults: Vec<Fault>,
    limiter: Limiter,
}

/// What the request handler needs: the state and a way to learn of shutdown.
struct App<P> {
    shared: Arc<Mutex<Shared<P>>>,
    shutdown: watch::Receiver<()>,
}

impl<P> Clone for App<P> {
    fn clone(&self) -> Self {
        App {
            shared: Arc::clone(&self.shared),
            shutdown: self.shutdown.clone(),
        }
    }
}

impl<P: Platform> Simulator<P> {
    /// Binds `127.0.0.1:0` and serves `platform` until the simulator is dropped.
    ///
    /// Must be called inside a Tokio runtime.
    pub(super) async fn serve(platform: P) -> std::io::Result<Simulator<P>> {
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
        let addr = listener.local_addr()?;
        let limit = platform.rate_limiter();
        let shared = Arc::new(Mutex::new(Shared {
            platform,
            requests: Vec::new(),
            faults: Vec::new(),
            limiter: Limiter::new(limit),
        }));
        let (shutdown_tx, shutdown_rx) = watch::channel(());
        let app = App {
            shared: Arc::clone(&shared),
            shutdown: shutdown_rx,
        };
        let router = Router::new().fallback(handle::<P>).with_state(app);
        let task = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, router).await {
                tracing::error!(platform = P::NAME, %err, "simulator server stopped");
            }
        });
        tracing::debug!(platform = P::NAME, %addr, "simulator listening");
        Ok(Simulator {
            shared,
            base_url: format!("http://{addr}"),
            task,
            _shutdown: shutdown_tx,
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash: what a config's `base_url` gets.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Every request received so far, in arrival order (including refused and unauthorised ones).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// The requests received so far whose op is `op`.
    pub fn requests_for(&self, op: &str) -> Vec<RecordedRequest> {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.op == op)
            .cloned()
            .collect()
    }

    /// Queues a fault; see [`Fault`] for how faults are matched.
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    /// Drops every fault not yet used up.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Changes the requests-per-second limit (`None` removes it), for tests that need to send a
    /// burst or to hit the limit sooner. This replaces a leaky bucket with a one-second window;
    /// see [`Simulator::set_rate_limiter`] to keep a bucket.
    pub fn set_rate_limit(&self, per_second: Option<u32>) {
        self.set_rate_limiter(per_second.map(RateLimit::PerSecond));
    }

    /// Replaces the rate limit with a fresh (empty) one of any kind; `None` removes it.
    pub fn set_rate_limiter(&self, limit: Option<RateLimit>) {
        self.lock().limiter = Limiter::new(limit);
    }

    /// Runs `f` on the platform's state under the lock (for the platform files' seeding and
    /// reading methods).
    pub(super) fn with_state<R>(&self, f: impl FnOnce(&mut P) -> R) -> R {
        f(&mut self.lock().platform)
    }

    fn lock(&self) -> MutexGuard<'_, Shared<P>> {
        lock(&self.shared)
    }
}

impl<P> Drop for Simulator<P> {
    fn drop(&mut self) {
        // Stops accepting connections; open connections are then shut down gracefully, and
        // `_shutdown` (dropped right after this) releases handlers stuck in ApplyThenHang.
        self.task.abort();
    }
}

/// A poisoned lock only means a test panicked while holding it; the state is still usable and
/// the other tests should not fail because of it.
fn lock<P>(shared: &Mutex<Shared<P>>) -> MutexGuard<'_, Shared<P>> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the first, synchronous step decided.
enum Admission<C> {
    /// Answer now (401, 429).
    Answer(Reply),
    /// Carry on with this call, disturbed by this fault, if any.
    Proceed(C, Option<FaultKind>),
}

/// The single handler behind every simulator: steps 1 to 5 of the module docs.
async fn handle<P: Platform>(
    State(app): State<App<P>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = Incoming::new(method, &uri, headers, &body);
    let admission = lock(&app.shared).admit(&req);
    let (call, fault) = match admission {
        Admission::Answer(reply) => return reply.into_response(),
        Admission::Proceed(call, fault) => (call, fault),
    };
    let apply = |call: &P::Call| lock(&app.shared).platform.apply(call);
    let error = |status: u16| {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = status.canonical_reason().unwrap_or("Error");
        lock(&app.shared).platform.error(status, message)
    };
    let reply = match fault {
        None => apply(&call),
        Some(FaultKind::Status(status)) => error(status),
        Some(FaultKind::RateLimited { retry_after }) => {
            let reply = lock(&app.shared).platform.rate_limited();
            match retry_after {
                Some(secs) => reply.with_header(axum::http::header::RETRY_AFTER, secs.to_string()),
                None => reply,
            }
        }
        Some(FaultKind::ApplyThenStatus(status)) => {
            apply(&call);
            error(status)
        }
        Some(FaultKind::ApplyThenHang) => {
            apply(&call);
            // Resolves (with an error) only when the simulator is dropped.
            let _ = app.shutdown.clone().changed().await;
            error(503)
        }
        Some(FaultKind::Delay(delay)) => {
            // In its own task, so the call is applied after the delay even when the client has
            // given up and hung up meanwhile, as a slow real server would.
            let shared = Arc::clone(&app.shared);
            let delayed = tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                lock(&shared).platform.apply(&call)
            });
            delayed.await.unwrap_or_else(|_| error(500))
        }
        Some(FaultKind::Refuse) => lock(&app.shared).platform.refusal(&call),
    };
    reply.into_response()
}

impl<P: Platform> Shared<P> {
    /// Records the request, then applies the auth check, the rate limit and fault matching.
    fn admit(&mut self, req: &Incoming) -> Admission<P::Call> {
        let authorized = self.platform.authorized(req);
        let call = self.platform.parse(req);
        let op = if authorized {
            P::op(&call)
        } else {
            "unauthorized"
        };
        tracing::debug!(platform = P::NAME, method = %req.method, path = %req.path, op, "simulator request");
        self.requests.push(RecordedRequest {
            method: req.method.to_string(),
            path: req.path.clone(),
            query: req.query.clone(),
            headers: req
                .headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: req.body.clone(),
            op: op.to_owned(),
        });
        if !authorized {
            return Admission::Answer(
                self.platform
                    .error(StatusCode::UNAUTHORIZED, "Unauthorized"),
            );
        }
        if !self.limiter.admit(Instant::now()) {
            return Admission::Answer(self.platform.rate_limited());
        }
        let fault = self.take_fault(op);
        Admission::Proceed(call, fault)
    }

    fn take_fault(&mut self, op: &str) -> Option<FaultKind> {
        let index = self
            .faults
            .iter()
            .position(|f| f.times > 0 && (f.op == op || f.op == "*"))?;
        let fault = &mut self.faults[index];
        fault.times -= 1;
        let kind = fault.kind.clone();
        if fault.times == 0 {
            self.faults.remove(index);
        }
        Some(kind)
    }
}

/// The rate limit in force, with its bookkeeping.
enum Limiter {
    Unlimited,
    Window(RateWindow),
    Bucket(LeakyBucket),
}

impl Limiter {
    fn new(limit: Option<RateLimit>) -> Limiter {
        match limit {
            None => Limiter::Unlimited,
            Some(RateLimit::PerSecond(per_second)) => {
                Limiter::Window(RateWindow::new(Some(per_second)))
            }
            Some(RateLimit::LeakyBucket {
                capacity,
                drain_per_second,
            }) => Limiter::Bucket(LeakyBucket::new(capacity, drain_per_second)),
        }
    }

    /// Whether a request arriving at `now` passes; a passing request is counted.
    fn admit(&mut self, now: Instant) -> bool {
        match self {
            Limiter::Unlimited => true,
            Limiter::Window(window) => window.admit(now),
            Limiter::Bucket(bucket) => bucket.admit(now),
        }
    }
}

/// A leaky bucket (see [`RateLimit::LeakyBucket`]). Refused requests add nothing, so a client
/// that backs off gets through as soon as one unit has drained.
struct LeakyBucket {
    capacity: f64,
    drain_per_second: f64,
    /// Units in the bucket as of `updated`.
    level: f64,
    updated: Option<Instant>,
}

impl LeakyBucket {
    fn new(capacity: u32, drain_per_second: u32) -> LeakyBucket {
        LeakyBucket {
            capacity: f64::from(capacity),
            drain_per_second: f64::from(drain_per_second),
            level: 0.0,
            updated: None,
        }
    }

    fn admit(&mut self, now: Instant) -> bool {
        if let Some(updated) = self.updated {
            let drained = now.duration_since(updated).as_secs_f64() * self.drain_per_second;
            self.level = (self.level - drained).max(0.0);
        }
        self.updated = Some(now);
        if self.level + 1.0 > self.capacity {
            return false;
        }
        self.level += 1.0;
        true
    }
}

/// A sliding one-second window: at most `limit` admitted requests in any second.
/// Rejected requests do not count against the window.
struct RateWindow {
    limit: Option<u32>,
    admitted: VecDeque<Instant>,
}

impl RateWindow {
    const WINDOW: Duration = Duration::from_secs(1);

    fn new(limit: Option<u32>) -> RateWindow {
        RateWindow {
            limit,
            admitted: VecDeque::new(),
        }
    }

    fn admit(&mut self, now: Instant) -> bool {
        let Some(limit) = self.limit else {
            return true;
        };
        while self
            .admitted
            .front()
            .is_some_and(|&t| now.duration_since(t) >= Self::WINDOW)
        {
            self.admitted.pop_front();
        }
        if self.admitted.len() >= limit as usize {
            return false;
        }
        self.admitted.push_back(now);
        true
    }
}

/// Decodes `%XX` sequences; malformed ones are kept as they are.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes a form-encoded query component: `+` is a space, then `%XX`.
pub fn form_decode(s: &str) -> String {
    percent_decode(&s.replace('+', " "))
}

/// A random id with a prefix, like the ones real platforms hand out (`ev_3f9a...`).
pub fn random_id(prefix: &str) -> String {
    format!("{prefix}{:016x}", rand::random::<u64>())
}

/// A timestamp as JavaScript's `Date.toISOString()` writes it, which is what Node-based APIs
/// (Smartrr, Prive) answer: UTC, always milliseconds, `Z` (`2026-11-24T16:00:00.000Z`).
pub fn js_iso(ts: Timestamp) -> String {
    ts.to_zoned(TimeZone::UTC)
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// The UTC calendar date of a timestamp: what a `YYYY-MM-DD` in a path or body refers to.
pub fn utc_date(ts: Timestamp) -> Date {
    ts.to_zoned(TimeZone::UTC).date()
}

/// How a simulator writes the date-times of its answers (platforms.md, "Dates"). Real
/// platforms answer in one of three forms; a test picks the one it needs to be sure keyroute
/// reads each correctly.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum DateForm {
    /// The form this simulator answered before the knob existed (its documented default).
    #[default]
    Native,
    /// RFC 3339 with the offset of the given zone (`2027-03-13T00:00:00-08:00`).
    WithOffset(TimeZone),
    /// A date-time without any offset, written as wall-clock time in the given zone
    /// (`2027-03-13T00:00:00`): what some platforms answer for a store's local midnight.
    Floating(TimeZone),
}

impl DateForm {
    /// Writes `ts` in this form; `native` is the simulator's own default form.
    pub fn write(&self, ts: Timestamp, native: impl FnOnce(Timestamp) -> String) -> String {
        match self {
            DateForm::Native => native(ts),
            DateForm::WithOffset(tz) => ts
                .to_zoned(tz.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string(),
            DateForm::Floating(tz) => ts
                .to_zoned(tz.clone())
                .strftime("%Y-%m-%dT%H:%M:%S")
                .to_string(),
        }
    }
}

/// Strict `YYYY-MM-DD`: jiff's `%m` alone would also take `2026-1-5`, which real APIs refuse.
pub fn parse_ymd(s: &str) -> Option<Date> {
    (s.len() == 10).then(|| Date::strptime("%Y-%m-%d", s).ok())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_forms() {
        let ts: Timestamp = "2027-03-13T08:00:00Z".parse().unwrap();
        let la = TimeZone::get("America/Los_Angeles").unwrap();
        assert_eq!(
            DateForm::WithOffset(la.clone()).write(ts, js_iso),
            "2027-03-13T00:00:00-08:00"
        );
        assert_eq!(
            DateForm::Floating(la).write(ts, js_iso),
            "2027-03-13T00:00:00"
        );
        assert_eq!(
            DateForm::Native.write(ts, js_iso),
            "2027-03-13T08:00:00.000Z"
        );
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("%2B1555"), "+1555");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("a%zz"), "a%zz");
        assert_eq!(percent_decode("%41%42"), "AB");
        assert_eq!(form_decode("+1555"), " 1555");
        assert_eq!(form_decode("a%2Bb+c"), "a+b c");
    }

    #[test]
    fn rate_window_slides() {
        let mut w = RateWindow::new(Some(2));
        let t0 = Instant::now();
        assert!(w.admit(t0));
        assert!(w.admit(t0 + Duration::from_millis(100)));
        assert!(!w.admit(t0 + Duration::from_millis(900)));
        assert!(w.admit(t0 + Duration::from_millis(1000)));
        assert!(!w.admit(t0 + Duration::from_millis(1050)));
        assert!(w.admit(t0 + Duration::from_millis(1100)));
        assert!(RateWindow::new(None).admit(t0));
    }

    #[test]
    fn leaky_bucket_takes_a_burst_then_the_drain_rate() {
        let mut bucket = LeakyBucket::new(3, 2);
        let t0 = Instant::now();
        assert!((0..3).all(|_| bucket.admit(t0)));
        assert!(!bucket.admit(t0));
        // Half a unit drained: still full.
        assert!(!bucket.admit(t0 + Duration::from_millis(250)));
        // One unit drained: one more passes, then none.
        assert!(bucket.admit(t0 + Duration::from_millis(500)));
        assert!(!bucket.admit(t0 + Duration::from_millis(500)));
        // Fully drained after capacity / rate seconds, and it never goes below empty.
        let later = t0 + Duration::from_secs(60);
        assert!((0..3).all(|_| bucket.admit(later)));
        assert!(!bucket.admit(later));
    }

    #[test]
    fn limiter_kinds() {
        let t0 = Instant::now();
        let mut none = Limiter::new(None);
        assert!((0..1000).all(|_| none.admit(t0)));
        let mut window = Limiter::new(Some(RateLimit::PerSecond(1)));
        assert!(window.admit(t0));
        assert!(!window.admit(t0));
        let mut bucket = Limiter::new(Some(RateLimit::LeakyBucket {
            capacity: 2,
            drain_per_second: 1,
        }));
        assert!(bucket.admit(t0) && bucket.admit(t0));
        assert!(!bucket.admit(t0));
    }

    #[test]
    fn dates() {
        let ts: Timestamp = "2026-11-24T16:00:00Z".parse().unwrap();
        assert_eq!(js_iso(ts), "2026-11-24T16:00:00.000Z");
        let ts: Timestamp = "2026-11-24T23:30:00.25-05:00".parse().unwrap();
        assert_eq!(js_iso(ts), "2026-11-25T04:30:00.250Z");
        assert_eq!(utc_date(ts).to_string(), "2026-11-25");
        assert_eq!(parse_ymd("2026-12-08").unwrap().to_string(), "2026-12-08");
        for bad in ["2026-1-5", "2026-02-30", "tomorrow", "2026-12-08T00:00:00Z"] {
            assert!(parse_ymd(bad).is_none(), "{bad}");
        }
    }
}
