//! Checks across rules and files: names, keywords that mean two actions, negations.

use std::collections::HashMap;

use super::*;

pub(super) fn check_rule_names(cx: &mut Ctx<'_>, names: &[(String, usize)]) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (name, line) in names {
        if let Some(first) = seen.get(name.as_str()) {
            cx.push_at(
                *line,
                format!("duplicate rule name {name:?} (first defined at line {first})"),
                "rename one of the rules or merge their keywords into one",
            );
        } else {
            seen.insert(name, *line);
        }
    }
}

/// Checks that span files: one keyword or phrase must not trigger two different actions,
/// a rule name must mean one action everywhere, and a keyword must not also be a negation
/// (it would negate itself).
pub(in crate::keywords) fn cross_check(files: &[ParsedFile], problems: &mut Vec<Problem>) {
    struct Seen<'a> {
        file: &'a str,
        line: usize,
        rule: &'a str,
        action: Action,
    }
    let mut words: HashMap<&str, Seen<'_>> = HashMap::new();
    let mut names: HashMap<&str, Seen<'_>> = HashMap::new();
    let negations: HashMap<&str, ()> = files
        .iter()
        .flat_map(|f| f.grammar.negations.iter())
        .map(|i| (i.norm.as_str(), ()))
        .collect();
    for f in files {
        for r in &f.rules {
            match names.get(r.name.as_str()) {
                Some(prev) if prev.action != r.action => problems.push(Problem {
                    file: f.file.clone(),
                    line: r.line,
                    message: format!(
                        "rule name {:?} is a {} rule here but a {} rule in {}:{}",
                        r.name,
                        r.action.as_str(),
                        prev.action.as_str(),
                        prev.file,
                        prev.line
                    ),
                    fix: "give rules with different actions different names".to_owned(),
                }),
                Some(_) => {}
                None => {
                    names.insert(
                        &r.name,
                        Seen {
                            file: &f.file,
                            line: r.line,
                            rule: &r.name,
                            action: r.action,
                        },
                    );
                }
            }
            for item in r.keywords.iter().chain(r.phrases.iter()) {
                if negations.contains_key(item.norm.as_str()) {
                    problems.push(Problem {
                        file: f.file.clone(),
                        line: item.line,
                        message: format!(
                            "keyword {:?} is also listed in grammar.negations",
                            item.raw
                        ),
                        fix: "remove it from one of the two lists".to_owned(),
                    });
                }
                match words.get(item.norm.as_str()) {
                    Some(prev) if prev.action != r.action => problems.push(Problem {
                        file: f.file.clone(),
                        line: item.line,
                        message: format!(
                            "keyword {:?} is in rule {:?} ({}) and in rule {:?} ({}) at {}:{}",
                            item.raw,
                            r.name,
                            r.action.as_str(),
                            prev.rule,
                            prev.action.as_str(),
                            prev.file,
                            prev.line
                        ),
                        fix: "keep it in only one of the rules: a word can trigger only one action"
                            .to_owned(),
                    }),
                    Some(_) => {}
                    None => {
                        words.insert(
                            &item.norm,
                            Seen {
                                file: &f.file,
                                line: item.line,
                                rule: &r.name,
                                action: r.action,
                            },
                        );
                    }
                }
            }
        }
    }
}
