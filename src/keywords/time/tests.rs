use super::*;

struct NoExtra;
impl Extra for NoExtra {
    fn unit_days(&self, _: &str) -> Option<u32> {
        None
    }
    fn number(&self, _: &str) -> Option<u32> {
        None
    }
}

fn today() -> Date {
    jiff::civil::date(2027, 3, 10)
}

fn first(text: &str) -> Option<When> {
    let n = super::super::normalize::normalize(text);
    let words: Vec<&str> = (0..n.tokens.len()).map(|i| n.word(i)).collect();
    scan(&words, today(), &NoExtra)
        .into_iter()
        .find(|f| f.bare.is_none())
        .map(|f| f.when)
}

fn d(m: i8, day: i8) -> When {
    When::Until(jiff::civil::date(2027, m, day))
}

#[test]
fn durations_in_every_spelling() {
    for (text, days) in [
        ("2 weeks", 14),
        ("two weeks", 14),
        ("2 wks", 14),
        ("1 wk", 7),
        ("a fortnight", 14),
        ("a couple of weeks", 14),
        ("a couple weeks", 14),
        ("1 week and 2 days", 9),
        ("3 weeks + 1 day", 22),
        ("a week and a half", 10),
        ("a month and a half", 45),
        ("one and half month", 45),
        ("one and a half weeks", 10),
        ("1 week n 1 day", 8),
        ("half a month", 15),
        ("two months", 60),
        ("10 days", 10),
        ("twenty one days", 21),
        ("2 more weeks", 14),
        ("quince dias", 15),
        ("dos semanas", 14),
        ("un mes y medio", 45),
        ("mes y medio", 45),
        ("quinze jours", 14),
        ("15 jours", 14),
        ("deux semaines", 14),
        ("un mois et demi", 45),
        ("une quinzaine", 14),
        ("una quincena", 15),
    ] {
        assert_eq!(first(text), Some(When::Days(days)), "{text}");
    }
}

#[test]
fn vague_amounts() {
    for text in [
        "a bit",
        "a while",
        "a few days",
        "a few weeks",
        "un poco",
        "un peu",
        "a week or two",
    ] {
        assert_eq!(first(text), Some(When::Vague), "{text}");
    }
}

#[test]
fn dates_from_a_wednesday() {
    for (text, want) in [
        ("to the 21st", d(3, 21)),
        ("until the 10th", d(4, 10)),
        ("until friday", d(3, 12)),
        ("till monday", d(3, 15)),
        ("until after april 4th", d(4, 5)),
        ("after the 4th of april", d(4, 5)),
        ("until april 4", d(4, 4)),
        ("next month", d(4, 1)),
        ("in april", d(4, 1)),
        ("the first week of april", d(4, 1)),
        ("mid april", d(4, 15)),
        ("end of the month", d(3, 31)),
        ("until 3 / 30", d(3, 30)),
        ("hasta el 10 de mayo", d(5, 10)),
        ("jusqu au 2 avril", d(4, 2)),
        ("au 21", d(3, 21)),
        ("el proximo mes", d(4, 1)),
        ("le mois prochain", d(4, 1)),
        ("march 30th", d(3, 30)),
        ("the thirtieth of march", d(3, 30)),
        ("until after july 4th", d(7, 5)),
    ] {
        assert_eq!(first(text), Some(want), "{text}");
    }
    assert_eq!(
        first("until jan 8th"),
        Some(When::Until(jiff::civil::date(2028, 1, 8))),
        "a date already past is next year's"
    );
    assert_eq!(
        first("until christmas"),
        Some(When::Until(jiff::civil::date(2027, 12, 25)))
    );
}

#[test]
fn bare_numbers_are_left_to_the_rule() {
    let words = ["delay", "3"];
    let found = scan(&words, today(), &NoExtra);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].bare, Some(3));
}
