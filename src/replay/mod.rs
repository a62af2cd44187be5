//! `keyroute replay`: QA replays inbound-message fixtures (format: `docs/fixtures.md`) and
//! checks what keyroute did with each.
//!
//! Both modes deliver signed webhooks over HTTP and read each message's outcome back through
//! the admin API (`GET /api/v1/messages/{id}`), so a fixture means the same thing against the
//! in-process sandbox (`--sandbox`: a fresh world per fixture) and against a running server
//! (`--target`: whatever world that server talks to, not reset between fixtures).

mod compare;
pub mod fixture;
pub mod report;
pub mod sandbox;

pub use compare::compare;
use compare::resolve_dates;

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use fixture::{Expect, ExpectedEvent, Fixture, Found, Message, World};

/// How the run is set up: the `keyroute replay` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// A running keyroute (staging) to send signed webhooks to.
    #[arg(long, conflicts_with = "sandbox", required_unless_present = "sandbox")]
    pub target: Option<String>,
    /// Run each fixture against a fresh in-process keyroute and simulated platforms.
    #[arg(long)]
    pub sandbox: bool,
    /// Fixture files or folders (searched recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: report::Format,
    /// Give every delivery a new event_data.id (for repeat runs against one server).
    #[arg(long)]
    pub fresh_ids: bool,
    /// With --target: an admin token of that server, to read outcomes back.
    #[arg(long, env = "KEYROUTE_REPLAY_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// With --target: the shop's webhook signing token that server expects.
    #[arg(long, env = "KEYROUTE_REPLAY_WEBHOOK_TOKEN", hide_env_values = true)]
    pub webhook_token: Option<String>,
    /// With --sandbox: use this database (e.g. PostgreSQL) instead of a throwaway SQLite file.
    #[arg(long, conflicts_with = "target")]
    pub database: Option<String>,
}

/// What happened to one message, as read back.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Actual {
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<u64>,
    pub events: Vec<ExpectedEvent>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MessageResult {
    pub index: usize,
    pub id: String,
    /// The world's shopper who sent it, when the fixture names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub opt_out: bool,
    pub text: String,
    pub expected: Expect,
    pub actual: Actual,
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FixtureResult {
    pub path: String,
    pub description: Option<String>,
    pub passed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub messages: Vec<MessageResult>,
    pub seconds: f64,
}

/// Runs every fixture and prints the report. True when every expectation held.
pub async fn run(opts: Options) -> anyhow::Result<bool> {
    let found = fixture::discover(&opts.paths).map_err(|e| anyhow::anyhow!(e))?;
    let results = run_found(found, &opts, true).await?;
    report::print(&results, opts.format)?;
    Ok(results.iter().all(|r| r.passed))
}

/// Runs the given fixtures, in order, and returns what happened to each.
pub async fn run_found(
    found: Vec<Found>,
    opts: &Options,
    show_progress: bool,
) -> anyhow::Result<Vec<FixtureResult>> {
    anyhow::ensure!(!found.is_empty(), "no fixtures found under the given paths");
    if opts.target.is_some() {
        anyhow::ensure!(
            opts.admin_token.is_some(),
            "--target needs --admin-token (or KEYROUTE_REPLAY_ADMIN_TOKEN) to read outcomes back"
        );
    }
    // Ids stay as written unless asked, or unless fixtures share one database (sandbox with
    // --database), where a second run would otherwise meet only duplicates.
    let run_suffix = (opts.fresh_ids || (opts.target.is_none() && opts.database.is_some()))
        .then(|| format!("_{}", &uuid::Uuid::new_v4().simple().to_string()[..10]));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut progress = show_progress.then(|| report::Progress::new(found.len()));
    let mut results = Vec::with_capacity(found.len());
    for (n, f) in found.into_iter().enumerate() {
        let started = Instant::now();
        // Per fixture too: two fixtures may carry the same real payload id.
        let suffix = run_suffix.as_ref().map(|s| format!("{s}_{n}"));
        let result = run_fixture(opts, &http, &f, suffix.as_deref()).await;
        let mut result = match result {
            Ok(r) => r,
            Err(e) => FixtureResult {
                path: f.path.display().to_string(),
                description: f.fixture.as_ref().ok().and_then(|x| x.description.clone()),
                passed: false,
                error: Some(format!("{e:#}")),
                messages: Vec::new(),
                seconds: 0.0,
            },
        };
        result.seconds = started.elapsed().as_secs_f64();
        if let Some(p) = progress.as_mut() {
            p.done(&result);
        }
        results.push(result);
    }
    if let Some(p) = &progress {
        p.finish();
    }
    Ok(results)
}

/// Where deliveries go and how outcomes are read back.
struct Endpoint<'a> {
    base: String,
    webhook_token: String,
    admin_token: String,
    sandbox: Option<&'a sandbox::Sandbox>,
}

