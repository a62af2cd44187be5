//! Keyword rules: what an inbound SMS reply asks for.
//!
//! Shoppers answer texts about their subscription orders with things like `SKIP`,
//! `delay 2 weeks`, `HELP` or `undo`. This module turns one message into an
//! [`Interpretation`]: either an [`Intent`] (an action plus, for a delay, the number of
//! days) or a reason why nothing should happen.
//!
//! The words live in per-language TOML rule files (`keywords/en.toml`, `es.toml`,
//! `fr.toml`; the format is documented at the top of `en.toml`) that a merchant can
//! read and edit. [`RuleSet`] compiles them once into hash tables; [`RuleSet::interpret`]
//! is then a single normalisation pass plus one lookup per word, whatever the number of
//! rules, because it runs on the webhook hot path.
//!
//! Two things never come from files:
//! * Opt-out words (STOP, CANCEL, END, QUIT, UNSUBSCRIBE, ...) anywhere in a message
//!   always yield [`REASON_OPT_OUT`]: carriers require them to be honoured, so no rule
//!   file may weaken that.
//! * The matching policy is conservative: a wrong skip costs a shopper an order, a missed
//!   one costs them a second text. See `matcher.rs` for what counts as a request.

pub mod corpus;
mod edit;
mod fxhash;
mod lexicon;
mod model;
mod normalize;
mod reader;
mod schema;
mod time;
mod words;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::Path;

use serde::ser::SerializeMap;

use self::lexicon::Lexicon;
use self::schema::ParsedFile;

pub use crate::domain::{Action, Confirm, Intent};

/// No keyword of any rule was found in a usable position.
pub const REASON_NO_MATCH: &str = "no_match";
/// The message contains an opt-out word; it belongs to the carrier/Postscript opt-out
/// flow, never to us.
pub const REASON_OPT_OUT: &str = "opt_out";
/// The keyword was negated ("don't skip", "no quiero saltar").
pub const REASON_NEGATED: &str = "negated";
/// Two different actions were asked for ("skip or delay?").
pub const REASON_CONFLICT: &str = "conflict";
/// The shopper has not decided ("I might skip", "maybe later").
pub const REASON_HEDGED: &str = "hedged";
/// A report about the past ("I skipped it last time").
pub const REASON_PAST: &str = "past";
/// The keyword in another sense ("skip the line", "my flight got delayed").
pub const REASON_OTHER_SENSE: &str = "other_sense";
/// A reaction quoting the shop's text ("Liked “Reply SKIP…”").
pub const REASON_REACTION: &str = "reaction";
/// Nothing but whitespace, emoji or punctuation.
pub const REASON_EMPTY: &str = "empty";
/// A probable reading, under a shop's `confirm = "never"`: it would have asked first.
pub const REASON_UNSURE: &str = "unsure";

/// The outcome of interpreting one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interpretation {
    /// A request keyroute carries out.
    Matched(Intent),
    /// Probably this request, but not certainly: under the shop's `confirm = "unsure"` it
    /// asks the shopper first (`keyword_confirm`) instead of acting.
    Unsure(Intent),
    /// Do nothing; `reason` is one of the `REASON_*` constants.
    NoAction { reason: &'static str },
}

impl Interpretation {
    /// The intent keyroute acts on, if the message asked for an action with certainty.
    pub fn intent(&self) -> Option<&Intent> {
        match self {
            Interpretation::Matched(i) => Some(i),
            Interpretation::Unsure(_) | Interpretation::NoAction { .. } => None,
        }
    }

    /// The reading under a shop's `confirm`: `always` asks before every skip and delay,
    /// `never` does nothing where it would have asked (reason `unsure`).
    pub fn under(self, confirm: Confirm) -> Interpretation {
        match (confirm, self) {
            (Confirm::Always, Interpretation::Matched(i))
                if matches!(i.action, Action::Skip | Action::Delay) =>
            {
                Interpretation::Unsure(i)
            }
            (Confirm::Never, Interpretation::Unsure(_)) => Interpretation::NoAction {
                reason: REASON_UNSURE,
            },
            (_, reading) => reading,
        }
    }

