//! Whether one cue in its clause is a request.

mod argument;
mod help;
mod senses;
mod status;

use super::super::time::{self, Extra};
use super::super::words::{Form, Role, Strength};
use super::super::{
    REASON_HEDGED, REASON_NEGATED, REASON_NO_MATCH, REASON_OTHER_SENSE, REASON_PAST, RuleSet,
};
use super::{Clause, Rules, Seg};
use crate::domain::Action;
use argument::weak_has_argument;
pub(super) use argument::{has_time_after, names_time, words_after};
pub(super) use help::{asks_how, reply_question, service_question};
use jiff::civil::Date;
pub(super) use senses::order_word;
use senses::{
    accepted, asks_for_participle, clock_unit, hours, mistake_marker, object_is_not_the_order,
    recounted, report_verb, restore_verb, several, undone,
};
pub(super) use status::{change_status, status_question};

pub(super) enum Verdict {
    Request {
        sure: bool,
    },
    /// "how do I skip?": a question about how, answered by HELP.
    HowTo,
    /// Mentioned, but not asked for in so many words: it still conflicts with another action.
    Mention,
    Not(&'static str),
}

pub(super) fn is(s: &Seg, r: Role) -> bool {
    s.role == Some(r)
}

/// Words around a request that do not change it: "yes", "ok", "please", "thanks".
pub(super) fn soft(s: &Seg) -> bool {
    matches!(
        s.role,
        Some(Role::Lead) | Some(Role::Polite) | Some(Role::Request)
    )
}

/// Words that take back an earlier negation: "I don't need it, please skip".
fn resets(words: &[&str], s: &Seg) -> bool {
    is(s, Role::Request)
        && matches!(
            words[s.word],
            "please" | "pls" | "plz" | "kindly" | "por" | "porfa" | "xfa" | "svp" | "stp" | "just"
        )
}

pub(super) fn is_time_word(w: &str, rules: &RuleSet) -> bool {
    time::is_time_word(w) || Rules(rules).unit_days(w).is_some()
}

pub(super) fn judge(
    words: &[&str],
    c: &Clause,
    si: usize,
    today: Date,
    rules: &RuleSet,
) -> Verdict {
    let segs = &c.segs;
    let seg = segs[si];
    let (action, strength, form) = match seg.role {
        Some(Role::Cue(a, s, f)) => (a, s, f),
        _ => return Verdict::Not(REASON_NO_MATCH),
    };
    let before = &segs[..si];
    let after = &segs[si + 1..];

    // A negation right before the cue is read first, whatever else the clause holds:
    // "don't skip the line" is a negated skip too, and so takes back a skip beside it.
    // Not a negation of the cue: "nah skip", "no thx, skip it" (the box refused, then the
    // request), "wait no undo" (a correction).
    // "non finalement envoyez-la comme prévu", "no no no, mándalo como siempre": a no that
    // opens the message takes back the change, which is what an undo asks.
    let retracting = |k: usize| {
        action == Action::Undo
            && matches!(words[segs[k].word], "no" | "non" | "noo" | "nooo" | "nope" | "nah")
            // An interjection, not "no quiero": a verb or the cue right after it negates.
            && k + 1 < si
            && segs
                .get(k + 1)
                .is_some_and(|n| {
                    n.role.is_none()
                        || is(n, Role::Lead)
                        || is(n, Role::Neg) && words[n.word] == words[segs[k].word]
                })
            && segs[..k].iter().all(|s| {
                soft(s)
                    || matches!(
                        words[s.word],
                        "ah" | "oh" | "wait" | "no" | "non" | "finalement" | "actually" | "final"
                    )
            })
    };
    let refusing = |k: usize| {
        let s = &segs[k];
        retracting(k)
            || matches!(words[s.word], "nah" | "nope")
            || words[s.word] == "no"
                && (segs.get(k + 1).is_some_and(|n| is(n, Role::Polite))
                    || k > 0 && words[segs[k - 1].word] == "wait"
                    || segs.get(k + 1).is_some_and(|n| words[n.word] == "wait"))
    };
    let neg_before = before
        .iter()
        .enumerate()
        .rev()
        .take_while(|(_, s)| {
            is(s, Role::Neg) || is(s, Role::Request) && !resets(words, s) || is(s, Role::Polite)
        })
        .any(|(k, s)| is(s, Role::Neg) && !refusing(k));
    if neg_before && !matches!(words[seg.word], "not" | "no" | "dont" | "pas") {
        return Verdict::Not(REASON_NEGATED);
    }
    // Québec French puts the negation after the verb: "sautez-la pas", "sautez pas".
    let mut k = 0;
    while after
        .get(k)
        .is_some_and(|s| matches!(words[s.word], "la" | "le" | "les" | "l" | "moi" | "nous"))
    {
        k += 1;
    }
    // Not "⏭️ pas ce mois": a phrase of its own that begins with "pas".
    if after
        .get(k)
        .is_some_and(|s| words[s.word] == "pas" && (s.len == 1 || action != Action::Skip))
    {
        return Verdict::Not(REASON_NEGATED);
    }
    // "esta vez no la voy a saltar": a phrase ending in "no" negates the verb after it; the
    // phrase itself is not the request then.
    let ends_in_no = |s: &Seg| matches!(words[s.word + s.len - 1], "no" | "pas" | "not");
    if before
        .iter()
        .rev()
        .take(4)
        .any(|s| matches!(s.role, Some(Role::Cue(..))) && s.len > 1 && ends_in_no(s))
    {
        return Verdict::Not(REASON_NEGATED);
    }
    if strength == Strength::Weak
        && seg.len > 1
        && ends_in_no(&seg)
        && after
            .iter()
            .take(4)
            .any(|s| matches!(s.role, Some(Role::Cue(a, Strength::Strong, _)) if a == action))
    {
        return Verdict::Not(REASON_NEGATED);
    }
    // Another sense of the word: "skip the line", "skipped breakfast", "Skip says hi",
    // "help me decide", "my flight got delayed".
    // Not "a real person on this line": a line to call is what help is about.
    if after
        .iter()
        .take(3)
        .any(|s| is(s, Role::Sense) && !(action == Action::Help && words[s.word] == "line"))
    {
        return Verdict::Not(REASON_OTHER_SENSE);
    }
    // "can the driver wait 5 min", "hold it 2 hours": minutes and hours are a wait at the
    // door, never an order's new date.
    if action == Action::Delay
        && after.iter().take(4).enumerate().any(|(k, s)| {
            let w = words[s.word + s.len - 1];
            let count = k
                .checked_sub(1)
                .and_then(|p| words[after[p].word].parse::<u32>().ok());
            // "48 hrs" is two days.
            clock_unit(w) && !(hours(w) && count.is_some_and(|n| n >= 24))
        })
    {
        return Verdict::Not(REASON_OTHER_SENSE);
    }
    if matches!(action, Action::Skip | Action::Delay)
        && after.first().is_some_and(|s| is(s, Role::Copula))
    {
        return Verdict::Not(REASON_OTHER_SENSE);
    }
    if action == Action::Delay
        && before
            .iter()
            .rev()
            .take(3)
            .any(|s| is(s, Role::DelayedThing))
    {
        return Verdict::Not(REASON_OTHER_SENSE);
    }
    let cue_word = words[seg.word];
    let cue_end_word = words[seg.word + seg.len - 1];
    if matches!(action, Action::Skip | Action::Delay | Action::Undo)
        && (matches!(
            cue_word,
            "salta" | "saute" | "sautent" | "saltan" | "skips" | "omiti" | "omito" | "pass"
        ) || matches!(
            cue_word,
            "skip"
                | "skipping"
                | "hold"
                | "holding"
                | "saltar"
                | "sauter"
                | "omit"
                | "omitir"
                | "undo"
                | "reverse"
        ) || cue_end_word == "on" && cue_word == "hold"
            || seg.len == 1 && matches!(cue_word, "push" | "move" | "pushing" | "moving")
            // "postpone the party": a thing of the shopper's named after the verb.
            || seg.len == 1
                && matches!(
                    cue_word,
                    "postpone" | "reschedule" | "posponer" | "aplazar" | "reporter"
                )
                && after.first().is_some_and(|s| {
                    matches!(
                        words[s.word],
                        "the" | "my" | "our" | "el" | "la" | "mi" | "le" | "ma" | "mon" | "notre"
                    )
                }))
        && object_is_not_the_order(words, after, rules, action == Action::Undo)
    {
        return Verdict::Not(REASON_OTHER_SENSE);
    }
    // "count me out of the survey": out of something else.
    if cue_end_word == "out"
        && after.first().is_some_and(|s| words[s.word] == "of")
        && !after
            .iter()
            .skip(1)
            .take(3)
            .any(|s| order_word(words[s.word]))
    {
        return Verdict::Not(REASON_OTHER_SENSE);
    }
    // "skip help", "delay help": asking about the keyword.
    if matches!(action, Action::Skip | Action::Delay)
        && after
            .first()
            .is_some_and(|s| matches!(s.role, Some(Role::Cue(Action::Help, ..))))
    {
        return Verdict::HowTo;
    }
    // "skip off", "what is this charge?"
    if action == Action::Skip && after.first().is_some_and(|s| words[s.word] == "off")
        || action == Action::Help
            && matches!((cue_word, seg.len), ("what", 3) | ("whats", 2))
            && after.first().is_some_and(|s| {
                !matches!(
                    words[s.word],
                    "number" | "text" | "texts" | "message" | "messages" | "about" | "service"
                )
            })
    {
        return Verdict::Not(REASON_OTHER_SENSE);
    }
    // "sorry for the delay in replying", "apologies for the delay": the noun, about us.
    if action == Action::Delay
        && matches!(cue_word, "delay" | "delays" | "retraso" | "retard")
        && before.last().is_some_and(|s| {
            matches!(
                words[s.word],
                "the" | "my" | "any" | "this" | "el" | "le" | "mon" | "ce"
            )
        })
        && (before.iter().any(|s| {
            matches!(
                words[s.word],
                "sorry" | "apologies" | "apologize" | "apologise" | "pardon" | "perdon" | "desole"
            )
        }) || after.first().is_some_and(|s| {
            words[s.word] == "in" && after.get(1).is_some_and(|n| words[n.word].ends_with("ing"))
        }))
    {
        return Verdict::Not(REASON_OTHER_SENSE);
    }
    // "skip me to the front of the line".
    if action == Action::Skip
        && after
            .first()
            .is_some_and(|s| matches!(words[s.word], "me" | "us"))
        && after.get(1).is_some_and(|s| words[s.word] == "to")
    {
        return Verdict::Not(REASON_OTHER_SENSE);
    }
    // "skip to the good part", "put it back in the fridge".
    if action == Action::Skip
        && cue_word.starts_with("skip")
        && after.first().is_some_and(|s| words[s.word] == "to")
        || action == Action::Undo
            && seg.len > 2
            && after.first().is_some_and(|s| match words[s.word] {
                "in" | "into" | "inside" => true,
                // "put it back on the shelf"; not "put it back on for saturday please".
                "on" => after.get(1).is_some_and(|n| {
                    !is(n, Role::Request)
                        && !is(n, Role::Polite)
                        && !is_time_word(words[n.word], rules)
                        && !matches!(
                            words[n.word],
                            "for" | "track" | "schedule" | "again" | "period" | "asap"
                        )
                }),
                _ => false,
            })
    {
        return Verdict::Not(REASON_OTHER_SENSE);
    }
    if action == Action::Help && help::other_sense(words, seg, before, after) {
        return Verdict::Not(REASON_OTHER_SENSE);
    }
    if action == Action::Status && status::other_sense(words, c, si) {
        return Verdict::Not(REASON_OTHER_SENSE);
    }

    // The action undone or reported, not asked for: "undo the skip", "reverse the delay",
    // "didn't mean to skip", "I replied skip", "skipped it by accident".
    if matches!(action, Action::Skip | Action::Delay)
        && (undone(words, before, after) || recounted(words, before))
        || before.last().is_some_and(|s| report_verb(words[s.word]))
    {
        return Verdict::Not(REASON_PAST);
    }
    // A mistake owned up to asks to undo it: "I hit skip by accident", "didn't mean to".
    if action == Action::Undo && accepted(words) {
        return Verdict::Not(REASON_NO_MATCH);
    }
    // "changed my mind about the flavor": about something else.
    if action == Action::Undo
        && strength == Strength::Weak
        && after
            .first()
            .is_some_and(|s| matches!(words[s.word], "about" | "on" | "sobre" | "sur"))
        // "changed my mind about skipping": about the change, so taking it back.
        && !after.get(1).is_some_and(|s| {
            matches!(s.role, Some(Role::Cue(Action::Skip | Action::Delay, ..)))
        })
    {
        return Verdict::Not(REASON_OTHER_SENSE);
    }
    if action == Action::Undo && mistake_marker(words, &seg) {
        // "nooo I didn't mean to": an exclamation, not a negation of the undo.
        let negated = before
            .iter()
            .any(|s| is(s, Role::Neg) && !matches!(words[s.word], "no" | "noo" | "nooo" | "nope"));
        let hedged = segs.iter().any(|s| is(s, Role::Hedge));
        if !negated && !hedged && !before.iter().any(|s| is(s, Role::If)) {
            return Verdict::Request { sure: true };
        }
    }

    // A report about the past: "I skipped it last time", "I already delayed it".
    // "Skipped the next box please": a request mistyped or misheard in the past tense.
    let pleaded = before.iter().all(soft)
        && after.iter().any(|s| is(s, Role::Request))
        && !segs.iter().any(|s| is(s, Role::PastMark));
    if form == Form::Past && !asks_for_participle(words, before) && !pleaded {
        return Verdict::Not(REASON_PAST);
    }
    if before
        .iter()
        .rev()
        .take(3)
        .any(|s| is(s, Role::PastMark) || is(s, Role::Did))
        || after.iter().take(4).any(|s| {
            is(s, Role::PastMark) && matches!(words[s.word], "yesterday" | "last" | "hier")
        })
        // "we put it back to the normal date already"; not "skip it already".
        // "the move has been put off until May": a report, passive or perfect.
        || before.last().is_some_and(|b| words[b.word] == "been")
        || before
            .last()
            .is_some_and(|b| matches!(words[b.word], "we" | "i" | "they"))
            && after
                .iter()
                .take(6)
                .any(|s| is(s, Role::PastMark) && words[s.word] == "already")
    {
        return Verdict::Not(REASON_PAST);
    }

    // "the address change I'll do later", "talk later": later for something the shopper
    // does, not for the order.
    if action == Action::Delay
        && matches!(cue_word, "later" | "luego" | "despues")
        && seg.len == 1
        && before.iter().rev().take(2).any(|s| {
            matches!(
                words[s.word],
                "do" | "text"
                    | "call"
                    | "decide"
                    | "deal"
                    | "sort"
                    | "talk"
                    | "check"
                    | "chat"
                    | "reply"
                    | "write"
                    | "update"
                    | "look"
                    | "think"
                    | "email"
                    | "pay"
                    | "message"
                    | "figure"
                    | "explain"
                    | "confirm"
                    | "hablamos"
            )
        })
    {
        return Verdict::Not(REASON_OTHER_SENSE);
    }
    // "push notifications from your app": a weak cue without its argument is no verb here.
    if matches!(action, Action::Skip | Action::Delay)
        && strength == Strength::Weak
        && !weak_has_argument(words, c, si, today, rules)
    {
        return Verdict::Not(REASON_NO_MATCH);
    }
    // "what's the difference between skip and delay", "skip vs delay??", "What's UNDO for",
    // "Ça veut dire quoi UNDO?": the keyword asked about.
    let about_keyword = segs.iter().any(|s| {
        matches!(
            words[s.word],
            "difference" | "diff" | "vs" | "versus" | "mean" | "means" | "meaning" | "significa"
        ) || words[s.word..s.word + s.len] == ["veut", "dire"]
    }) || c.question
        && before
            .last()
            .is_some_and(|p| matches!(words[p.word], "whats" | "does" | "quoi"))
        && (after.is_empty()
            || after
                .first()
                .is_some_and(|n| matches!(words[n.word], "for" | "do" | "actually" | "exactly")));
    if about_keyword && (c.question || segs.len() <= 6) {
        return Verdict::HowTo;
    }
    // "do I need to put a number after DELAY", "what do I type after skip": the keyword
    // named, not used.
    if before.last().is_some_and(|p| {
        matches!(
            words[p.word],
            "after" | "word" | "type" | "typing" | "write" | "writing" | "before"
        )
    }) && segs.first().is_some_and(|s| {
        matches!(
            words[s.word],
            "do" | "does" | "can" | "should" | "what" | "how" | "i" | "is"
        )
    }) {
        return Verdict::HowTo;
    }
    // "can I push it back more than once?", "what's the latest I can push it to?", "can I
    // skip by text or do I have to log in": about the rules of the service.
    let by_text = segs.windows(2).any(|p| {
        matches!(words[p[0].word], "by" | "thru" | "through" | "via" | "over")
            && matches!(words[p[1].word], "text" | "sms" | "phone")
    });
    let service = segs.iter().any(|s| {
        matches!(
            words[s.word],
            "online" | "app" | "website" | "login" | "log" | "portal"
        )
    });
    if matches!(action, Action::Skip | Action::Delay)
        && (by_text || service)
        && before.iter().any(|s| {
            matches!(
                words[s.word],
                "can" | "do" | "could" | "puedo" | "peux" | "how"
            )
        })
    {
        return Verdict::HowTo;
    }
    if help::asks_meaning_or_later(words, c, before, after, action) {
        return Verdict::HowTo;
    }
    // A negation before the cue, unless "please" takes it back. A negative phrase is not
    // negated again: "nah, not this month".
    if let Some(ni) = before.iter().rposition(|s| is(s, Role::Neg))
        && !refusing(ni)
        && !(matches!(words[before[ni].word], "no" | "nope" | "nah")
            && before
                .get(ni + 1)
                .is_some_and(|n| matches!(words[n.word], "actually" | "wait" | "sorry")))
    {
        let double = ni + 1 == si && matches!(words[seg.word], "not" | "no" | "dont" | "pas");
        // "instead of skipping can you push it": "instead of" takes only the cue it names.
        let named_away = matches!(words[before[ni].word], "instead" | "rather")
            && before[ni + 1..]
                .iter()
                .any(|s| matches!(s.role, Some(Role::Cue(..))));
        if !double && !named_away && !before[ni + 1..].iter().any(|s| resets(words, s)) {
            return Verdict::Not(REASON_NEGATED);
        }
    }
    // "skip 2 weeks", "skip the next 3 orders", "skip this one and the next", "skip it
    // forever": several orders, a pause or a cancellation, not one skip.
    if action == Action::Skip && several(words, c, si, today, rules) {
        // "can I skip twice in a row?": asks what is allowed.
        return if c.question {
            Verdict::HowTo
        } else {
            Verdict::Not(REASON_NO_MATCH)
        };
    }
    // A hedge in the clause ("I might skip", "maybe push it later"); a condition before the
    // cue ("if my trip gets extended I'll delay it") unless it frames a request.
    if segs.iter().any(|s| is(s, Role::Hedge)) {
        return Verdict::Not(REASON_HEDGED);
    }
    // "wud skip if i could": a wish, not a request.
    if after.iter().take(3).enumerate().any(|(k, s)| {
        is(s, Role::If)
            && after.iter().skip(k + 1).take(2).any(|n| {
                matches!(
                    words[n.word],
                    "could" | "can" | "were" | "had" | "only" | "i" | "we"
                )
            })
    }) {
        return Verdict::Not(REASON_HEDGED);
    }
    // "if I skip do I lose my discount": asks what follows.
    let asks_after = after.windows(2).any(|p| {
        matches!(words[p[0].word], "do" | "will" | "does" | "would")
            && matches!(words[p[1].word], "i" | "it" | "we" | "you")
    });
    if before.iter().any(|s| is(s, Role::If)) {
        return if c.question || asks_after {
            Verdict::HowTo
        } else {
            Verdict::Not(REASON_HEDGED)
        };
    }
    if before.iter().any(|s| is(s, Role::Why)) {
        return Verdict::Not(REASON_NO_MATCH);
    }
    if action != Action::Help
        && (before
            .iter()
            .any(|s| is(s, Role::How) || is(s, Role::HowTo))
            || c.question && after.iter().any(|s| is(s, Role::How)))
    {
        return Verdict::HowTo;
    }
    if matches!(action, Action::Skip | Action::Delay) && help::asks_about_rules(words, c, si, rules)
    {
        return Verdict::HowTo;
    }

    let framed_before = before.iter().any(|s| {
        is(s, Role::Request)
            || is(s, Role::Progressive)
            || is(s, Role::Copula) && matches!(words[s.word], "says")
    });
    // "nvm skip it": a change of mind opens the clause.
    let at_start = before.iter().all(|s| {
        soft(s)
            || matches!(words[s.word], "wait" | "actually" | "oh" | "ok" | "okay")
            || action != Action::Undo
                && matches!(s.role, Some(Role::Cue(Action::Undo, Strength::Weak, _)))
    });
    let polite_after = after
        .iter()
        .any(|s| is(s, Role::Request) || is(s, Role::Polite));

    // HELP and STATUS change nothing: answered when asked, even mid-sentence, but a help noun
    // ("options", "menu") only on its own or in a request.
    if matches!(action, Action::Help | Action::Status) {
        let wh = before.iter().any(|s| {
            matches!(
                words[s.word],
                "what"
                    | "whats"
                    | "which"
                    | "que"
                    | "q"
                    | "quoi"
                    | "quels"
                    | "quelles"
                    | "c"
                    | "any"
                    | "need"
                    | "there"
                    | "want"
                    | "show"
                    | "send"
                    | "give"
            )
        });
        // "I'll check the tracking later": the shopper's own plan, not a question.
        let own_plan = before.iter().any(|s| {
            is(s, Role::Request)
                && matches!(
                    words[s.word..s.word + s.len],
                    ["i", "will"] | ["ill"] | ["we", "will"] | ["i", "ll"]
                )
        });
        if own_plan && !c.question {
            return Verdict::Not(REASON_NO_MATCH);
        }
        if strength == Strength::Weak
            && !(framed_before
                || at_start && segs.len() <= 3
                || wh
                || polite_after && segs.len() <= 4)
        {
            return Verdict::Not(REASON_NO_MATCH);
        }
        return Verdict::Request { sure: true };
    }

    // "¿Cómo lo retraso?", "how do I push it": asks how, whatever the cue's argument.
    if strength == Strength::Weak
        && c.question
        && matches!(action, Action::Skip | Action::Delay)
        && before
            .iter()
            .rev()
            .take(3)
            .any(|s| is(s, Role::How) && words[s.word] != "how" || is(s, Role::HowTo))
    {
        return Verdict::HowTo;
    }
    // A weak cue needs its argument: "hold IT", "push it BACK", "wait 2 WEEKS", "later PLEASE".
    if strength == Strength::Weak && !weak_has_argument(words, c, si, today, rules) {
        return Verdict::Not(REASON_NO_MATCH);
    }

    // "10/10 would wait 3 days for these again": a review, not a request.
    if before
        .last()
        .is_some_and(|s| words[s.word] == "would" && s.len == 1)
        && after.iter().any(|s| words[s.word] == "again")
    {
        return Verdict::Not(REASON_NO_MATCH);
    }
    if c.question {
        if framed_before {
            return Verdict::Request { sure: true };
        }
        if at_start {
            // "skip?", "skip this one?": probably a request, but it may be asking.
            return Verdict::Request {
                sure: polite_after || !before.is_empty(),
            };
        }
        return Verdict::Mention;
    }
    if framed_before || at_start || polite_after {
        return Verdict::Request { sure: true };
    }
    // "keep my order as it was", "send it Saturday as usual", "déjenlo como estaba": an undo
    // phrase after an imperative that opens the clause.
    if action == Action::Undo
        && before
            .iter()
            .find(|s| !soft(s))
            .is_some_and(|s| restore_verb(words[s.word]) || is(s, Role::Send))
    {
        return Verdict::Request { sure: true };
    }
    // "I'll skip", "we skip this month", "I didn't mean to": a subject right before.
    if let Some(p) = before.last()
        && matches!(
            words[p.word],
            "i" | "we" | "ill" | "well" | "yo" | "je" | "on" | "nous"
        )
    {
        return Verdict::Request {
            sure: action == Action::Undo,
        };
    }
    // Not asked for in so many words, but there: it still conflicts with another action
    // ("skip it or push it, whichever").
    Verdict::Mention
}
