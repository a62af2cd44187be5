//! Cutting the words into segments (the longest known phrase at each position) and the
//! segments into clauses.

use super::*;

/// Words that start a new clause.
fn clause_break(w: &str) -> bool {
    matches!(
        w,
        "but"
            | "however"
            | "though"
            | "although"
            | "because"
            | "cause"
            | "cuz"
            | "coz"
            | "bc"
            | "since"
            | "so"
            | "otherwise"
            | "pero"
            | "porque"
            | "aunque"
            | "pues"
            | "mais"
            | "car"
            | "donc"
            | "faque"
            | "fak"
            | "alors"
            | "parce"
            | "sinon"
    )
}

/// Spoken punctuation from voice-to-text: "skip the next box period".
pub(super) fn spoken_mark(words: &[(&str, TokKind)], i: usize) -> Option<(TokKind, usize)> {
    let w = |k: usize| words.get(i + k).map(|t| t.0).unwrap_or("");
    let prev = if i > 0 { words[i - 1].0 } else { "" };
    Some(match (w(0), w(1)) {
        ("question", "mark") => (TokKind::Question, 2),
        ("dot", "dot") if w(2) == "dot" => (TokKind::Break, 3),
        ("exclamation", "point" | "mark") => (TokKind::Break, 2),
        ("full", "stop") | ("new", "line" | "paragraph") => (TokKind::Break, 2),
        ("period", _)
            if !matches!(
                prev,
                "trial" | "grace" | "waiting" | "billing" | "time" | "this" | "that" | "the" | "a"
            ) =>
        {
            (TokKind::Break, 1)
        }
        ("comma" | "semicolon" | "colon", _) => (TokKind::Break, 1),
        ("punto", _) if !matches!(prev, "el" | "un" | "en") => (TokKind::Break, 1),
        ("coma", _) => (TokKind::Break, 1),
        ("virgule", _) => (TokKind::Break, 1),
        ("point", _) if !matches!(prev, "le" | "un" | "au" | "a") => (TokKind::Break, 1),
        ("point", "d") if w(2) == "interrogation" => (TokKind::Question, 3),
        ("signo", "de") if w(2) == "interrogacion" => (TokKind::Question, 3),
        _ => return None,
    })
}

fn file_role(info: &Info) -> Option<Role> {
    if info.has(flag::NEGATION) {
        Some(Role::Neg)
    } else if info.has(flag::REQUEST) {
        Some(Role::Request)
    } else if info.has(flag::LEAD_IN) {
        Some(Role::Lead)
    } else if info.has(flag::OBJECT) {
        Some(Role::Object)
    } else {
        None
    }
}

/// Cuts the words into segments and clauses.
pub(super) fn clauses(rules: &RuleSet, words: &[(&str, TokKind)], known: &[Known]) -> Vec<Clause> {
    let mut out = Vec::new();
    let mut cur = Clause {
        segs: Vec::new(),
        question: false,
    };
    let mut i = 0;
    let flush = |cur: &mut Clause, out: &mut Vec<Clause>, question: bool| {
        if !cur.segs.is_empty() || question {
            cur.question |= question;
            out.push(std::mem::replace(
                cur,
                Clause {
                    segs: Vec::new(),
                    question: false,
                },
            ));
        }
    };
    while i < words.len() {
        let (w, kind) = words[i];
        match kind {
            TokKind::Break => {
                flush(&mut cur, &mut out, false);
                i += 1;
                continue;
            }
            TokKind::Question => {
                flush(&mut cur, &mut out, true);
                i += 1;
                continue;
            }
            TokKind::Number => {
                cur.segs.push(Seg::at(i, true));
                i += 1;
                continue;
            }
            TokKind::Word => {}
        }
        if clause_break(w) || known[i].lex.is_some_and(|(inf, _)| inf.has(flag::BREAK)) {
            flush(&mut cur, &mut out, false);
            i += 1;
            continue;
        }
        // "skip the March one and then I'll decide about April": what comes next is said
        // in a clause of its own.
        let next = words.get(i + 1).map(|x| x.0);
        if matches!(
            (w, next),
            ("and", Some("then")) | ("y", Some("luego")) | ("et", Some("puis" | "ensuite"))
        ) {
            flush(&mut cur, &mut out, false);
            i += 2;
            continue;
        }
        // "skip this one and I'll be good for the next": a new subject, a new clause.
        if w == "and"
            && matches!(
                next,
                Some("i" | "ill" | "im" | "ive" | "id" | "we" | "weve" | "wed")
            )
        {
            flush(&mut cur, &mut out, false);
            i += 1;
            continue;
        }
        let mut seg = segment(rules, words, known, i);
        // "May" after a date word or before a day is the month: "mid-May", "the 2nd of May",
        // "in May", "may 3rd".
        if seg.role == Some(Role::Hedge) && w == "may" {
            let prev = if i > 0 { words[i - 1].0 } else { "" };
            let next = words.get(i + 1).map(|x| x.0).unwrap_or("");
            if matches!(
                prev,
                "in" | "of"
                    | "to"
                    | "until"
                    | "till"
                    | "til"
                    | "mid"
                    | "early"
                    | "late"
                    | "end"
                    | "since"
                    | "by"
                    | "for"
                    | "next"
                    | "this"
                    | "after"
                    | "before"
                    | "the"
            ) || prev.parse::<u32>().is_ok()
                || next.parse::<u32>().is_ok()
                || matches!(prev, "st" | "nd" | "rd" | "th")
            {
                seg.role = None;
            }
        }
        // "could you possibly skip it", "can you maybe push it": politeness in a request.
        if seg.role == Some(Role::Hedge)
            && matches!(w, "possibly" | "perhaps" | "maybe")
            && cur.segs.last().is_some_and(|p| {
                p.role == Some(Role::Request)
                    && words[p.word..p.word + p.len]
                        .iter()
                        .any(|x| matches!(x.0, "you" | "u"))
            })
        {
            seg.role = Some(Role::Polite);
        }
        // "n" is the French "n'" ("je n'en veux pas"), not "and" ("undo n skip").
        if w == "n" && seg.role == Some(Role::Neg) {
            let prev = if i > 0 { words[i - 1].0 } else { "" };
            if i > 0
                && !matches!(
                    prev,
                    "je" | "j"
                        | "tu"
                        | "il"
                        | "elle"
                        | "on"
                        | "nous"
                        | "vous"
                        | "ils"
                        | "elles"
                        | "ca"
                        | "c"
                        | "qui"
                        | "ce"
                        | "y"
                )
            {
                seg.role = None;
            }
        }
        i += seg.len;
        cur.segs.push(seg);
    }
    flush(&mut cur, &mut out, false);
    out
}

