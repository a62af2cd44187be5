//! The built-in language of replies, in English, Spanish and French: the words that say a
//! reply is a request (and which), and the words that say it is not one (negations, hedges,
//! past tense, other senses of a word). Merchant keywords from the rule files come on top.
//!
//! Entries are normalised text (lower case, no accents, apostrophes of English contractions
//! dropped: "don't" is "dont", French elisions split: "n'envoyez" is "n envoyez"). A phrase is
//! several words separated by single spaces; the longest phrase wins at each position.

mod delay;
mod frames;
mod not_requests;
mod skip;
mod undo_help_status;

use crate::domain::Action;

/// How strongly a cue asks for its action on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Strength {
    /// Says the action by itself: "skip", "postpone", "undo".
    Strong,
    /// Needs an argument to mean the action: "hold it", "push it back", "later please".
    Weak,
}

/// A word's grammatical form, where it matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Form {
    Base,
    /// "skipped", "delayed": a report, unless asked for ("I want it delayed").
    Past,
}

/// What a word or phrase does in a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// Asks for an action.
    Cue(Action, Strength, Form),
    /// not, don't, never, no.
    Neg,
    /// might, maybe, thinking about: the shopper has not decided.
    Hedge,
    /// already, last time, yesterday: about the past.
    PastMark,
    /// please, can you, I'd like to: what makes a sentence a request.
    Request,
    /// yes, ok, hi, hey, so: may open a request.
    Lead,
    /// thanks, thank you: may close one.
    Polite,
    /// order, box, this one, it: what an action may be about.
    Object,
    /// how: asks how to do something (help).
    How,
    /// why: a complaint, not a request.
    Why,
    /// when, what day: with an order word, asks for the status.
    When,
    /// did, does: a question about what happened.
    Did,
    /// The object of another sense of a keyword: "skip the LINE", "skipped BREAKFAST".
    Sense,
    /// send, ship, deliver, come: "don't send it" is a skip, "send it later" a delay.
    Send,
    /// later, afterwards, not yet: with a send verb or on its own, a delay.
    Later,
    /// back, out, off: the particle that makes "push" and "hold" a delay.
    Particle,
    /// A subject that makes "delayed" a delivery complaint: flight, package, mail.
    DelayedThing,
    /// "how do I", "how to": asks how (HELP), and consumes the action it asks about.
    HowTo,
    /// "don't send it", "no me manden": a skip, or (with a date or "yet") a delay.
    NoSend,
    /// "if": a condition, unless it frames a polite request ("if you could").
    If,
    /// is, says, was: after a keyword, the keyword is a name or a noun ("Skip says hi").
    Copula,
    /// we're, I'm: with a gerund, a decision ("we're skipping this one").
    Progressive,
    /// "let me think", "idk", "not sure": the shopper has not decided, whatever else the
    /// message says.
    Doubt,
    /// "wrong number": the message was not meant for this shop at all.
    Stray,
}

use Action::{Delay, Skip};
use Form::Base;
use Role::*;
use Strength::{Strong, Weak};

/// The tables of the vocabulary, in listing order (the lookup table is built in this order).
const TABLES: &[&[(&str, Role)]] = &[
    skip::SKIP,
    delay::DELAY,
    undo_help_status::UNDO_HELP_STATUS,
    not_requests::NOT_REQUESTS,
    frames::FRAMES,
];

/// The vocabulary. Order does not matter; a word may appear once.
pub(super) fn entries() -> impl Iterator<Item = &'static (&'static str, Role)> {
    TABLES.iter().flat_map(|table| table.iter())
}