    /// The intent read, sure or not.
    pub fn reading(&self) -> Option<&Intent> {
        match self {
            Interpretation::Matched(i) | Interpretation::Unsure(i) => Some(i),
            Interpretation::NoAction { .. } => None,
        }
    }
}

/// Hand-written to produce exactly the contract's `keyroute match --json` shape: a match
/// is the flat intent; an unsure reading is `{"action": null, "confirm": "<action>", ...}`;
/// no action is `{"action": null, "reason": "..."}`.
impl serde::Serialize for Interpretation {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Interpretation::Matched(intent) => intent.serialize(serializer),
            Interpretation::Unsure(i) => {
                let mut m = serializer.serialize_map(None)?;
                m.serialize_entry("action", &None::<Action>)?;
                m.serialize_entry("confirm", &i.action)?;
                if let Some(d) = i.days {
                    m.serialize_entry("days", &d)?;
                }
                if let Some(u) = &i.until {
                    m.serialize_entry("until", u)?;
                }
                m.serialize_entry("rule", &i.rule)?;
                m.serialize_entry("keyword", &i.keyword)?;
                if let Some(x) = i.max_days {
                    m.serialize_entry("max_days", &x)?;
                }
                m.serialize_entry("reason", "unsure")?;
                m.end()
            }
            Interpretation::NoAction { reason } => {
                let mut m = serializer.serialize_map(Some(2))?;
                m.serialize_entry("action", &None::<Action>)?;
                m.serialize_entry("reason", reason)?;
                m.end()
            }
        }
    }
}

/// Opt-out words, normalised (lower case, no accents). Honoured anywhere in a message
/// whatever the rule files say. Besides the carrier-standard English list this holds the
/// Spanish and French equivalents and inflections ("cancelled"), because a shopper who
/// writes them wants out, not an order change. "opt out" (two words) is checked apart.
/// One exception: a word negated right before it beside a skip or a delay ("I don't want to
/// cancel, just skip this one") says the shopper stays (see `reader::guards`).
pub(super) const OPT_OUT_WORDS: &[&str] = &[
    "stop",
    "stopall",
    "cancel",
    "canceled",
    "cancelled",
    "canceling",
    "cancelling",
    "cancellation",
    "end",
    "quit",
    "unsubscribe",
    "unsubscribed",
    "revoke",
    "optout",
    "alto",
    "parar",
    "cancelar",
    "cancela",
    "baja",
    "arret",
    "arreter",
    "arretez",
    "arrete",
    "annuler",
    "annulez",
    "annule",
    "desabonner",
    "desinscrire",
];

/// Whether a normalised word is an opt-out word.
fn is_opt_out_word(word: &str) -> bool {
    static SET: std::sync::OnceLock<lexicon::FxMap<&'static str, ()>> = std::sync::OnceLock::new();
    SET.get_or_init(|| OPT_OUT_WORDS.iter().map(|w| (*w, ())).collect())
        .contains_key(word)
}

/// One problem in the rule files, for `keyroute rules check`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The file as named to the loader, e.g. `keywords/en.toml`.
    pub file: String,
    /// 1-based line; 0 when the problem is about the whole file or folder.
    pub line: usize,
    pub message: String,
    /// What to change to fix it.
    pub fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {} (fix: {})",
            self.file, self.line, self.message, self.fix
        )
    }
}

/// Why rule files could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// A file or the folder could not be read.
    #[error("{path}: cannot read keyword rules: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The files were read but are invalid; holds every problem found (never empty).
    #[error("{}", ProblemsDisplay(.0))]
    Invalid(Vec<Problem>),
}

struct ProblemsDisplay<'a>(&'a [Problem]);

impl fmt::Display for ProblemsDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [] => f.write_str("invalid keyword rules"),
            [one] => write!(f, "{one}"),
            [first, rest @ ..] => write!(
                f,
                "{first} (and {} more; run `keyroute rules check` to list them)",
                rest.len()
            ),
        }
    }
}

/// A compiled rule: just what matching and the resulting [`Intent`] need.
#[derive(Debug, Clone)]
struct CompiledRule {
    name: String,
    action: Action,
    priority: i32,
    default_days: Option<u32>,
    max_days: Option<u32>,
    /// Days of a bare number's unit ("DELAY 3" with weeks: 21 days).
    bare_unit_days: u32,
    /// The keyword reported when a built-in word asked for this rule's action.
    first_keyword: String,
}