/// The longest built-in or rule-file phrase at `i`, else the word itself.
fn segment(rules: &RuleSet, words: &[(&str, TokKind)], known: &[Known], i: usize) -> Seg {
    let w = words[i].0;
    // Whether the words after `i` go on with `rest` (a phrase's other words).
    let matches_at = |rest: &mut dyn Iterator<Item = &str>| {
        rest.enumerate()
            .all(|(k, r)| words.get(i + 1 + k).is_some_and(|x| x.0 == r))
    };
    let mut seg = Seg::at(i, false);
    // Built-in phrases and words; a doubled letter is forgiven ("skiip", "pleease").
    let entry = known[i].entry;
    if let Some(e) = entry {
        if let Some(p) = e
            .phrases
            .iter()
            .find(|p| matches_at(&mut p.rest.iter().copied()))
        {
            seg.len = 1 + p.rest.len();
            seg.role = Some(p.role);
        } else {
            seg.role = e.role;
        }
    }
    // Rule-file keywords and phrases (a merchant's own words win over the built-ins).
    if let Some((info, entry)) = known[i].lex {
        let phrase = rules
            .lex
            .phrases_of(entry)
            .iter()
            .find(|p| matches_at(&mut p.rest.iter().map(|r| &**r)));
        let (info, len) = match phrase {
            Some(p) if 1 + p.rest.len() >= seg.len => (p.info, 1 + p.rest.len()),
            _ => (info, 1),
        };
        if info.is_keyword() {
            let action = rules.rules[usize::from(info.rule)].action;
            let keep_form = match seg.role {
                Some(Role::Cue(a, _, Form::Past)) if a == action && len == seg.len => Form::Past,
                _ => Form::Base,
            };
            if len >= seg.len {
                seg.len = len;
                seg.role = Some(Role::Cue(action, Strength::Strong, keep_form));
                seg.rule = Some(info.rule);
                seg.kw = Some(info.kw);
            }
        } else if seg.role.is_none() {
            seg.role = file_role(&info);
        }
        return seg;
    }
    if seg.role.is_some() || entry.is_some() {
        return seg;
    }
    // An unknown word: perhaps a typo of a keyword ("sikp", "dleay", "psotpone"), unless it
    // is a real word ("saldar" is not "saltar").
    if let Some(info) = rules.lex.correct(w).filter(|_| !vocab::is_real(w)) {
        let action = rules.rules[usize::from(info.rule)].action;
        seg.role = Some(Role::Cue(action, Strength::Strong, Form::Base));
        seg.rule = Some(info.rule);
        seg.kw = Some(info.kw);
        seg.typo = 1;
        return seg;
    }
    seg
}
