//! The call log: every outbound call a job attempt makes, collected while it runs so the
//! worker can store it with the attempt (the admin API's message view shows it).

use std::cell::RefCell;

/// One outbound call as the job that made it records it.
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
    static CALL_LOG: RefCell<Vec<CallRecord>>;
    static CALL_TIMEOUT: std::time::Duration;
}

/// Runs `fut` with every outbound call it makes bounded by `timeout` (on top of the client's
/// own). Only the calls are timed, not the waits for rate-limit permits before them: a
/// throttled platform is slow by our choice, not down.
pub async fn with_call_timeout<F: std::future::Future>(
    timeout: std::time::Duration,
    fut: F,
) -> F::Output {
    CALL_TIMEOUT.scope(timeout, fut).await
}

/// The timeout [`with_call_timeout`] set for the current calls, if any.
pub(super) fn call_timeout() -> Option<std::time::Duration> {
    CALL_TIMEOUT.try_with(|t| *t).ok()
}

/// Runs `fut` and returns, with its output, every outbound call made while it ran. Calls
/// made outside such a scope (the demo's own requests, tests) are not collected.
pub async fn recording_calls<F: std::future::Future>(fut: F) -> (F::Output, Vec<CallRecord>) {
    CALL_LOG
        .scope(RefCell::new(Vec::new()), async move {
            let out = fut.await;
            let calls = CALL_LOG.with(|log| std::mem::take(&mut *log.borrow_mut()));
            (out, calls)
        })
        .await
}

/// Notes a call in the current log, if any.
pub(super) fn note(record: CallRecord) {
    let _ = CALL_LOG.try_with(|log| log.borrow_mut().push(record));
}
