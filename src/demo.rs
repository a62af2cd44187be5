//! `keyroute demo`: the whole path of a reply, offline. Starts simulated Postscript, Skio and
//! Loop on loopback, seeds a few shoppers, starts the real router against them on a throwaway
//! SQLite database, sends the bundled demo replies as signed webhooks, and prints what
//! happened to each.

use std::time::Duration;

use jiff::{Timestamp, ToSpan};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::{App, Options};
use crate::config::Config;
use crate::sandbox::{
    LoopSim, LoopSub, PostscriptSim, PriveSim, PriveSub, RechargeSim, RechargeSub, SimSubscriber,
    SkioSim, SkioSub, SmartrrSim, SmartrrSub,
};
use crate::telemetry::mask_phone;

const SHOP: &str = "shop_demo";
const WEBHOOK_TOKEN: &str = "demo-webhook-token";
const API_KEY: &str = "sk_demo";
const SKIO_TOKEN: &str = "demo-skio";
const LOOP_TOKEN: &str = "demo-loop";
const SMARTRR_TOKEN: &str = "demo-smartrr";
const PRIVE_TOKEN: &str = "demo-prive";
const RECHARGE_TOKEN: &str = "demo-recharge";
const TZ: &str = "America/New_York";

/// The replies the demo sends, in order (bundled with the binary).
const SCRIPT: &str = include_str!("demo_script.toml");

#[derive(Deserialize)]
struct Script {
    shopper: Vec<DemoShopper>,
    message: Vec<DemoMessage>,
}

#[derive(Deserialize)]
struct DemoShopper {
    name: String,
    phone: String,
    subscriber_id: String,
    email: String,
    /// `skio`, `loop`, `smartrr`, `prive`, `recharge`, or absent (no subscription anywhere).
    platform: Option<String>,
    /// Days from today to the next order.
    next_in_days: i64,
}

#[derive(Deserialize)]
struct DemoMessage {
    shopper: String,
    text: String,
    #[serde(default)]
    opt_out: bool,
    /// Send the previous message's id again (a Postscript redelivery).
    #[serde(default)]
    redeliver: bool,
}

