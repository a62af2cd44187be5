//! Logging set-up and the masking every log line about a shopper goes through. Phone numbers
//! and emails never reach a log unmasked; secrets never reach one at all (they live in
//! `secrecy` types and sensitive header values).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// Installs the global subscriber: human-readable lines on a terminal, JSON lines otherwise
/// (`KEYROUTE_LOG_FORMAT=json|text` forces one). Level from `RUST_LOG`, default `info`.
/// Logs go to stderr so that command output (`match --json`) stays clean on stdout.
pub fn init(default_level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!("{default_level},sqlx=warn,hyper=warn,reqwest=warn"))
    });
    let json = match std::env::var("KEYROUTE_LOG_FORMAT").as_deref() {
        Ok("json") => true,
        Ok("text") => false,
        _ => !std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_span_events(FmtSpan::NONE);
    let result = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
    } else {
        builder.compact().try_init()
    };
    // A second init (tests starting several apps) keeps the first subscriber.
    let _ = result;
}

/// `+15555550123` → `+1******0123`: enough to tell shoppers apart in a log, not to text them.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 4 {
        return "*".repeat(chars.len());
    }
    let keep_head = if chars[0] == '+' {
        2.min(chars.len() - 4)
    } else {
        0
    };
    let tail = chars.len() - 4;
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < keep_head || i >= tail { *c } else { '*' })
        .collect()
}

/// `jane.doe@example.com` → `j***@example.com`.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((user, domain)) => {
            let first: String = user.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_and_emails_are_masked() {
        assert_eq!(mask_phone("+15555550123"), "+1******0123");
        assert_eq!(mask_phone("123"), "***");
        assert_eq!(mask_email("jane.doe@example.com"), "j***@example.com");
        assert!(!mask_phone("+15555550123").contains("555555"));
    }
}
