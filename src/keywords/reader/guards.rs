//! Guards on the whole message, before any word is read: opt-outs and reactions.

use super::*;

/// The text without what it quotes, when it quotes a passage of three words or more between
/// paired quotation marks (“…”, «…», "…"); `None` when it quotes nothing that long. A quoted
/// keyword alone (`"SKIP"`) is the shopper's own word and stays.
pub(super) fn unquoted(text: &str) -> Option<String> {
    if !text.contains(['“', '«', '"']) {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    while let Some(start) = rest.find(['“', '«', '"']) {
        let open = rest[start..].chars().next().unwrap_or('"');
        let close = match open {
            '“' => '”',
            '«' => '»',
            _ => '"',
        };
        let inner_start = start + open.len_utf8();
        let Some(len) = rest[inner_start..].find(close) else {
            break;
        };
        let inner = &rest[inner_start..inner_start + len];
        out.push_str(&rest[..start]);
        if inner.split_whitespace().count() >= 3 {
            out.push_str(" , ");
            changed = true;
        } else {
            out.push_str(&rest[start..inner_start + len + close.len_utf8()]);
        }
        rest = &rest[inner_start + len + close.len_utf8()..];
    }
    out.push_str(rest);
    changed.then_some(out)
}

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
                | "destaco"
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
