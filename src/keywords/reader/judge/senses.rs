//! Whether a cue is about the order or in another sense: its object ("skip the kale"),
//! how many orders it asks for, and what an undo phrase takes back or reports.

use super::super::super::RuleSet;
use super::super::super::time;
use super::super::super::words::{Role, Strength};
use super::super::{Clause, Seg};
use super::argument::times_after;
use super::{is, is_time_word};
use crate::domain::Action;
use jiff::civil::Date;

/// Nouns a change is about: the order, not its contents.
pub(in super::super) fn order_word(w: &str) -> bool {
    matches!(
        w,
        "order"
            | "orders"
            | "box"
            | "boxes"
            | "delivery"
            | "deliveries"
            | "shipment"
            | "package"
            | "parcel"
            | "subscription"
            | "abonnement"
            | "suscripcion"
            | "one"
            | "it"
            | "next"
            | "upcoming"
            | "month"
            | "months"
            | "this"
            | "that"
            | "them"
            | "everything"
            | "anything"
            | "bag"
            | "bags"
            | "kit"
            | "pedido"
            | "pedidos"
            | "orden"
            | "envio"
            | "caja"
            | "entrega"
            | "lo"
            | "la"
            | "commande"
            | "livraison"
            | "colis"
            | "boite"
            | "refill"
            | "shipping"
            | "drop"
            | "round"
            | "cycle"
            | "week"
            | "time"
            | "mine"
            | "ours"
            | "for"
    )
}

pub(super) fn determiner(w: &str) -> bool {
    matches!(
        w,
        "the"
            | "my"
            | "our"
            | "your"
            | "these"
            | "those"
            | "this"
            | "that"
            | "el"
            | "la"
            | "le"
            | "les"
            | "mon"
            | "ma"
            | "mes"
            | "mi"
            | "los"
            | "l"
    )
}

/// "want/need/like/get/have ... it delayed": a past participle asked for.
pub(super) fn asks_for_participle(words: &[&str], before: &[Seg]) -> bool {
    before.iter().rev().take(4).any(|s| {
        matches!(
            words[s.word],
            "want" | "need" | "like" | "get" | "have" | "be" | "prefer" | "quiero" | "veux"
        ) || is(s, Role::Request)
    })
}

/// "skip the kale", "hold the cilantro", "hold off on spinach", "undo the damage": the
/// keyword acts on something else than the order.
pub(super) fn object_is_not_the_order(
    words: &[&str],
    after: &[Seg],
    rules: &RuleSet,
    undoing: bool,
) -> bool {
    let mut k = 0;
    while after.get(k).is_some_and(|s| {
        determiner(words[s.word]) || matches!(words[s.word], "on" | "off" | "une" | "un")
    }) {
        k += 1;
    }
    let Some(next) = after.get(k) else {
        return false;
    };
    let w = words[next.word];
    // "undo whatever he sent", "reverse what I just did": the change itself.
    if undoing
        && matches!(
            w,
            "whatever" | "what" | "everything" | "all" | "last" | "previous" | "change" | "changes"
        )
    {
        return false;
    }
    // "skip this won please": voice-to-text's "one".
    if w == "won" && k > 0 {
        return false;
    }
    // "on saute celle-ci", "salta esta": a pronoun for the order.
    if matches!(
        w,
        "celle" | "celui" | "ca" | "ceci" | "cela" | "esta" | "este" | "eso" | "esa"
    ) {
        return false;
    }
    if k == 0 && next.role.is_some() {
        // Right after the verb, a known word is grammar ("skip it", "skip please").
        return false;
    }
    // "skip ngl my fridge is full", "hold lol": chat fillers are not an object.
    if k == 0
        && matches!(
            w,
            "ngl"
                | "tbh"
                | "lol"
                | "lmao"
                | "haha"
                | "honestly"
                | "tho"
                | "imo"
                | "idk"
                | "rn"
                | "asap"
                | "thx"
                | "ty"
                | "pls"
                | "plz"
                | "pleaseee"
                | "xx"
                | "x"
                | "po"
        )
    {
        return false;
    }
    // "skip the greens this time", "skip saturday's delivery": a product or day, then the
    // order itself.
    let rest: Vec<&str> = after[k + 1..]
        .iter()
        .take(3)
        .map(|s| words[s.word])
        .collect();
    let order_follows = match rest.as_slice() {
        // "saturday's delivery", "the march box"
        [x, ..]
            if matches!(
                *x,
                "box"
                    | "delivery"
                    | "order"
                    | "shipment"
                    | "caja"
                    | "pedido"
                    | "envio"
                    | "commande"
                    | "livraison"
                    | "boite"
            ) =>
        {
            true
        }
        // "skip my Daily Greens order": a product's two-word name, then the order.
        [x, y, ..]
            if !matches!(
                *x,
                "in" | "from"
                    | "of"
                    | "on"
                    | "and"
                    | "with"
                    | "out"
                    | "en"
                    | "de"
                    | "del"
                    | "dans"
                    | "y"
                    | "et"
                    | "con"
                    | "avec"
            ) && matches!(*y, "box" | "order" | "delivery" | "shipment") =>
        {
            true
        }
        // "skip her next box", "mom's next delivery"
        ["next" | "upcoming", y, ..]
            if matches!(
                *y,
                "box" | "delivery" | "order" | "shipment" | "package" | "bag" | "kit"
            ) =>
        {
            true
        }
        // "skip my greens for March", "the salad box in April": a product, then when.
        ["for" | "in" | "on" | "para" | "en" | "pour", y, ..] if time::is_time_word(y) => true,
        [
            "for" | "in" | "on" | "para" | "en" | "pour",
            "this" | "next" | "ce" | "cette" | "este" | "esta",
            z,
        ] if time::is_time_word(z) => true,
        // "this time", "this month"; not "next time" (a wish for every order)
        ["this" | "esta" | "este" | "cette" | "ce", y, ..] => {
            matches!(
                *y,
                "time" | "month" | "week" | "vez" | "mes" | "fois" | "mois"
            )
        }
        _ => false,
    };
    if order_follows {
        return false;
    }
    !(order_word(w)
        || matches!(
            w,
            "we" | "i" | "im" | "were" | "ive" | "ill" | "you" | "its" | "because" | "cause"
        )
        || next.number
        || matches!(
            next.role,
            Some(Role::Object)
                | Some(Role::Polite)
                | Some(Role::Request)
                | Some(Role::Cue(..))
                | Some(Role::Send)
                | Some(Role::Lead)
        )
        || is_time_word(w, rules)
        || matches!(
            w,
            "til"
                | "till"
                | "until"
                | "to"
                | "by"
                | "in"
                | "after"
                | "hasta"
                | "para"
                | "al"
                | "pal"
                | "jusqua"
                | "jusqu"
                | "apres"
                | "au"
                | "en"
                | "a"
                | "off"
                | "whole"
                | "entire"
                | "following"
                | "coming"
                | "sending"
                | "shipping"
                | "last"
                | "or"
                | "and"
                | "o"
                | "y"
                | "ou"
                | "et"
                | "change"
                | "changes"
                | "skip"
                | "delay"
                | "proximo"
                | "proxima"
                | "prochaine"
                | "prochain"
                | "siguiente"
        ))
}

