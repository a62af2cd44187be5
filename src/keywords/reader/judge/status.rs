//! Questions about when the next order comes (STATUS).

use super::super::super::words::{Form, Role};
use super::super::{Clause, Seg};
use super::senses::order_word;
use super::{is, soft};
use crate::domain::Action;

/// A question about when the next order comes: "when is my next box?", "what day will it
/// arrive", "is my order on the way", "did it ship yet", "cuándo llega", "elle part quand".
/// `asking` says whether the message asks anything at all. Returns the segment the question
/// hangs on.
pub(in super::super) fn status_question(words: &[&str], c: &Clause, asking: bool) -> Option<usize> {
    let w = |s: &Seg| words[s.word];
    let segs = &c.segs;
    if segs
        .iter()
        .any(|s| is(s, Role::Neg) || is(s, Role::Hedge) || is(s, Role::If) || is(s, Role::Why))
        || !c.question && segs.iter().any(|s| is(s, Role::PastMark))
    {
        return None;
    }
    let when = segs.iter().position(|s| is(s, Role::When));
    // "when I get home", "when my in-laws are coming": a time clause, not a question.
    if let Some(wi) = when
        && w(&segs[wi]) == "when"
        && !(c.question && segs.get(wi + 1).is_some_and(|n| w(n) == "my"))
        && segs.get(wi + 1).is_some_and(|n| {
            matches!(
                w(n),
                "i" | "we"
                    | "im"
                    | "ill"
                    | "ive"
                    | "id"
                    | "were"
                    | "my"
                    | "youre"
                    | "you"
                    | "they"
                    | "theyre"
                    | "je"
                    | "on"
                    | "yo"
            )
        })
    {
        return None;
    }
    let head = segs.iter().position(|s| !soft(s));
    let first = head.map(|h| w(&segs[h])).unwrap_or("");
    // "which coffee am I getting": which product, not when.
    if first == "which"
        && head.is_some_and(|h| !is(&segs[h], Role::When))
        && head
            .and_then(|h| segs.get(h + 1))
            .is_some_and(|n| !order_word(w(n)) && !is(n, Role::When))
    {
        return None;
    }
    // Asked: a question mark, a question word or auxiliary first, or "tell me", "confirm".
    let aux_first = matches!(
        first,
        "is" | "are"
            | "will"
            | "did"
            | "has"
            | "have"
            | "does"
            | "do"
            | "so"
            | "am"
            | "whats"
            | "what"
            | "how"
            | "wheres"
            | "where"
            | "sigue"
            | "ya"
            | "est"
            | "c"
            | "es"
            | "va"
            | "elle"
            | "cuando"
            | "quand"
    ) || when.is_some_and(|wi| Some(wi) == head);
    // "good to know it ships saturday": told, not asked.
    let told = segs
        .windows(3)
        .any(|p| matches!(w(&p[0]), "good" | "nice" | "glad" | "great") && w(&p[2]) == "know");
    let framed = !told
        && segs.iter().any(|s| {
            matches!(
                w(s),
                "tell"
                    | "know"
                    | "wondering"
                    | "wonder"
                    | "confirm"
                    | "advise"
                    | "confirman"
                    | "confirmen"
                    | "confirma"
                    | "remind"
                    | "check"
                    | "sure"
                    | "dime"
                    | "digan"
                    | "decirme"
                    | "confirmar"
                    | "dire"
                    | "savoir"
                    | "confirmer"
                    | "confirmez"
                    | "jsp"
            )
        });
    if !(c.question || aux_first || framed || asking && when.is_some()) {
        return None;
    }
    // "Elle peut arriver plus tard ?": asks for later, not when.
    if segs.iter().any(|s| {
        is(s, Role::Later)
            || matches!(s.role, Some(Role::Cue(Action::Delay, _, Form::Base)))
                && matches!(w(s), "later" | "plus" | "tard" | "despues" | "mas")
    }) {
        return None;
    }
    // "do I have a box coming this week?": "have" with an order, not "do you have oat milk".
    let have_order = segs.windows(3).any(|p| {
        w(&p[0]) == "have" && matches!(w(&p[1]), "a" | "an" | "my" | "any") && order_word(w(&p[2]))
    });
    // Something else is asked about: "ship it a day early?", "can I add oat milk", "the
    // price", "today's flavour".
    if segs.iter().any(|s| {
        w(s) == "have" && !have_order
            || matches!(
                w(s),
                "early"
                    | "earlier"
                    | "sooner"
                    | "faster"
                    | "add"
                    | "instead"
                    | "price"
                    | "cost"
                    | "costs"
                    | "charged"
                    | "charge"
                    | "fee"
                    | "free"
                    | "flavor"
                    | "flavour"
                    | "today"
                    | "new"
                    | "sale"
                    | "recipe"
                    | "menu"
                    | "hoy"
                    | "aujourd"
                    | "tot"
                    | "antes"
                    | "change"
                    | "swap"
                    | "switch"
                    | "souvent"
                    | "often"
                    | "siempre"
                    | "cold"
                    | "weather"
                    | "last"
                    | "late"
                    | "previous"
                    | "came"
                    | "return"
                    | "refund"
                    | "label"
                    | "pick"
                    | "choose"
                    | "make"
                    | "later"
                    | "tard"
                    | "garder"
                    | "hold"
            )
    }) || segs
        .windows(2)
        .any(|p| matches!(w(&p[0]), "come" | "comes") && matches!(w(&p[1]), "out" | "back"))
    {
        return None;
    }
    // "next" is the order unless two other words follow it: "when is my next?", "my next
    // box", "the next coffee due"; not "my next dentist appointment".
    let next_of_order = |i: usize| {
        let orderly = |x: &Seg| {
            order_word(w(x)) || matches!(w(x), "one" | "shipment" | "delivery") || on_its_way(w(x))
        };
        // Two words after it, neither of them the order or its coming: something else.
        !matches!(segs.get(i + 1..i + 3), Some([x, y]) if !orderly(x) && !orderly(y))
    };
    let noun = segs.iter().enumerate().any(|(i, s)| {
        let next = matches!(
            w(s),
            "next" | "prochaine" | "prochain" | "proximo" | "proxima" | "siguiente"
        );
        if next {
            return next_of_order(i);
        }
        matches!(
            w(s),
            "order"
                | "box"
                | "delivery"
                | "shipment"
                | "package"
                | "parcel"
                | "next"
                | "bag"
                | "refill"
                | "drop"
                | "pedido"
                | "envio"
                | "caja"
                | "entrega"
                | "commande"
                | "livraison"
                | "colis"
                | "boite"
                | "prochaine"
                | "prochain"
                | "proximo"
                | "proxima"
                | "siguiente"
                | "one"
                | "kit"
                | "food"
                | "anything"
                | "something"
        )
    });
    // "it" stands for the order; "me", "you", "I" only with shipping: "are you shipping this
    // week", "what's scheduled for me", "am I still getting a box".
    let pronoun = segs
        .iter()
        .any(|s| matches!(w(s), "it" | "its" | "lo" | "la" | "elle"))
        || segs.iter().any(|s| matches!(w(s), "me" | "you" | "i"))
            && segs.iter().any(|s| {
                matches!(
                    w(s),
                    "shipping" | "scheduled" | "getting" | "sending" | "programado"
                )
            });
    // A verb of an order on its way; in Spanish and French it carries its subject.
    let implicit = |x: &str| {
        matches!(
            x,
            "llega"
                | "llegando"
                | "llegara"
                | "llegar"
                | "sale"
                | "salio"
                | "programado"
                | "arrive"
                | "arrivera"
                | "part"
                | "partie"
                | "parti"
                | "livree"
                | "prevu"
                | "prevue"
                | "expediee"
                | "envian"
                | "mandan"
                | "sigue"
        )
    };
    let moving = segs
        .iter()
        .any(|s| is(s, Role::Send) || implicit(w(s)) || on_its_way(w(s)))
        || segs
            .windows(2)
            .any(|p| w(&p[0]) == "go" && matches!(w(&p[1]), "out" | "off"))
        || segs.windows(3).any(|p| {
            w(&p[0]) == "on"
                && matches!(w(&p[1]), "the" | "its" | "my" | "our")
                && w(&p[2]) == "way"
        })
        || noun
            && segs
                .iter()
                .any(|s| matches!(w(s), "still" | "toujours" | "todavia" | "sigue"));
    let date_noun = segs
        .iter()
        .any(|s| matches!(w(s), "date" | "day" | "fecha" | "dia" | "jour" | "hora"));
    let about_order = noun || segs.iter().any(|s| implicit(w(s)));
    let status = match when {
        // "when is my next box", "cuándo llega", "when should I expect it"
        Some(_) => about_order || pronoun && moving,
        // "is my order on the way?", "did it ship yet", "what's my delivery date"
        None => (about_order || pronoun) && (moving || date_noun && noun),
    };
    status.then(|| when.or(head).unwrap_or(0))
}

