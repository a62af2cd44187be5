//! Deciding what a message asks for.
//!
//! After normalisation, each token is looked up once in the lexicon; multi-word entries
//! ("never mind", "a couple of", "would like to") are merged into one *segment*. The
//! message is cut into clauses at sentence punctuation, `?` and clause-break words ("but",
//! "pero", "mais"). A keyword counts as a request only when its clause plainly is one:
//!
//! * **before it** the clause holds nothing but lead-in words ("yes", "ok", "hi",
//!   "please"), or the words right before it are a request ("please", "can you",
//!   "I want to", "quiero", "je voudrais"), possibly followed by lead-ins;
//! * **after it** the clause holds nothing but object words ("this delivery", "my next
//!   order", "for now"), polite words, and for a delay one duration ("2 weeks");
//! * no negation comes before it in the clause, or right after it ("don't skip",
//!   "no quiero saltar", "ne pas sauter", "skip not");
//! * a clause that is a question counts only when it opens with a request ("can you
//!   skip my order?"), not when it asks about the keyword ("can I skip?", "skip?").
//!
//! Then across the message: two different actions ("skip or delay?") are a conflict;
//! a later sentence that takes it back ("skip... actually no") negates it; a delay
//! takes its duration from a sentence of its own only when that directly follows a
//! bare DELAY ("Delay!! 2 weeks"), any other amount makes it ambiguous ("delay 2
//! weeks. actually 3"). A message with more than [`MAX_HITS`] keywords does nothing.
//!
//! Rules with `match_anywhere` (help) skip the context tests: a wrong HELP only sends
//! the menu. Everything else errs towards doing nothing, because a wrong skip costs the
//! shopper an order and the merchant a sale.

use std::cell::RefCell;

use super::lexicon::{Info, Lexicon, flag};
use super::normalize::{Normalized, TokKind, normalize_into};
use super::{Action, CompiledRule, Intent, Interpretation, RuleSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SegKind {
    Word,
    Digits,
    Question,
    Break,
}

/// One word, number, phrase or mark of the message.
#[derive(Debug, Clone, Copy)]
struct Seg {
    kind: SegKind,
    info: Info,
    /// First token of the segment.
    tok: u32,
    /// Value of a digit run (`None` if it overflows `u32` or uses non-ASCII digits).
    digits: Option<u32>,
}

impl Seg {
    /// Numeric value, from digits or a number word ("two", "a", "next").
    #[inline]
    fn number(&self) -> Option<u32> {
        match self.kind {
            SegKind::Digits => self.digits,
            SegKind::Word if self.info.number > 0 => Some(self.info.number),
            _ => None,
        }
    }
    #[inline]
    fn has(&self, f: u16) -> bool {
        self.info.has(f)
    }
    #[inline]
    fn ends_clause(&self) -> bool {
        matches!(self.kind, SegKind::Question | SegKind::Break) || self.info.has(flag::BREAK)
    }
}

/// A message with more keywords than this is not a command (and stopping keeps the
/// per-keyword context checks from going quadratic on a hostile 64 KiB body).
const MAX_HITS: usize = 16;

#[derive(Debug, Clone, Copy)]
struct Hit {
    /// First segment of the hit's clause.
    clause: usize,
    rule: u16,
    kw: u32,
    negated: bool,
    valid: bool,
    /// Duration the shopper gave (delay only).
    days: Option<u32>,
}

/// Interprets `text` against `rs`. Pure; allocates only per message, never per rule.
pub(super) fn interpret(rs: &RuleSet, text: &str) -> Interpretation {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => {
            let result = interpret_with(rs, text, &mut scratch);
            scratch.trim();
            result
        }
        // Only reachable through re-entrancy, which nothing does; stay correct anyway.
        Err(_) => interpret_with(rs, text, &mut Scratch::default()),
    })
}

/// Per-thread buffers, so interpreting a message allocates only its result.
#[derive(Default)]
struct Scratch {
    norm: Normalized,
    segs: Vec<Seg>,
    hits: Vec<Hit>,
}

