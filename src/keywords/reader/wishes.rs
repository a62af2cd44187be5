//! Requests said without an action word: a verb of sending ("send it in April", "don't send
//! it this month") and a time said as a wish ("after the 4th please").

use super::*;

/// The action a send verb or a "don't send" asks for in its clause: a delay with a date or
/// "later" after it ("send it in April", "don't send it until the 25th", "not yet"), else
/// for "don't send" a skip. The flag says the skip names the order it means by its date
/// ("don't send the one due Saturday"), so the date is no argument against it.
pub(super) fn send_action(
    words: &[&str],
    c: &Clause,
    si: usize,
    today: Date,
    rules: &RuleSet,
) -> Option<(Action, bool)> {
    let rest = &c.segs[si + 1..];
    // "send it saturday like normal": the usual date, an undo.
    if rest
        .iter()
        .any(|s| matches!(words[s.word], "early" | "earlier" | "sooner" | "asap"))
        || rest
            .iter()
            .any(|s| matches!(s.role, Some(Role::Cue(Action::Undo, ..))))
    {
        return None;
    }
    // "what time will it get here on saturday?": a question about the date it has.
    if c.question
        && c.segs[..si]
            .iter()
            .any(|s| matches!(words[s.word], "what" | "when" | "which" | "whats"))
    {
        return None;
    }
    // "I'll be happy to receive it Saturday": the shopper's own plan.
    if c.segs[si].role == Some(Role::Send)
        && matches!(
            words[c.segs[si].word],
            "receive" | "get" | "recibir" | "recevoir"
        )
        && !c.segs[..si].iter().any(|s| {
            is(s, Role::Request) && !matches!(words[s.word], "ill" | "will" | "i")
                || matches!(words[s.word], "can" | "could" | "please")
        })
    {
        return None;
    }
    // The thing sent is the order: "send it", "can my next box ship", "could you deliver";
    // not "the movers can only come on the 25th".
    if c.segs[si].role == Some(Role::Send) {
        let before = &c.segs[..si];
        // "que salga después del 20": the subjunctive's "que" asks.
        let about_order = before.iter().all(|s| soft(s) || words[s.word] == "que")
            || before.iter().rev().take(3).any(|s| {
                judge::order_word(words[s.word])
                    || matches!(words[s.word], "you" | "u" | "it" | "elle" | "ella" | "il")
            })
            || rest
                .first()
                .is_some_and(|s| judge::order_word(words[s.word]));
        if !about_order {
            return None;
        }
    }
    // "send me the invoice for february", "envoyez-moi la facture": a paper about the
    // order is sent, not the order.
    if rest
        .iter()
        .take(4)
        .take_while(|s| !judge::order_word(words[s.word]))
        .any(|s| document(words[s.word]))
    {
        return None;
    }
    // "pas de commande reçue cette semaine", "no box delivered": what did not come.
    if rest.iter().take(3).any(|s| {
        matches!(
            words[s.word],
            "recu"
                | "recue"
                | "recus"
                | "arrive"
                | "arrivee"
                | "livre"
                | "livree"
                | "received"
                | "delivered"
                | "arrived"
                | "recibido"
                | "recibida"
                | "llegado"
                | "llego"
        )
    }) {
        return None;
    }
    // "envoyez-moi rien", "send me nothing": a send of nothing.
    let no_send = c.segs[si].role == Some(Role::NoSend)
        || rest
            .iter()
            .take(2)
            .any(|s| matches!(words[s.word], "rien" | "nothing" | "nada"));
    // "don't send the one on the 13th", "don't send the one due Saturday", "rien en mars"
    // (said in March): the date of the order meant, not a new one. Another month ("don't
    // send it in April") is read as a date to move to, as before.
    let after = judge::words_after(words, c, si);
    let times = crate::keywords::time::scan(&after, today, &Rules(rules));
    let this_month = times.iter().any(|f| {
        matches!(f.when, When::Until(d) if d.month() == today.month() && d.year() > today.year())
    });
    let order_date = no_send
        && (rest
            .iter()
            .take(4)
            .any(|s| matches!(words[s.word], "on" | "el" | "le" | "due"))
            || this_month)
        && !rest.iter().any(|s| {
            matches!(
                words[s.word],
                "until" | "till" | "til" | "before" | "after" | "hasta" | "jusqu" | "avant"
            )
        });
    let dated = !order_date && judge::names_time(&after, &times)
        || rest
            .iter()
            .take(6)
            .any(|s| is(s, Role::Later) || matches!(words[s.word], "later" | "yet"));
    match c.segs[si].role {
        _ if no_send && dated => Some((Action::Delay, false)),
        _ if no_send => Some((Action::Skip, order_date)),
        Some(Role::Send) if dated => Some((Action::Delay, false)),
        _ => None,
    }
}