/// Whether a skip asks for more than one order, or for no order ever again.
pub(super) fn several(words: &[&str], c: &Clause, si: usize, today: Date, rules: &RuleSet) -> bool {
    let after = super::argument::words_after(words, c, si);
    let count = |w: &str| {
        w.parse::<u32>().is_ok_and(|n| (2..=12).contains(&n))
            || matches!(
                w,
                "two"
                    | "three"
                    | "four"
                    | "five"
                    | "six"
                    | "dos"
                    | "tres"
                    | "cuatro"
                    | "deux"
                    | "trois"
                    | "quatre"
            )
    };
    let plural = |w: &str| {
        matches!(
            w,
            "orders"
                | "boxes"
                | "deliveries"
                | "shipments"
                | "months"
                | "weeks"
                | "pedidos"
                | "envios"
                | "meses"
                | "semanas"
                | "commandes"
                | "livraisons"
                | "mois"
                | "semaines"
                | "cajas"
                | "boites"
        )
    };
    let near = &after[..after.len().min(5)];
    near.windows(2).any(|p| count(p[0]) && plural(p[1]))
        || near.windows(2).any(|p| matches!(p[0], "next" | "proximos" | "prochaines") && count(p[1]))
        || after.windows(3).any(|p| {
            matches!(
                p,
                ["and", "the", "next"] | ["and", "next", _] | ["et", "le", "prochain"]
                    | ["et", "la", "prochaine"] | ["y", "el", "siguiente"] | ["y", "la", "siguiente"]
                    | ["and", "the", "one"]
            )
        })
        || after.last().is_some_and(|w| matches!(*w, "next"))
            && after.contains(&"and")
        || after
            .iter()
            .any(|w| {
                matches!(
                    *w,
                    "forever" | "permanently" | "indefinitely" | "siempre" | "toujours" | "notice"
                        | "aviso" | "ordre"
                )
            })
        || after.first().is_some_and(|w| matches!(*w, "the" | "my"))
            && after.get(1) == Some(&"subscription")
            && !after.iter().any(|w| is_time_word(w, rules) || matches!(*w, "order" | "box"))
        // "skip 2 weeks": a skip with a duration is a delay or a pause, unclear which.
        || times_after(words, c, si, today, rules)
            .iter()
            .any(|f| {
                // "skip a week", "skip a month": one order of a weekly or monthly plan.
                f.start <= 2
                    && f.bare.is_none()
                    && matches!(f.when, time::When::Days(d) if d != 7 && d != 30)
            })
}