/// "my facebook status", "status: obsessed with the juice": the noun says nothing of an
/// order unless it is asked about, short, or an order's.
pub(super) fn other_sense(words: &[&str], c: &Clause, si: usize) -> bool {
    let segs = &c.segs;
    let seg = segs[si];
    if words[seg.word] != "status" || seg.len != 1 {
        return false;
    }
    let before = &segs[..si];
    let after = &segs[si + 1..];
    let modified = before.last().is_some_and(|p| {
        p.role.is_none() && !order_word(words[p.word]) && !matches!(words[p.word], "whats")
    });
    let orders = after.iter().take(3).any(|s| order_word(words[s.word]));
    // "status of my kitchen": of something else.
    let of_other = after.first().is_some_and(|n| words[n.word] == "of")
        && after
            .iter()
            .skip(1)
            .find(|s| !super::senses::determiner(words[s.word]))
            .is_some_and(|s| !order_word(words[s.word]) && s.role.is_none());
    if of_other {
        return true;
    }
    let said = after.first().is_some_and(|n| {
        n.role.is_none()
            && !order_word(words[n.word])
            && !matches!(
                words[n.word],
                "update" | "report" | "check" | "on" | "of" | "for" | "please" | "pls"
            )
    });
    if modified
        || said
        || !(c.question || orders || segs.len() <= 4 || before.iter().any(|s| is(s, Role::Request)))
    {
        return true;
    }
    false
}