pub async fn run() -> anyhow::Result<()> {
    let script: Script = toml::from_str(SCRIPT)?;
    let dir = tempfile_dir()?;
    let postscript = PostscriptSim::start(API_KEY).await;
    postscript.set_webhook_token(WEBHOOK_TOKEN);
    let skio = SkioSim::start(SKIO_TOKEN).await;
    let loop_ = LoopSim::start(LOOP_TOKEN).await;
    let smartrr = SmartrrSim::start(SMARTRR_TOKEN).await;
    let prive = PriveSim::start(PRIVE_TOKEN).await;
    let recharge = RechargeSim::start(RECHARGE_TOKEN).await;
    // The demo shows keyroute's own throttling, not the simulated vendors' buckets.
    recharge.set_rate_limiter(None);
    prive.set_rate_limiter(None);
    let tz = jiff::tz::TimeZone::get(TZ)?;
    let today = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    for (n, s) in script.shopper.iter().enumerate() {
        let next = today
            .checked_add(s.next_in_days.days())?
            .at(16, 0, 0, 0)
            .to_zoned(jiff::tz::TimeZone::UTC)?
            .timestamp();
        let customer = 7_000_000 + n as i64;
        postscript.add_subscriber(SimSubscriber {
            id: s.subscriber_id.clone(),
            phone: s.phone.clone(),
            email: Some(s.email.clone()),
            shopify_customer_id: Some(customer),
        });
        match s.platform.as_deref() {
            Some("skio") => skio.add_subscription(SkioSub {
                id: format!("skio-sub-{n}"),
                phone: s.phone.clone(),
                email: Some(s.email.clone()),
                status: "ACTIVE".into(),
                next_billing: next,
                interval_days: 30,
            }),
            Some("loop") => loop_.add_subscription(LoopSub {
                id: 41_000 + n as i64,
                shopify_id: 9_100_000 + n as i64,
                customer_shopify_id: customer,
                email: Some(s.email.clone()),
                status: "ACTIVE".into(),
                next_billing_epoch: next.as_second(),
                interval_days: 30,
            }),
            Some("smartrr") => smartrr.add_subscription(SmartrrSub {
                id: format!("ps_{n}"),
                cust_rel_id: format!("cr_{n}"),
                email: s.email.clone(),
                status: "ACTIVE".into(),
                next_billing: next,
                interval_days: 30,
            }),
            Some("prive") => prive.add_subscription(PriveSub {
                id: format!("prv_{n}"),
                subscriber_external_id: Some(customer.to_string()),
                email: Some(s.email.clone()),
                status: "ACTIVE".into(),
                next_billing: next,
                interval_days: 30,
            }),
            Some("recharge") => recharge.add_subscription(RechargeSub {
                id: 700 + n as i64,
                customer_id: 800 + n as i64,
                email: s.email.clone(),
                address_id: 1,
                status: "active".into(),
                next_charge: next.to_zoned(tz.clone()).date(),
                interval_days: 30,
            }),
            _ => {}
        }
    }

    let config = Config::from_toml_str(&format!(
        r#"
[server]
listen = "127.0.0.1:0"
[database]
url = "sqlite://{db}/demo.db?mode=rwc"
[admin]
tokens = ["demo-admin-token"]
[worker]
backoff_base_ms = 50
poll_interval_ms = 50
[[shops]]
id = "{SHOP}"
timezone = "{TZ}"
[shops.postscript]
api_key = "{API_KEY}"
webhook_token = "{WEBHOOK_TOKEN}"
base_url = "{ps}"
[shops.platforms.skio]
api_token = "{SKIO_TOKEN}"
base_url = "{skio}"
[shops.platforms.loop]
api_token = "{LOOP_TOKEN}"
base_url = "{lp}"
[shops.platforms.smartrr]
api_token = "{SMARTRR_TOKEN}"
base_url = "{smartrr}"
[shops.platforms.prive]
api_token = "{PRIVE_TOKEN}"
base_url = "{prive}"
[shops.platforms.recharge]
api_token = "{RECHARGE_TOKEN}"
base_url = "{recharge}"
"#,
        db = dir.display(),
        ps = postscript.base_url(),
        skio = skio.base_url(),
        lp = loop_.base_url(),
        smartrr = smartrr.base_url(),
        prive = prive.base_url(),
        recharge = recharge.base_url(),
    ))?;
    let app = App::start(&config, Options { migrate: true }).await?;
    let http = reqwest::Client::new();
    println!(
        "keyroute demo: shop {SHOP} ({TZ}) on Skio, Loop, Smartrr, Prive and Recharge; router on {};\n\
         Postscript and every platform simulated on loopback\n",
        app.base_url()
    );

    let mut last_id = String::new();
    for (n, m) in script.message.iter().enumerate() {
        let shopper = script
            .shopper
            .iter()
            .find(|s| s.name == m.shopper)
            .ok_or_else(|| anyhow::anyhow!("demo script: unknown shopper {}", m.shopper))?;
        let id = if m.redeliver {
            last_id.clone()
        } else {
            format!("im_demo{:04}", n + 1)
        };
        let body = json!({
            "webhook_id": format!("wh_demo{n}"),
            "resource_type": "shop",
            "resource_id": SHOP,
            "event_time": Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
            "event": "shop.incoming_message",
            "event_data": {
                "id": id, "subscriber_id": shopper.subscriber_id, "shop_id": SHOP,
                "is_opt_out": m.opt_out, "shopify_customer_id": null,
                "from_number": shopper.phone,
                "created_at": Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
                "body": m.text,
            }
        });
        let events_before = postscript.events().len();
        let answer: Value = http
            .post(format!("{}/webhooks/postscript", app.base_url()))
            .header("Postscript-Signature", WEBHOOK_TOKEN)
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        app.wait_idle(Duration::from_secs(30)).await;
        last_id = id.clone();
        let platform = shopper.platform.as_deref().unwrap_or("no platform");
        println!(
            "{}. {} ({}, {platform}) texts {:?}{}",
            n + 1,
            shopper.name,
            mask_phone(&shopper.phone),
            m.text,
            if m.opt_out {
                "  [Postscript marks it an opt-out]"
            } else if m.redeliver {
                "  [Postscript delivers it again]"
            } else {
                ""
            }
        );
        println!(
            "   webhook answer: {}",
            answer["status"].as_str().unwrap_or("?")
        );
        if !m.redeliver
            && let Some(msg) = app.store().message(&id).await?
        {
            println!("   matched: {}", describe_match(&msg.interpretation));
        }
        if m.redeliver {
            println!("   (nothing new: the first delivery already did the work)\n");
            continue;
        }
        for o in app.store().outcomes(&id).await? {
            let what = match (o.state, o.platform.as_deref()) {
                (crate::store::OutcomeState::Done, Some(p)) => format!(
                    "{p} {} subscription {}: next order {} -> {}",
                    match o.action.as_str() {
                        "skip" => "skipped",
                        "undo" => "restored",
                        _ => "rescheduled",
                    },
                    o.subscription_id.as_deref().unwrap_or("?"),
                    o.previous_date.as_deref().unwrap_or("?"),
                    o.new_date.as_deref().unwrap_or("?"),
                ),
                (crate::store::OutcomeState::Done, None) => {
                    "answered (no platform write)".to_owned()
                }
                _ => format!("not done: {}", o.reason.as_deref().unwrap_or("?")),
            };
            println!("   platform: {what}");
        }
        let events = postscript.events();
        for e in &events[events_before..] {
            println!(
                "   event to Postscript: {} {}",
                e["type"].as_str().unwrap_or("?"),
                e["properties"]
            );
        }
        if events.len() == events_before {
            println!("   event to Postscript: none");
        }
        println!();
    }
    let count = |op: &str| {
        skio.requests_for(op).len()
            + loop_.requests_for(op).len()
            + smartrr.requests_for(op).len()
            + prive.requests_for(op).len()
            + recharge.requests_for(op).len()
    };
    println!(
        "Done: {} replies, {} events sent, {} skip(s) and {} date change(s) made on the platforms.",
        script.message.len(),
        postscript.events().len(),
        count("skip"),
        count("set_date"),
    );
    app.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// `{"action":"delay","days":14,...}` → `delay 14 days (rule "delay", keyword "delay")`.
fn describe_match(interpretation: &str) -> String {
    let v: Value = serde_json::from_str(interpretation).unwrap_or(Value::Null);
    match v["action"].as_str() {
        Some(action) => {
            let days = v["days"]
                .as_u64()
                .map(|d| format!(" {d} days"))
                .unwrap_or_default();
            format!(
                "{action}{days} (rule {}, keyword {})",
                v["rule"], v["keyword"]
            )
        }
        None => format!("no action ({})", v["reason"].as_str().unwrap_or("no_match")),
    }
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("keyroute-demo-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
