//! Dates: month and weekday names, days of the month, holidays, and the prepositions
//! before a date ("to the 21st", "until after July 4th", "hasta el 10 de mayo").

use super::numbers::{cardinal, filler, ordinal, ordinal_suffix, unit};
use jiff::civil::{Date, Weekday};

pub(super) fn month(w: &str) -> Option<i8> {
    Some(match w {
        "january" | "jan" | "enero" | "janvier" | "janv" => 1,
        "february" | "feb" | "febrero" | "fevrier" | "fev" => 2,
        "march" | "mar" | "marzo" | "mars" => 3,
        "april" | "apr" | "abril" | "avril" | "avr" => 4,
        "may" | "mayo" | "mai" => 5,
        "june" | "jun" | "junio" | "juin" => 6,
        "july" | "jul" | "julio" | "juillet" | "juil" => 7,
        "august" | "aug" | "agosto" | "aout" => 8,
        "september" | "sep" | "sept" | "septiembre" | "setiembre" | "septembre" => 9,
        "october" | "oct" | "octubre" | "octobre" => 10,
        "november" | "nov" | "noviembre" | "novembre" => 11,
        "december" | "dec" | "diciembre" | "decembre" => 12,
        _ => return None,
    })
}

pub(super) fn weekday(w: &str) -> Option<Weekday> {
    Some(match w {
        "monday" | "mon" | "lunes" | "lundi" => Weekday::Monday,
        "tuesday" | "tues" | "tue" | "martes" | "mardi" => Weekday::Tuesday,
        "wednesday" | "wed" | "weds" | "miercoles" | "mercredi" => Weekday::Wednesday,
        "thursday" | "thurs" | "thu" | "jueves" | "jeudi" => Weekday::Thursday,
        "friday" | "fri" | "viernes" | "vendredi" => Weekday::Friday,
        "saturday" | "sat" | "sabado" | "samedi" => Weekday::Saturday,
        "sunday" | "domingo" | "dimanche" => Weekday::Sunday,
        _ => return None,
    })
}

/// The next `wd` strictly after `today`.
fn next_weekday(today: Date, wd: Weekday) -> Date {
    let mut d = today.tomorrow().unwrap_or(today);
    while d.weekday() != wd {
        d = d.tomorrow().unwrap_or(d);
    }
    d
}

/// Month and day, this year or (when already past) next year.
fn month_day(today: Date, m: i8, d: i8) -> Option<Date> {
    let this = Date::new(today.year(), m, d).ok()?;
    if this > today {
        Some(this)
    } else {
        Date::new(today.year() + 1, m, d).ok()
    }
}

/// A day of the month: this month's, or next month's when already past.
fn day_of_month(today: Date, d: i8) -> Option<Date> {
    if let Ok(this) = Date::new(today.year(), today.month(), d)
        && this > today
    {
        return Some(this);
    }
    let first = today
        .first_of_month()
        .checked_add(jiff::Span::new().months(1))
        .ok()?;
    Date::new(first.year(), first.month(), d).ok()
}

fn first_of_next_month(today: Date) -> Option<Date> {
    today
        .first_of_month()
        .checked_add(jiff::Span::new().months(1))
        .ok()
}

/// A month's day, for a month named alone ("in april": the 1st; "mid april": the 15th).
fn in_month(today: Date, m: i8, day: i8) -> Option<Date> {
    let this = Date::new(today.year(), m, 1).ok()?;
    let year =
        if this.month() < today.month() || (this.month() == today.month() && day <= today.day()) {
            today.year() + 1
        } else {
            today.year()
        };
    let first = Date::new(year, m, 1).ok()?;
    if day < 0 {
        return Some(first.last_of_month());
    }
    Date::new(year, m, day.min(first.days_in_month())).ok()
}

