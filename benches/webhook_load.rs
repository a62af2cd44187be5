//! Load generator: `cargo bench --bench webhook_load`.
//!
//! Starts the real server on loopback against simulated Postscript and Skio, then
//! 1. intake: fires `LOAD_N` signed SKIP webhooks (distinct shoppers, distinct message ids) with
//!    `LOAD_CONCURRENCY` in flight, and reports accepted webhooks per second and latency
//!    percentiles (each answer means "stored durably with its job");
//! 2. end to end: waits until every job has skipped its subscription and sent its event, and
//!    reports messages per second. Postscript allows 15 events/s per api key, so the shoppers
//!    are spread over `LOAD_SHOPS` shops (one key each), as on a real multi-shop deployment.
//!
//! SQLite by default; set `TEST_POSTGRES_URL` to run on a fresh PostgreSQL database.
//! Peak memory (VmHWM) of the whole process, load generator and simulators included, is
//! printed at the end.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use keyroute::app::{App, Options};
use keyroute::domain::{Multiple, PlatformKind};
use keyroute::harness::{self, Settings, ShopSetup};
use keyroute_sandbox::{Credentials, Sims, World, WorldShopper, WorldSubscription};
use serde_json::json;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; this harness takes its settings from the environment.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let n = env_usize("LOAD_N", 3000);
    let concurrency = env_usize("LOAD_CONCURRENCY", 32);
    let shops = env_usize("LOAD_SHOPS", 20).max(1);
    let dir = tempfile::tempdir()?;
    let db_url = harness::fresh_database(dir.path()).await?;
    let backend = if db_url.starts_with("sqlite:") {
        "SQLite"
    } else {
        "PostgreSQL"
    };

    // Each shop has its own Postscript key and its own Skio account, as in production; each
    // shop's world holds its share of the shoppers, each with one Skio subscription.
    let mut sims = Vec::with_capacity(shops);
    for s in 0..shops {
        let world = World {
            shoppers: (0..n)
                .filter(|i| i % shops == s)
                .map(|i| WorldShopper {
                    name: format!("shopper-{i}"),
                    phone: format!("+1555{i:07}"),
                    subscriber_id: format!("s_{i}"),
                    email: None,
                    shopify_customer_id: None,
                    subscriptions: vec![WorldSubscription {
                        platform: "skio".into(),
                        id: format!("00000000-0000-4000-8000-{i:012}"),
                        next_in_days: 3,
                        interval_days: 30,
                        status: "active".into(),
                        shopify_id: None,
                        customer: None,
                        address_id: None,
                    }],
                })
                .collect(),
            ..World::default()
        };
        let set = Sims::start(Credentials {
            webhook_token: format!("tok_load_{s}"),
            postscript_key: format!("sk_load_{s}"),
            ..Credentials::with_prefix(&format!("load-{s}"))
        })
        .await?;
        set.postscript.set_rate_limit(Some(15));
        let tz = jiff::tz::TimeZone::get("America/New_York")?;
        let today = Timestamp::now().to_zoned(tz.clone()).date();
        set.seed(&world, today, &tz).map_err(anyhow::Error::msg)?;
        sims.push(set);
    }
    let ids: Vec<String> = (0..shops).map(|s| format!("shop_load_{s}")).collect();
    let setups: Vec<ShopSetup> = sims
        .iter()
        .zip(&ids)
        .map(|(set, id)| ShopSetup {
            id,
            timezone: "America/New_York",
            multiple: Multiple::Next,
            sims: set,
            platforms: &[PlatformKind::Skio],
            platform_keys: &[],
            all_platform_keys: "",
            postscript_keys: "",
        })
        .collect();
    let settings = Settings {
        max_connections: Some(10),
        concurrency: Some(32),
        poll_interval_ms: Some(100),
        ..Settings::default()
    };
    let config = harness::config(&db_url, &settings, &setups)?;
    let app = App::start(&config, Options { migrate: true }).await?;
    let url = format!("{}/webhooks/postscript", app.base_url());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;

    println!("keyroute load: {n} SKIP webhooks, {concurrency} in flight, {shops} shops, {backend}");
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(n);
    let mut accepted = 0usize;
    let bodies = (0..n).map(|i| {
        let shop = i % shops;
        let body = json!({
            "webhook_id": format!("wh-{i}"), "resource_type": "shop", "resource_id": format!("shop_load_{shop}"),
            "event_time": "2026-11-22T10:00:00.000000", "event": "shop.incoming_message",
            "event_data": {"id": format!("im_load_{i}"), "subscriber_id": format!("s_{i}"),
                "shop_id": format!("shop_load_{shop}"), "is_opt_out": false, "shopify_customer_id": null,
                "from_number": format!("+1555{i:07}"), "created_at": "2026-11-22T10:00:00.000000", "body": "Skip"}
        });
        (format!("tok_load_{shop}"), serde_json::to_vec(&body).expect("json"))
    });
    use futures::StreamExt;
    let mut results = futures::stream::iter(bodies)
        .map(|(token, body)| {
            let http = http.clone();
            let url = url.clone();
            async move {
                let t = Instant::now();
                let r = http
                    .post(&url)
                    .header("Postscript-Signature", token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                (t.elapsed(), r.map(|r| r.status().as_u16()).unwrap_or(0))
            }
        })
        .buffer_unordered(concurrency);
    while let Some((latency, status)) = results.next().await {
        latencies.push(latency);
        if status == 200 {
            accepted += 1;
        }
    }
    let intake = started.elapsed();
    latencies.sort();
    println!(
        "intake: {accepted}/{n} accepted in {:.2}s = {:.0} webhooks/s; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        intake.as_secs_f64(),
        accepted as f64 / intake.as_secs_f64(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
    );
    let done = app.wait_idle(Duration::from_secs(600)).await;
    let total = started.elapsed();
    let events: usize = sims.iter().map(|s| s.postscript.events().len()).sum();
    let skips: usize = sims.iter().map(|s| s.skio.requests_for("skip").len()).sum();
    println!(
        "end to end: {events} events, {skips} skips in {:.2}s = {:.0} messages/s{}",
        total.as_secs_f64(),
        events as f64 / total.as_secs_f64(),
        if done { "" } else { " (NOT all jobs finished)" }
    );
    if let Some(mib) = peak_rss_mib() {
        println!("peak RSS (server + simulators + load generator): {mib:.0} MiB");
    }
    app.shutdown().await;
    anyhow::ensure!(done && events == n && skips == n, "load run incomplete");
    Ok(())
}
