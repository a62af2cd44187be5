//! Reading and validating rule files.
//!
//! Files are walked as a span-carrying TOML tree (`toml::de::DeTable`) rather than
//! deserialised into structs, so that one pass can report *every* problem in a file
//! (several unknown keys, several bad keywords) each with its own line number, instead
//! of stopping at the first serde error.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

use super::normalize::{TokKind, normalize};
use super::{Action, Problem, is_opt_out_word};

mod cross;
mod rule;

use cross::check_rule_names;
pub(super) use cross::cross_check;
use rule::parse_rule;

/// An entry of a list (keyword, phrase, grammar word) as written and normalised.
#[derive(Debug, Clone)]
pub(super) struct Item {
    /// As written in the file, trimmed and lower-cased: what `Intent::keyword` reports.
    pub raw: String,
    /// Normalised token string (words separated by single spaces).
    pub norm: String,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub(super) struct Valued {
    pub item: Item,
    pub value: u32,
}

#[derive(Debug, Clone)]
pub(super) struct RuleSpec {
    pub name: String,
    pub line: usize,
    pub action: Action,
    pub keywords: Vec<Item>,
    pub phrases: Vec<Item>,
    pub priority: i32,
    pub default_days: Option<u32>,
    pub max_days: Option<u32>,
    /// Delay rules: days of the unit of a bare number ("DELAY 3"); `None` for weeks.
    pub bare_unit_days: Option<u32>,
}

/// Language words that steer matching (see the comments in `keywords/en.toml`).
#[derive(Debug, Clone, Default)]
pub(super) struct Grammar {
    pub negations: Vec<Item>,
    pub lead_ins: Vec<Item>,
    pub requests: Vec<Item>,
    pub objects: Vec<Item>,
    pub clause_breaks: Vec<Item>,
    pub common_words: Vec<Item>,
}

#[derive(Debug, Clone)]
pub(super) struct ParsedFile {
    pub file: String,
    pub rules: Vec<RuleSpec>,
    pub units: Vec<Valued>,
    pub numbers: Vec<Valued>,
    pub grammar: Grammar,
}

const TOP_KEYS: &[&str] = &["language", "rules", "durations", "grammar"];
const RULE_KEYS: &[&str] = &[
    "name",
    "action",
    "keywords",
    "phrases",
    "priority",
    "default_days",
    "max_days",
    "match_anywhere",
    "bare_unit",
];
const DURATION_KEYS: &[&str] = &["units", "numbers"];
const GRAMMAR_KEYS: &[&str] = &[
    "negations",
    "lead_ins",
    "requests",
    "objects",
    "clause_breaks",
    "common_words",
];

/// Longest delay a rule may allow, and the largest unit: ten years is far beyond any
/// subscription platform and keeps day arithmetic far from overflow.
pub(super) const MAX_DAYS_LIMIT: u32 = 3650;

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
    problems: &'a mut Vec<Problem>,
}