/// A day number at `i`: "21", "21st", "21 st", "twenty first", "the 21st".
fn day_number_at(words: &[&str], i: usize) -> Option<(i8, usize)> {
    let w = *words.get(i)?;
    if let Ok(n) = w.parse::<u8>() {
        if (1..=31).contains(&n) {
            let used = if words.get(i + 1).is_some_and(|s| ordinal_suffix(s)) {
                2
            } else {
                1
            };
            return Some((n as i8, used));
        }
        return None;
    }
    // "twenty first", "thirty first"
    if let Some(t) = cardinal(w).filter(|t| *t == 20 || *t == 30)
        && let Some(o) = words
            .get(i + 1)
            .and_then(|w| ordinal(w))
            .filter(|o| *o < 10)
    {
        return Some(((t + o) as i8, 2));
    }
    if let Some(o) = ordinal(w) {
        return Some((o as i8, 1));
    }
    // A day said in words: "au vingt-deux mars", "vingt et un", "jusqu'au vingt", "el
    // quince de abril"; never an article ("un", "a").
    if matches!(w, "un" | "une" | "uno" | "una" | "a" | "an" | "one") {
        return None;
    }
    let n = cardinal(w).filter(|n| (1..=31).contains(n))?;
    if n == 20 || n == 30 {
        let (k, and) = match words.get(i + 1) {
            Some(&"et") | Some(&"y") | Some(&"and") => (i + 2, 1),
            _ => (i + 1, 0),
        };
        if let Some(u) = words
            .get(k)
            .and_then(|w| cardinal(w))
            .filter(|u| (1..=9).contains(u) && n + u <= 31)
            .or_else(|| matches!(words.get(k), Some(&"un")).then_some(1))
        {
            return Some(((n + u) as i8, 2 + and));
        }
    }
    Some((n as i8, 1))
}

/// The Nth weekday of a month (thanksgiving: the 4th Thursday of November).
fn nth_weekday(year: i16, m: i8, wd: Weekday, n: i8) -> Option<Date> {
    let first = Date::new(year, m, 1).ok()?;
    first.nth_weekday_of_month(n, wd).ok()
}

fn holiday(today: Date, words: &[&str], i: usize) -> Option<(Date, usize)> {
    let w = |k: usize| words.get(i + k).copied().unwrap_or("");
    let (date, used) = match (w(0), w(1)) {
        ("christmas" | "xmas" | "navidad" | "noel", "eve") => (month_day(today, 12, 24)?, 2),
        ("christmas" | "xmas" | "navidad" | "noel", _) => (month_day(today, 12, 25)?, 1),
        ("new", "year" | "years" | "year's") => (month_day(today, 1, 1)?, 2),
        ("thanksgiving", _) => {
            let this = nth_weekday(today.year(), 11, Weekday::Thursday, 4)?;
            let d = if this > today {
                this
            } else {
                nth_weekday(today.year() + 1, 11, Weekday::Thursday, 4)?
            };
            (d, 1)
        }
        ("halloween", _) => (month_day(today, 10, 31)?, 1),
        ("valentines" | "valentine", _) => {
            (month_day(today, 2, 14)?, if w(1) == "day" { 2 } else { 1 })
        }
        ("independence", "day") => (month_day(today, 7, 4)?, 2),
        _ => return None,
    };
    Some((date, used))
}

/// A date starting at `i`.
pub(super) fn date_at(words: &[&str], i: usize, today: Date) -> Option<(Date, usize)> {
    date_at_with(words, i, today, false)
}