async fn run_fixture(
    opts: &Options,
    http: &reqwest::Client,
    found: &Found,
    run_suffix: Option<&str>,
) -> anyhow::Result<FixtureResult> {
    let fixture = found.fixture.as_ref().map_err(|e| anyhow::anyhow!("{e}"))?;
    let (_, world) = found.world.as_ref().map_err(|e| anyhow::anyhow!("{e}"))?;
    let sandbox = match &opts.target {
        Some(_) => None,
        None => Some(sandbox::Sandbox::start(world, opts.database.as_deref()).await?),
    };
    let endpoint = match (&opts.target, &sandbox) {
        (Some(url), _) => Endpoint {
            base: url.trim_end_matches('/').to_owned(),
            webhook_token: opts.webhook_token.clone().unwrap_or_default(),
            admin_token: opts.admin_token.clone().unwrap_or_default(),
            sandbox: None,
        },
        (None, Some(s)) => Endpoint {
            base: s.app.base_url(),
            webhook_token: sandbox::WEBHOOK_TOKEN.to_owned(),
            admin_token: sandbox::ADMIN_TOKEN.to_owned(),
            sandbox: Some(s),
        },
        (None, None) => unreachable!("a sandbox is started when there is no target"),
    };
    let outcome = play(http, &endpoint, world, fixture, &found.path, run_suffix).await;
    if let Some(s) = sandbox {
        s.stop().await;
    }
    let messages = outcome?;
    Ok(FixtureResult {
        path: found.path.display().to_string(),
        description: fixture.description.clone(),
        passed: messages.iter().all(|m| m.problems.is_empty()),
        error: None,
        messages,
        seconds: 0.0,
    })
}

async fn play(
    http: &reqwest::Client,
    endpoint: &Endpoint<'_>,
    world: &World,
    fixture: &Fixture,
    path: &std::path::Path,
    run_suffix: Option<&str>,
) -> anyhow::Result<Vec<MessageResult>> {
    let tz = jiff::tz::TimeZone::get(&world.shop.timezone)?;
    let today = jiff::Timestamp::now().to_zoned(tz).date();
    let slug: String = path
        .with_extension("")
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect::<String>()
        .trim_matches('_')
        .chars()
        .rev()
        .take(60)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let mut ids: Vec<String> = Vec::new();
    let mut seen_events: HashSet<String> = HashSet::new();
    let mut results = Vec::new();
    for (i, msg) in fixture.messages.iter().enumerate() {
        let id = match (&msg.id, msg.same_id_as) {
            (_, Some(k)) => ids.get(k.wrapping_sub(1)).cloned().ok_or_else(|| {
                anyhow::anyhow!(
                    "message {}: same_id_as = {k} names no earlier message",
                    i + 1
                )
            })?,
            (Some(id), None) => format!("{id}{}", run_suffix.unwrap_or("")),
            (None, None) => format!("im_fx_{slug}_{}{}", i + 1, run_suffix.unwrap_or("")),
        };
        ids.push(id.clone());
        let (body, id) = build_body(world, msg, &id, run_suffix)
            .map_err(|e| anyhow::anyhow!("message {}: {e}", i + 1))?;
        let signature = msg
            .signature
            .clone()
            .unwrap_or_else(|| endpoint.webhook_token.clone());
        let resp = http
            .post(format!("{}/webhooks/postscript", endpoint.base))
            .header("content-type", "application/json")
            .header("Postscript-Signature", signature)
            .body(body)
            .send()
            .await?;
        let status = resp.status().as_u16();
        let answer = resp
            .json::<Value>()
            .await
            .ok()
            .and_then(|v| v.get("status").and_then(Value::as_str).map(str::to_owned));
        let mut actual = Actual {
            status,
            answer,
            ..Actual::default()
        };
        if let Some(id) = &id {
            read_back(http, endpoint, id, &mut actual, &mut seen_events).await?;
        }
        let expected = resolve_dates(&msg.expect, today);
        let problems = compare(&expected, &actual);
        results.push(MessageResult {
            index: i + 1,
            id: id.unwrap_or_default(),
            from: msg.from.clone(),
            opt_out: msg.opt_out,
            text: msg.text.clone().unwrap_or_else(|| {
                msg.payload
                    .as_deref()
                    .map(|p| p.chars().take(60).collect())
                    .unwrap_or_default()
            }),
            expected,
            actual,
            problems,
        });
    }
    Ok(results)
}