impl Ctx<'_> {
    fn line(&self, span: &Range<usize>) -> usize {
        line_of(self.text, span.start)
    }

    fn problem(&mut self, span: &Range<usize>, message: impl Into<String>, fix: impl Into<String>) {
        let line = self.line(span);
        self.problems.push(Problem {
            file: self.file.to_owned(),
            line,
            message: message.into(),
            fix: fix.into(),
        });
    }

    fn unknown_key(
        &mut self,
        key: &Spanned<std::borrow::Cow<'_, str>>,
        section: &str,
        allowed: &[&str],
    ) {
        let name = key.get_ref().as_ref();
        let fix = match closest(name, allowed) {
            Some(best) => format!(
                "did you mean `{best}`? allowed keys: {}",
                allowed.join(", ")
            ),
            None => format!("remove it; allowed keys: {}", allowed.join(", ")),
        };
        self.problem(
            &key.span(),
            format!("unknown key `{name}` in {section}"),
            fix,
        );
    }

    fn string(&mut self, key: &str, v: &Spanned<DeValue<'_>>) -> Option<String> {
        match v.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            other => {
                self.problem(
                    &v.span(),
                    format!("`{key}` must be a string, found {}", other.type_str()),
                    format!("write it in double quotes, e.g. {key} = \"...\""),
                );
                None
            }
        }
    }

    fn integer(&mut self, key: &str, v: &Spanned<DeValue<'_>>, min: i64, max: i64) -> Option<u32> {
        let parsed = match v.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
            other => {
                self.problem(
                    &v.span(),
                    format!("`{key}` must be a whole number, found {}", other.type_str()),
                    format!("write a number without quotes, e.g. {key} = {min}"),
                );
                return None;
            }
        };
        match parsed {
            Some(n) if (min..=max).contains(&n) => u32::try_from(n).ok(),
            _ => {
                self.problem(
                    &v.span(),
                    format!("`{key}` is out of range"),
                    format!("use a whole number from {min} to {max}"),
                );
                None
            }
        }
    }

    fn table<'v, 'i>(&mut self, key: &str, v: &'v Spanned<DeValue<'i>>) -> Option<&'v DeTable<'i>> {
        match v.get_ref() {
            DeValue::Table(t) => Some(t),
            other => {
                self.problem(
                    &v.span(),
                    format!("`{key}` must be a table, found {}", other.type_str()),
                    format!("write it as a [{key}] section"),
                );
                None
            }
        }
    }

    fn array<'v, 'i>(&mut self, key: &str, v: &'v Spanned<DeValue<'i>>) -> Option<&'v DeArray<'i>> {
        match v.get_ref() {
            DeValue::Array(a) => Some(a),
            other => {
                self.problem(
                    &v.span(),
                    format!("`{key}` must be a list, found {}", other.type_str()),
                    format!("write it as a list, e.g. {key} = [\"...\"]"),
                );
                None
            }
        }
    }

    /// A list of strings, each normalised to a non-empty run of words.
    fn word_list(&mut self, key: &str, v: &Spanned<DeValue<'_>>, single_word: bool) -> Vec<Item> {
        let mut out = Vec::new();
        let Some(arr) = self.array(key, v) else {
            return out;
        };
        for el in arr.iter() {
            let DeValue::String(s) = el.get_ref() else {
                self.problem(
                    &el.span(),
                    format!(
                        "entries of `{key}` must be strings, found {}",
                        el.get_ref().type_str()
                    ),
                    "write each entry in double quotes, e.g. [\"skip\"]",
                );
                continue;
            };
            if let Some(item) = self.item(key, s, &el.span(), single_word) {
                out.push(item);
            }
        }
        out
    }

    /// Normalises one list entry; reports empty entries, punctuation inside phrases, and
    /// several words where one is required.
    fn item(&mut self, key: &str, s: &str, span: &Range<usize>, single_word: bool) -> Option<Item> {
        let n = normalize(s);
        let words = n
            .tokens
            .iter()
            .filter(|t| matches!(t.kind, TokKind::Word | TokKind::Number))
            .count();
        let question_only =
            !n.tokens.is_empty() && n.tokens.iter().all(|t| t.kind == TokKind::Question);
        if question_only && key == "keywords" {
            // "?" on its own is a valid help keyword: it matches a message of only "?".
            return Some(Item {
                raw: "?".to_owned(),
                norm: "?".to_owned(),
                line: self.line(span),
            });
        }
        if words == 0 {
            self.problem(
                span,
                format!("empty entry {s:?} in `{key}`"),
                "remove it or write a word with letters in it",
            );
            return None;
        }
        if words != n.tokens.len() {
            self.problem(
                span,
                format!("entry {s:?} in `{key}` contains punctuation"),
                "write words only, without . , ! ? or line breaks",
            );
            return None;
        }
        if single_word && words > 1 {
            let fix = if key == "keywords" {
                format!("move \"{s}\" to `phrases`, which holds entries of several words")
            } else {
                "write a single word".to_owned()
            };
            self.problem(
                span,
                format!("entry {s:?} in `{key}` has several words"),
                fix,
            );
            return None;
        }
        Some(Item {
            raw: s.trim().to_lowercase(),
            norm: n.text,
            line: self.line(span),
        })
    }
}

/// 1-based line of byte `offset` in `text`.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The allowed name closest to `name`, if it is a plausible misspelling.
fn closest<'a>(name: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|a| (levenshtein(name, a), *a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

fn parse_action(s: &str) -> Option<Action> {
    s.parse().ok()
}