impl Scratch {
    /// Don't keep a huge buffer alive because of one huge message.
    fn trim(&mut self) {
        const KEEP: usize = 4096;
        if self.norm.text.capacity() > KEEP {
            self.norm = Normalized::default();
        }
        if self.segs.capacity() > KEEP {
            self.segs = Vec::new();
        }
        if self.hits.capacity() > KEEP {
            self.hits = Vec::new();
        }
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

fn interpret_with(rs: &RuleSet, text: &str, scratch: &mut Scratch) -> Interpretation {
    normalize_into(text, &mut scratch.norm);
    let norm = &scratch.norm;
    let lex = &rs.lex;
    let toks = &norm.tokens;

    if !toks
        .iter()
        .any(|t| matches!(t.kind, TokKind::Word | TokKind::Number))
    {
        if toks.iter().any(|t| t.kind == TokKind::Question)
            && let Some(q) = lex.question
        {
            return matched(rs, q.rule, q.kw, None);
        }
        return if toks.is_empty() {
            Interpretation::no_action(super::REASON_EMPTY)
        } else {
            Interpretation::no_action(super::REASON_NO_MATCH)
        };
    }

    // Opt-out words win over everything, wherever they are.
    if segments(lex, norm, &mut scratch.segs) == Scan::OptOut {
        return Interpretation::no_action(super::REASON_OPT_OUT);
    }
    let segs = &scratch.segs;
    let hits = &mut scratch.hits;
    hits.clear();
    for (start, end) in clauses(segs) {
        let question = segs.get(end).is_some_and(|s| s.kind == SegKind::Question);
        let clause = Clause {
            start,
            end,
            question,
        };
        scan_clause(rs, norm, segs, clause, hits);
        if hits.len() >= MAX_HITS {
            return Interpretation::no_action(super::REASON_NO_MATCH);
        }
    }
    decide(rs, norm, segs, hits)
}

#[derive(Debug, PartialEq, Eq)]
enum Scan {
    Done,
    OptOut,
}

/// Groups tokens into segments, merging known phrases (longest first). Stops early at an
/// opt-out word; every token is checked, phrase words included, so no rule-file phrase
/// can hide one.
fn segments(lex: &Lexicon, norm: &Normalized, segs: &mut Vec<Seg>) -> Scan {
    let toks = &norm.tokens;
    segs.clear();
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i];
        let mut seg = Seg {
            kind: SegKind::Word,
            info: Info::default(),
            tok: i as u32,
            digits: None,
        };
        let mut width = 1;
        match t.kind {
            TokKind::Question => seg.kind = SegKind::Question,
            TokKind::Break => seg.kind = SegKind::Break,
            TokKind::Number => {
                seg.kind = SegKind::Digits;
                let w = norm.word(i);
                seg.digits = if w.bytes().all(|b| b.is_ascii_digit()) {
                    w.parse().ok()
                } else {
                    None
                };
            }
            TokKind::Word => {
                let w = norm.word(i);
                if w == "opt"
                    && toks.get(i + 1).is_some_and(|t| t.kind == TokKind::Word)
                    && norm.word(i + 1) == "out"
                {
                    return Scan::OptOut;
                }
                if let Some((info, entry)) = lex.lookup(w) {
                    if info.has(flag::OPT_OUT) {
                        return Scan::OptOut;
                    }
                    seg.info = info;
                    for p in lex.phrases_of(entry) {
                        let n = p.rest.len();
                        let fits = i + n < toks.len()
                            && p.rest.iter().enumerate().all(|(k, r)| {
                                let tk = toks[i + 1 + k].kind;
                                matches!(tk, TokKind::Word | TokKind::Number)
                                    && norm.word(i + 1 + k) == &**r
                            });
                        if fits {
                            if (i + 1..=i + n).any(|k| lex.is_opt_out(norm.word(k))) {
                                return Scan::OptOut;
                            }
                            seg.info = p.info;
                            width = n + 1;
                            break;
                        }
                    }
                }
            }
        }
        segs.push(seg);
        i += width;
    }
    Scan::Done
}

/// Outcome of looking left of a keyword.
struct Before {
    /// The clause before the keyword is lead-ins only, or ends in a request.
    ok: bool,
    /// The clause opens with a request ("can you please skip"): the only way a question
    /// counts ("can you skip my order?" yes, "what if I want to skip?" no).
    opening_request: bool,
    /// A duration written before a delay keyword ("2 week delay").
    days: Option<u32>,
}