/// Compiled keyword rules. Immutable after construction, `Send + Sync`; share it behind
/// an `Arc`.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<CompiledRule>,
    lex: Lexicon,
    /// The second opinion asked when the rules find no request ([`model`]).
    model: &'static model::Model,
}

/// The rule files shipped with keyroute, as `(file name, contents)`.
const EMBEDDED: &[(&str, &str)] = &[
    ("keywords/en.toml", include_str!("../../keywords/en.toml")),
    ("keywords/es.toml", include_str!("../../keywords/es.toml")),
    ("keywords/fr.toml", include_str!("../../keywords/fr.toml")),
];

impl RuleSet {
    /// Loads every `*.toml` file in `dir` (sorted by name, which fixes tie-breaking
    /// between equal priorities).
    pub fn load_dir(dir: &Path) -> Result<RuleSet, RulesError> {
        let (parsed, problems) = analyse_dir(dir)?;
        if !problems.is_empty() {
            return Err(RulesError::Invalid(problems));
        }
        Ok(RuleSet::compile(&parsed))
    }

    /// The shipped rule files, compiled into the binary.
    ///
    /// # Panics
    /// Never in a released build: the unit test `embedded_rules_load` checks the shipped
    /// files, so a bad edit fails the test suite rather than start-up.
    pub fn embedded() -> RuleSet {
        match RuleSet::from_sources(EMBEDDED) {
            Ok(rs) => rs,
            Err(e) => panic!("shipped keyword rule files are invalid: {e}"),
        }
    }

    /// Compiles rule files given as `(file name, TOML text)`; file names are only used in
    /// messages.
    pub fn from_sources(files: &[(&str, &str)]) -> Result<RuleSet, RulesError> {
        let (parsed, problems) = analyse(files);
        if !problems.is_empty() {
            return Err(RulesError::Invalid(problems));
        }
        Ok(RuleSet::compile(&parsed))
    }

    fn compile(files: &[ParsedFile]) -> RuleSet {
        let rules: Vec<CompiledRule> = files
            .iter()
            .flat_map(|f| f.rules.iter())
            .map(|r| CompiledRule {
                name: r.name.clone(),
                action: r.action,
                priority: r.priority,
                default_days: r.default_days,
                max_days: r.max_days,
                bare_unit_days: r.bare_unit_days.unwrap_or(7),
                first_keyword: r
                    .keywords
                    .first()
                    .map(|k| k.raw.clone())
                    .or_else(|| r.phrases.first().map(|p| p.raw.clone()))
                    .unwrap_or_else(|| r.action.as_str().to_owned()),
            })
            .collect();
        let priorities: Vec<i32> = rules.iter().map(|r| r.priority).collect();
        let mut lex = Lexicon::build(files, &priorities);
        lex.drop_typo_targets(reader::corrects_typos_of);
        RuleSet {
            rules,
            lex,
            model: model::embedded(),
        }
    }

    /// Interprets one inbound message, with dates ("until the 21st") resolved from today in
    /// UTC. Pure CPU: no I/O, no locking.
    pub fn interpret(&self, text: &str) -> Interpretation {
        self.interpret_on(
            text,
            jiff::Timestamp::now()
                .to_zoned(jiff::tz::TimeZone::UTC)
                .date(),
        )
    }

