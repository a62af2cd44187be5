//! Several keyroute processes on one database.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use keyroute_sandbox::{Fault, FaultKind};
use serde_json::Value;

use crate::helpers::*;

/// A `keyroute serve` process on this test's config, optionally under a shifted clock.
struct Replica {
    child: Child,
    pub url: String,
    _config: tempfile::NamedTempFile,
}

impl Replica {
    fn start(t: &TestApp, timing: &Timing, clock_offset: Option<&str>) -> Replica {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = tempfile::NamedTempFile::new().unwrap();
        let text = t.config_text(timing).replace(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"127.0.0.1:{port}\""),
        );
        std::fs::write(config.path(), text).unwrap();
        let bin = env!("CARGO_BIN_EXE_keyroute");
        let mut cmd = match clock_offset {
            Some(offset) => {
                let mut c = Command::new("faketime");
                // Only the wall clock moves: tokio's timers keep the real monotonic clock.
                c.env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
                    .args(["-f", offset, bin]);
                c
            }
            None => Command::new(bin),
        };
        for (k, _) in std::env::vars() {
            if k.starts_with("KEYROUTE_") {
                cmd.env_remove(k);
            }
        }
        // Its own process group: faketime runs keyroute as a child of its own, and killing
        // faketime alone would leave that server running after the test.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .args(["serve", "--config"])
            .arg(config.path())
            .env("KEYROUTE_LOG_FORMAT", "text")
            .env("RUST_LOG", "warn")
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start keyroute serve");
        Replica {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _config: config,
        }
    }

    /// Waits until the replica answers `/readyz`.
    async fn ready(&self, http: &reqwest::Client) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("{}/readyz", self.url)).send().await
                && r.status() == 200
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "replica never ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        // The whole group (the server, and faketime when it wraps it).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn have_faketime() -> bool {
    Command::new("faketime")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Leases are counted on the database's clock: a replica whose clock is five minutes slow
/// holds its lease as long as any other, so nobody rescues a job it is still working on.
/// PostgreSQL only: SQLite's clock is each process's own (and SQLite means one process).
#[tokio::test]
async fn a_replica_with_a_slow_clock_keeps_its_lease() {
    if std::env::var("TEST_POSTGRES_URL").is_err() {
        eprintln!("replicas share a clock only on PostgreSQL: skipping on SQLite");
        return;
    }
    if !have_faketime() {
        eprintln!("faketime is not installed (apt-get install faketime): skipping");
        return;
    }
    let timing = Timing {
        lease_seconds: 1,
        ..Timing::default()
    };
    let mut t = spawn_app_with(timing.clone()).await;
    t.app.take().unwrap().shutdown().await;
    // Replica B, five minutes behind, takes the job; its skip is slow to answer.
    t.skio.inject(Fault::once(
        "skip",
        FaultKind::Delay(Duration::from_millis(2500)),
    ));
    let b = Replica::start(&t, &timing, Some("-5m"));
    b.ready(&t.http).await;
    let id = message_id();
    let r = t
        .http
        .post(format!("{}/webhooks/postscript", b.url))
        .header("Postscript-Signature", WEBHOOK_TOKEN)
        .json(&payload(&id, SKIO_SUBSCRIBER, SKIO_PHONE, "skip"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while t.skio.requests_for("skip").is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no replica sent the skip"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Replica A (a true clock) runs its rescuer while B's skip is in flight.
    t.start(&timing).await;
    t.drain().await;
    assert_eq!(t.skio.skips_applied(SKIO_SUB), 1, "skipped twice");
    assert_eq!(
        t.skio.requests_for("skip").len(),
        1,
        "a second replica repeated the skip"
    );
    let m: Value = t
        .admin_get(&format!("/api/v1/messages/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(m["jobs"][0]["attempt"], 1, "never rescued: {m}");
    assert_eq!(t.events().len(), 1);
}
