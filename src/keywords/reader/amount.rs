//! How long a delay is, or until when: what the reply says next to the delay.

use jiff::civil::Date;

use super::super::time::{self, Extra, When};
use super::super::words::Role;
use super::Clause;
use super::judge::{is, soft};

/// A clause's words, and the segment each belongs to.
pub(super) fn words_of<'w>(words: &[&'w str], c: &Clause) -> (Vec<&'w str>, Vec<usize>) {
    let mut out = Vec::new();
    let mut seg_of = Vec::new();
    for (i, s) in c.segs.iter().enumerate() {
        for w in &words[s.word..s.word + s.len] {
            out.push(*w);
            seg_of.push(i);
        }
    }
    (out, seg_of)
}

/// The amount of a delay: a duration or date after the cue in its clause (or right before
/// it), else one said on its own in the next clause ("Delay!! 2 weeks"), a correction later
/// on ("2 weeks. sorry, I mean 3"), or a bare number right after the cue ("DELAY 3").
/// Numbers elsewhere ("we're away for two weeks") are the story, not the delay.
pub(super) fn amount(
    words: &[&str],
    clauses: &[Clause],
    ci: usize,
    si: usize,
    today: Date,
    extra: &dyn Extra,
) -> (Option<When>, Option<u32>) {
    let c = &clauses[ci];
    let (clause_words, seg_of) = words_of(words, c);
    let cue_start = seg_of.iter().position(|s| *s == si).unwrap_or(0);
    let mut cue_end = cue_start + c.segs[si].len;
    // "put it back a week": the phrase ends on the amount's article.
    if cue_end > cue_start + 1 && matches!(clause_words[cue_end - 1], "a" | "an" | "un" | "une") {
        cue_end -= 1;
    }
    // "can it come the 19th instead", "livrez le 31 plutôt que samedi": a day of the month
    // right after the verb (or its pronoun) is the day wished for.
    let mut k = cue_end;
    while k < clause_words.len() && k < cue_end + 2 {
        if let Some((d, _)) = time::day_of_month_at(&clause_words, k, today) {
            return (Some(When::Until(d)), None);
        }
        if !matches!(clause_words[k], "it" | "me" | "la" | "le" | "lo" | "them") {
            break;
        }
        k += 1;
    }
    let found = time::scan(&clause_words, today, extra);
    // A bare number right after the cue (maybe after "it", "by", "for"): "delay 3".
    for f in &found {
        if let Some(n) = f.bare
            && f.start >= cue_end
            && clause_words[cue_end..f.start]
                .iter()
                .all(|w| matches!(*w, "it" | "by" | "for" | "me" | "lo" | "la" | "de" | "back"))
        {
            return (None, Some(n));
        }
    }
    let named: Vec<&time::Found> = found.iter().filter(|f| f.bare.is_none()).collect();
    // "dejar para después del 4 de abril", "hasta después del 5": a date begun by the cue's
    // own last word.
    if let Some(f) = named
        .iter()
        .find(|f| f.start >= cue_end || f.start >= cue_start && f.end > cue_end)
    {
        // "2 weeks, no wait, 3 weeks": a correction after wins; "two weeks, sorry I meant
        // three" keeps the unit, "the 20th, I mean the 22nd" the month.
        let unit = clause_words[f.start..f.end]
            .iter()
            .rev()
            .find_map(|w| time::unit_days(w, extra));
        let said = Said { when: f.when, unit };
        return (
            Some(correction(words, clauses, ci, extra, today, Some(said)).unwrap_or(f.when)),
            None,
        );
    }
    if let Some(f) = named
        .iter()
        .rev()
        .find(|f| f.end <= cue_start && cue_start - f.end <= 1)
    {
        return (Some(f.when), None);
    }
    // The next clause, when it is only an amount: "Delay!! 2 weeks", "push it back, 3 weeks",
    // "Like April 1st".
    if let Some(when) = clauses
        .get(ci + 1)
        .and_then(|n| only_amount(words, n, today, extra))
    {
        return (Some(when), None);
    }
    // Or the clause before, said first: "D'une semaine, vous pourriez repousser ?", "Début
    // avril plutôt, vous pouvez décaler ?", "the first week of April, can you move it".
    if let Some(when) = ci
        .checked_sub(1)
        .and_then(|p| only_amount(words, &clauses[p], today, extra))
    {
        return (Some(when), None);
    }
    (correction(words, clauses, ci, extra, today, None), None)
}

