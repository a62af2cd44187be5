//! `keyroute demo`: the whole path of a reply, offline. Replays a tour of the bundled fixture
//! library (`tests/fixtures`, compiled into the binary so the demo runs anywhere) through the
//! QA replay machinery: for each fixture, simulated Postscript and the five platforms are
//! seeded from the fixtures' world, the real router starts on a fresh SQLite database, signed
//! webhooks go in, and what came out is printed and checked against the fixture.

use serde_json::Value;

use crate::replay::fixture::Found;
use crate::replay::{self, FixtureResult, MessageResult, report};
use crate::telemetry::mask_phone;

const WORLD: &str = include_str!("../tests/fixtures/world.toml");

/// The tour: one fixture per thing worth seeing, in the order a newcomer would ask about them.
const TOUR: &[(&str, &str)] = &[
    (
        "skio/redelivery.toml",
        include_str!("../tests/fixtures/skio/redelivery.toml"),
    ),
    (
        "skip_twice/skio.toml",
        include_str!("../tests/fixtures/skip_twice/skio.toml"),
    ),
    (
        "undo/after_skip_skio.toml",
        include_str!("../tests/fixtures/undo/after_skip_skio.toml"),
    ),
    (
        "loop/delay_two_weeks.toml",
        include_str!("../tests/fixtures/loop/delay_two_weeks.toml"),
    ),
    (
        "loop/help.toml",
        include_str!("../tests/fixtures/loop/help.toml"),
    ),
    (
        "smartrr/skip_polite.toml",
        include_str!("../tests/fixtures/smartrr/skip_polite.toml"),
    ),
    (
        "prive/delay_two_weeks.toml",
        include_str!("../tests/fixtures/prive/delay_two_weeks.toml"),
    ),
    (
        "recharge/skip.toml",
        include_str!("../tests/fixtures/recharge/skip.toml"),
    ),
    (
        "multi/two_platforms_skip_earliest_loop.toml",
        include_str!("../tests/fixtures/multi/two_platforms_skip_earliest_loop.toml"),
    ),
    (
        "language/es_retrasar_2_semanas.toml",
        include_str!("../tests/fixtures/language/es_retrasar_2_semanas.toml"),
    ),
    (
        "typos/sikp.toml",
        include_str!("../tests/fixtures/typos/sikp.toml"),
    ),
    (
        "negations/dont_skip.toml",
        include_str!("../tests/fixtures/negations/dont_skip.toml"),
    ),
    (
        "no_subscription/skip.toml",
        include_str!("../tests/fixtures/no_subscription/skip.toml"),
    ),
    (
        "opt_out/flagged_skio.toml",
        include_str!("../tests/fixtures/opt_out/flagged_skio.toml"),
    ),
];

pub async fn run() -> anyhow::Result<bool> {
    let world: replay::fixture::World = toml::from_str(WORLD)?;
    println!(
        "keyroute demo: {} scenarios from the bundled fixture library (tests/fixtures).\n\
         For each, Postscript and Skio, Loop, Smartrr, Prive and Recharge are simulated on loopback,\n\
         the real router runs on a fresh SQLite database, and signed webhooks go in.\n\
         Shop {} ({}). Dates are relative to today.\n",
        TOUR.len(),
        world.shop.id,
        world.shop.timezone
    );
    let found = TOUR
        .iter()
        .map(|(path, text)| Found::from_texts(&format!("tests/fixtures/{path}"), text, WORLD))
        .collect();
    let options = replay::Options {
        target: None,
        sandbox: true,
        paths: Vec::new(),
        format: report::Format::Table,
        fresh_ids: false,
        admin_token: None,
        webhook_token: None,
        database: None,
    };
    let results = replay::run_found(found, &options, false).await?;
    for (n, r) in results.iter().enumerate() {
        print_fixture(n + 1, r, &world);
    }
    let events: usize = results
        .iter()
        .flat_map(|r| &r.messages)
        .map(|m| m.actual.events.len())
        .sum();
    let replies: usize = results.iter().map(|r| r.messages.len()).sum();
    let passed = results.iter().filter(|r| r.passed).count();
    println!(
        "Done: {replies} replies in {} scenarios, {events} events sent to Postscript; \
         {passed} of {} scenarios did exactly what their fixture expects.",
        results.len(),
        results.len()
    );
    println!("Replay the whole library: keyroute replay --sandbox tests/fixtures");
    Ok(passed == results.len())
}

fn print_fixture(n: usize, r: &FixtureResult, world: &replay::fixture::World) {
    println!(
        "{n}. {}  [{}]",
        r.description.as_deref().unwrap_or(""),
        r.path
    );
    if let Some(e) = &r.error {
        println!("   error: {e}");
    }
    for m in &r.messages {
        print_message(m, world);
    }
    let verdict = if r.passed {
        "as expected"
    } else {
        "NOT as expected:"
    };
    println!("   -> {verdict}");
    for m in &r.messages {
        for p in &m.problems {
            println!("      message {}: {p}", m.index);
        }
    }
    println!();
}

fn print_message(m: &MessageResult, world: &replay::fixture::World) {
    let who = m
        .from
        .as_deref()
        .and_then(|name| world.shopper(name))
        .map(|s| {
            let platforms: Vec<&str> = s
                .subscriptions
                .iter()
                .map(|x| x.platform.as_str())
                .collect();
            let on = if platforms.is_empty() {
                "no subscription".to_owned()
            } else {
                platforms.join(" + ")
            };
            format!("{} ({}, {on})", s.name, mask_phone(&s.phone))
        })
        .unwrap_or_else(|| "a sender".to_owned());
    let flag = if m.opt_out {
        "  [Postscript marks it an opt-out]"
    } else {
        ""
    };
    println!("   {who} texts {:?}{flag}", m.text);
    let a = &m.actual;
    let answer = a
        .answer
        .as_deref()
        .map_or(format!("HTTP {}", a.status), |s| s.to_owned());
    let matched = match (&a.action, a.days) {
        (Some(action), Some(days)) => format!("{action} {days} days"),
        (Some(action), None) => action.clone(),
        (None, _) => "no action".to_owned(),
    };
    println!("     webhook: {answer}; read as: {matched}");
    if a.events.is_empty() {
        println!("     event to Postscript: none");
    }
    for e in &a.events {
        let props: Vec<String> = e
            .properties
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect();
        println!("     event to Postscript: {} {}", e.kind, props.join(" "));
    }
}
