//! The `keyroute` binary as users run it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn keyroute() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_keyroute"));
    // Run from an empty directory so no keyroute.toml nearby is picked up, and make sure no
    // developer's KEYROUTE_* variables leak in.
    let dir = std::env::temp_dir();
    c.current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("KEYROUTE_") {
            c.env_remove(k);
        }
    }
    c
}

fn match_json(text: &str) -> Value {
    match_json_in(&[], "shop_1234567abcd", text)
}

/// `keyroute [ARGS] match --shop SHOP --json TEXT`: its one JSON object.
fn match_json_in(args: &[&str], shop: &str, text: &str) -> Value {
    let out = keyroute()
        .args(args)
        .args(["match", "--shop", shop, "--json", text])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        1,
        "exactly one JSON object: {stdout:?}"
    );
    serde_json::from_str(&stdout).unwrap()
}

#[test]
fn match_json_prints_the_contract_shape() {
    let v = match_json("Skip");
    assert_eq!(
        (v["action"].clone(), v["rule"].clone(), v["keyword"].clone()),
        (json!("skip"), json!("skip"), json!("skip"))
    );
    let v = match_json("DELAY 2 weeks");
    assert_eq!(
        (v["action"].clone(), v["days"].clone()),
        (json!("delay"), json!(14))
    );
    assert_eq!(match_json("delay 1 month")["days"], 30);
    assert_eq!(match_json("DELAY 10 days")["days"], 10);
    assert!(
        match_json("DELAY")["days"].as_u64().is_some(),
        "the rule's default"
    );
    assert_eq!(match_json("help")["action"], "help");
    let v = match_json("what time is it");
    assert_eq!(v, json!({"action": null, "reason": "no_match"}));
}

/// The shop's `confirm` (the contract's example config, with each of its three values):
/// "unsure" asks first only where the reading is not sure, "always" before every skip and
/// delay, "never" does nothing where it would have asked.
#[test]
fn match_follows_the_shops_confirm() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.toml");
    let shop = |id: &str, confirm: &str| {
        format!(
            "[[shops]]\nid = \"{id}\"\ntimezone = \"America/New_York\"\nmultiple = \"next\"\n\
             confirm = \"{confirm}\"\n[shops.postscript]\napi_key = \"k\"\nwebhook_token = \"t\"\n"
        )
    };
    let config = [("u", "unsure"), ("a", "always"), ("n", "never")]
        .map(|(id, c)| shop(id, c))
        .join("\n");
    std::fs::write(&path, config).unwrap();
    let config = ["--config", path.to_str().unwrap()];
    let read = |shop: &str, text: &str| match_json_in(&config, shop, text);
    // Sure.
    assert_eq!(read("u", "skip")["action"], "skip");
    assert_eq!(read("n", "skip")["action"], "skip");
    let v = read("a", "skip");
    assert_eq!(
        (v["action"].clone(), v["confirm"].clone()),
        (json!(null), json!("skip"))
    );
    assert_eq!(read("a", "delay 2 weeks")["confirm"], "delay");
    assert_eq!(read("a", "delay 2 weeks")["days"], 14);
    assert_eq!(
        read("a", "help")["action"],
        "help",
        "help is not asked about"
    );
    // Probable: a change beside a help request.
    let v = read("u", "help, and skip please");
    assert_eq!(
        (v["action"].clone(), v["confirm"].clone()),
        (json!(null), json!("skip"))
    );
    assert_eq!(
        read("n", "help, and skip please"),
        json!({"action": null, "reason": "unsure"})
    );
    // An unknown value is refused, naming the key.
    std::fs::write(&path, shop("x", "sometimes")).unwrap();
    let out = keyroute()
        .args([
            "--config",
            path.to_str().unwrap(),
            "match",
            "--shop",
            "x",
            "skip",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("confirm"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn match_takes_several_words_as_one_message() {
    let out = keyroute()
        .args(["match", "--shop", "s", "--json", "delay", "3", "weeks"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["days"], 21);
}

#[test]
fn config_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[[shops]]\nid = \"s1\"\ntimezone = \"Mars/Olympus\"\n[shops.postscript]\napi_key = \"k\"\nwebhook_token = \"t\"\n",
    )
    .unwrap();
    let out = keyroute()
        .args(["--config", path.to_str().unwrap(), "migrate"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("shops[0].timezone"), "{err}");

    std::fs::write(
        &path,
        "[server]\nlisten = \"127.0.0.1:0\"\nlisten_port = 3\n",
    )
    .unwrap();
    let out = keyroute()
        .args(["--config", path.to_str().unwrap(), "migrate"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen_port"));

    let out = keyroute()
        .args(["migrate"])
        .env("KEYROUTE_DATABASE__URL", "mysql://nope")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("database.url"));
}

#[test]
fn serve_migrates_answers_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = keyroute()
        .arg("serve")
        .env("KEYROUTE_SERVER__LISTEN", "127.0.0.1:0")
        .env(
            "KEYROUTE_DATABASE__URL",
            format!("sqlite://{}/k.db?mode=rwc", dir.path().display()),
        )
        .env("KEYROUTE_LOG_FORMAT", "json")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        assert!(Instant::now() < deadline, "server did not start");
        let Some(line) = lines.next() else {
            panic!("server exited early: {:?}", child.wait());
        };
        let line = line.unwrap();
        eprintln!("{line}");
        let v: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(_) => continue,
        };
        if v["message"] == "keyroute listening" {
            break v["addr"].as_str().unwrap().to_owned();
        }
    };
    let resp = reqwest::blocking_get(&format!("http://{addr}/readyz"));
    assert_eq!(resp, 200);
    // SIGTERM: graceful stop, exit 0.
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

mod reqwest {
    /// A tiny blocking GET on a fresh runtime (the test itself is synchronous).
    pub fn blocking_get(url: &str) -> u16 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async { ::reqwest::get(url).await.unwrap().status().as_u16() })
    }
}

