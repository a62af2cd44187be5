//! The command line. `main` parses arguments, loads the configuration, and hands each command
//! to the module that owns it; nothing here knows how a command works inside.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::{self, App, Options};
use crate::config::Config;
use crate::keywords;

#[derive(Parser, Debug)]
#[command(
    name = "keyroute",
    version,
    about = "Inbound SMS keyword router for subscription commerce"
)]
pub struct Cli {
    /// Configuration file (default: ./keyroute.toml if present, else $KEYROUTE_CONFIG, else built-in defaults).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server and background workers (migrates first unless --no-migrate).
    Serve {
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Interpret one message with a shop's rules (no side effects, no network).
    Match {
        #[arg(long)]
        shop: String,
        /// Print exactly one JSON object.
        #[arg(long)]
        json: bool,
        #[arg(required = true, num_args = 1..)]
        text: Vec<String>,
    },
    /// QA: replay inbound-message fixtures (files or folders) and check their expectations.
    /// Exit 0 only when every expectation holds. Format: docs/fixtures.md.
    Replay(crate::replay::Options),
    /// Keyword rule files.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Run the router against built-in simulated platforms and show what happens to sample replies.
    Demo,
}

#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// Validate rule files; print each problem with file, line and a fix. Exit 1 on any error.
    Check { dir: Option<PathBuf> },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("keyroute: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { no_migrate } => {
            crate::telemetry::init("info");
            let config = Config::load(cli.config.as_deref())?;
            tracing::info!(source = ?config.source, shops = config.shops.len(), "configuration loaded");
            runtime()?.block_on(async {
                let mut signal = app::TerminationSignal::install()?;
                let options = Options {
                    migrate: !no_migrate,
                };
                let app = App::start(&config, options).await?;
                signal.recv().await;
                tracing::info!("shutting down");
                app.shutdown().await;
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            crate::telemetry::init("info");
            let config = Config::load(cli.config.as_deref())?;
            runtime()?.block_on(async {
                let store = crate::store::Store::connect(&config.database).await?;
                store.migrate().await?;
                store.close().await;
                anyhow::Ok(())
            })?;
            println!("migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        Command::Match { shop, json, text } => {
            let config = Config::load(cli.config.as_deref())?;
            if !config.shops.is_empty() && config.shop(&shop).is_none() {
                eprintln!(
                    "keyroute: note: shop {shop:?} is not configured; using the default rules"
                );
            }
            let rules = crate::shop::load_rules(&config)?;
            // Dates ("until the 21st") are the shop's: resolved from today in its zone.
            let tz = config
                .shop(&shop)
                .and_then(|s| jiff::tz::TimeZone::get(&s.timezone).ok())
                .unwrap_or(jiff::tz::TimeZone::UTC);
            let today = jiff::Timestamp::now().to_zoned(tz).date();
            let confirm = config.shop(&shop).map(|s| s.confirm).unwrap_or_default();
            let interpretation = rules.interpret_on(&text.join(" "), today).under(confirm);
            if json {
                println!("{}", serde_json::to_string(&interpretation)?);
            } else {
                let sure = interpretation.intent().is_some();
                match interpretation.reading() {
                    Some(i) => {
                        let amount = match (i.days, i.until) {
                            (_, Some(u)) => format!(" until {u}"),
                            (Some(d), None) => format!(" {d} days"),
                            (None, None) => String::new(),
                        };
                        let how = if sure { "" } else { "probably " };
                        let ask = if sure { "" } else { ", asks first" };
                        println!(
                            "{how}{}{amount} (rule {:?}, keyword {:?}{ask})",
                            i.action.as_str(),
                            i.rule,
                            i.keyword
                        );
                    }
                    None => println!(
                        "no action ({})",
                        serde_json::to_value(&interpretation)?["reason"]
                            .as_str()
                            .unwrap_or("no_match")
                    ),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay(options) => {
            crate::telemetry::init("error");
            let all_passed = runtime()?.block_on(crate::replay::run(options))?;
            Ok(if all_passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Rules {
            command: RulesCommand::Check { dir },
        } => {
            let dir = match dir {
                Some(d) => d,
                None => Config::load(cli.config.as_deref())?
                    .keywords
                    .dir
                    .unwrap_or_else(|| PathBuf::from("keywords")),
            };
            if !dir.is_dir() {
                anyhow::bail!("{}: not a directory", dir.display());
            }
            let problems = keywords::check_dir(&dir);
            for p in &problems {
                println!("{}:{}: {}\n    fix: {}", p.file, p.line, p.message, p.fix);
            }
            if problems.is_empty() {
                println!("{}: rule files OK", dir.display());
                Ok(ExitCode::SUCCESS)
            } else {
                println!("{} problem(s)", problems.len());
                Ok(ExitCode::from(1))
            }
        }
        Command::Demo => {
            crate::telemetry::init("error");
            let as_expected = runtime()?.block_on(crate::demo::run())?;
            Ok(if as_expected {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