/// "I need a little more time ... Push it back a month please": of several sayings of the
/// delay (`first` and `others`, as clause and segment), the amount of the first that names
/// one, else the first's.
pub(super) fn amount_of_sayings(
    words: &[&str],
    clauses: &[Clause],
    first: (usize, usize),
    others: &[(usize, usize)],
    today: Date,
    extra: &dyn Extra,
) -> (Option<When>, Option<u32>) {
    let of = |(ci, si): (usize, usize)| amount(words, clauses, ci, si, today, extra);
    let vague =
        |a: &(Option<When>, Option<u32>)| a.1.is_none() && matches!(a.0, None | Some(When::Vague));
    let said = of(first);
    if !vague(&said) {
        return said;
    }
    others
        .iter()
        .map(|o| of(*o))
        .find(|a| !vague(a))
        .unwrap_or(said)
}

/// The amount a clause says, when it says nothing else but courtesy: "3 weeks", "like April
/// 1st", "d'une semaine", "début avril plutôt", "hasta el 20".
fn only_amount(words: &[&str], c: &Clause, today: Date, extra: &dyn Extra) -> Option<When> {
    let (cw, seg_of) = words_of(words, c);
    let f = time::scan(&cw, today, extra);
    let first = f.iter().find(|f| f.bare.is_none())?;
    // "just a day or so later": "or so" is vague, and "so" cut the clause there.
    if cw.last() == Some(&"or") {
        return None;
    }
    (0..cw.len())
        .all(|k| {
            f.iter().any(|x| k >= x.start && k < x.end) || {
                let s = &c.segs[seg_of[k]];
                soft(s)
                    || is(s, Role::Object)
                    || matches!(
                        cw[k],
                        "like"
                            | "say"
                            | "maybe"
                            | "or"
                            | "instead"
                            | "later"
                            | "rather"
                            | "plutot"
                            | "mejor"
                            | "d"
                            | "de"
                            | "du"
                            | "au"
                            | "a"
                            | "jusqu"
                            | "hasta"
                            // "1 week not 2": the amount, then the one it is not
                            | "not"
                            // "A week should do it", "two weeks would be fine"
                            | "should"
                            | "would"
                            | "do"
                            | "it"
                            | "be"
                            | "is"
                            | "fine"
                            | "enough"
                            | "works"
                            | "good"
                            | "perfect"
                    )
            }
        })
        .then_some(first.when)
}

/// The amount a correction corrects: what was said, and its unit in days if it was a
/// duration.
struct Said {
    when: When,
    unit: Option<u32>,
}

/// "2 weeks. sorry, I mean 3 weeks", "actually make it the 25th": the amount said after a
/// correction word.
fn correction(
    words: &[&str],
    clauses: &[Clause],
    ci: usize,
    extra: &dyn Extra,
    today: Date,
    said: Option<Said>,
) -> Option<When> {
    for c in clauses.iter().skip(ci + 1) {
        let (cw, _) = words_of(words, c);
        let meant = cw.windows(2).any(|p| {
            matches!(
                p,
                ["i", "mean"] | ["make", "it"] | ["i", "meant"] | ["make", "that"]
            )
        });
        let corrects = meant
            || cw
                .first()
                .is_some_and(|w| matches!(*w, "actually" | "sorry" | "correction"));
        if !corrects {
            continue;
        }
        let found = time::scan(&cw, today, extra);
        if let Some(f) = found.iter().find(|f| f.bare.is_none()) {
            return Some(f.when);
        }
        // "actually the 27th is better": a day of the month alone.
        if let Some(d) = time::first_day_of_month(&cw, today) {
            return Some(When::Until(d));
        }
        if !meant {
            continue;
        }
        // A bare number corrects in the terms of what it corrects: "three" weeks, "the
        // 22nd" of the same month.
        match (said.as_ref(), found.iter().find_map(|f| f.bare)) {
            (Some(Said { unit: Some(u), .. }), Some(n)) if n <= 12 => {
                return Some(When::Days(n * u));
            }
            (
                Some(Said {
                    when: When::Until(d),
                    ..
                }),
                Some(n),
            ) if (1..=31).contains(&n) => {
                let day = i8::try_from(n).ok()?;
                return Date::new(d.year(), d.month(), day)
                    .ok()
                    .filter(|c| *c > today)
                    .map(When::Until);
            }
            _ => {}
        }
    }
    None
}