/// A question whether a change took: "did my change go through?", "is it still skipped?",
/// "am I skipped", "has my box been pushed back like I asked", "just checking the skip
/// took", "is the delay showing on your end?", "is that done?". Returns the segment the
/// question hangs on.
pub(in super::super) fn change_status(words: &[&str], c: &Clause) -> Option<usize> {
    let segs = &c.segs;
    if segs
        .iter()
        .any(|s| is(s, Role::If) || is(s, Role::Hedge) || is(s, Role::Why))
    {
        return None;
    }
    let head = segs.iter().position(|s| !soft(s))?;
    let lead = words[segs[head].word];
    let aux = matches!(
        lead,
        "did" | "is" | "am" | "are" | "has" | "have" | "was" | "so" | "its" | "it"
    );
    let checking = segs
        .iter()
        .any(|s| matches!(words[s.word], "checking" | "confirm" | "check" | "sure"));
    // A yes/no question often comes without its mark: "is it still skipped or not".
    let yes_no = matches!(lead, "did" | "is" | "am" | "are" | "has" | "have" | "was");
    if !(c.question && aux || yes_no || checking) {
        return None;
    }
    let span = c.span(words);
    let change_noun = |w: &str| {
        matches!(
            w,
            "change"
                | "changes"
                | "skip"
                | "delay"
                | "pause"
                | "request"
                | "update"
                | "undo"
                | "it"
                | "that"
                | "this"
                | "reschedule"
                | "postponement"
        )
    };
    // "did my change go through", "the skip took", "is the delay showing", "is that done".
    let took = span.iter().enumerate().position(|(k, w)| {
        let verb = matches!(
            *w,
            "through"
                | "thru"
                | "took"
                | "take"
                | "stick"
                | "stuck"
                | "register"
                | "registered"
                | "processed"
                | "showing"
                | "done"
                | "went"
                | "applied"
                | "work"
                | "worked"
        ) && (*w != "went"
            || span
                .get(k + 1)
                .is_some_and(|n| matches!(*n, "through" | "thru")));
        verb && span[..k].iter().rev().take(4).any(|p| change_noun(p))
    });
    if let Some(k) = took {
        return c.seg_at(k);
    }
    // "is it still skipped?", "has my box been pushed back": the change, asked after.
    if (c.question && aux || yes_no) && lead != "did" {
        return segs.iter().position(|s| {
            matches!(s.role, Some(Role::Cue(a, _, Form::Past)) if a != Action::Undo)
                || matches!(words[s.word], "moved" | "pushed" | "rescheduled" | "paused")
        });
    }
    None
}

/// English words of an order on its way: "arriving", "coming", "due", "shipped".
fn on_its_way(x: &str) -> bool {
    matches!(
        x,
        "arrive"
            | "arrives"
            | "arriving"
            | "arrival"
            | "come"
            | "comes"
            | "coming"
            | "comin"
            | "ship"
            | "ships"
            | "shipping"
            | "shipped"
            | "deliver"
            | "delivered"
            | "delivering"
            | "due"
            | "scheduled"
            | "expect"
            | "sent"
            | "going"
            | "gone"
            | "went"
            | "left"
            | "here"
            | "show"
            | "through"
            | "getting"
            | "get"
    )
}
