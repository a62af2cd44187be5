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
        // "the end of the month" is a date, not END; "what did I end up setting"; "is it
        // showing on your end?"; "in the end, skip it".
        let prev = i.checked_sub(1).map(|p| toks[p].0).unwrap_or("");
        // "... for me full stop": voice-to-text's punctuation.
        if *w == "stop" && prev == "full" {
            continue;
        }
        if *w == "end"
            && (matches!(next, "of" | "up")
                || i >= 2
                    && matches!(toks[i - 2].0, "on" | "at")
                    && matches!(prev, "your" | "my" | "our" | "their" | "ur")
                || prev == "the" && i >= 2 && matches!(toks[i - 2].0, "in" | "at"))
        {
            continue;
        }
        // The rule files' lexicon holds every built-in opt-out word too.
        if (*w == "opt" && next == "out") || rules.lex.is_opt_out(w) {
            if kept_on(rules, toks, i) && asks_a_change(rules, toks) {
                continue;
            }
            return true;
        }
    }
    false
}

/// A negation of the built-in vocabulary or of the rule files' `negations` ("don't",
/// "never", "sans", "sin"), but not an answer that says no ("no", "nope", "non") nor a
/// retraction of what came before ("jk"), except Spanish "no" before its verb ("no quiero
/// cancelar").
fn negates(rules: &RuleSet, w: &str, spanish: bool) -> bool {
    if matches!(w, "no" | "nope" | "nah" | "non" | "jk" | "kidding") {
        return w == "no" && spanish;
    }
    vocab::entry(w).and_then(|e| e.role) == Some(Role::Neg)
        || rules
            .lex
            .lookup(w)
            .is_some_and(|(info, _)| info.has(flag::NEGATION))
}

/// Whether a word of the message names a skip or a delay (built in or a merchant keyword).
fn asks_a_change(rules: &RuleSet, toks: &[(&str, TokKind)]) -> bool {
    let change = |a: Action| matches!(a, Action::Skip | Action::Delay);
    toks.iter().any(|(w, kind)| {
        *kind == TokKind::Word
            && (matches!(
                vocab::entry(w).and_then(|e| e.role),
                Some(Role::Cue(a, ..)) if change(a)
            ) || rules.lex.lookup(w).is_some_and(|(info, _)| {
                rules
                    .rules
                    .get(usize::from(info.rule))
                    .is_some_and(|r| change(r.action))
            }))
    })
}

/// An opt-out word that says the shopper stays, beside a change asked for (see
/// [`asks_a_change`]): negated right before it ("I don't want to
/// cancel, just skip this one", "skip it, don't cancel me", "no quiero cancelar", "sans
/// annuler"), or "quit" with an object of the shopper's own ("I quit sugar"). Only a chain
/// of wanting and intending may stand between the negation and the word, so "don't want it
/// stop" still opts out.
fn kept_on(rules: &RuleSet, toks: &[(&str, TokKind)], i: usize) -> bool {
    let word = toks[i].0;
    // "I quit sugar": an object nothing else knows, not a typo of a word that is known.
    if word == "quit"
        && toks.get(i + 1).is_some_and(|(next, kind)| {
            *kind == TokKind::Word
                && next.len() >= 4
                && vocab::entry(next).is_none()
                && rules.lex.lookup(next).is_none()
                && !is_opt_out_word(next)
                && vocab::correct_unknown(next, false).is_none()
                && !matches!(
                    *next,
                    "texting"
                        | "sending"
                        | "subscription"
                        | "these"
                        | "them"
                        | "everything"
                        | "messaging"
                        | "messages"
                        | "texts"
                        | "emails"
                        | "please"
                )
        })
    {
        return true;
    }
    // "I promise I'll stop over-ordering": the shopper's own habit; "our babysitter quit",
    // "she quit her job": someone else's news. Not "stop texting me", "I quit".
    let prev = i.checked_sub(1).map(|p| toks[p].0).unwrap_or("");
    let next = toks.get(i + 1).map(|t| t.0).unwrap_or("");
    let next2 = toks.get(i + 2).map(|t| t.0).unwrap_or("");
    let habit = |w: &str| {
        w.len() > 5
            && w.ends_with("ing")
            && !matches!(
                w,
                "texting"
                    | "messaging"
                    | "sending"
                    | "emailing"
                    | "contacting"
                    | "calling"
                    | "bothering"
                    | "spamming"
                    | "charging"
                    | "billing"
                    | "shipping"
                    | "everything"
            )
    };
    if word == "stop"
        && matches!(prev, "ill" | "will" | "to" | "gonna")
        && (habit(next) || next == "over" && next2.ends_with("ing"))
    {
        return true;
    }
    if word == "quit"
        && matches!(
            prev,
            "she"
                | "he"
                | "they"
                | "babysitter"
                | "nanny"
                | "husband"
                | "wife"
                | "boss"
                | "roommate"
                | "sitter"
                | "job"
                | "car"
                | "fridge"
                | "freezer"
        )
    {
        return true;
    }
    let spanish = matches!(word, "cancelar" | "cancela" | "parar");
    let mut j = i;
    while j > 0 && i - j < 5 {
        j -= 1;
        let (w, kind) = toks[j];
        if kind != TokKind::Word {
            return false;
        }
        let prev = j.checked_sub(1).map(|p| toks[p].0).unwrap_or("");
        if negates(rules, w, spanish)
            || matches!(
                (prev, w),
                ("instead", "of")
                    | ("rather", "than")
                    | ("lieu", "de" | "d")
                    | ("vez" | "lugar", "de")
                    | ("plutot", "que")
            )
        {
            return true;
        }
        if !matches!(
            w,
            "want"
                | "wanna"
                | "to"
                | "need"
                | "trying"
                | "going"
                | "gonna"
                | "planning"
                | "looking"
                | "mean"
                | "meant"
                | "plan"
                | "intend"
                | "wish"
                | "of"
                | "really"
                | "actually"
                | "quiero"
                | "queremos"
                | "voy"
                | "vamos"
                | "a"
                | "veux"
                | "voulons"
                | "vais"
                | "ne"
                | "de"
                | "d"
        ) {
            return false;
        }
    }
    false
}
