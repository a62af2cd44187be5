//! Numbers, units and durations: "2 weeks", "a week and a half", "quince dias", "a bit".

use super::Extra;

/// Built-in cardinal numbers, en/es/fr.
pub(super) fn cardinal(w: &str) -> Option<u32> {
    Some(match w {
        "one" | "uno" | "una" | "un" | "une" => 1,
        "two" | "dos" | "deux" => 2,
        "three" | "tres" | "trois" => 3,
        "four" | "cuatro" | "quatre" => 4,
        "five" | "cinco" | "cinq" => 5,
        "six" | "seis" => 6,
        "seven" | "siete" | "sept" => 7,
        "eight" | "ocho" | "huit" => 8,
        "nine" | "nueve" | "neuf" => 9,
        "ten" | "diez" | "dix" => 10,
        "eleven" | "once" | "onze" => 11,
        "twelve" | "doce" | "douze" => 12,
        "thirteen" | "trece" | "treize" => 13,
        "fourteen" | "catorce" | "quatorze" => 14,
        "fifteen" | "quince" | "quinze" => 15,
        "sixteen" | "dieciseis" | "seize" => 16,
        "seventeen" | "diecisiete" => 17,
        "eighteen" | "dieciocho" => 18,
        "nineteen" | "diecinueve" => 19,
        "twenty" | "veinte" | "vingt" => 20,
        "thirty" | "treinta" | "trente" => 30,
        _ => return None,
    })
}

/// Ordinal words for days of the month.
pub(super) fn ordinal(w: &str) -> Option<u32> {
    Some(match w {
        "first" | "primero" | "premier" | "1er" => 1,
        "second" => 2,
        "third" => 3,
        "fourth" | "forth" => 4,
        "fifth" => 5,
        "sixth" => 6,
        "seventh" => 7,
        "eighth" => 8,
        "ninth" => 9,
        "tenth" => 10,
        "eleventh" => 11,
        "twelfth" => 12,
        "thirteenth" => 13,
        "fourteenth" => 14,
        "fifteenth" => 15,
        "sixteenth" => 16,
        "seventeenth" => 17,
        "eighteenth" => 18,
        "nineteenth" => 19,
        "twentieth" => 20,
        "thirtieth" => 30,
        _ => return None,
    })
}

pub(super) fn unit(w: &str) -> Option<u32> {
    Some(match w {
        "day" | "days" | "dia" | "dias" | "jour" | "jours" | "jrs" | "j" => 1,
        "week" | "weeks" | "wk" | "wks" | "wek" | "weeks's" | "semana" | "semanas" | "sem"
        | "weak" | "weaks" | "semanita" | "semanitas" | "semaine" | "semaines" | "sem." => 7,
        "fortnight" | "fortnights" | "fortnite" => 14,
        "month" | "months" | "mo" | "mos" | "mth" | "mths" | "mes" | "meses" | "mois"
        | "mesecito" | "mesesito" | "mez" => 30,
        "quincena" | "quincenas" => 15,
        "quinzaine" => 14,
        _ => return None,
    })
}

/// Words that stand between a number and its unit or a day and its month: "2 more weeks",
/// "30th of march", "10 de mayo".
pub(super) fn filler(w: &str) -> bool {
    matches!(
        w,
        "more" | "extra" | "additional" | "of" | "de" | "d" | "du" | "full" | "whole"
    )
}

pub(super) fn ordinal_suffix(w: &str) -> bool {
    matches!(w, "st" | "nd" | "rd" | "th" | "er" | "eme" | "o" | "ro")
}

/// A number at `i`: digits, a number word (also "twenty one"), "a"/"an" before a unit.
/// Returns (value, words used).
fn number_at(words: &[&str], i: usize, extra: &dyn Extra) -> Option<(f64, usize)> {
    let w = *words.get(i)?;
    if let Ok(n) = w.parse::<u32>() {
        if n > 10_000 {
            return None;
        }
        return Some((f64::from(n), 1));
    }
    // "un par de semanas": a couple.
    if w == "un" && words.get(i + 1) == Some(&"par") && words.get(i + 2) == Some(&"de") {
        return Some((2.0, 3));
    }
    if let Some(n) = cardinal(w) {
        // "twenty one", "vingt et un", "veinte y dos"
        if n >= 20 {
            let (mut j, mut add) = (i + 1, 0);
            if matches!(words.get(j), Some(&"et") | Some(&"y")) {
                j += 1;
            }
            if let Some(m) = words.get(j).and_then(|w| cardinal(w)).filter(|m| *m < 10) {
                add = m;
                j += 1;
            }
            if add > 0 {
                return Some((f64::from(n + add), j - i));
            }
        }
        return Some((f64::from(n), 1));
    }
    if matches!(w, "a" | "an" | "one") {
        return Some((1.0, 1));
    }
    if w == "couple" {
        return Some((2.0, 1));
    }
    if w == "half" {
        return Some((0.5, 1));
    }
    extra.number(w).map(|n| (f64::from(n), 1))
}