/// `after_prep`: right after "until", "in", "hasta"...: a month alone is a date there
/// ("until April"), not elsewhere ("the March one").
pub(super) fn date_at_with(
    words: &[&str],
    i: usize,
    today: Date,
    after_prep: bool,
) -> Option<(Date, usize)> {
    let w = |k: usize| words.get(i + k).copied().unwrap_or("");
    if matches!(w(0), "the" | "el" | "le" | "la")
        && let Some((d, used)) = date_at_with(words, i + 1, today, after_prep)
    {
        return Some((d, used + 1));
    }
    if let Some(h) = holiday(today, words, i) {
        return Some(h);
    }
    // "next month", "le mois prochain", "el proximo mes", "el mes que viene"
    match (w(0), w(1), w(2), w(3)) {
        ("next", "month", _, _) | ("proximo", "mes", _, _) => {
            return Some((first_of_next_month(today)?, 2));
        }
        ("mois", "prochain", _, _) => return Some((first_of_next_month(today)?, 2)),
        ("mes", "que", "viene", _) => return Some((first_of_next_month(today)?, 3)),
        ("mes", "proximo", _, _) => return Some((first_of_next_month(today)?, 2)),
        ("end", "of", "the", "month") | ("fin", "de", "mes", _) => {
            return Some((today.last_of_month(), if w(2) == "the" { 4 } else { 3 }));
        }
        ("end", "of", "month", _) => return Some((today.last_of_month(), 3)),
        // "the last day of the month"
        ("last", "day", "of", "the") if w(4) == "month" => {
            return Some((today.last_of_month(), 5));
        }
        ("last", "day", "of", "month") => return Some((today.last_of_month(), 4)),
        ("fin", "du", "mois", _) | ("fin", "de", "mois", _) => {
            return Some((today.last_of_month(), 3));
        }
        ("tomorrow" | "tmrw" | "tmr" | "tmw" | "tomoz" | "manana" | "demain", _, _, _) => {
            return Some((today.tomorrow().ok()?, 1));
        }
        _ => {}
    }
    // "mid april", "end of april", "early april", "first week of april", "beginning of april"
    let lead = match (w(0), w(1), w(2), w(3)) {
        ("mid" | "middle", "of", m, _) if month(m).is_some() => Some((15, 3)),
        ("mid" | "mediados" | "mi", m, _, _) if month(m).is_some() => Some((15, 2)),
        ("mediados", "de", m, _) if month(m).is_some() => Some((15, 3)),
        ("end" | "fin", "of" | "de", m, _) if month(m).is_some() => Some((-1, 3)),
        ("fin", m, _, _) if month(m).is_some() => Some((-1, 2)),
        ("late", m, _, _) if month(m).is_some() => Some((-1, 2)),
        ("early" | "beginning" | "start" | "debut" | "principios", m, _, _)
            if month(m).is_some() =>
        {
            Some((1, 2))
        }
        ("beginning" | "start" | "debut" | "principios", "of" | "de", m, _)
            if month(m).is_some() =>
        {
            Some((1, 3))
        }
        ("first", "week" | "weekend", "of" | "in", m) if month(m).is_some() => Some((1, 4)),
        ("primera", "semana", "de", m) if month(m).is_some() => Some((1, 4)),
        ("premiere", "semaine", "d" | "de", m) if month(m).is_some() => Some((1, 4)),
        ("finales" | "fines", "de", m, _) if month(m).is_some() => Some((-1, 3)),
        _ => None,
    };
    if let Some((day, used)) = lead {
        let m = month(w(used - 1))?;
        return Some((in_month(today, m, day)?, used));
    }
    // Numeric: 3/21, 21/3 (a first part over 12 is a day), 3/21/2027
    if let (Ok(a), "/", Ok(b)) = (w(0).parse::<u8>(), w(1), w(2).parse::<u8>()) {
        let (m, d) = if a > 12 { (b, a) } else { (a, b) };
        if (1..=12).contains(&m) && (1..=31).contains(&d) {
            let mut used = 3;
            let mut date = month_day(today, m as i8, d as i8)?;
            if w(3) == "/"
                && let Ok(y) = w(4).parse::<i16>()
            {
                let y = if y < 100 { 2000 + y } else { y };
                date = Date::new(y, m as i8, d as i8).ok()?;
                used = 5;
            }
            return Some((date, used));
        }
        return None;
    }
    // Month then day: "march 30", "march 30th", "marzo 30"
    if let Some(m) = month(w(0)) {
        if let Some((d, used)) = day_number_at(words, i + 1) {
            return Some((month_day(today, m, d)?, 1 + used));
        }
        if w(1) == "the"
            && let Some((d, used)) = day_number_at(words, i + 2)
        {
            return Some((month_day(today, m, d)?, 2 + used));
        }
        // A month alone ("in april", "hasta abril"): "may" only with a day, it is a verb.
        if after_prep && w(0) != "mar" && w(0) != "sat" {
            return Some((in_month(today, m, 1)?, 1));
        }
        return None;
    }
    // Day then month: "30 march", "30th of march", "10 de mayo", "le 21 mars"
    if let Some((d, used)) = day_number_at(words, i) {
        let mut k = i + used;
        while words.get(k).is_some_and(|w| filler(w)) {
            k += 1;
        }
        if let Some(m) = words.get(k).and_then(|w| month(w)) {
            return Some((month_day(today, m, d)?, k + 1 - i));
        }
    }
    // Weekday: "friday", "next friday", "this friday"; with a day, that day: "saturday the
    // 27th", "lunes 22".
    if let Some(wd) = weekday(w(0)) {
        let at = if matches!(w(1), "the" | "el" | "le") {
            2
        } else {
            1
        };
        if let Some((d, used)) = day_number_at(words, i + at)
            && words.get(i + at + used).is_none_or(|x| unit(x).is_none())
        {
            return Some((day_of_month(today, d)?, at + used));
        }
        return Some((next_weekday(today, wd), 1));
    }
    None
}