/// Parses and checks one file. Problems are appended; `None` means the file could not be
/// read as TOML at all.
pub(super) fn parse_file(
    file: &str,
    text: &str,
    problems: &mut Vec<Problem>,
) -> Option<ParsedFile> {
    let (doc, errors) = DeTable::parse_recoverable(text);
    let mut cx = Ctx {
        file,
        text,
        problems,
    };
    if !errors.is_empty() {
        for e in &errors {
            let span = e.span().unwrap_or(0..0);
            let msg = e
                .message()
                .lines()
                .next()
                .unwrap_or("invalid TOML")
                .trim()
                .to_owned();
            cx.problem(
                &span,
                format!("TOML syntax error: {msg}"),
                "fix the TOML syntax: strings in double quotes, lists in [ ], one `key = value` per line",
            );
        }
        return None;
    }
    let doc = doc.get_ref();
    let mut parsed = ParsedFile {
        file: file.to_owned(),
        rules: Vec::new(),
        units: Vec::new(),
        numbers: Vec::new(),
        grammar: Grammar::default(),
    };
    let mut language = None;
    let mut names: Vec<(String, usize)> = Vec::new();
    for (k, v) in doc.iter() {
        match k.get_ref().as_ref() {
            "language" => {
                if let Some(s) = cx.string("language", v) {
                    if s.trim().is_empty() {
                        cx.problem(
                            &v.span(),
                            "`language` is empty",
                            "write a language code, e.g. language = \"en\"",
                        );
                    }
                    language = Some(s);
                }
            }
            "rules" => {
                let Some(arr) = cx.array("rules", v) else {
                    continue;
                };
                for el in arr.iter() {
                    if let Some(t) = cx.table("rules", el) {
                        let span = el.span();
                        let (name, rule) = parse_rule(&mut cx, t, &span);
                        names.extend(name);
                        parsed.rules.extend(rule);
                    }
                }
            }
            "durations" => {
                let Some(t) = cx.table("durations", v) else {
                    continue;
                };
                for (k2, v2) in t.iter() {
                    match k2.get_ref().as_ref() {
                        "units" => {
                            parsed.units = valued_table(&mut cx, "durations.units", v2, true, 365)
                        }
                        "numbers" => {
                            parsed.numbers =
                                valued_table(&mut cx, "durations.numbers", v2, false, 1000)
                        }
                        _ => cx.unknown_key(k2, "[durations]", DURATION_KEYS),
                    }
                }
            }
            "grammar" => {
                let Some(t) = cx.table("grammar", v) else {
                    continue;
                };
                for (k2, v2) in t.iter() {
                    let g = &mut parsed.grammar;
                    match k2.get_ref().as_ref() {
                        "negations" => g.negations = cx.word_list("negations", v2, false),
                        "lead_ins" => g.lead_ins = cx.word_list("lead_ins", v2, false),
                        "requests" => g.requests = cx.word_list("requests", v2, false),
                        "objects" => g.objects = cx.word_list("objects", v2, false),
                        "clause_breaks" => {
                            g.clause_breaks = cx.word_list("clause_breaks", v2, false)
                        }
                        "common_words" => g.common_words = cx.word_list("common_words", v2, true),
                        _ => cx.unknown_key(k2, "[grammar]", GRAMMAR_KEYS),
                    }
                }
            }
            _ => cx.unknown_key(k, "the top level", TOP_KEYS),
        }
    }
    if language.is_none() {
        cx.problem(
            &(0..0),
            "missing `language`",
            "add language = \"en\" (or the file's language code) at the top",
        );
    }
    check_rule_names(&mut cx, &names);
    Some(parsed)
}

fn valued_table(
    cx: &mut Ctx<'_>,
    key: &str,
    v: &Spanned<DeValue<'_>>,
    single_word: bool,
    max: i64,
) -> Vec<Valued> {
    let mut out = Vec::new();
    let Some(t) = cx.table(key, v) else {
        return out;
    };
    for (k, val) in t.iter() {
        let word = k.get_ref().as_ref();
        let Some(item) = cx.item(key, word, &k.span(), single_word) else {
            continue;
        };
        if let Some(value) = cx.integer(word, val, 1, max) {
            out.push(Valued { item, value });
        }
    }
    out
}

impl Ctx<'_> {
    fn push_at(&mut self, line: usize, message: impl Into<String>, fix: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.to_owned(),
            line,
            message: message.into(),
            fix: fix.into(),
        });
    }
}
