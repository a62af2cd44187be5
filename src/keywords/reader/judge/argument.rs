//! The time arguments of a cue: what makes a weak cue ("hold", "push", "later") a delay.

use super::super::super::RuleSet;
use super::super::super::time::{self, Extra, Found};
use super::super::super::words::Role;
use super::super::{Clause, Rules};
use super::senses::{determiner, order_word};
use super::{is, soft};
use crate::domain::Action;
use jiff::civil::Date;

/// The time expressions after segment `si` of a clause, in clause-word positions, and the
/// clause word where `si` ends.
pub(super) fn times_after(
    words: &[&str],
    c: &Clause,
    si: usize,
    today: Date,
    rules: &RuleSet,
) -> Vec<Found> {
    let after = words_after(words, c, si);
    time::scan(&after, today, &Rules(rules))
}

/// The words of a clause after its segment `si`.
pub(in super::super) fn words_after<'w>(words: &[&'w str], c: &Clause, si: usize) -> Vec<&'w str> {
    c.segs[si + 1..]
        .iter()
        .flat_map(|s| (s.word..s.word + s.len).map(|w| words[w]))
        .collect()
}

/// A named amount or date after the cue, or a bare number right after it.
pub(in super::super) fn has_time_after(
    words: &[&str],
    c: &Clause,
    si: usize,
    today: Date,
    rules: &RuleSet,
) -> bool {
    let after = words_after(words, c, si);
    names_time(&after, &time::scan(&after, today, &Rules(rules)))
}

/// Whether the times found in `after` (the words after a cue) hold a named amount or date, or
/// a bare number right after the cue.
pub(in super::super) fn names_time(after: &[&str], found: &[Found]) -> bool {
    found.iter().any(|f| {
        // "send one", "don't ship this one": a pronoun, never "1 week".
        let one = f.bare.is_some() && after.get(f.start) == Some(&"one");
        !one && (f.bare.is_none() || f.start <= 1)
    })
}

