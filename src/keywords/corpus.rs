//! Scoring the reader against a labelled corpus (`tests/corpus/v2`): how many replies it
//! reads right, how many it acts on wrongly, per category and language. Used by the corpus
//! tests and by `cargo test --lib corpus_report -- --ignored --nocapture`.

use std::collections::BTreeMap;

use jiff::civil::Date;

use super::{Interpretation, RuleSet};
use crate::domain::Action;

/// One labelled reply.
#[derive(Debug, Clone)]
pub struct Line {
    pub text: String,
    pub label: String,
    pub lang: String,
    pub category: String,
    pub author: String,
}

/// Reads a corpus file: `text<TAB>label[<TAB>lang<TAB>category<TAB>author]`, `#` comments.
pub fn parse(tsv: &str) -> Vec<Line> {
    tsv.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut f = l.split('\t');
            Line {
                text: f.next().unwrap_or("").to_owned(),
                label: f.next().unwrap_or("").to_owned(),
                lang: f.next().unwrap_or("en").to_owned(),
                category: f.next().unwrap_or("").to_owned(),
                author: f.next().unwrap_or("").to_owned(),
            }
        })
        .collect()
}

/// The development parts of the corpus, oldest first: what rules may be made from and the
/// model trained on. Only in tests: the shipped binary carries none of them.
#[cfg(test)]
pub(crate) const DEVELOPMENT: [(&str, &str); 10] = [
    ("old", include_str!("../../tests/corpus/replies.tsv")),
    ("dev", include_str!("../../tests/corpus/v2/dev.tsv")),
    ("dev2", include_str!("../../tests/corpus/v2/dev2.tsv")),
    ("dev3", include_str!("../../tests/corpus/v2/dev3.tsv")),
    ("dev4", include_str!("../../tests/corpus/v2/dev4.tsv")),
    ("dev5", include_str!("../../tests/corpus/v2/dev5.tsv")),
    ("dev6", include_str!("../../tests/corpus/v2/dev6.tsv")),
    ("dev7", include_str!("../../tests/corpus/v2/dev7.tsv")),
    ("dev8", include_str!("../../tests/corpus/v2/dev8.tsv")),
    ("dev9", include_str!("../../tests/corpus/v2/dev9.tsv")),
];

/// The development parts written after the model and not trained on yet: its held-out check
/// (dev7 arrived after the threshold round and read 87.1%, 8 false actions).
/// Trained on every part (dev5 and dev6 included), the frozen part read 91.6% right but with
/// 11 false actions instead of 7, within what a retrain varies; so they wait for a design
/// that varies less.
#[cfg(test)]
pub(crate) const NOT_TRAINED_ON: [&str; 5] = ["dev5", "dev6", "dev7", "dev8", "dev9"];

/// The validation part: its totals are measured, its lines never read.
#[cfg(test)]
pub(crate) const VALIDATION: &str = include_str!("../../tests/corpus/v2/val.tsv");

/// A development part by name (`old`, `dev`, `dev2`, ...).
#[cfg(test)]
pub(crate) fn development(name: &str) -> Option<&'static str> {
    DEVELOPMENT
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
}

/// A reading in the corpus's label language: `skip`, `delay:14`, `delay@2027-03-21`, `none`.
pub fn label_of(i: &Interpretation) -> (String, bool) {
    let (intent, sure) = match i {
        Interpretation::Matched(i) => (i, true),
        Interpretation::Unsure(i) => (i, false),
        Interpretation::NoAction { .. } => return ("none".to_owned(), true),
    };
    let label = match (intent.action, intent.days, intent.until) {
        (Action::Delay, _, Some(u)) => format!("delay@{u}"),
        (Action::Delay, Some(d), None) => format!("delay:{d}"),
        (a, _, _) => a.as_str().to_owned(),
    };
    (label, sure)
}

/// The action of a label: `delay` of `delay:14` and of `delay@2027-03-21`.
pub(crate) fn action_of(label: &str) -> &str {
    label.split([':', '@']).next().unwrap_or(label)
}