/// A short reply that is only a time, said as a wish: "after the 4th please", "jusqu'à
/// vendredi svp", "another two weeks please", "3 days later would be perfect", "mi-avril ce
/// serait top". Without a word of approval it is only probable: the shop asks first.
pub(super) fn bare_time_request(
    rules: &RuleSet,
    words: &[&str],
    clauses: &[Clause],
    today: Date,
) -> Option<Reading> {
    if !rules.enabled(Action::Delay) {
        return None;
    }
    // "the 13th is bad, the 16th works", "Saturday's too soon, can it be later", "the 13th
    // isn't great, can you do the 17th": the time wished for is in the first clause that
    // does not turn its time down. A negation there is the turning down.
    let turned_down = |c: &Clause| {
        let negated = c.segs.iter().any(|s| is(s, Role::Neg));
        c.segs.iter().any(|s| {
            matches!(
                words[s.word],
                "bad" | "worse" | "soon" | "early" | "busy" | "away" | "mal" | "pronto" | "tot"
            ) || negated
                && matches!(
                    words[s.word],
                    "great" | "good" | "work" | "works" | "ideal" | "suit" | "possible" | "doable"
                )
        })
    };
    let down: Vec<bool> = clauses.iter().map(turned_down).collect();
    // The clauses that say the wish: not turned down, and more than courtesy ("hi").
    let wishing = |ci: usize| !down[ci] && !clauses[ci].segs.iter().all(soft);
    let segs: Vec<&Seg> = (0..clauses.len())
        .filter(|ci| wishing(*ci))
        .flat_map(|ci| &clauses[ci].segs)
        .collect();
    if segs.len() > 9
        || segs.iter().any(|s| {
            matches!(
                s.role,
                Some(
                    Role::Neg
                        | Role::Hedge
                        | Role::Doubt
                        | Role::Why
                        | Role::PastMark
                        | Role::Stray
                )
            )
        })
    {
        return None;
    }
    // "The 13th doesn't work for us, the 20th does": the contrast is the approval.
    let contrast = down.iter().any(|d| *d);
    // Approval said outside what was turned down ("the 13th isn't great" approves nothing).
    let approving = (0..clauses.len())
        .filter(|ci| !down[*ci])
        .any(|ci| approves(clauses[ci].span(words)));
    let first = (0..clauses.len()).find(|ci| wishing(*ci))?;
    let clause_words = clauses[first].span(words);
    let mut lead = 0;
    while clause_words.get(lead).is_some_and(|w| {
        matches!(
            *w,
            "another"
                | "like"
                | "just"
                | "only"
                | "by"
                | "un"
                | "otra"
                | "otras"
                | "encore"
                | "ok"
                | "okay"
                | "hi"
                | "hey"
                | "hola"
                | "bonjour"
                | "allo"
                | "so"
                | "try"
        )
    }) {
        lead += 1;
    }
    // "could we do the 26th", "can it be the 29th instead": a question that names the time.
    let asked = [
        "can", "could", "we", "do", "it", "be", "you", "make", "have", "i",
    ];
    if clause_words
        .first()
        .is_some_and(|w| matches!(*w, "can" | "could" | "make"))
    {
        while clause_words.get(lead).is_some_and(|w| asked.contains(w)) {
            lead += 1;
        }
    }
    let found = crate::keywords::time::scan(clause_words, today, &Rules(rules));
    let f = found.iter().find(|f| f.start == lead && f.bare.is_none());
    // "the 16th works", "the 22nd would be perfect": a day of the month alone, only with a
    // word of approval (a date said in passing is no wish).
    // "the 24th?": a day asked for, nothing else said (asked first, as it has no approval).
    let asked_alone = clauses.len() == 1 && clauses[0].question && clause_words.len() <= lead + 3;
    // "june please", "abril porfa": a month alone, read as "in June", with approval; only
    // probable, as a month said alone may answer something else ("may" is a verb, and the
    // current month is no move).
    let month_alone = clause_words
        .get(lead)
        .filter(|m| clause_words.len() <= lead + 2 && !matches!(**m, "may" | "mar" | "march"))
        .filter(|m| crate::keywords::time::month_number(m).is_some())
        .and_then(|m| {
            crate::keywords::time::scan(&["in", m], today, &Rules(rules))
                .first()
                .map(|f| f.when)
        })
        .filter(|_| approving);
    let (when, sure) = match (f, month_alone) {
        (Some(f), _) => (f.when, approving),
        (None, Some(m)) => (m, false),
        (None, None) if approving || contrast || asked_alone => (
            When::Until(crate::keywords::time::day_of_month_at(clause_words, lead, today)?.0),
            approving,
        ),
        (None, None) => return None,
    };
    let later = words.iter().any(|w| {
        matches!(
            *w,
            "later" | "tard" | "despues" | "after" | "apres" | "plus"
        )
    });
    if matches!(when, When::Vague) && !later {
        return None;
    }
    Some(Reading::built_in(
        rules,
        Action::Delay,
        Some(when),
        None,
        sure,
    ))
}