fn look_before(
    norm: &Normalized,
    segs: &[Seg],
    cs: usize,
    j: usize,
    allow_duration: bool,
) -> Before {
    const NOT_OK: Before = Before {
        ok: false,
        opening_request: false,
        days: None,
    };
    let mut k = j;
    let mut days = None;
    loop {
        if k == cs {
            return Before {
                ok: true,
                opening_request: false,
                days,
            };
        }
        let s = &segs[k - 1];
        if s.has(flag::REQUEST) {
            let opening = segs[cs..k - 1]
                .iter()
                .all(|s| s.has(flag::LEAD_IN) || s.has(flag::REQUEST));
            return Before {
                ok: true,
                opening_request: opening,
                days,
            };
        }
        if s.has(flag::LEAD_IN) {
            k -= 1;
            continue;
        }
        if allow_duration
            && days.is_none()
            && k >= cs + 2
            && let Some(n) = segs[k - 2].number()
            && unit_after(norm, s, &segs[k - 2])
        {
            days = days_of(n, s.info.unit_days);
            if days.is_none() {
                return NOT_OK; // an absurd amount: not a request we can read
            }
            k -= 2;
            continue;
        }
        return NOT_OK;
    }
}

/// Whether `unit` reads as a duration unit after `number`. One-letter units ("5d",
/// "3w") count only straight after digits, so the French "d'" of "d'une semaine" is
/// not a day.
fn unit_after(norm: &Normalized, unit: &Seg, number: &Seg) -> bool {
    unit.info.unit_days > 0
        && (number.kind == SegKind::Digits || norm.word(unit.tok as usize).chars().nth(1).is_some())
}

/// `n` units of `unit` days; `None` when zero or absurdly large (treated as unreadable).
fn days_of(n: u32, unit: u32) -> Option<u32> {
    n.checked_mul(unit).filter(|d| (1..=100_000).contains(d))
}

/// A clause: segments `start..end`; `question` when it ends with "?".
#[derive(Debug, Clone, Copy)]
struct Clause {
    start: usize,
    end: usize,
    question: bool,
}

/// Finds and judges the keywords of one clause.
fn scan_clause(rs: &RuleSet, norm: &Normalized, segs: &[Seg], clause: Clause, hits: &mut Vec<Hit>) {
    let Clause {
        start: cs, end: ce, ..
    } = clause;
    let mut j = cs;
    while j < ce {
        let s = segs[j];
        let mut info = s.info;
        if !info.is_keyword() && s.kind == SegKind::Word && !info.is_known() {
            // Typo correction only where a keyword would count anyway.
            let command_position =
                j == cs || segs[j - 1].has(flag::REQUEST) || segs[j - 1].has(flag::LEAD_IN);
            if command_position
                && look_before(norm, segs, cs, j, false).ok
                && let Some(fixed) = rs.lex.correct(norm.word(s.tok as usize))
            {
                info = fixed;
            }
        }
        if !info.is_keyword() {
            j += 1;
            continue;
        }
        let (hit, consumed) = evaluate(rs, norm, segs, clause, j, info);
        hits.push(hit);
        if hits.len() >= MAX_HITS {
            return;
        }
        j = if consumed { ce } else { j + 1 };
    }
}