/// Whether `got` is the reading `want` asks for. `delay` (no amount) accepts the rule's
/// default; an amount or a date must be exact.
pub fn right(want: &str, got: &str, default_days: u32) -> bool {
    want == got || (want == "delay" && got == format!("delay:{default_days}"))
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub n: usize,
    pub right: usize,
    /// Right, but only as an unsure reading (the shop would ask first).
    pub unsure_right: usize,
    /// Acted (sure) on another action than asked, or on none.
    pub false_actions: usize,
    pub actions: usize,
    pub actions_right: usize,
    /// Delays with an amount or date, and those read exactly.
    pub amounts: usize,
    pub amounts_right: usize,
}

impl Tally {
    fn add(&mut self, want: &str, got: &str, sure: bool, default_days: u32) {
        self.n += 1;
        let ok = right(want, got, default_days);
        if ok {
            if sure {
                self.right += 1;
            } else {
                self.unsure_right += 1;
            }
        }
        let (wa, ga) = (action_of(want), action_of(got));
        if sure && ga != "none" && ga != wa {
            self.false_actions += 1;
        }
        if wa != "none" {
            self.actions += 1;
            if ok && sure {
                self.actions_right += 1;
            }
        }
        if wa == "delay" && want != "delay" {
            self.amounts += 1;
            if ok {
                self.amounts_right += 1;
            }
        }
    }

    /// Read right, sure or asking first.
    pub fn read_right(&self) -> usize {
        self.right + self.unsure_right
    }

    pub fn pct(n: usize, of: usize) -> f64 {
        if of == 0 {
            100.0
        } else {
            100.0 * n as f64 / of as f64
        }
    }
}

pub struct Report {
    pub all: Tally,
    pub by_category: BTreeMap<String, Tally>,
    pub by_lang: BTreeMap<String, Tally>,
    /// (text, want, got, sure) of every line not read right.
    pub misses: Vec<(String, String, String, bool)>,
}

/// The corpus's reference date: every label was written as of Wednesday 2027-03-10.
pub fn reference_date() -> Date {
    jiff::civil::date(2027, 3, 10)
}

pub fn score(rules: &RuleSet, lines: &[Line]) -> Report {
    let default_days = rules
        .rules
        .iter()
        .find(|r| r.action == Action::Delay)
        .and_then(|r| r.default_days)
        .unwrap_or(14);
    let mut report = Report {
        all: Tally::default(),
        by_category: BTreeMap::new(),
        by_lang: BTreeMap::new(),
        misses: Vec::new(),
    };
    for l in lines {
        let (got, sure) = label_of(&rules.interpret_on(&l.text, reference_date()));
        report.all.add(&l.label, &got, sure, default_days);
        report
            .by_category
            .entry(l.category.clone())
            .or_default()
            .add(&l.label, &got, sure, default_days);
        report
            .by_lang
            .entry(l.lang.clone())
            .or_default()
            .add(&l.label, &got, sure, default_days);
        if !right(&l.label, &got, default_days) || !sure {
            report
                .misses
                .push((l.text.clone(), l.label.clone(), got, sure));
        }
    }
    report
}

impl Report {
    pub fn summary(&self, name: &str) -> String {
        let a = &self.all;
        format!(
            "{name}: {} lines; read right {:.1}% ({:.1}% acting, {:.1}% asking first); actions right {:.1}%; amounts exact {:.1}%; false actions {}",
            a.n,
            Tally::pct(a.read_right(), a.n),
            Tally::pct(a.right, a.n),
            Tally::pct(a.unsure_right, a.n),
            Tally::pct(a.actions_right, a.actions),
            Tally::pct(a.amounts_right, a.amounts),
            a.false_actions
        )
    }

    pub fn table(&self) -> String {
        let mut out =
            String::from("| part | lines | read right | false actions |\n|---|---|---|---|\n");
        for (k, t) in self.by_lang.iter().chain(self.by_category.iter()) {
            out.push_str(&format!(
                "| {k} | {} | {:.1}% | {} |\n",
                t.n,
                Tally::pct(t.read_right(), t.n),
                t.false_actions
            ));
        }
        out
    }
}