/// A word of approval: "please", "perfect", "works", "mejor", "merci".
fn approves(words: &[&str]) -> bool {
    words.iter().any(|w| {
        matches!(
            *w,
            "please"
                | "pls"
                | "plz"
                | "svp"
                | "stp"
                | "porfa"
                | "favor"
                | "perfect"
                | "perfecto"
                | "parfait"
                | "fine"
                | "great"
                | "good"
                | "ideal"
                | "top"
                | "mieux"
                | "better"
                | "mejor"
                | "thanks"
                | "thank"
                | "merci"
                | "gracias"
                | "works"
                | "bien"
        )
    })
}

/// Things sent about an order that are not the order: a "send" of one is no delay.
fn document(w: &str) -> bool {
    matches!(
        w,
        "invoice"
            | "invoices"
            | "receipt"
            | "receipts"
            | "bill"
            | "statement"
            | "link"
            | "code"
            | "coupon"
            | "email"
            | "text"
            | "texts"
            | "message"
            | "messages"
            | "tracking"
            | "details"
            | "info"
            | "information"
            | "confirmation"
            | "photo"
            | "picture"
            | "pic"
            | "factura"
            | "recibo"
            | "enlace"
            | "codigo"
            | "facture"
            | "recu"
            | "lien"
    )
}

/// An order asked back, without an undo word: "put my box back on", "I want it back",
/// "bring my order back pls", "can I get my skipped box back?", "put it back on the
/// schedule". Not "put it back in the fridge", not "put it back a week" (a delay), not a
/// report ("I got it back"). Returns the segment of "back".
pub(super) fn asked_back(
    words: &[&str],
    c: &Clause,
    today: Date,
    rules: &RuleSet,
) -> Option<usize> {
    let segs = &c.segs;
    if segs
        .iter()
        .any(|s| is(s, Role::Neg) || is(s, Role::Hedge) || is(s, Role::If))
    {
        return None;
    }
    let bi = segs
        .iter()
        .position(|s| s.len == 1 && words[s.word] == "back")?;
    let vi = segs[..bi].iter().rposition(|s| {
        matches!(
            words[s.word],
            "put" | "bring" | "want" | "get" | "add" | "turn" | "switch" | "need"
        )
    })?;
    // Between the verb and "back": the order, nothing else ("put the dog back").
    let object = &segs[vi + 1..bi];
    let ordered = !object.is_empty()
        && object.iter().all(|s| {
            let w = words[s.word];
            judge::order_word(w)
                || matches!(
                    w,
                    "my" | "the" | "our" | "skipped" | "delayed" | "original" | "usual" | "regular"
                )
                || crate::keywords::time::month_number(w).is_some()
                || matches!(s.role, Some(Role::Cue(_, _, Form::Past)))
        })
        && object.iter().any(|s| {
            let w = words[s.word];
            judge::order_word(w)
                && !matches!(
                    w,
                    "next"
                        | "month"
                        | "months"
                        | "this"
                        | "that"
                        | "one"
                        | "them"
                        | "upcoming"
                        | "everything"
                        | "anything"
                )
        });
    if !ordered {
        return None;
    }
    // After "back": the end, "on", "please", the schedule; not a place or an amount.
    let after = &segs[bi + 1..];
    let placed = after.first().is_some_and(|s| {
        matches!(
            words[s.word],
            "in" | "into" | "inside" | "to" | "up" | "down" | "out" | "off" | "from" | "with"
        )
    }) || judge::has_time_after(words, c, bi, today, rules)
        && after.first().is_none_or(|s| words[s.word] != "on");
    // "put my order back" alone may mean later; "put it back on" does not.
    let put_alone = matches!(words[segs[vi].word], "put" | "add" | "turn" | "switch")
        && !after
            .first()
            .is_some_and(|s| matches!(words[s.word], "on" | "how" | "the" | "like" | "as"));
    if placed || put_alone {
        return None;
    }
    // "I got it back", "they brought it back": told, not asked.
    let asked = segs[..vi].iter().all(|s| soft(s) || is(s, Role::Object))
        || segs[..vi].iter().any(|s| is(s, Role::Request));
    asked.then_some(bi)
}