/// Judges the keyword at `j`; returns the hit and whether the rest of the clause was
/// consumed as its object.
fn evaluate(
    rs: &RuleSet,
    norm: &Normalized,
    segs: &[Seg],
    clause: Clause,
    j: usize,
    info: Info,
) -> (Hit, bool) {
    let Clause {
        start: cs,
        end: ce,
        question,
    } = clause;
    let rule = &rs.rules[usize::from(info.rule)];
    let mut hit = Hit {
        clause: cs,
        rule: info.rule,
        kw: info.kw,
        negated: false,
        valid: false,
        days: None,
    };

    let negation_after = j + 1 < ce
        && segs[j + 1].has(flag::NEGATION)
        && !(j + 2 < ce && segs[j + 2].info.is_keyword());
    // A polite imperative ("please", "por favor", "svp") starts the request afresh:
    // "I don't need this one please skip" asks for a skip; "please don't skip" does not.
    let scope = segs[cs..j]
        .iter()
        .rposition(|s| s.has(flag::REQUEST) && s.has(flag::LEAD_IN))
        .map_or(cs, |p| cs + p + 1);
    if segs[scope..j].iter().any(|s| s.has(flag::NEGATION)) || negation_after {
        hit.negated = true;
        return (hit, false);
    }
    if rule.anywhere {
        hit.valid = true;
        return (hit, false);
    }

    let before = look_before(norm, segs, cs, j, rule.action == Action::Delay);
    if !before.ok || (question && !before.opening_request) {
        return (hit, false);
    }
    let mut days = before.days;

    let mut i = j + 1;
    while i < ce {
        let s = segs[i];
        if s.info.is_keyword() {
            let other = &rs.rules[usize::from(s.info.rule)];
            let same = other.action == rule.action;
            let undo_object =
                rule.action == Action::Undo && matches!(other.action, Action::Skip | Action::Delay);
            if same || undo_object {
                i += 1;
                continue;
            }
            return (hit, false);
        }
        if s.has(flag::NEGATION) && i + 1 < ce && segs[i + 1].info.is_keyword() {
            // "skip, not delay": the other keyword is ruled out, this one stands.
            i += 2;
            continue;
        }
        if rule.action == Action::Delay
            && let Some(n) = s.number()
        {
            let mut u = i + 1;
            // "2 more weeks": one filler word between number and unit.
            if u + 1 < ce
                && segs[u].info.unit_days == 0
                && segs[u].has(flag::OBJECT)
                && unit_after(norm, &segs[u + 1], &segs[u])
            {
                u += 1;
            }
            if u < ce && unit_after(norm, &segs[u], &s) {
                if days.is_some() {
                    return (hit, false); // two durations: ambiguous
                }
                days = days_of(n, segs[u].info.unit_days);
                if days.is_none() {
                    return (hit, false); // zero or absurd
                }
                i = u + 1;
                continue;
            }
            if s.kind == SegKind::Digits {
                return (hit, false); // "delay 2": two what?
            }
        }
        if rule.action == Action::Delay
            && s.info.unit_days > 0
            && norm.word(s.tok as usize).chars().nth(1).is_some()
            && days.is_none()
            && i + 1 < ce
            && segs[i + 1].kind == SegKind::Word
            && segs[i + 1].info.number == 1
            && segs[i + 1].has(flag::OBJECT)
        {
            // "le mois prochain", "la semana siguiente": one unit.
            days = Some(s.info.unit_days);
            i += 2;
            continue;
        }
        // Text-speak "skip this 1" is "skip this one".
        let digit_one = s.kind == SegKind::Digits && s.digits == Some(1);
        if s.has(flag::OBJECT) || s.has(flag::LEAD_IN) || digit_one {
            i += 1;
            continue;
        }
        return (hit, false);
    }
    hit.valid = true;
    hit.days = days;
    (hit, true)
}

/// The clauses of `segs` as `(start, end)` segment ranges, breaks excluded.
fn clauses(segs: &[Seg]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut cs = 0;
    std::iter::from_fn(move || {
        if cs >= segs.len() {
            return None;
        }
        let mut ce = cs;
        while ce < segs.len() && !segs[ce].ends_clause() {
            ce += 1;
        }
        let r = (cs, ce);
        cs = ce + 1;
        Some(r)
    })
}

/// A clause that takes back what came before: only negations and lead-ins, at least one
/// negation ("actually no", "wait no", "jk").
fn is_retraction(segs: &[Seg]) -> bool {
    segs.iter().any(|s| s.has(flag::NEGATION))
        && segs
            .iter()
            .all(|s| !s.info.is_keyword() && (s.has(flag::NEGATION) || s.has(flag::LEAD_IN)))
}

/// A clause that mentions a number of days, weeks... on its own ("actually 3").
///
/// Before the keyword only digits count: "we're away next week, please delay" is
/// context, "I'm away 3 weeks, delay" is an amount we would be guessing at.
fn mentions_amount(segs: &[Seg], after_keyword: bool) -> bool {
    segs.iter().enumerate().any(|(i, s)| {
        s.kind == SegKind::Digits
            || (after_keyword
                && s.number().is_some()
                && segs.get(i + 1).is_some_and(|n| n.info.unit_days > 0))
    })
}