fn unit_at(words: &[&str], i: usize, extra: &dyn Extra) -> Option<u32> {
    super::unit_days(words.get(i)?, extra)
}

/// Voice-to-text's numbers, read only right before a unit: "won week", "fore days", and
/// after a first part "a week and to days".
fn homophone(w: &str, after_a_part: bool) -> Option<f64> {
    match w {
        "won" => Some(1.0),
        "fore" => Some(4.0),
        "to" | "too" if after_a_part => Some(2.0),
        _ => None,
    }
}

/// "and a half", "y medio", "et demi": half of the unit more.
fn half_after(words: &[&str], i: usize) -> Option<usize> {
    match (words.get(i), words.get(i + 1), words.get(i + 2)) {
        (Some(&"and" | &"n"), Some(&"a"), Some(&"half")) => Some(3),
        // "one and half month", "a month n half"
        (Some(&"and" | &"n" | &"&"), Some(&"half"), _) => Some(2),
        (Some(&"y"), Some(&"medio") | Some(&"media"), _) => Some(2),
        (Some(&"et"), Some(&"demi") | Some(&"demie"), _) => Some(2),
        _ => None,
    }
}

/// A duration starting at `i`: "2 weeks", "a week and 2 days", "3 weeks + 1 day", "a
/// fortnight", "a couple of weeks", "a month and a half", "half a month", "quince dias",
/// "mes y medio".
pub(super) fn duration_at(words: &[&str], i: usize, extra: &dyn Extra) -> Option<(u32, usize)> {
    let mut j = i;
    let mut total = 0.0_f64;
    let mut parts = 0;
    let mut french_fortnight = false;
    let mut last_unit = u32::MAX;
    loop {
        let start = j;
        // "half a month"
        if words.get(j) == Some(&"half")
            && matches!(words.get(j + 1), Some(&"a") | Some(&"an"))
            && let Some(u) = unit_at(words, j + 2, extra)
        {
            total += f64::from(u) / 2.0;
            j += 3;
        } else {
            // Voice-to-text's homophones count only right before a unit.
            let heard = || {
                unit_at(words, j + 1, extra)?;
                homophone(words.get(j)?, parts > 0).map(|n| (n, 1))
            };
            let (n, used) = match number_at(words, j, extra).or_else(heard) {
                Some(x) => x,
                // A unit alone only with its half: "mes y medio", "semana y media".
                None if parts == 0
                    && unit_at(words, j, extra).is_some()
                    && half_after(words, j + 1).is_some() =>
                {
                    (1.0, 0)
                }
                None => break,
            };
            let mut k = j + used;
            if words.get(k) == Some(&"of") && words.get(j) == Some(&"couple") {
                k += 1;
            }
            while words
                .get(k)
                .is_some_and(|w| filler(w) && *w != "de" && *w != "d")
            {
                k += 1;
            }
            // "one and a half months", "2 and half weeks": the half before the unit.
            let mut n = n;
            if let Some(h) = half_after(words, k).filter(|h| unit_at(words, k + h, extra).is_some())
            {
                n += 0.5;
                k += h;
            }
            // "décale de 48h": whole days said in hours.
            let hours = matches!(
                words.get(k),
                Some(&"h") | Some(&"hours") | Some(&"hrs") | Some(&"heures") | Some(&"horas")
            ) && n >= 24.0
                && n % 24.0 == 0.0;
            if hours {
                n /= 24.0;
            }
            // "repoussez d'un moi": "mois" lost its s.
            let moi = words.get(k) == Some(&"moi")
                && k >= 2
                && words[k - 1] == "un"
                && words[k - 2] == "d";
            let Some(u) = unit_at(words, k, extra)
                .or(hours.then_some(1))
                .or(moi.then_some(30))
            else {
                break;
            };
            last_unit = u;
            // French: "quinze jours" / "15 jours" is two weeks, "huit jours" one.
            if u == 1 && matches!(words.get(k), Some(&"jours")) && (n == 15.0 || n == 8.0) {
                french_fortnight = true;
            }
            let mut amount = n * f64::from(u);
            if french_fortnight {
                amount = if n == 15.0 { 14.0 } else { 7.0 };
            }
            k += 1;
            if let Some(h) = half_after(words, k) {
                amount += f64::from(u) / 2.0;
                k += h;
            }
            total += amount;
            j = k;
        }
        parts += 1;
        if j == start {
            break;
        }
        // "and 2 days", "+ 1 day", "y 3 dias", "et 2 jours"
        match words.get(j) {
            // "1 week n 1 day": "n" is "and" here.
            Some(&"and") | Some(&"n") | Some(&"+") | Some(&"y") | Some(&"et") | Some(&"plus")
                if number_at(words, j + 1, extra).is_some() =>
            {
                j += 1;
            }
            // "1wk 2days", "2 weeks 3 days": a smaller unit straight after.
            Some(w)
                if w.parse::<u32>().is_ok()
                    && unit_at(words, j + 1, extra).is_some_and(|u| u < last_unit) => {}
            _ => break,
        }
    }
    if parts == 0 || total <= 0.0 {
        return None;
    }
    Some((total.floor().min(3650.0) as u32, j - i))
}

