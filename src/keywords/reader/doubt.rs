//! Doubts: when a message leaves nothing decided ("let me think", "idk"), and when its doubt
//! is only about a later order or the amount.

use super::*;

/// A doubt that leaves nothing decided ("let me think", "idk"), whatever else the message
/// says.
pub(super) fn undecided(words: &[&str], clauses: &[Clause]) -> bool {
    // "let me think", "idk": nothing is decided, whatever else the message says; unless
    // the doubt is about a later order ("skip March, I'll decide about April later").
    let about_later = |c: &Clause, k: usize| {
        c.segs
            .get(k + 1)
            .is_some_and(|n| matches!(words[n.word], "about" | "on"))
            && c.segs.iter().skip(k + 2).take(3).any(|n| {
                crate::keywords::time::month_number(words[n.word]).is_some()
                    || matches!(words[n.word], "ones" | "rest" | "future" | "others")
            })
    };
    // Nor is a doubt about how long or until when ("not sure exactly how long yet", "no sé
    // ni qué día es"), or one said between a delay and its amount ("pospónganlo, no sé, unas
    // semanas"): the shopper is unsure of the amount, not of the change.
    let about_amount = |ci: usize, k: usize| {
        let c = &clauses[ci];
        let wh = c
            .segs
            .iter()
            .skip(k + 1)
            .skip_while(|n| matches!(words[n.word], "exactly" | "ni" | "even" | "yet" | "about"))
            .take(2)
            .map(|n| (n, words[n.word]))
            .collect::<Vec<_>>();
        let asks_time = match wh.as_slice() {
            [(h, _), (_, "long" | "much"), ..] if is(h, Role::How) => true,
            [(w, _), ..] if is(w, Role::When) => true,
            [
                (_, "cuanto" | "cuantos" | "cuantas" | "combien" | "when" | "cuando"),
                ..,
            ] => true,
            _ => false,
        };
        let between = c.segs.len() == 1
            && ci > 0
            && clauses[ci - 1]
                .segs
                .iter()
                .any(|s| matches!(s.role, Some(Role::Cue(Action::Delay, ..))))
            && clauses.get(ci + 1).is_some_and(|n| {
                n.segs
                    .iter()
                    .take(3)
                    .any(|s| crate::keywords::time::is_time_word(words[s.word]))
            });
        asks_time || between
    };
    clauses.iter().enumerate().any(|(ci, c)| {
        c.segs
            .iter()
            .enumerate()
            .any(|(k, s)| is(s, Role::Doubt) && !about_later(c, k) && !about_amount(ci, k))
    })
}