/// A day of the month after a preposition: "to the 21st", "until the 10th", "el 15",
/// "au 21", "le 21". `prep_end` is the index right after the preposition.
pub(super) fn bare_day_after_prep(
    words: &[&str],
    prep_end: usize,
    today: Date,
    bare_ok: bool,
) -> Option<(Date, usize)> {
    let mut k = prep_end;
    if matches!(words.get(k), Some(&"the") | Some(&"el") | Some(&"le")) {
        k += 1;
    }
    let (d, used) = day_number_at(words, k)?;
    // "the 21" alone would also be "2 weeks" without a unit: only with a suffix or "the".
    let has_suffix = words.get(k + used - 1).is_some_and(|w| ordinal_suffix(w))
        || ordinal(words[k]).is_some()
        || k > prep_end
        || bare_ok;
    if !has_suffix {
        return None;
    }
    // Not "the 21 days".
    if words.get(k + used).is_some_and(|w| unit(w).is_some()) {
        return None;
    }
    Some((day_of_month(today, d)?, k + used - prep_end))
}

/// Prepositions before a date: what follows is the date the order moves to. "after" means
/// the day after.
/// Returns (words used, "after" (the day after), a bare day number is a date here).
pub(super) fn date_preposition(words: &[&str], i: usize) -> Option<(usize, bool, bool)> {
    let w = |k: usize| words.get(i + k).copied().unwrap_or("");
    Some(match (w(0), w(1), w(2)) {
        ("until" | "till" | "til" | "untill" | "untl", "after", _) => (2, true, false),
        ("after", _, _) => (1, true, false),
        ("despues", "del" | "de", _) => (2, true, true),
        ("apres", "le" | "la", _) => (2, true, true),
        ("apres", _, _) => (1, true, false),
        ("until" | "till" | "til" | "untill" | "untl" | "to" | "by" | "on" | "for", _, _) => {
            (1, false, false)
        }
        ("hasta" | "para", "el" | "la", _) => (2, false, true),
        ("hasta" | "para", _, _) => (1, false, false),
        ("jusqu", "au", _) => (2, false, true),
        ("jusqu", "a", _) => (2, false, false),
        ("au", _, _) => (1, false, true),
        ("pour", "le", _) => (2, false, true),
        ("in", _, _) => (1, false, false),
        ("en", _, _) => (1, false, false),
        ("al" | "pal", _, _) => (1, false, true),
        ("jusqua", _, _) => (1, false, false),
        // "jusquau 26", typed without the apostrophe.
        ("jusquau", _, _) => (1, false, true),
        ("a", "mediados" | "principios" | "finales" | "fines", _) => (1, false, false),
        // "pásalo a febrero"
        ("a", m, _) if month(m).is_some() && m != "mar" => (1, false, false),
        ("a", "la", "primera") => (2, false, false),
        _ => return None,
    })
}
