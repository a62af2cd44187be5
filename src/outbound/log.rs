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
