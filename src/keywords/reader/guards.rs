//! Guards on the whole message, before any word is read: opt-outs and reactions.

use super::*;

/// Reactions quote the shop's own text: "Liked “Reply SKIP to skip it”".
pub(super) fn is_reaction(raw: &str, first: &str, second: &str) -> bool {
    let quoted = raw.contains(['“', '”', '"', '«', '»', '\'']);
    quoted
        && (matches!(
            first,
            "liked"
                | "loved"
                | "disliked"
                | "laughed"
                | "emphasized"
                | "emphasised"
                | "questioned"
                | "reacted"
                | "removed"
                | "reacciono"
                | "cuestiono"
                | "enfatizo"
                | "resalto"
        ) || matches!(
            (first, second),
            ("me" | "le", "gusto" | "encanto" | "encanta" | "hizo")
                | ("a", "aime" | "adore" | "souligne" | "reagi" | "ri" | "mis")
                | ("n", "a")
        ))
}

pub(super) fn opted_out(rules: &RuleSet, toks: &[(&str, TokKind)]) -> bool {
    for (i, (w, kind)) in toks.iter().enumerate() {
        if *kind != TokKind::Word {
            continue;
        }
        let next = toks.get(i + 1).map(|t| t.0).unwrap_or("");
        let after = toks.get(i + 2).map(|t| t.0).unwrap_or("");
        // "Annuler le changement" is the French shops' UNDO keyword, not "cancel".
        if matches!(*w, "annuler" | "annulez") && next == "le" && after == "changement" {
            continue;
        }
        // "the end of the month" is a date, not END.
        if *w == "end" && next == "of" {
            continue;
        }
        if (*w == "opt" && next == "out") || is_opt_out_word(w) || rules.lex.is_opt_out(w) {
            return true;
        }
    }
    false
}
