//! How-to questions that ask for HELP ("how do I skip?").

use super::super::super::RuleSet;
use super::super::super::words::Role;
use super::super::{Clause, Seg};
use super::is_time_word;
use super::senses::{determiner, order_word};
use super::{is, soft};
use crate::domain::Action;

/// A how-to phrase that asks about the service: "how do I skip?", "how do these texts
/// work", "how do I change my order" (not "how do I store the greens").
pub(in super::super) fn asks_how(words: &[&str], c: &Clause, si: usize) -> bool {
    let placed = c.question || c.segs[..si].iter().all(soft);
    let rest = &c.segs[si + 1..];
    placed
        && rest.iter().enumerate().any(|(k, s)| {
            // "how do I get my box sooner", not "how do I get the lid off".
            let vague_send = is(s, Role::Send)
                && matches!(words[s.word], "get" | "getting")
                && !rest
                    .get(k + 1)
                    .is_some_and(|n| order_word(words[n.word]) && !determiner(words[n.word]));
            !vague_send
                && matches!(
                    s.role,
                    Some(Role::Cue(..)) | Some(Role::NoSend) | Some(Role::Send)
                )
                || order_word(words[s.word])
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
    // "who is this recipe for": the phrase goes on about something else.
    if matches!(words[seg.word + seg.len - 1], "this")
        && after.first().is_some_and(|n| n.role.is_none())
    {
        return true;
    }
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
        || after
            .first()
            .is_some_and(|n| matches!(words[n.word], "a" | "pour" | "con" | "avec"))
            && !after.iter().any(|x| {
                order_word(words[x.word])
                    && !matches!(words[x.word], "for" | "la" | "le" | "lo" | "el" | "les" | "los")
                    // "comment ça marche pour décaler ?": how to make a change of ours.
                    || matches!(x.role, Some(Role::Cue(..)))
            });
    // "send help", "couldn't help", "had to help my mom", "help her find it", "aide-moi à
    // choisir": not asking us.
    let idiom = before
        .last()
        .is_some_and(|p| matches!(words[p.word], "send" | "couldnt" | "cant" | "to"))
        && matches!(cue_word, "help");
    let person = after.first().is_some_and(|n| {
        matches!(words[n.word], "her" | "him")
            || matches!(words[n.word], "my" | "his" | "their" | "our")
                && after.get(1).is_some_and(|m| !order_word(words[m.word]))
            || matches!(words[n.word], "moi" | "nous")
                && after
                    .get(1)
                    .is_some_and(|m| matches!(words[m.word], "a" | "pour"))
                && !after
                    .iter()
                    .skip(2)
                    .any(|x| order_word(words[x.word]) && !determiner(words[x.word]))
    });
    // "any info on when the spring roast drops": about a product.
    let about = matches!(cue_word, "info" | "information")
        && after
            .first()
            .is_some_and(|n| matches!(words[n.word], "on" | "about"))
        && !after
            .iter()
            .skip(1)
            .take(3)
            .any(|x| order_word(words[x.word]) && !determiner(words[x.word]));
    // "what's on the menu for march": the shop's dishes, not the replies.
    let dishes = cue_word == "menu"
        && before
            .last()
            .is_some_and(|p| matches!(words[p.word], "the" | "your" | "this" | "next"))
        && (before.len() >= 2 && words[before[before.len() - 2].word] == "on"
            || after
                .first()
                .is_some_and(|n| matches!(words[n.word], "for" | "this" | "next")));
    if idiom || person || about || dishes {
        return true;
    }
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

/// A question about the service itself, with no keyword in it: who is texting, whether a
/// person or a bot answers, how to reach one, what the texts are, what else can be done by
/// text or in the app ("is this a bot?", "who's texting me", "is there a person I can talk
/// to?", "what number do I call for support", "is there an app", "can I change my address
/// by text", "c'est qui ?", "no entiendo el mensaje"). Returns the segment it hangs on.
pub(in super::super) fn service_question(words: &[&str], c: &Clause) -> Option<usize> {
    let w = |s: &Seg| words[s.word];
    let segs = &c.segs;
    if segs.is_empty()
        || segs
            .iter()
            .any(|s| is(s, Role::Neg) && !matches!(w(s), "no" | "pas" | "ne" | "n"))
        || segs.iter().any(|s| {
            matches!(s.role, Some(Role::Cue(a, ..)) if a != Action::Help) || is(s, Role::Why)
        })
    {
        return None;
    }
    let first = w(&segs[0]);
    let asked = c.question
        || matches!(
            first,
            "is" | "are"
                | "am"
                | "can"
                | "do"
                | "does"
                | "who"
                | "whos"
                | "what"
                | "whats"
                | "how"
                | "hay"
                | "y"
                | "est"
                | "c"
                | "qui"
        );
    if !asked {
        return None;
    }
    let has = |list: &[&str]| segs.iter().position(|s| list.contains(&w(s)));
    // A bot or a person.
    if let Some(i) = has(&[
        "bot",
        "robot",
        "automated",
        "automatic",
        "machine",
        "ai",
        "humain",
        "humano",
    ]) {
        return Some(i);
    }
    let person = has(&[
        "person",
        "human",
        "someone",
        "somebody",
        "agent",
        "alguien",
        "agente",
        "quelqu",
        "conseiller",
        "conseillere",
        "personne",
    ]);
    let reach = has(&[
        "talk", "speak", "chat", "call", "contact", "email", "reach", "ring", "hablar", "llamar",
        "parler", "appeler", "rappeler", "joindre",
    ]);
    if let (Some(i), Some(_)) = (person, reach) {
        return Some(i);
    }
    if let Some(i) = person
        && segs.windows(2).any(|p| {
            matches!(
                (w(&p[0]), w(&p[1])),
                ("is", "there") | ("y", "a") | ("hay", _)
            )
        })
    {
        return Some(i);
    }
    // A number for support.
    if let Some(i) = has(&["number", "numero"])
        && has(&[
            "call", "support", "llamar", "atencion", "appeler", "service", "cliente",
        ])
        .is_some()
    {
        return Some(i);
    }
    // Who is texting: "who's texting me", "who is this?", "c'est qui ?", "qui êtes-vous".
    let who = matches!(first, "who" | "whos")
        && has(&["texting", "this", "you", "sending", "messaging"]).is_some()
        && (c.question || segs.len() <= 3);
    let qui = segs.windows(2).any(|p| {
        matches!(
            (w(&p[0]), w(&p[1])),
            ("qui", "etes") | ("qui", "est") | ("est", "qui")
        )
    }) && (c.question || segs.len() <= 3)
        || segs.len() <= 3 && segs.iter().any(|s| w(s) == "qui");
    if who || qui {
        return Some(0);
    }
    // The texts themselves, the app, the website.
    if has(&["app", "website", "online", "faq", "password", "login"]).is_some()
        && matches!(
            first,
            "is" | "can" | "do" | "how" | "where" | "hay" | "y" | "est"
        )
    {
        return Some(0);
    }
    if segs.windows(2).any(|p| {
        matches!(
            (w(&p[0]), w(&p[1])),
            ("by", "text")
                | ("by", "sms")
                | ("these", "texts")
                | ("this", "message")
                | ("el", "mensaje")
                | ("ce", "message")
                | ("reply", "with")
        )
    }) {
        return Some(0);
    }
    None
}

/// A question about what the service allows, around a skip or delay: "can I skip a
/// delivery?", "can I skip more than one month?", "do I have to skip?", "can I push it back
/// twice?", "can I delay to a specific date or only by weeks?".
pub(super) fn asks_about_rules(words: &[&str], c: &Clause, si: usize, rules: &RuleSet) -> bool {
    let segs = &c.segs;
    let before = &segs[..si];
    let after = &segs[si + 1..];
    // "can I skip a delivery?", "Puis-je sauter une livraison ?": any order, in general.
    if c.question
        && after
            .first()
            .is_some_and(|s| matches!(words[s.word], "a" | "an" | "une" | "un" | "any"))
        && after.get(1).is_some_and(|s| {
            order_word(words[s.word])
                && !is_time_word(words[s.word], rules)
                && !determiner(words[s.word])
        })
    {
        return true;
    }
    // "can I skip more than one month?"
    if c.question && words.windows(2).any(|p| p == ["more", "than"]) {
        return true;
    }
    // "do I have to skip?", "do I need to delay it?"
    if c.question
        && before.iter().any(|s| {
            (s.word..s.word + s.len)
                .any(|k| matches!(words[k], "have" | "need") && words.get(k + 1) == Some(&"to"))
        })
    {
        return true;
    }
    let conj_once = segs.windows(2).any(|p| {
        words[p[0].word] == "once"
            && matches!(
                words[p[1].word],
                "we" | "i" | "im" | "were" | "you" | "they" | "its" | "it" | "he" | "she"
            )
    });
    if c.question
        && segs.iter().any(|s| {
            words[s.word] == "once" && !conj_once
                || matches!(
                    words[s.word],
                    "twice"
                        | "latest"
                        | "maximum"
                        | "max"
                        | "limit"
                        | "far"
                        | "times"
                        | "allowed"
                        | "online"
                        | "app"
                        | "website"
                        | "login"
                        | "log"
                        | "free"
                        | "charged"
                        | "lose"
                        | "discount"
                        | "specific"
                        | "only"
                )
        })
    {
        return true;
    }
    false
}

/// A question about what to reply, in the shopper's own words: "what do I text back to
/// skip", "what was the word to pause again", "whats the keyword to push it back", "remind
/// me what I send", "I forgot the commands", "what am I supposed to reply", "I don't know
/// what to send back". A cue in the clause is named, not asked for. Returns the segment
/// the question hangs on.
pub(in super::super) fn reply_question(words: &[&str], c: &Clause) -> Option<usize> {
    if c.segs.iter().any(|s| is(s, Role::Hedge)) {
        return None;
    }
    let span = c.span(words);
    let seg_of = |k: usize| c.seg_at(k);
    let wh = |w: &str| {
        matches!(
            w,
            "what" | "whats" | "wat" | "which" | "wht" | "waht" | "whta"
        )
    };
    let asked = |k: usize| {
        span[..k].iter().rev().take(6).any(|w| wh(w))
            || span[..k]
                .iter()
                .any(|w| matches!(*w, "remind" | "forgot" | "forget" | "forgotten"))
            // "is there a list of commands", "a menu of replies"
            || k >= 2 && matches!(span[k - 2], "list" | "menu") && span[k - 1] == "of"
    };
    // The words to reply with: "what was the word to pause", "I forgot the commands".
    let named = span.iter().enumerate().find(|(k, w)| {
        let noun = matches!(
            **w,
            "word" | "words" | "keyword" | "keywords" | "command" | "commands" | "codeword"
        ) || matches!(**w, "replies" | "options" | "choices")
            && *k >= 2
            && matches!(span[*k - 2], "list" | "menu")
            || **w == "code" && span.get(k + 1).is_some_and(|n| *n == "to");
        noun && asked(*k) && !matches!(span.get(k.wrapping_sub(1)), Some(&"other" | &"my"))
    });
    if let Some((k, _)) = named {
        return seg_of(k);
    }
    // "how does the delay thing work", "remind me how the pause thing works".
    if let Some(h) = span.iter().position(|w| *w == "how")
        && let Some(k) = span[h..]
            .iter()
            .position(|w| matches!(*w, "work" | "works"))
            .map(|k| h + k)
        && k > h + 1
        && span[h + 1..k].iter().all(|w| {
            matches!(
                *w,
                "does"
                    | "do"
                    | "the"
                    | "this"
                    | "these"
                    | "it"
                    | "all"
                    | "whole"
                    | "thing"
                    | "things"
                    | "text"
                    | "texts"
                    | "reply"
                    | "replies"
                    | "service"
                    | "system"
                    | "skip"
                    | "skipping"
                    | "delay"
                    | "delaying"
                    | "pause"
                    | "undo"
                    | "push"
            )
        })
        && span[h + 1..k]
            .iter()
            .any(|w| !matches!(*w, "does" | "do" | "it"))
    {
        return seg_of(h);
    }
    // What I reply: "what do I text", "what am I meant to send", "what to send back".
    let reply_verb = |w: &str| {
        matches!(
            w,
            "reply" | "text" | "send" | "type" | "say" | "write" | "answer" | "respond" | "put"
        )
    };
    span.iter()
        .enumerate()
        .position(|(k, w)| {
            reply_verb(w)
                && asked(k)
                && span[k.saturating_sub(4)..k]
                    .iter()
                    .any(|p| matches!(*p, "i" | "we" | "to"))
                && !span[k.saturating_sub(4)..k]
                    .iter()
                    .any(|p| matches!(*p, "you" | "u" | "did" | "they"))
                && !span
                    .get(k + 1)
                    .is_some_and(|n| matches!(*n, "you" | "u" | "them"))
        })
        .and_then(seg_of)
}

/// A question about what a cue means or what will be possible later, answered by HELP:
/// "does DELAY 2 mean 2 weeks or 2 days?", "can I undo a skip later if I change my mind?".
pub(super) fn asks_meaning_or_later(
    words: &[&str],
    c: &Clause,
    before: &[Seg],
    after: &[Seg],
    action: Action,
) -> bool {
    if !c.question {
        return false;
    }
    let means = after
        .iter()
        .take(3)
        .any(|s| matches!(words[s.word], "mean" | "means"));
    let later = action != Action::Delay
        && before.iter().any(|s| {
            matches!(words[s.word], "can" | "could")
                && matches!(words.get(s.word + 1), Some(&"i") | Some(&"we"))
        })
        && after
            .iter()
            .any(|s| matches!(words[s.word], "later" | "anytime" | "afterwards"));
    means || later
}
