//! How-to questions that ask for HELP ("how do I skip?").

use super::super::super::words::Role;
use super::super::Clause;
use super::senses::order_word;
use super::soft;

/// A how-to phrase that asks about the service: "how do I skip?", "how do these texts
/// work", "how do I change my order" (not "how do I store the greens").
pub(in super::super) fn asks_how(words: &[&str], c: &Clause, si: usize) -> bool {
    let placed = c.question || c.segs[..si].iter().all(soft);
    placed
        && c.segs[si + 1..].iter().any(|s| {
            matches!(
                s.role,
                Some(Role::Cue(..)) | Some(Role::NoSend) | Some(Role::Send)
            ) || order_word(words[s.word])
                && !matches!(
                    words[s.word],
                    "it" | "this" | "that" | "for" | "time" | "one"
                )
                || matches!(
                    words[s.word],
                    "reply"
                        | "text"
                        | "texts"
                        | "change"
                        | "subscription"
                        | "pause"
                        | "account"
                        | "work"
                        | "works"
                )
        })
}