    /// Interprets one inbound message, with dates resolved from `today` (the shop's date).
    pub fn interpret_on(&self, text: &str, today: jiff::civil::Date) -> Interpretation {
        match reader::read(self, text, today) {
            reader::Reading::Nothing(reason) => Interpretation::NoAction { reason },
            reader::Reading::Unplaced => Interpretation::NoAction {
                reason: REASON_NO_MATCH,
            },
            reader::Reading::Act {
                action,
                rule,
                keyword,
                when,
                bare,
                sure,
                ..
            } => {
                let r = &self.rules[rule];
                let delay = action == Action::Delay;
                let (days, until) = match (when, bare) {
                    // "DELAY 3" after a prompt in weeks is three weeks; "DELAY 10" or "DELAY
                    // 14" is a count of days: nobody means fourteen weeks.
                    (_, Some(n)) if delay && r.bare_unit_days == 7 && n >= 7 => (Some(n), None),
                    (_, Some(n)) if delay => (Some(n.saturating_mul(r.bare_unit_days)), None),
                    (Some(time::When::Days(d)), _) if delay => (Some(d), None),
                    (Some(time::When::Until(d)), _) if delay => (None, Some(d)),
                    _ if delay => (r.default_days, None),
                    _ => (None, None),
                };
                let intent = Intent {
                    action,
                    days,
                    until,
                    rule: r.name.clone(),
                    keyword,
                    max_days: if delay { r.max_days } else { None },
                };
                if sure {
                    Interpretation::Matched(intent)
                } else {
                    Interpretation::Unsure(intent)
                }
            }
        }
    }
}

/// Parses and checks all files; returns what parsed plus every problem.
fn analyse(files: &[(&str, &str)]) -> (Vec<ParsedFile>, Vec<Problem>) {
    let mut problems = Vec::new();
    if files.is_empty() {
        problems.push(Problem {
            file: String::new(),
            line: 0,
            message: "no keyword rule files (*.toml) found".to_owned(),
            fix: "add at least one rule file, e.g. copy keywords/en.toml from the keyroute repository".to_owned(),
        });
    }
    let mut parsed = Vec::new();
    for (name, text) in files {
        if let Some(p) = schema::parse_file(name, text, &mut problems) {
            parsed.push(p);
        }
    }
    schema::cross_check(&parsed, &mut problems);
    problems.sort_by(|a, b| a.file.cmp(&b.file).then(a.line.cmp(&b.line)));
    if parsed.iter().all(|f| f.rules.is_empty()) && problems.is_empty() {
        problems.push(Problem {
            file: files.first().map(|f| f.0.to_owned()).unwrap_or_default(),
            line: 0,
            message: "the rule files define no rules".to_owned(),
            fix: "add [[rules]] entries (see the comments at the top of keywords/en.toml)"
                .to_owned(),
        });
    }
    if parsed.iter().map(|f| f.rules.len()).sum::<usize>() > usize::from(u16::MAX - 1) {
        problems.push(Problem {
            file: String::new(),
            line: 0,
            message: "too many rules".to_owned(),
            fix: format!("keep the total number of rules under {}", u16::MAX - 1),
        });
    }
    (parsed, problems)
}

/// Reads every `*.toml` file of `dir`, sorted by file name. Names are `dir/file.toml`.
fn read_dir_sources(dir: &Path) -> Result<Vec<(String, String)>, RulesError> {
    let io = |path: &Path, source| RulesError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let path = entry.map_err(|e| io(dir, e))?.path();
        if path.extension().is_some_and(|x| x == "toml") && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    let mut out = Vec::with_capacity(paths.len());
    for p in paths {
        let text = std::fs::read_to_string(&p).map_err(|e| io(&p, e))?;
        out.push((p.display().to_string(), text));
    }
    Ok(out)
}

/// Checks every `*.toml` file in `dir` and returns every problem found (empty when the
/// files are valid). For `keyroute rules check`.
pub fn check_dir(dir: &Path) -> Vec<Problem> {
    match analyse_dir(dir) {
        Ok((_, problems)) => problems,
        Err(RulesError::Io { path, source }) => vec![Problem {
            file: path,
            line: 0,
            message: format!("cannot read: {source}"),
            fix: "check that the path exists and is readable (keywords.dir in the config)"
                .to_owned(),
        }],
        Err(RulesError::Invalid(p)) => p,
    }
}

/// Reads and checks every rule file of `dir`. A folder without rule files is reported
/// as a problem of the folder.
fn analyse_dir(dir: &Path) -> Result<(Vec<ParsedFile>, Vec<Problem>), RulesError> {
    let files = read_dir_sources(dir)?;
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let (parsed, mut problems) = analyse(&refs);
    if refs.is_empty() {
        for p in &mut problems {
            p.file = dir.display().to_string();
        }
    }
    Ok((parsed, problems))
}