/// A vague amount: "a bit", "a while", "a few days", "some time", "un poco", "un peu".
pub(super) fn vague_at(words: &[&str], i: usize, extra: &dyn Extra) -> Option<usize> {
    let w = |k: usize| words.get(i + k).copied().unwrap_or("");
    let is_unit = |k: usize| unit_at(words, i + k, extra).is_some();
    match (w(0), w(1), w(2)) {
        ("a", "few" | "couple", _) if !is_unit(2) && w(2) != "of" => Some(2),
        ("a", "few", _) => Some(if is_unit(2) { 3 } else { 2 }),
        ("few" | "several" | "some", _, _) if is_unit(1) => Some(2),
        ("a", "little", "longer" | "while" | "bit") => Some(3),
        ("a", "bit" | "while" | "little", _) => Some(2),
        ("a", "week" | "month", "or") if w(3) == "two" => Some(4),
        ("un", "petit" | "ti", "peu") => Some(3),
        ("some", "time", _) | ("un", "poco" | "peu" | "peux" | "rato", _) => Some(2),
        // "un poquito", "un toque", "un chin", "un moment", "un brin": a little while.
        (
            "un",
            "poquito" | "poquitito" | "toque" | "chin" | "ratito" | "tiempito" | "moment" | "brin",
            _,
        ) => Some(2),
        ("un", "tiempo", _) | ("quelques", _, _) | ("unos" | "unas", "dias" | "semanas", _) => {
            Some(2)
        }
        ("little", "longer" | "while", _) | ("bit", "longer", _) => Some(2),
        _ => None,
    }
}

pub(super) fn next_week_at(words: &[&str], i: usize) -> Option<usize> {
    let w = |k: usize| words.get(i + k).copied().unwrap_or("");
    match (w(0), w(1), w(2)) {
        ("next", "week", _) | ("semaine", "prochaine", _) | ("prochaine", "semaine", _) => Some(2),
        ("proxima" | "siguiente", "semana", _) | ("semana", "siguiente" | "proxima", _) => Some(2),
        ("semana", "que", "viene") => Some(3),
        _ => None,
    }
}

/// "1-2 weeks" (the dash is dropped: "1 2 weeks"), "2 or 3 weeks", "2 to 3 weeks", "2
/// weeks or 3", "dos o tres semanas", "2 ou 3 semaines".
pub(super) fn range_at(words: &[&str], i: usize, extra: &dyn Extra) -> Option<usize> {
    let num = |k: usize| number_at(words, k, extra).filter(|(n, _)| *n >= 1.0);
    let (_, a) = num(i)?;
    let mut j = i + a;
    if let Some((_, d)) = duration_at(words, j, extra).filter(|_| j > i) {
        // "1 2 weeks": a number right before a duration.
        if words[i].parse::<u32>().is_ok() && words[j].parse::<u32>().is_ok() {
            return Some(a + d);
        }
    }
    if let Some((_, d)) = duration_at(words, i, extra) {
        // "2 weeks or 3"
        let k = i + d;
        if matches!(
            words.get(k),
            Some(&"or") | Some(&"o") | Some(&"ou") | Some(&"to")
        ) && words
            .get(k + 1)
            .is_some_and(|w| w.parse::<u32>().is_ok() || cardinal(w).is_some())
        {
            let extra_unit = usize::from(unit_at(words, k + 2, extra).is_some());
            return Some(d + 2 + extra_unit);
        }
        return None;
    }
    // "2 or 3 weeks", "2 to 3 weeks"
    if matches!(
        words.get(j),
        Some(&"or") | Some(&"o") | Some(&"ou") | Some(&"to") | Some(&"a")
    ) {
        j += 1;
        if let Some((_, d)) = duration_at(words, j, extra) {
            return Some(j + d - i);
        }
    }
    None
}