/// The days of a clause that is nothing but a duration (and polite or object words).
fn duration_only(norm: &Normalized, clause: &[Seg]) -> Option<u32> {
    let mut days = None;
    let mut i = 0;
    while i < clause.len() {
        let s = &clause[i];
        if let Some(n) = s.number()
            && let Some(u) = clause.get(i + 1)
            && unit_after(norm, u, s)
        {
            if days.is_some() {
                return None;
            }
            days = Some(days_of(n, u.info.unit_days)?);
            i += 2;
            continue;
        }
        if s.kind == SegKind::Word && (s.has(flag::LEAD_IN) || s.has(flag::OBJECT)) {
            i += 1;
            continue;
        }
        return None;
    }
    days
}

fn decide(rs: &RuleSet, norm: &Normalized, segs: &[Seg], hits: &[Hit]) -> Interpretation {
    let action = |h: &Hit| rs.rules[usize::from(h.rule)].action;
    let mut best: Option<&Hit> = None;
    let mut several_actions = false;
    for h in hits.iter().filter(|h| h.valid) {
        match best {
            None => best = Some(h),
            Some(b) if action(b) != action(h) => several_actions = true,
            Some(b) => {
                if rs.rules[usize::from(h.rule)].priority > rs.rules[usize::from(b.rule)].priority {
                    best = Some(h);
                }
            }
        }
    }
    let weak_actions = || {
        hits.iter()
            .filter(|h| !h.valid && !h.negated && action(h) != Action::Help)
            .map(action)
    };
    let Some(best) = best else {
        let mut weak = weak_actions();
        if let Some(first) = weak.next()
            && weak.any(|a| a != first)
        {
            return Interpretation::no_action(super::REASON_CONFLICT);
        }
        if hits.iter().any(|h| h.negated) {
            return Interpretation::no_action(super::REASON_NEGATED);
        }
        return Interpretation::no_action(super::REASON_NO_MATCH);
    };
    let chosen = action(best);
    // In a help request other keywords are just the topic ("help, how do I skip?").
    if several_actions || (chosen != Action::Help && weak_actions().any(|a| a != chosen)) {
        return Interpretation::no_action(super::REASON_CONFLICT);
    }
    let last_hit_clause = hits.iter().map(|h| h.clause).max().unwrap_or(0);
    let mut days = best.days;
    let mut prev_clause = None;
    for (cs, ce) in clauses(segs) {
        let clause = &segs[cs..ce];
        if cs > last_hit_clause && is_retraction(clause) {
            // "skip... actually no"
            return Interpretation::no_action(super::REASON_NEGATED);
        }
        if chosen == Action::Delay
            && !hits.iter().any(|h| h.clause == cs)
            && mentions_amount(clause, cs > best.clause)
        {
            match duration_only(norm, clause) {
                // "Delay!! 2 weeks": the duration right after a bare keyword.
                Some(d) if days.is_none() && prev_clause == Some(best.clause) => days = Some(d),
                // "delay 2 weeks. actually 3": which one?
                _ => return Interpretation::no_action(super::REASON_CONFLICT),
            }
        }
        prev_clause = Some(cs);
    }
    if hits.iter().any(|h| h.negated && action(h) == chosen) {
        // "skip. no wait, don't skip"
        return Interpretation::no_action(super::REASON_NEGATED);
    }
    let resolved = |h: &Hit| h.days.or(rs.rules[usize::from(h.rule)].default_days);
    if chosen == Action::Delay
        && hits
            .iter()
            .filter(|h| h.valid)
            .any(|h| resolved(h) != resolved(best))
    {
        return Interpretation::no_action(super::REASON_CONFLICT);
    }
    matched(rs, best.rule, best.kw, days)
}

fn matched(rs: &RuleSet, rule: u16, kw: u32, days: Option<u32>) -> Interpretation {
    let r: &CompiledRule = &rs.rules[usize::from(rule)];
    let delay = r.action == Action::Delay;
    Interpretation::Matched(Intent {
        action: r.action,
        days: if delay { days.or(r.default_days) } else { None },
        rule: r.name.clone(),
        keyword: rs
            .lex
            .keyword_text
            .get(kw as usize)
            .map(|k| k.to_string())
            .unwrap_or_default(),
        max_days: if delay { r.max_days } else { None },
    })
}