/// Whether a weak cue ("hold", "push", "move", "wait", "later") has what makes it a delay.
pub(super) fn weak_has_argument(
    words: &[&str],
    c: &Clause,
    si: usize,
    today: Date,
    rules: &RuleSet,
) -> bool {
    let segs = &c.segs;
    let seg = segs[si];
    let w = words[seg.word];
    let after = &segs[si + 1..];
    let before = &segs[..si];
    // "pushing 50 and still drinking my greens": an age, not weeks.
    let has_time = has_time_after(words, c, si, today, rules)
        && !(matches!(w, "pushing" | "holding")
            && times_after(words, c, si, today, rules)
                .first()
                .is_some_and(|f| f.bare.is_some()));
    // "muévanlo", "pásenla", "déplacez-la": the pronoun is part of the verb.
    let attached = w.len() > 5 && (w.ends_with("lo") || w.ends_with("la") || w.ends_with("los"));
    let object = attached || after.iter().take(4).any(|s| order_word(words[s.word]));
    let particle = after.iter().take(4).any(|s| is(s, Role::Particle));
    let later = after
        .iter()
        .take(6)
        .any(|s| is(s, Role::Later) || words[s.word] == "later" || words[s.word] == "instead");
    let polite = segs
        .iter()
        .any(|s| is(s, Role::Request) || is(s, Role::Polite));
    let short = segs.len() <= 4;
    if let Some(Role::Cue(Action::Skip, ..)) = seg.role {
        // "not this month", "a miss": only a skip where nothing else is going on.
        // "esta no me la manden", "could you not send it": the order named, or a request
        // frame, before it.
        let asked = before.iter().any(|s| {
            is(s, Role::Request)
                && !matches!(words[s.word], "i" | "ill" | "will" | "we" | "well" | "im")
        });
        return (before.iter().all(|s| {
            soft(s)
                || is(s, Role::Neg)
                || determiner(words[s.word])
                || matches!(
                    words[s.word],
                    "esta"
                        | "este"
                        | "esa"
                        | "ese"
                        | "cette"
                        | "ce"
                        | "time"
                        | "vez"
                        | "fois"
                        | "que"
                )
        }) || asked
            || before
                .iter()
                .any(|s| matches!(words[s.word], "give" | "gives")))
            && !has_time;
    }
    if let Some(Role::Cue(Action::Undo, ..)) = seg.role
        && matches!(w, "as" | "like")
    {
        // "send it as usual", "ship on the 13th like normal"; not "keep it coming as usual".
        return segs.iter().any(|s| is(s, Role::Send));
    }
    if let Some(Role::Cue(Action::Undo, ..)) = seg.role {
        // "changed my mind", "after all", "like normal": with a send or want nearby;
        // "undue the last change": with the change it takes back.
        return segs
            .iter()
            .any(|s| is(s, Role::Send) || matches!(words[s.word], "want" | "keep" | "need"))
            || short
            || after.iter().take(4).any(|s| {
                matches!(
                    words[s.word],
                    "change" | "changes" | "skip" | "skipping" | "delay" | "edit" | "request"
                )
            });
    }
    match w {
        "not" if words.get(seg.word + 1) == Some(&"now") => {
            // "not now" alone may be a no; "not now, send it in April" is a delay.
            before.iter().chain(after).any(|s| is(s, Role::Send)) || has_time
        }
        "later" | "mas" | "despues" | "plus" | "not" | "todavia" | "aun" | "pas"
            if duration_before(words, c, si, today, rules) =>
        {
            true
        }
        "later" | "mas" | "despues" | "plus" | "not" | "todavia" | "aun" | "pas" => {
            // "later please", "send it later", "can it come later", "not yet thanks"
            // Not "will read this later", "call me later": another verb's.
            let other_verb = before.iter().any(|s| {
                s.role.is_none()
                    && !s.number
                    && !order_word(words[s.word])
                    && !determiner(words[s.word])
                    && !super::is_time_word(words[s.word], rules)
                    && Rules(rules).number(words[s.word]).is_none()
                    && time::number_word(words[s.word]).is_none()
            });
            before.iter().any(|s| is(s, Role::Send))
                || (short && !other_verb && (polite || before.iter().all(soft)))
                || has_time
        }
        "wait" | "esperar" | "esperen" | "attendre" | "attendez" => {
            // "wait until I'm back", not "wait till you hear this".
            has_time
                || after.iter().enumerate().any(|(k, s)| {
                    matches!(words[s.word], "until" | "till" | "before" | "to")
                        && !after
                            .get(k + 1)
                            .is_some_and(|n| matches!(words[n.word], "you" | "u" | "ya" | "hear"))
                })
        }
        "hold" | "holding" => object || has_time || particle,
        "move" | "moving" | "moved" | "mover" | "mueve" | "muevelo" | "muevanlo" | "moverlo"
        | "pasalo" | "pasenlo" | "recorrer" | "dejalo" | "dejala" | "dejenlo" | "dejenla" => {
            // "plz move to the 21st", "lo pueden mover para el 28": to a date, not to a
            // town ("moving to Laval on the 15th").
            let to_date = after.first().is_some_and(|s| {
                matches!(
                    words[s.word],
                    "to" | "til" | "till" | "until" | "para" | "pal" | "al" | "au" | "jusqu" | "a"
                )
            }) && times_after(words, c, si, today, rules)
                .iter()
                .any(|f| matches!(f.when, time::When::Until(_)) && f.start <= 1);
            let clitic = before
                .iter()
                .rev()
                .take(3)
                .any(|s| matches!(words[s.word], "lo" | "la" | "le" | "les" | "l"));
            to_date && !matches!(w, "moving" | "moved")
                || (object || particle || clitic) && (has_time || particle || later)
        }
        "push" | "pushing" | "pushed" | "bump" | "shift" | "slide" | "punt" => {
            object || particle || has_time
        }
        // "put the next order back a bit", "put my box back to April 10"; not "put the box
        // back in the fridge".
        "put" => {
            object
                && particle
                && has_time
                && !after
                    .iter()
                    .skip_while(|s| !is(s, Role::Particle))
                    .nth(1)
                    .is_some_and(|n| {
                        matches!(words[n.word], "in" | "on" | "into" | "inside" | "together")
                    })
        }
        "pause" => has_time,
        "extend" => has_time || object,
        "retraso" => has_time,
        _ => object || particle || has_time || later,
    }
}

/// A named duration or date ending right before segment `si`: "two weeks later", "un mois
/// plus tard", "3 days later would be perfect".
fn duration_before(words: &[&str], c: &Clause, si: usize, today: Date, rules: &RuleSet) -> bool {
    let before: Vec<&str> = c.segs[..si]
        .iter()
        .flat_map(|s| (s.word..s.word + s.len).map(|w| words[w]))
        .collect();
    time::scan(&before, today, &Rules(rules))
        .iter()
        .any(|f| f.bare.is_none() && f.end == before.len())
}