#[test]
fn rules_check_passes_the_shipped_rules() {
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/keywords");
    let out = keyroute()
        .args(["rules", "check", shipped])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn rules_check_names_file_line_and_fix_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("en.toml"),
        "language = \"en\"\n\n[[rules]]\nname = \"skip\"\naction = \"skp\"\nkeywords = [\"skip\"]\n\n[[rules]]\nname = \"wait\"\naction = \"delay\"\nkeywords = [\"stop\"]\ndefault_days = 30\nmax_days = 10\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("fr.toml"), "language = \"fr\"\n[[rules]\n").unwrap();
    let out = keyroute()
        .args(["rules", "check", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("en.toml:5: unknown action \"skp\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("fix: use one of skip, delay, help, undo"),
        "{stdout}"
    );
    assert!(
        stdout.contains("en.toml:11:") && stdout.contains("opt-out word"),
        "{stdout}"
    );
    assert!(
        stdout.contains("default_days (30) is greater than max_days (10)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("fr.toml:2:"),
        "a syntax error names its line: {stdout}"
    );
    // A server refuses to start on such rules, naming the problem.
    let cfg = dir.path().join("k.toml");
    std::fs::write(
        &cfg,
        format!("[keywords]\ndir = \"{}\"\n", dir.path().display()),
    )
    .unwrap();
    let out = keyroute()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "match",
            "--shop",
            "s",
            "skip",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("skp"));
}

#[test]
fn demo_runs_offline_and_every_scenario_is_as_expected() {
    let out = keyroute().arg("demo").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for platform in ["skio", "loop", "smartrr", "prive", "recharge"] {
        assert!(
            stdout.contains(&format!("platform={platform}")),
            "no {platform} event in:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("14 of 14 scenarios did exactly what their fixture expects"),
        "{stdout}"
    );
}
