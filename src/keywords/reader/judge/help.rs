//! How-to questions that ask for HELP ("how do I skip?").

use super::super::super::words::Role;
use super::super::{Clause, Seg};
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

/// Another sense of a help word: "the help", "help me decide", "help herself", "help from
/// the neighbour", "like a human", "vegan options", "what else can I do with the powder".
pub(super) fn other_sense(words: &[&str], seg: Seg, before: &[Seg], after: &[Seg]) -> bool {
    let cue_word = words[seg.word];
    let noun = matches!(cue_word, "help" | "ayuda" | "aide")
        && before.last().is_some_and(|p| {
            matches!(
                words[p.word],
                "the" | "for" | "your" | "some" | "of" | "la" | "votre" | "tu" | "su" | "l"
            )
        })
        && !before
            .iter()
            .any(|s| matches!(words[s.word], "need" | "want" | "get"));
    let reflexive = after
        .first()
        .is_some_and(|n| matches!(words[n.word], "herself" | "himself" | "themselves"));
    let helping = reflexive || after.first().is_some_and(|n| {
        matches!(
            words[n.word],
            "me" | "us" | "yourself" | "them" | "herself" | "himself" | "themselves"
        )
            && after.get(1).is_some_and(|m| {
                let grammar = matches!(
                    m.role,
                    Some(Role::Cue(..) | Role::Particle | Role::Polite | Role::Request)
                );
                // "help me with my order" is about the order.
                let with_order = words[m.word] == "with"
                    && after.iter().skip(2).any(|x| {
                        order_word(words[x.word])
                            && !matches!(words[x.word], "this" | "that" | "it" | "for")
                    });
                !(grammar || with_order)
            })
    }) || after
        .first()
        .is_some_and(|n| matches!(words[n.word], "wanted" | "is" | "was"))
        // "ayúdame a escoger", "aidez-moi à choisir": help with something else.
        || after.first().is_some_and(|n| matches!(words[n.word], "a" | "pour"))
            && !after.iter().any(|x| order_word(words[x.word]) && words[x.word] != "for");
    // "some 15 minute options", "vegan options": choices of something else.
    let modified = matches!(cue_word, "options" | "choices" | "opciones")
        && seg.len == 1
        && before.last().is_some_and(|p| {
            p.role.is_none() && !matches!(words[p.word], "what" | "whats" | "my" | "any")
        });
    if modified {
        return true;
    }
    // "needed help from the neighbour": help someone gave. "texts like a human",
    // "what else can I do with the beet powder": something else.
    let given = after.first().is_some_and(|n| words[n.word] == "from")
        || before.last().is_some_and(|p| words[p.word] == "like")
        || words[seg.word + seg.len - 1] == "do"
            && after.first().is_some_and(|n| words[n.word] == "with")
            && !after.iter().any(|x| order_word(words[x.word]));
    if noun || helping || given {
        return true;
    }
    false
}