/// The webhook body for a message, and the `event_data.id` it carries (when it has one).
fn build_body(
    world: &World,
    msg: &Message,
    id: &str,
    run_suffix: Option<&str>,
) -> Result<(Vec<u8>, Option<String>), String> {
    if let Some(raw) = &msg.payload {
        // A real or malformed payload goes as written, but a real one is pointed at the
        // world's shop. Its id changes only when asked: an explicit `id` or `same_id_as`, or
        // a run suffix on a non-empty id (an empty or odd id is often the point of the fixture).
        return Ok(match serde_json::from_str::<Value>(raw) {
            Ok(mut v) if v.get("event_data").is_some_and(Value::is_object) => {
                v["resource_id"] = json!(world.shop.id);
                v["event_data"]["shop_id"] = json!(world.shop.id);
                let written = v["event_data"]["id"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned);
                if msg.id.is_some() || msg.same_id_as.is_some() {
                    v["event_data"]["id"] = json!(id);
                } else if let (Some(written), Some(suffix)) = (written, run_suffix) {
                    v["event_data"]["id"] = json!(format!("{written}{suffix}"));
                }
                let id = v["event_data"]
                    .get("id")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                (serde_json::to_vec(&v).expect("json"), id)
            }
            _ => (raw.as_bytes().to_vec(), None),
        });
    }
    let name = msg
        .from
        .as_deref()
        .ok_or("needs `from` (a shopper of the world) or `payload`")?;
    let shopper = world
        .shopper(name)
        .ok_or_else(|| format!("no shopper {name:?} in the world"))?;
    let text = msg.text.as_deref().ok_or("needs `text`")?;
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string();
    let body = json!({
        "webhook_id": uuid::Uuid::new_v4().to_string(),
        "resource_type": "shop",
        "resource_id": world.shop.id,
        "event_time": now,
        "event": "shop.incoming_message",
        "event_data": {
            "id": id,
            "subscriber_id": shopper.subscriber_id,
            "shop_id": world.shop.id,
            "is_opt_out": msg.opt_out,
            "shopify_customer_id": msg.shopify_customer_id,
            "from_number": shopper.phone,
            "created_at": now,
            "body": text,
        }
    });
    Ok((
        serde_json::to_vec(&body).expect("json"),
        Some(id.to_owned()),
    ))
}

/// Reads the message back once its jobs are done: interpretation and the events sent for it
/// that earlier messages of the fixture had not already produced.
async fn read_back(
    http: &reqwest::Client,
    endpoint: &Endpoint<'_>,
    id: &str,
    actual: &mut Actual,
    seen: &mut HashSet<String>,
) -> anyhow::Result<()> {
    if let Some(s) = endpoint.sandbox {
        anyhow::ensure!(s.settle().await, "jobs did not finish within 30 s");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let view = loop {
        let resp = http
            .get(format!("{}/api/v1/messages/{id}", endpoint.base))
            .bearer_auth(&endpoint.admin_token)
            .send()
            .await?;
        match resp.status().as_u16() {
            404 => return Ok(()),
            200 => {}
            401 => anyhow::bail!("the admin API refused the admin token"),
            s => anyhow::bail!("GET /api/v1/messages/{id}: HTTP {s}"),
        }
        let view: Value = resp.json().await?;
        let finished = view["jobs"].as_array().is_none_or(|jobs| {
            jobs.iter()
                .all(|j| matches!(j["state"].as_str(), Some("completed" | "discarded")))
        });
        if finished {
            break view;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "message {id}: jobs still running after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    actual.action = view["interpretation"]["action"].as_str().map(str::to_owned);
    actual.days = view["interpretation"]["days"].as_u64();
    for o in view["outcomes"].as_array().into_iter().flatten() {
        if o["event_state"] != "sent" {
            continue;
        }
        let event = &o["event"];
        let key = event["external_id"].as_str().unwrap_or_default().to_owned();
        if !seen.insert(key) {
            continue;
        }
        actual.events.push(ExpectedEvent {
            kind: event["type"].as_str().unwrap_or_default().to_owned(),
            properties: event["properties"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        });
    }
    Ok(())
}
