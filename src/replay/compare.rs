//! Expected against actual: which differences a fixture's expectations reveal, and the
//! `today+N` dates they are written with.

use jiff::ToSpan;
use serde_json::{Map, Value, json};

use super::Actual;
use super::fixture::{Expect, ExpectedEvent};

/// `today+N` / `today-N` / `today` in expected properties become dates in the shop's zone.
pub(super) fn resolve_dates(expect: &Expect, today: jiff::civil::Date) -> Expect {
    let mut e = expect.clone();
    for ev in e.events.iter_mut().flatten() {
        for v in ev.properties.values_mut() {
            if let Some(s) = v.as_str()
                && let Some(d) = relative_date(s, today)
            {
                *v = json!(d.to_string());
            }
        }
    }
    e
}

fn relative_date(s: &str, today: jiff::civil::Date) -> Option<jiff::civil::Date> {
    let rest = s.trim().strip_prefix("today")?;
    if rest.is_empty() {
        return Some(today);
    }
    let (sign, digits) = rest.split_at(1);
    let n: i64 = digits.trim().parse().ok()?;
    let n = match sign {
        "+" => n,
        "-" => -n,
        _ => return None,
    };
    today.checked_add(n.days()).ok()
}

/// Every way the actual outcome differs from what was expected.
pub fn compare(expected: &Expect, actual: &Actual) -> Vec<String> {
    let mut problems = Vec::new();
    let status = expected.status.unwrap_or(200);
    if actual.status != status {
        problems.push(format!(
            "HTTP status: expected {status}, got {}",
            actual.status
        ));
    }
    if let Some(answer) = &expected.answer
        && actual.answer.as_deref() != Some(answer.as_str())
    {
        problems.push(format!(
            "answer: expected {answer:?}, got {:?}",
            actual.answer.as_deref().unwrap_or("-")
        ));
    }
    if let Some(action) = &expected.action {
        let got = actual.action.as_deref().unwrap_or("none");
        if got != action {
            problems.push(format!("action: expected {action}, got {got}"));
        }
    }
    if let Some(days) = expected.days
        && actual.days != Some(days)
    {
        problems.push(format!(
            "days: expected {days}, got {}",
            actual.days.map_or("-".to_owned(), |d| d.to_string())
        ));
    }
    if let Some(events) = &expected.events {
        let mut unmatched: Vec<&ExpectedEvent> = actual.events.iter().collect();
        for want in events {
            match unmatched.iter().position(|got| event_matches(want, got)) {
                Some(i) => {
                    unmatched.remove(i);
                }
                None => problems.push(format!("missing event {}", describe_event(want, actual))),
            }
        }
        for extra in unmatched {
            problems.push(format!(
                "unexpected event {} {}",
                extra.kind,
                props(&extra.properties)
            ));
        }
    }
    problems
}

/// Equal as JSON, or as text when one side is a string (`"14"` and `14`, `"41001"` and 41001):
/// fixtures are hand-written and the contract's properties are mostly strings.
fn scalar_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), y) | (y, Value::String(x)) if !y.is_string() => {
            x.as_str() == y.to_string().as_str()
        }
        _ => a == b,
    }
}

fn event_matches(want: &ExpectedEvent, got: &ExpectedEvent) -> bool {
    want.kind == got.kind
        && want
            .properties
            .iter()
            .all(|(k, v)| got.properties.get(k).is_some_and(|g| scalar_eq(v, g)))
}

/// An expected event, and how the closest actual event of its type differs.
fn describe_event(want: &ExpectedEvent, actual: &Actual) -> String {
    let mut s = format!("{} {}", want.kind, props(&want.properties));
    if let Some(same) = actual.events.iter().find(|e| e.kind == want.kind) {
        let diffs: Vec<String> = want
            .properties
            .iter()
            .filter(|(k, v)| !same.properties.get(*k).is_some_and(|g| scalar_eq(v, g)))
            .map(|(k, v)| {
                format!(
                    "{k}: expected {v}, got {}",
                    same.properties
                        .get(k)
                        .map_or("nothing".to_owned(), |g| g.to_string())
                )
            })
            .collect();
        s.push_str(&format!(" ({})", diffs.join("; ")));
    }
    s
}

pub(crate) fn props(p: &std::collections::BTreeMap<String, Value>) -> String {
    let m: Map<String, Value> = p.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    Value::Object(m).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::Actual;

    fn ev(kind: &str, props: Value) -> ExpectedEvent {
        ExpectedEvent {
            kind: kind.into(),
            properties: props
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    #[test]
    fn relative_dates_resolve_in_both_directions() {
        let today = jiff::civil::date(2026, 11, 22);
        assert_eq!(
            relative_date("today+35", today).unwrap().to_string(),
            "2026-12-27"
        );
        assert_eq!(
            relative_date("today-1", today).unwrap().to_string(),
            "2026-11-21"
        );
        assert_eq!(relative_date("today", today), Some(today));
        assert_eq!(relative_date("tomorrow", today), None);
    }

    #[test]
    fn events_match_by_type_and_given_properties_only() {
        let actual = Actual {
            status: 200,
            answer: Some("accepted".into()),
            action: Some("delay".into()),
            days: Some(14),
            events: vec![ev(
                "order_delayed",
                json!({"delay_days": 14, "platform": "skio", "keyword": "delay"}),
            )],
        };
        let ok = Expect {
            action: Some("delay".into()),
            events: Some(vec![ev("order_delayed", json!({"delay_days": 14}))]),
            ..Expect::default()
        };
        assert!(compare(&ok, &actual).is_empty());
        let wrong = Expect {
            events: Some(vec![ev("order_delayed", json!({"delay_days": 7}))]),
            ..Expect::default()
        };
        let p = compare(&wrong, &actual);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("delay_days: expected 7, got 14"), "{p:?}");
        let none = Expect {
            events: Some(vec![]),
            ..Expect::default()
        };
        assert!(compare(&none, &actual)[0].starts_with("unexpected event order_delayed"));
    }
}
