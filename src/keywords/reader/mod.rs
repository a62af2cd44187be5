//! Reading a reply: which action it asks for, if any, and how sure that reading is.
//!
//! 1. Guards on the whole message: an opt-out word anywhere, or a reaction that quotes the
//!    shop's text ("Liked “Reply SKIP…”"), means nothing is read at all.
//! 2. The words become segments, each with a role from the built-in vocabulary
//!    ([`super::words`]) or the rule files (merchant keywords, durations, grammar): the
//!    longest phrase wins at each position, and an unknown word one typo from a cue word is
//!    read as it (never a real word: "ship" stays "ship").
//! 3. The message is cut into clauses at sentence punctuation and at words such as "but" and
//!    "so"; spoken punctuation ("period", "question mark") counts as punctuation.
//! 4. Each cue is judged in its clause ([`judge`]): another sense of the word ("skip the
//!    line"), a report ("I skipped it last time"), a negation or a hedge before it, a
//!    question about how, or no request frame at all all mean it is not a request.
//! 5. Across the message: two different actions are a conflict and do nothing; one action
//!    wins over a status question or a help request beside it.
//!
//! A wrong skip costs a shopper an order; a missed one costs a second text. So every rule
//! here errs towards doing nothing, and a reading that is probable but not certain says so
//! ([`Reading::sure`]), so the shop can ask first.

mod amount;
mod decide;
mod doubt;
mod guards;
mod segment;
mod wishes;

use decide::decide;
use guards::{is_reaction, opted_out};
use segment::{clauses, spoken_mark};
mod judge;
mod vocab;

use jiff::civil::Date;

use super::lexicon::{Info, flag};
use super::normalize::{Normalized, TokKind, normalize, normalize_into};
use super::time::{Extra, When};
use super::words::{Form, Role, Strength};
use super::{CompiledRule, RuleSet, is_opt_out_word};
use crate::domain::Action;
use judge::{Verdict, is, judge, soft};

/// What a reply asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Reading {
    Act {
        action: Action,
        /// Index of the reported rule.
        rule: usize,
        /// The canonical keyword reported.
        keyword: String,
        when: Option<When>,
        /// A bare number of the rule's unit ("DELAY 3").
        bare: Option<u32>,
        /// False when the reading is probable but not certain: the shop may ask first.
        sure: bool,
        /// A rule file's keyword in a clause of nothing but it, its amount and courtesy
        /// ("don't skip, delay 1 week"): the model reads the whole message, and is not
        /// asked to doubt this.
        firm: bool,
    },
    Nothing(&'static str),
    /// No request found, and nothing vetoed one: the model may be asked
    /// ([`second_opinion`]). Reported as `no_match`.
    Unplaced,
}

/// One word or phrase of the message.
#[derive(Debug, Clone, Copy)]
pub(super) struct Seg {
    /// First word index (into the clause's word list is computed by the caller).
    pub word: usize,
    pub len: usize,
    pub role: Option<Role>,
    /// A merchant rule that this keyword triggers.
    pub rule: Option<u16>,
    /// The lexicon entry, for the canonical keyword.
    pub kw: Option<u32>,
    /// Corrected from a typo (edit distance).
    pub typo: u8,
    pub number: bool,
}

impl Seg {
    /// Word `i` alone, with no role yet.
    fn at(word: usize, number: bool) -> Seg {
        Seg {
            word,
            len: 1,
            role: None,
            rule: None,
            kw: None,
            typo: 0,
            number,
        }
    }
}

/// A clause: its segments and whether it asks a question.
pub(super) struct Clause {
    pub segs: Vec<Seg>,
    pub question: bool,
}

impl Clause {
    /// The clause's words, for the frames that read a clause as a whole.
    fn span<'a>(&self, words: &'a [&'a str]) -> &'a [&'a str] {
        match (self.segs.first(), self.segs.last()) {
            (Some(first), Some(last)) => &words[first.word..last.word + last.len],
            _ => &[],
        }
    }

    /// The segment holding the `k`th word of [`Clause::span`].
    fn seg_at(&self, k: usize) -> Option<usize> {
        let start = self.segs.first()?.word;
        self.segs.iter().position(|s| s.word + s.len > start + k)
    }
}

struct Rules<'a>(&'a RuleSet);

impl Extra for Rules<'_> {
    fn unit_days(&self, word: &str) -> Option<u32> {
        self.0
            .lex
            .lookup(word)
            .map(|(i, _)| i.unit_days)
            .filter(|d| *d > 0)
    }
    fn number(&self, word: &str) -> Option<u32> {
        self.0
            .lex
            .lookup(word)
            .map(|(i, _)| i.number)
            .filter(|n| *n > 0)
    }
}