/// Imperatives that, with an undo phrase, restore the order: "keep it as it was".
pub(super) fn restore_verb(w: &str) -> bool {
    matches!(
        w,
        "keep"
            | "put"
            | "leave"
            | "make"
            | "set"
            | "change"
            | "switch"
            | "bring"
            | "go"
            | "dejenlo"
            | "dejalo"
            | "dejen"
            | "pongan"
            | "ponganlo"
            | "mantengan"
            | "remettez"
            | "laissez"
            | "gardez"
            | "remets"
            | "laisse"
            | "garde"
    )
}

/// A mistake shrugged off: "skipped it by accident, it's fine now", "oh well".
pub(super) fn accepted(words: &[&str]) -> bool {
    words.windows(2).any(|p| {
        matches!(
            p,
            ["oh", "well"]
                | ["you", "fixed"]
                | ["sorted", "itself"]
                | ["all", "sorted"]
                | ["worked", "out"]
                | ["all", "good"]
                | ["fixed", "it"]
                | ["its", "fine"]
                | ["its", "ok"]
                | ["no", "worries"]
                | ["no", "biggie"]
                | ["fine", "now"]
                | ["no", "problem"]
        )
    })
}

/// Words that report sending a keyword: "I replied skip", "hit delay", "puse saltar".
/// An earlier request of the shopper's recounted: "I told you to push it a month", "what I
/// said this morning about skipping", "I asked you to skip". Not one passed on for someone
/// else ("she said to skip the next box").
pub(super) fn recounted(words: &[&str], before: &[Seg]) -> bool {
    before
        .last()
        .is_some_and(|s| matches!(words[s.word], "to" | "about" | "for"))
        && before.iter().rev().take(4).any(|s| {
            matches!(words[s.word], "told" | "asked" | "said" | "requested")
                && s.word > 0
                && matches!(words[s.word - 1], "i" | "we")
        })
}

pub(super) fn report_verb(w: &str) -> bool {
    matches!(
        w,
        "replied"
            | "regret"
            | "regretted"
            | "hit"
            | "pressed"
            | "texted"
            | "sent"
            | "typed"
            | "touch"
            | "touched"
            | "clicked"
            | "answered"
            | "responded"
            | "wrote"
            | "tapped"
            | "selected"
            | "chose"
            | "picked"
            | "respondi"
            | "conteste"
            | "puse"
            | "escribi"
            | "mande"
            | "envie"
            | "repondu"
            | "ecrit"
            | "envoye"
            | "appuye"
            | "clique"
            | "mis"
            | "tape"
    )
}

/// An undo phrase that owns up to a mistake: "by accident", "by mistake", "didn't mean to".
pub(in super::super) fn mistake_marker(words: &[&str], s: &Seg) -> bool {
    let first = words[s.word];
    let last = words[s.word + s.len - 1];
    s.len > 1
        && matches!(
            first,
            "by" | "por" | "par" | "sin" | "my" | "wrong" | "no" | "pas"
        )
        && matches!(
            last,
            "accident"
                | "mistake"
                | "error"
                | "erreur"
                | "equivocacion"
                | "querer"
                | "button"
                | "boton"
                | "bouton"
                | "quise"
                | "queria"
                | "voulu"
        )
        || matches!(first, "accidentally" | "mistakenly")
        || matches!(first, "didnt" | "did") && matches!(words[s.word + 1], "mean" | "not")
        || matches!(first, "me" | "je") && matches!(last, "equivoque" | "trompe" | "trompee")
}

/// Whether a skip or delay is the thing undone or reported: right after an undo verb and a
/// determiner ("undo the skip", "no quise saltarlo"), after a verb of sending a reply ("I
/// replied skip"), or before an owned-up mistake ("skipped it by accident").
pub(super) fn undone(words: &[&str], before: &[Seg], after: &[Seg]) -> bool {
    let mut k = before.len();
    while k > 0
        && (determiner(words[before[k - 1].word])
            || matches!(words[before[k - 1].word], "last" | "to" | "de" | "about"))
    {
        k -= 1;
    }
    // "undo the skip", "never mind the skip"; not "nvm skip it".
    if k > 0
        && match before[k - 1].role {
            Some(Role::Cue(Action::Undo, Strength::Strong, _)) => true,
            Some(Role::Cue(Action::Undo, Strength::Weak, _)) => k < before.len(),
            _ => false,
        }
    {
        return true;
    }
    if before.last().is_some_and(|s| report_verb(words[s.word])) {
        return true;
    }
    after
        .iter()
        .take(3)
        .any(|s| matches!(s.role, Some(Role::Cue(Action::Undo, ..))) && mistake_marker(words, s))
}

pub(super) fn hours(w: &str) -> bool {
    matches!(
        w,
        "hour" | "hours" | "hr" | "hrs" | "hora" | "horas" | "heure" | "heures"
    )
}

/// Units of a wait measured on a clock, not a calendar (not "second": "the second of May").
pub(super) fn clock_unit(w: &str) -> bool {
    hours(w)
        || matches!(
            w,
            "min"
                | "mins"
                | "minute"
                | "minutes"
                | "minuto"
                | "minutos"
                | "sec"
                | "secs"
                | "seconds"
                | "segundos"
                | "secondes"
        )
}
