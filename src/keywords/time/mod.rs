//! Amounts of time and dates in a reply: "2 weeks", "a week and a half", "quince días",
//! "to the 21st", "until after July 4th", "next month instead", "hasta el 10 de mayo".
//!
//! Works on normalised words (lower case, no accents). Dates resolve from `today` (the
//! shop's calendar date): a day or weekday that already passed means the next one; a month
//! and day already past this year means next year's.

mod dates;
mod numbers;

#[cfg(test)]
mod tests;

use dates::{bare_day_after_prep, date_at, date_at_with, date_preposition, month, weekday};
use jiff::civil::Date;
use numbers::{cardinal, duration_at, next_week_at, range_at, unit, vague_at};

/// What a reply says about when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum When {
    /// A number of days.
    Days(u32),
    /// A date.
    Until(Date),
    /// "a bit", "a few days", "a while": later, by no stated amount.
    Vague,
}

/// One time expression found at `start..end` (word positions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Found {
    pub start: usize,
    pub end: usize,
    pub when: When,
    /// A bare number ("delay 3"): its unit is the rule's, decided by the caller.
    pub bare: Option<u32>,
}

/// Extra units and number words from the rule files (`[durations]`), consulted after the
/// built-in ones.
impl Found {
    fn named(start: usize, end: usize, when: When) -> Found {
        Found {
            start,
            end,
            when,
            bare: None,
        }
    }
}

pub(super) trait Extra {
    fn unit_days(&self, word: &str) -> Option<u32>;
    fn number(&self, word: &str) -> Option<u32>;
}

/// The time words a typo may be corrected to ("wekks" is "weeks", "dyas" is "days").
pub(super) const WORDS: &[&str] = &[
    "day",
    "days",
    "week",
    "weeks",
    "month",
    "months",
    "fortnight",
    "semana",
    "semanas",
    "dias",
    "meses",
    "jours",
    "semaine",
    "semaines",
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "twelve",
    "couple",
    "until",
    "after",
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
    "janvier",
    "fevrier",
    "avril",
    "juillet",
    "septembre",
    "octobre",
    "novembre",
    "decembre",
    "lunes",
    "martes",
    "jueves",
    "viernes",
    "sabado",
    "domingo",
    "lundi",
    "mardi",
    "mercredi",
    "jeudi",
    "vendredi",
    "samedi",
    "dimanche",
    "quince",
    "quinze",
    "semanas",
];

/// A unit, month or weekday name.
pub(super) fn is_time_word(w: &str) -> bool {
    unit(w).is_some() || month(w).is_some() || weekday(w).is_some()
}

/// A day of the month said alone at `i`, with "the" or an ordinal suffix ("the 16th",
/// "22nd"): the next such day after `today`, and the words it takes.
pub(super) fn day_of_month_at(words: &[&str], i: usize, today: Date) -> Option<(Date, usize)> {
    bare_day_after_prep(words, i, today, false)
}

/// The first day of the month said alone anywhere in `words` ("actually the 27th", "can it
/// be the 29th instead of the 13th").
pub(super) fn first_day_of_month(words: &[&str], today: Date) -> Option<Date> {
    (0..words.len()).find_map(|k| day_of_month_at(words, k, today).map(|(d, _)| d))
}

/// Days per unit of a unit word, built in or from the rule files ("weeks" is 7).
pub(super) fn unit_days(w: &str, extra: &dyn Extra) -> Option<u32> {
    unit(w).or_else(|| extra.unit_days(w))
}

/// A month's number from its name ("march" is 3).
pub(super) fn month_number(w: &str) -> Option<i8> {
    month(w)
}

/// A number said in words ("eleven", "once", "deux").
pub(super) fn number_word(w: &str) -> Option<u32> {
    cardinal(w)
}

/// Every time expression in `words`, left to right, longest first at each position.
pub(super) fn scan(words: &[&str], today: Date, extra: &dyn Extra) -> Vec<Found> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        // A date after a preposition: "until after the 4th", "to the 21st", "hasta el 10".
        if let Some((p, after, bare_ok)) = date_preposition(words, i) {
            let j = i + p;
            let dated = date_at_with(words, j, today, true)
                .or_else(|| bare_day_after_prep(words, j, today, bare_ok));
            if let Some((date, used)) = dated {
                let date = if after {
                    date.tomorrow().unwrap_or(date)
                } else {
                    date
                };
                out.push(Found::named(i, j + used, When::Until(date)));
                i = j + used;
                continue;
            }
        }
        // "next week", "la semana siguiente", "la semaine prochaine": a week; a range is
        // vague ("1-2 weeks", "2 or 3 weeks", "2 weeks or 3"); then vague amounts, durations
        // and dates.
        let named = next_week_at(words, i)
            .map(|used| (When::Days(7), used))
            .or_else(|| range_at(words, i, extra).map(|used| (When::Vague, used)))
            .or_else(|| vague_at(words, i, extra).map(|used| (When::Vague, used)))
            .or_else(|| duration_at(words, i, extra).map(|(d, used)| (When::Days(d), used)))
            .or_else(|| date_at(words, i, today).map(|(d, used)| (When::Until(d), used)));
        if let Some((when, used)) = named {
            out.push(Found::named(i, i + used, when));
            i += used;
            continue;
        }
        let bare = words[i]
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=52).contains(n))
            // An article is no amount: "posponelo un toque", "retardez-la un peu".
            .or_else(|| {
                cardinal(words[i])
                    .filter(|n| *n <= 12)
                    .filter(|_| !matches!(words[i], "un" | "une" | "uno" | "una" | "a" | "an"))
            });
        if let Some(n) = bare {
            out.push(Found {
                start: i,
                end: i + 1,
                when: When::Vague,
                bare: Some(n),
            });
        }
        i += 1;
    }
    out
}
