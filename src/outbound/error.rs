//! The one classification of every outbound answer, for the platforms and Postscript alike.

use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

/// Why an outbound call did not do what we asked. Every caller sees the same three kinds:
/// try again, the other side said no (the shopper is told), or we are misconfigured (the
/// operator must act; never retried).
#[derive(Debug, Clone, thiserror::Error)]
pub enum OutboundError {
    /// Worth another try later: network trouble, timeouts, 408, 429, 5xx, unreadable answers.
    #[error("{service} {op}: temporary failure: {detail}")]
    Retryable {
        service: &'static str,
        op: &'static str,
        detail: String,
        retry_after: Option<Duration>,
    },
    /// The service understood and declined (a 4xx, or `ok: false`): the shopper's answer is
    /// `not_allowed`.
    #[error("{service} {op}: refused: {detail}")]
    Refused {
        service: &'static str,
        op: &'static str,
        detail: String,
    },
    /// Our credentials or our request are wrong (401/403, a schema error): final, logged
    /// loudly and counted; the shopper's answer is `platform_error`.
    #[error("{service} {op}: rejected: {detail}")]
    Operator {
        service: &'static str,
        op: &'static str,
        detail: String,
    },
}

impl OutboundError {
    pub fn retryable(service: &'static str, op: &'static str, detail: impl Into<String>) -> Self {
        OutboundError::Retryable {
            service,
            op,
            detail: detail.into(),
            retry_after: None,
        }
    }
    pub fn refused(service: &'static str, op: &'static str, detail: impl Into<String>) -> Self {
        OutboundError::Refused {
            service,
            op,
            detail: detail.into(),
        }
    }
    pub fn operator(service: &'static str, op: &'static str, detail: impl Into<String>) -> Self {
        OutboundError::Operator {
            service,
            op,
            detail: detail.into(),
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, OutboundError::Retryable { .. })
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            OutboundError::Retryable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// What an HTTP status means, before any adapter reads the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 2xx: read the answer.
    Success,
    /// 408, 429, 5xx: try again later.
    Retry,
    /// 401, 403: our credentials are wrong.
    Credentials,
    /// Any other 4xx (and odd statuses): the adapter decides (a 404 on a read is "not there",
    /// on a write a refusal).
    ClientError,
}

pub fn classify(status: StatusCode) -> Class {
    match status {
        s if s.is_success() => Class::Success,
        StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => Class::Retry,
        s if s.is_server_error() => Class::Retry,
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Class::Credentials,
        _ => Class::ClientError,
    }
}

/// An answer that is neither retryable nor a credentials problem: a 2xx, or a 4xx the
/// adapter interprets.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
    pub(super) service: &'static str,
    pub(super) op: &'static str,
    pub(super) metrics: std::sync::Arc<crate::metrics::Metrics>,
}

impl Answer {
    /// An answer that says our request is wrong in a way only an operator can fix (a
    /// GraphQL schema error inside a 200): logged loudly, counted in
    /// `keyroute_outbound_operator_errors`, final.
    pub fn operator_error(&self, detail: String) -> OutboundError {
        tracing::error!(service = self.service, op = self.op, %detail, "request rejected by the platform's schema");
        self.metrics.outbound_operator_error(self.service, self.op);
        OutboundError::operator(self.service, self.op, detail)
    }

    /// The JSON body of a 2xx answer; a 4xx becomes [`OutboundError::Refused`] with the
    /// service's message. An unreadable 2xx body is retryable (a proxy's error page).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, OutboundError> {
        if !self.status.is_success() {
            return Err(self.refusal());
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            OutboundError::retryable(
                self.service,
                self.op,
                format!("unreadable answer ({e}): {}", snippet(&self.body)),
            )
        })
    }

    /// A 4xx as the service declining the action.
    pub fn refusal(&self) -> OutboundError {
        OutboundError::refused(
            self.service,
            self.op,
            format!("HTTP {}: {}", self.status.as_u16(), snippet(&self.body)),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.body.iter().all(u8::is_ascii_whitespace)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_one_meaning_for_every_service() {
        assert_eq!(classify(StatusCode::OK), Class::Success);
        assert_eq!(classify(StatusCode::ACCEPTED), Class::Success);
        assert_eq!(classify(StatusCode::REQUEST_TIMEOUT), Class::Retry);
        assert_eq!(classify(StatusCode::TOO_MANY_REQUESTS), Class::Retry);
        assert_eq!(classify(StatusCode::BAD_GATEWAY), Class::Retry);
        assert_eq!(classify(StatusCode::UNAUTHORIZED), Class::Credentials);
        assert_eq!(classify(StatusCode::FORBIDDEN), Class::Credentials);
        assert_eq!(classify(StatusCode::NOT_FOUND), Class::ClientError);
        assert_eq!(
            classify(StatusCode::UNPROCESSABLE_ENTITY),
            Class::ClientError
        );
    }
}
