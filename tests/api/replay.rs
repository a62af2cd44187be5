//! `keyroute replay` as QA runs it.

use std::path::Path;

use keyroute::replay::{fixture, sandbox};
use serde_json::Value;

const WORLD: &str = r#"
[shop]
id = "shop_fx"
timezone = "America/New_York"

[[shopper]]
name = "ava"
phone = "+15550000001"
subscriber_id = "s_ava"
[[shopper.subscription]]
platform = "skio"
id = "7a0c5e2b-1d3f-4a6b-9c8d-0e1f2a3b4c5d"
next_in_days = 5

[[shopper]]
name = "rick"
phone = "+15550000002"
subscriber_id = "s_rick"
email = "rick@example.com"
[[shopper.subscription]]
platform = "recharge"
id = "701"
next_in_days = 3

[[shopper]]
name = "lou"
phone = "+15550000003"
subscriber_id = "s_lou"
shopify_customer_id = 3003
[[shopper.subscription]]
platform = "loop"
id = "41003"
next_in_days = 8
"#;

const SKIP: &str = r#"
description = "Skio SKIP, then a redelivery"
[[message]]
from = "ava"
text = "Skip"
[message.expect]
answer = "accepted"
action = "skip"
[[message.expect.events]]
type = "order_skipped"
properties = { platform = "skio", new_delivery_date = "today+35", skipped_date = "today+5" }
[[message]]
from = "ava"
text = "Skip"
same_id_as = 1
[message.expect]
answer = "duplicate"
events = []
"#;

const DELAY: &str = r#"
[[message]]
from = "rick"
text = "delay 2 weeks"
[message.expect]
action = "delay"
days = 14
[[message.expect.events]]
type = "order_delayed"
properties = { new_delivery_date = "today+17", delay_days = 14, platform = "recharge" }
"#;

const HELP: &str = r#"
[[message]]
from = "lou"
text = "help"
[message.expect]
[[message.expect.events]]
type = "keyword_help"
properties = { next_delivery_date = "today+8" }
[[message]]
from = "lou"
text = "what is in my box?"
[message.expect]
answer = "ignored"
action = "none"
events = []
"#;

const WRONG: &str = r#"
description = "a deliberately wrong expectation"
[[message]]
from = "rick"
text = "delay 2 weeks"
[message.expect]
[[message.expect.events]]
type = "order_delayed"
properties = { new_delivery_date = "today+20" }
"#;

fn write_library(dir: &Path, with_wrong: bool) {
    std::fs::write(dir.join("world.toml"), WORLD).unwrap();
    std::fs::create_dir_all(dir.join("flows")).unwrap();
    std::fs::write(dir.join("flows/skip.toml"), SKIP).unwrap();
    std::fs::write(dir.join("flows/delay.toml"), DELAY).unwrap();
    std::fs::write(dir.join("flows/help.toml"), HELP).unwrap();
    if with_wrong {
        std::fs::write(dir.join("flows/wrong.toml"), WRONG).unwrap();
    }
}

async fn replay(args: &[&str]) -> (Option<i32>, String, String) {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_keyroute"));
    for (k, _) in std::env::vars() {
        if k.starts_with("KEYROUTE_") {
            c.env_remove(k);
        }
    }
    let out = c.arg("replay").args(args).output().await.unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn bundled_library_passes_in_the_sandbox() {
    let library = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let db = crate::helpers::fresh_postgres_database().await;
    let mut args = vec!["--sandbox", library];
    if let Some(db) = &db {
        args.extend(["--database", db.as_str()]);
    }
    let (code, stdout, stderr) = replay(&args).await;
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let last = stdout.lines().last().unwrap_or_default();
    let passed: usize = last.split(' ').next().unwrap().parse().unwrap();
    assert!(passed >= 150, "the library has {passed} fixtures");
}

#[tokio::test]
async fn a_wrong_expectation_fails_with_a_diff() {
    let dir = tempfile::tempdir().unwrap();
    write_library(dir.path(), true);
    let (code, stdout, _) = replay(&["--sandbox", dir.path().to_str().unwrap()]).await;
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL") && stdout.contains("wrong.toml"),
        "{stdout}"
    );
    assert!(
        stdout.contains("expected:") && stdout.contains("actual:"),
        "{stdout}"
    );
    assert!(stdout.contains("new_delivery_date: expected"), "{stdout}");
    assert!(
        stdout.trim_end().ends_with("3 passed, 1 failed"),
        "{stdout}"
    );
    // JUnit for CI systems says the same.
    let (code, xml, _) = replay(&[
        "--sandbox",
        "--format",
        "junit",
        dir.path().to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, Some(1));
    assert!(xml.contains(r#"tests="4" failures="1""#), "{xml}");
    assert!(xml.contains("<failure message="), "{xml}");
}

/// Per fixture: passed, and what each message did (ids aside).
fn summary(json: &str) -> Vec<(String, bool, Vec<Value>)> {
    let v: Value = serde_json::from_str(json).unwrap();
    v["fixtures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let path = f["path"].as_str().unwrap();
            let name = Path::new(path)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let actual = f["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["actual"].clone())
                .collect();
            (name, f["passed"].as_bool().unwrap(), actual)
        })
        .collect()
}

#[tokio::test]
async fn target_mode_gives_the_same_results_as_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    write_library(dir.path(), false);
    let lib = dir.path().to_str().unwrap();
    let (code, sandboxed, err) = replay(&["--sandbox", "--format", "json", lib]).await;
    assert_eq!(code, Some(0), "{sandboxed}{err}");

    // A staging server: the real app on port 0 against simulators seeded from the same world.
    let world = fixture::load_world(&dir.path().join("world.toml")).unwrap();
    let server = sandbox::Sandbox::start(&world, None).await.unwrap();
    let base = server.app.base_url();
    let (code, targeted, err) = replay(&[
        "--target",
        &base,
        "--admin-token",
        sandbox::ADMIN_TOKEN,
        "--webhook-token",
        sandbox::WEBHOOK_TOKEN,
        "--format",
        "json",
        lib,
    ])
    .await;
    assert_eq!(code, Some(0), "{targeted}{err}");
    assert_eq!(summary(&sandboxed), summary(&targeted));

    // Replaying again against the same server: every delivery is now a duplicate...
    let (code, again, _) = replay(&[
        "--target",
        &base,
        "--admin-token",
        sandbox::ADMIN_TOKEN,
        "--webhook-token",
        sandbox::WEBHOOK_TOKEN,
        lib,
    ])
    .await;
    assert_eq!(code, Some(1), "{again}");
    assert!(
        again.contains(r#"answer: expected "accepted", got "duplicate""#),
        "{again}"
    );
    // ...unless each delivery gets a fresh id.
    let (_, fresh, _) = replay(&[
        "--target",
        &base,
        "--admin-token",
        sandbox::ADMIN_TOKEN,
        "--webhook-token",
        sandbox::WEBHOOK_TOKEN,
        "--fresh-ids",
        "--format",
        "json",
        lib,
    ])
    .await;
    let v: Value = serde_json::from_str(&fresh).unwrap();
    let answers: Vec<&str> = v["fixtures"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["messages"].as_array().unwrap().iter())
        .filter_map(|m| m["actual"]["answer"].as_str())
        .collect();
    assert!(answers.contains(&"accepted"), "{answers:?}");
    server.stop().await;
}