/// This order not wanted: "this one we really don't need", "no need box this time", "we
/// can do without this month's box", "no quiero la caja de marzo", "je ne veux pas de box
/// cette fois", "on n'en veut pas ce mois-ci". A skip, asked first. Not "I don't need it
/// anymore" (a cancellation), and not an order of another month. Returns the segment the
/// wish hangs on.
pub(super) fn unwanted(words: &[&str], c: &Clause, today: Date) -> Option<usize> {
    let segs = &c.segs;
    // A cue in the clause is judged as itself: "I do not want to skip this month".
    if segs.iter().any(|s| {
        is(s, Role::Hedge)
            || is(s, Role::If)
            || matches!(s.role, Some(Role::Cue(..) | Role::Send | Role::NoSend))
    }) {
        return None;
    }
    let span = c.span(words);
    let at = |k: usize, pat: &[&str]| span.get(k..k + pat.len()) == Some(pat);
    let refusal = (0..span.len()).find(|&k| {
        at(k, &["dont", "need"])
            || at(k, &["dont", "want"])
            || at(k, &["do", "not", "need"])
            || at(k, &["do", "not", "want"])
            || at(k, &["no", "need"]) && !at(k, &["no", "need", "to", "worry"])
            || at(k, &["do", "without"])
            || at(k, &["no", "quiero"])
            || at(k, &["no", "la", "quiero"])
            || at(k, &["no", "lo", "quiero"])
            || at(k, &["veux", "pas"])
            || at(k, &["veut", "pas"])
            || at(k, &["ne", "veux"])
    })?;
    if span
        .iter()
        .any(|w| matches!(*w, "anymore" | "more" | "plus" | "mas" | "ever" | "again"))
    {
        return None;
    }
    let this_month = jiff::civil::Date::month(today);
    let this = (0..span.len()).any(|k| {
        let next = span.get(k + 1).copied().unwrap_or("");
        matches!(span[k], "this" | "cette" | "ce" | "este" | "esta")
            && matches!(
                next,
                "one"
                    | "time"
                    | "month"
                    | "months"
                    | "week"
                    | "weeks"
                    | "box"
                    | "order"
                    | "delivery"
                    | "fois"
                    | "mois"
                    | "semaine"
                    | "mes"
                    | "vez"
                    | "semana"
            )
            || crate::keywords::time::month_number(span[k]) == Some(this_month)
    });
    if this { c.seg_at(refusal) } else { None }
}

/// A change told, then asked for again: "Last time I pushed it 2 weeks. Same again please",
/// "what if we pushed it a week? yeah let's do that", "I delayed my sister's box a week, can
/// you do the same for mine". Only probable: the shop asks first.
pub(super) fn asked_again(
    rules: &RuleSet,
    words: &[&str],
    clauses: &[Clause],
    today: Date,
) -> Option<Reading> {
    let again = |c: &Clause| {
        let cw = c.span(words);
        let said = cw.windows(2).any(|p| matches!(p, ["same", "again"]))
            || cw.windows(3).any(|p| {
                matches!(
                    p,
                    ["do", "the", "same"]
                        | ["the", "same", "for"]
                        | ["lets", "do", "that"]
                        | ["lets", "do", "it"]
                        | ["do", "it", "if"]
                )
            });
        // Asked, not told: "same again please", "can you do the same", "let's do that".
        said && (c.question
            || matches!(cw.first(), Some(&"lets") | Some(&"do"))
            || c.segs
                .iter()
                .any(|s| matches!(s.role, Some(Role::Request | Role::Polite | Role::Lead))))
    };
    let (ci, si, action) = clauses.iter().enumerate().find_map(|(ci, c)| {
        c.segs.iter().enumerate().find_map(|(si, s)| match s.role {
            Some(Role::Cue(a @ (Action::Skip | Action::Delay), _, Form::Past)) => Some((ci, si, a)),
            _ => None,
        })
    })?;
    if !rules.enabled(action)
        || !clauses[ci + 1..].iter().any(again)
        || clauses
            .iter()
            .flat_map(|c| &c.segs)
            .any(|s| matches!(s.role, Some(Role::Neg | Role::Hedge | Role::Doubt)))
    {
        return None;
    }
    let (when, bare) = if action == Action::Delay {
        super::amount::amount(words, clauses, ci, si, today, &Rules(rules))
    } else {
        (None, None)
    };
    Some(Reading::built_in(rules, action, when, bare, false))
}