/// Whether the reader corrects one-edit typos of this word itself (a built-in word).
pub(super) fn corrects_typos_of(word: &str) -> bool {
    vocab::is_target(word)
}

pub(super) fn read(rules: &RuleSet, text: &str, today: Date) -> Reading {
    // One normalisation buffer per thread, so the hot path does not allocate for it (a
    // fresh one should a reading ever be asked for while another is under way).
    thread_local! {
        static BUF: std::cell::RefCell<Normalized> = std::cell::RefCell::default();
    }
    BUF.with(|buf| match buf.try_borrow_mut() {
        Ok(mut norm) => {
            normalize_into(text, &mut norm);
            read_text(rules, text, &norm, today)
        }
        Err(_) => read_text(rules, text, &normalize(text), today),
    })
}

fn read_text(rules: &RuleSet, text: &str, norm: &Normalized, today: Date) -> Reading {
    // Text the shopper quotes ("DELAY 2 weeks to push it back" is my approach to laundry) is
    // not what they ask; an opt-out word counts wherever it is.
    if let Some(unquoted) = guards::unquoted(text) {
        let toks: Vec<(&str, TokKind)> = (0..norm.tokens.len())
            .map(|i| (norm.word(i), norm.tokens[i].kind))
            .collect();
        if opted_out(rules, &toks) {
            return Reading::Nothing(super::REASON_OPT_OUT);
        }
        return read_normalized(rules, text, &normalize(&unquoted), today);
    }
    read_normalized(rules, text, norm, today)
}

fn read_normalized(rules: &RuleSet, raw: &str, norm: &Normalized, today: Date) -> Reading {
    // The words, with spoken punctuation turned into marks.
    let toks: Vec<(&str, TokKind)> = (0..norm.tokens.len())
        .map(|i| (norm.word(i), norm.tokens[i].kind))
        .collect();
    if toks
        .iter()
        .all(|t| t.1 != TokKind::Word && t.1 != TokKind::Number)
    {
        // A message of only "?" asks for help when a help rule lists "?".
        if toks.iter().any(|t| t.1 == TokKind::Question) {
            return decide(rules, &[], &[], today);
        }
        return Reading::Nothing(super::REASON_EMPTY);
    }
    if opted_out(rules, &toks) {
        return Reading::Nothing(super::REASON_OPT_OUT);
    }
    let w0 = toks.first().map(|t| t.0).unwrap_or("");
    let w1 = toks.get(1).map(|t| t.0).unwrap_or("");
    if is_reaction(raw, w0, w1) {
        return Reading::Nothing(super::REASON_REACTION);
    }
    let mut words: Vec<(&str, TokKind)> = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        if toks[i].1 == TokKind::Word
            && let Some((mark, used)) = spoken_mark(&toks, i)
        {
            words.push((if mark == TokKind::Question { "?" } else { "." }, mark));
            i += used;
            continue;
        }
        // "skipnext", "pushitbackaweek": words typed without their spaces.
        let (w, kind) = toks[i];
        if kind == TokKind::Word
            && let Some(pieces) = vocab::split_run_together(w, |p| rules.lex.lookup(p).is_some())
        {
            words.extend(pieces.into_iter().map(|(a, b)| (&w[a..b], TokKind::Word)));
            i += 1;
            continue;
        }
        words.push(toks[i]);
        i += 1;
    }
    let known = resolve(rules, &mut words);
    let texts: Vec<&str> = words.iter().map(|w| w.0).collect();
    let mut clauses = clauses(rules, &words, &known);
    for c in &mut clauses {
        for s in &mut c.segs {
            s.typo = s.typo.max(known[s.word].typo);
        }
    }
    // One word ("hello", "pause?", a merchant's keyword) is the rules' alone: too little
    // for the model to go on.
    let several = texts
        .iter()
        .filter(|w| w.chars().any(char::is_alphabetic))
        .nth(1)
        .is_some();
    let reading = decide(rules, &texts, &clauses, today);
    if !several {
        return reading;
    }
    match reading {
        Reading::Unplaced => second_opinion(rules, norm, &texts, today).unwrap_or(reading),
        // Two readers must agree before keyroute acts.
        Reading::Act {
            action,
            sure: true,
            firm: false,
            ..
        } if rules.model.doubts(norm, action) => reading.unsure(),
        reading => reading,
    }
}

impl Reading {
    /// An action read without a keyword of the rule files: reported as the action's first
    /// rule and its first keyword.
    fn built_in(
        rules: &RuleSet,
        action: Action,
        when: Option<When>,
        bare: Option<u32>,
        sure: bool,
    ) -> Reading {
        let (rule, keyword) = rules.report(action, None, None);
        Reading::Act {
            action,
            rule,
            keyword,
            when,
            bare,
            sure,
            firm: false,
        }
    }

