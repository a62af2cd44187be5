//! One `[[rules]]` table: its keys, keywords, phrases and delay settings.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::*;

/// Parses one `[[rules]]` table. Returns the rule's name (for duplicate detection, even
/// when the rule itself is invalid) and the rule when it is complete.
pub(super) fn parse_rule(
    cx: &mut Ctx<'_>,
    t: &DeTable<'_>,
    span: &Range<usize>,
) -> (Option<(String, usize)>, Option<RuleSpec>) {
    let mut name: Option<(String, usize)> = None;
    let mut action: Option<Action> = None;
    let mut action_bad = false;
    let mut keywords = Vec::new();
    let mut phrases = Vec::new();
    let mut priority = 0i32;
    let mut default_days: Option<(u32, Range<usize>)> = None;
    let mut max_days: Option<(u32, Range<usize>)> = None;
    let mut bare_unit: Option<(u32, Range<usize>)> = None;
    let mut keywords_line = None;
    for (k, v) in t.iter() {
        match k.get_ref().as_ref() {
            "name" => {
                if let Some(s) = cx.string("name", v) {
                    if s.trim().is_empty() {
                        cx.problem(
                            &v.span(),
                            "rule `name` is empty",
                            "give the rule a short name, e.g. name = \"skip\"",
                        );
                    } else {
                        name = Some((s.trim().to_owned(), cx.line(&v.span())));
                    }
                }
            }
            "action" => {
                if let Some(s) = cx.string("action", v) {
                    action = parse_action(&s);
                    if action.is_none() {
                        action_bad = true;
                        cx.problem(
                            &v.span(),
                            format!("unknown action {s:?}"),
                            "use one of skip, delay, help, undo, status",
                        );
                    }
                }
            }
            "keywords" => {
                keywords_line = Some(cx.line(&v.span()));
                keywords = cx.word_list("keywords", v, true);
            }
            "phrases" => phrases = cx.word_list("phrases", v, false),
            "priority" => {
                if let Some(p) = cx.integer("priority", v, 0, 1000) {
                    priority = p as i32;
                }
            }
            "default_days" => {
                default_days = cx
                    .integer("default_days", v, 1, i64::from(MAX_DAYS_LIMIT))
                    .map(|d| (d, v.span()))
            }
            "max_days" => {
                max_days = cx
                    .integer("max_days", v, 1, i64::from(MAX_DAYS_LIMIT))
                    .map(|d| (d, v.span()))
            }
            "bare_unit" => {
                if let Some(u) = cx.string("bare_unit", v) {
                    match u.trim() {
                        "days" | "day" => bare_unit = Some((1, v.span())),
                        "weeks" | "week" => bare_unit = Some((7, v.span())),
                        "months" | "month" => bare_unit = Some((30, v.span())),
                        other => cx.problem(
                            &v.span(),
                            format!("unknown bare_unit {other:?}"),
                            "use \"days\", \"weeks\" or \"months\" (the unit your reminder's \"DELAY 2\" means)",
                        ),
                    }
                }
            }
            // Kept for old files: the reader answers HELP wherever it is asked, so the key
            // no longer changes anything, but it must still be a boolean.
            "match_anywhere" => match v.get_ref() {
                DeValue::Boolean(_) => {}
                other => cx.problem(
                    &v.span(),
                    format!(
                        "`match_anywhere` must be true or false, found {}",
                        other.type_str()
                    ),
                    "write match_anywhere = true or match_anywhere = false",
                ),
            },
            _ => cx.unknown_key(k, "[[rules]]", RULE_KEYS),
        }
    }
    let rule_line = name.as_ref().map_or_else(|| cx.line(span), |(_, l)| *l);
    let rule_span = span.clone();
    let label = name
        .as_ref()
        .map_or_else(|| "(unnamed)".to_owned(), |(n, _)| n.clone());
    if name.is_none() {
        cx.problem(
            &rule_span,
            "rule without `name`",
            "add name = \"...\" to this [[rules]] entry",
        );
    }
    if action.is_none() && !action_bad {
        cx.problem(
            &rule_span,
            format!("rule {label:?} has no `action`"),
            "add action = one of \"skip\", \"delay\", \"help\", \"undo\", \"status\"",
        );
    }
    if keywords.is_empty() && phrases.is_empty() {
        cx.push_at(
            keywords_line.unwrap_or(rule_line),
            format!("rule {label:?} has no keywords"),
            "add at least one, e.g. keywords = [\"skip\"]",
        );
    }
    for item in keywords.iter().chain(phrases.iter()) {
        if item.norm.split(' ').any(is_opt_out_word) || item.norm.contains("opt out") {
            cx.push_at(
                item.line,
                format!("keyword {:?} is an opt-out word", item.raw),
                "remove it: opt-out words (STOP, CANCEL, END, QUIT, UNSUBSCRIBE, ...) always opt the shopper out and never trigger an action",
            );
        }
    }
    match action {
        Some(Action::Delay) => {
            if default_days.is_none() && !t.contains_key("default_days") {
                cx.push_at(
                    rule_line,
                    format!("delay rule {label:?} has no `default_days`"),
                    "add default_days = 14 (the delay when the shopper gives no duration)",
                );
            }
            if max_days.is_none() && !t.contains_key("max_days") {
                cx.push_at(
                    rule_line,
                    format!("delay rule {label:?} has no `max_days`"),
                    "add max_days = 90 (the longest delay a shopper may ask for)",
                );
            }
            if let (Some((d, dspan)), Some((m, _))) = (&default_days, &max_days)
                && d > m
            {
                cx.problem(
                    dspan,
                    format!("default_days ({d}) is greater than max_days ({m})"),
                    "lower default_days or raise max_days",
                );
            }
        }
        Some(other) => {
            for (key, v) in [
                ("default_days", &default_days),
                ("max_days", &max_days),
                ("bare_unit", &bare_unit),
            ] {
                if let Some((_, s)) = v {
                    cx.problem(
                        s,
                        format!(
                            "`{key}` is only used by delay rules, but rule {label:?} is a {} rule",
                            other.as_str()
                        ),
                        format!("remove `{key}`"),
                    );
                }
            }
        }
        None => {}
    }
    let (Some(name), Some(action)) = (name.clone(), action) else {
        return (name, None);
    };
    let rule = RuleSpec {
        name: name.0.clone(),
        line: rule_line,
        action,
        keywords,
        phrases,
        priority,
        default_days: default_days.map(|(d, _)| d),
        max_days: max_days.map(|(d, _)| d),
        bare_unit_days: bare_unit.map(|(d, _)| d),
    };
    (Some(name), Some(rule))
}