/// Spanish and French verbs whose forms are generated from their stem, so that every
/// person, imperative and attached pronoun is known without listing each one ("retrásenlo",
/// "atrásalo", "repoussez", "décalons"). Listed entries win over generated ones.
const VERB_STEMS: &[(&str, &[&str], Role)] = &[
    // Spanish -ar verbs
    ("retras", ES_AR, Cue(Delay, Strong, Base)),
    ("atras", ES_AR, Cue(Delay, Strong, Base)),
    ("aplaz", ES_AR, Cue(Delay, Strong, Base)),
    ("omit", ES_IR, Cue(Skip, Strong, Base)),
    ("pospong", ES_PONER, Cue(Delay, Strong, Base)),
    ("salt", ES_AR, Cue(Skip, Strong, Base)),
    ("brinc", ES_AR, Cue(Skip, Strong, Base)),
    ("brinqu", ES_QU, Cue(Skip, Strong, Base)),
    ("recorr", ES_AR, Cue(Delay, Weak, Base)),
    ("aguant", ES_AR, Cue(Delay, Weak, Base)),
    ("pushe", ES_AR, Cue(Delay, Weak, Base)),
    ("posterg", ES_AR, Cue(Delay, Strong, Base)),
    ("skipe", ES_ANGLO, Cue(Skip, Strong, Base)),
    ("mand", ES_AR, Send),
    ("envi", ES_AR, Send),
    // French -er verbs
    ("report", FR_ER, Cue(Delay, Strong, Base)),
    ("repouss", FR_ER, Cue(Delay, Strong, Base)),
    ("decal", FR_ER, Cue(Delay, Strong, Base)),
    ("retard", FR_ER, Cue(Delay, Strong, Base)),
    ("recul", FR_ER, Cue(Delay, Weak, Base)),
    ("saut", FR_ER, Cue(Skip, Strong, Base)),
    ("zapp", FR_ER, Cue(Skip, Strong, Base)),
    // "skippez la boîte de mars", "me lo pueden skipear?": the English verb, conjugated.
    ("skipp", FR_ANGLO, Cue(Skip, Strong, Base)),
    ("pouss", FR_ER, Cue(Delay, Weak, Base)),
    ("push", FR_ER, Cue(Delay, Weak, Base)),
    ("envoy", FR_ER, Send),
    ("expedi", FR_ER, Send),
];

const ES_AR: &[&str] = &[
    "ar", "arlo", "arla", "arlos", "arlas", "arme", "a", "alo", "ala", "e", "en", "enlo", "enla",
    "enlos", "elo", "ela", "ando", "amos", "emos", "as", "es", "an", "arnos", "ate", "ense",
    "eame", "enme", "ame", "amela", "amelo", "enmela", "enmelo",
];
/// -ir verbs (omitir): imperative, subjunctive, past subjunctive.
const ES_IR: &[&str] = &[
    "ir", "irlo", "irla", "an", "a", "e", "en", "anla", "anlo", "ieran", "iera", "amos",
];
/// -car verbs write "qu" before "e" ("brínquenla").
const ES_QU: &[&str] = &["e", "en", "enla", "enlo", "enlos", "ela", "elo", "emos"];
/// posponer's subjunctive and imperative stem ("pospónganla", "posponga").
const ES_PONER: &[&str] = &[
    "an", "anlo", "anla", "anlos", "anlas", "a", "alo", "ala", "amos",
];
/// An English verb conjugated in Spanish ("skipear", "skipéenla"): not the forms one letter
/// from its English ones ("skipea" and "skiped").
const ES_ANGLO: &[&str] = &[
    "ar", "arlo", "arla", "en", "enlo", "enla", "alo", "ala", "ame", "enme", "amela", "enmela",
];
/// An English verb conjugated in French: not the forms that are English words ("skipper").
const FR_ANGLO: &[&str] = &["ez", "ons", "e"];
const FR_ER: &[&str] = &[
    "er", "ez", "e", "es", "ons", "ent", "erai", "erais", "eriez",
];

/// The generated verb forms, for the vocabulary table.
pub(super) fn generated() -> Vec<(String, Role)> {
    let mut out = Vec::new();
    for (stem, endings, role) in VERB_STEMS {
        for e in *endings {
            out.push((format!("{stem}{e}"), *role));
        }
    }
    // Spanish "don't send it (to me)": "no me la mande", "no nos lo envíen", "que no me
    // mandaran nada"; every pronoun and every person of the subjunctive.
    for pronouns in ES_NO_SEND_PRONOUNS {
        for verb in ["mand", "envi"] {
            for e in ES_SUBJUNCTIVE {
                out.push((format!("no {pronouns}{verb}{e}"), Role::NoSend));
            }
        }
    }
    out
}

const ES_NO_SEND_PRONOUNS: &[&str] = &[
    "", "me ", "nos ", "la ", "lo ", "me la ", "me lo ", "nos la ", "nos lo ", "se la ", "se lo ",
];
/// The subjunctive (and so the negative imperative) of -ar verbs, present and past.
const ES_SUBJUNCTIVE: &[&str] = &[
    "e", "es", "en", "eis", "emos", "ara", "aras", "aran", "aramos",
];