    /// The same reading, only probable.
    fn unsure(mut self) -> Reading {
        if let Reading::Act { sure, .. } = &mut self {
            *sure = false;
        }
        self
    }
}

/// When the rules find no request at all, the model's reading, if it is confident: never
/// sure, so the shop asks first. A delay takes the one amount the reply names (the last, if
/// it names several), else the rule's default.
fn second_opinion(
    rules: &RuleSet,
    norm: &Normalized,
    words: &[&str],
    today: Date,
) -> Option<Reading> {
    let (action, p) = rules.model.predict(norm);
    let action = action.filter(|a| p >= rules.model.threshold && rules.enabled(*a))?;
    let when = if action == Action::Delay {
        super::time::scan(words, today, &Rules(rules))
            .iter()
            .rev()
            .find(|f| f.bare.is_none())
            .map(|f| f.when)
            // "could we do the 26th", "can it be the 29th instead of the 13th": else the
            // first day of the month named.
            .or_else(|| super::time::first_day_of_month(words, today).map(When::Until))
    } else {
        None
    };
    Some(Reading::built_in(rules, action, when, None, false))
}

/// What the vocabulary and the rule files know of one word, looked up once.
#[derive(Clone, Copy, Default)]
struct Known {
    entry: Option<&'static vocab::Entry>,
    lex: Option<(Info, u32)>,
    /// Corrected from a typo.
    typo: u8,
}

/// Looks every word up once; an unknown word one edit from a known one is read as it
/// ("skpi", "wekks", "hlod").
fn resolve(rules: &RuleSet, words: &mut [(&str, TokKind)]) -> Vec<Known> {
    let lone = words.iter().filter(|w| w.1 == TokKind::Word).count() == 1;
    let mut after_number = false;
    words
        .iter_mut()
        .map(|w| {
            let ordinal = std::mem::replace(&mut after_number, w.1 == TokKind::Number);
            if w.1 != TokKind::Word {
                return Known::default();
            }
            let mut typo = 0;
            // "26th" is "26" "th": an ordinal, not "the".
            if let Some(fixed) = vocab::fixed_typo(w.0).filter(|_| !ordinal) {
                w.0 = fixed;
                typo = 1;
            }
            let mut entry = vocab::entry(w.0);
            let mut lex = rules.lex.lookup(w.0);
            if typo == 0
                && entry.is_none()
                && lex.is_none()
                && let Some(fixed) = vocab::correct_unknown(w.0, lone)
            {
                w.0 = fixed;
                typo = 1;
                entry = vocab::entry(fixed);
                lex = rules.lex.lookup(fixed);
            }
            Known { entry, lex, typo }
        })
        .collect()
}

impl RuleSet {
    /// Whether any rule has this action (a shop may turn an action off).
    fn enabled(&self, action: Action) -> bool {
        self.rules.iter().any(|r| r.action == action)
    }

    /// The rule and canonical keyword to report: the merchant keyword's own, else the first
    /// rule of the action and its first keyword.
    fn report(&self, action: Action, rule: Option<u16>, kw: Option<u32>) -> (usize, String) {
        if let (Some(r), Some(k)) = (rule, kw) {
            return (usize::from(r), self.lex.keyword(k).to_owned());
        }
        let idx = self
            .rules
            .iter()
            .position(|r: &CompiledRule| r.action == action)
            .unwrap_or(0);
        (idx, self.rules[idx].first_keyword.clone())
    }
}

/// Development aid: the segments and clauses of a text, with roles.
#[cfg(test)]
pub(super) fn explain(rules: &RuleSet, text: &str) -> String {
    let norm = normalize(text);
    let toks: Vec<(&str, TokKind)> = (0..norm.tokens.len())
        .map(|i| (norm.word(i), norm.tokens[i].kind))
        .collect();
    let mut words = toks.clone();
    let known = resolve(rules, &mut words);
    let mut out = String::new();
    for (ci, c) in clauses(rules, &words, &known).iter().enumerate() {
        out.push_str(&format!(
            "clause {ci}{}:",
            if c.question { "?" } else { "" }
        ));
        for s in &c.segs {
            let text: Vec<&str> = (s.word..s.word + s.len).map(|i| words[i].0).collect();
            out.push_str(&format!(" [{} {:?}]", text.join(" "), s.role));
        }
        out.push('\n');
    }
    let (class, p) = rules.model.predict(&norm);
    out.push_str(&format!(
        "model: {} at {p:.3}\n=> {:?}",
        class.map(|a| a.as_str()).unwrap_or("none"),
        read(rules, text, super::corpus::reference_date())
    ));
    out
}
