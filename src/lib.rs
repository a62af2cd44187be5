//! keyroute: inbound SMS keyword router for subscription commerce.
//!
//! A reply arrives from Postscript ([`http::webhook`]), is read against the shop's keyword
//! rules ([`keywords`]), and is stored with a job in one transaction ([`store`]). The worker
//! ([`worker`]) claims the job and carries out the intent ([`act`]) on the shopper's
//! subscription platform ([`platforms`]), then tells Postscript ([`postscript`]) so the
//! merchant's flow can text the confirmation.

/// Carrying out one message's intent, step by recorded step.
pub mod act;
/// Wiring: builds the state, binds the listener, runs server and worker, shuts down.
pub mod app;
/// The command line (`serve`, `migrate`, `match`, `replay`, `rules check`, `demo`).
pub mod cli;
/// Typed configuration: file plus `KEYROUTE_*` environment, validated at start-up.
pub mod config;
/// `keyroute demo`: the whole path against simulated platforms, offline.
pub mod demo;
/// The HTTP surface: webhook, health, metrics, admin.
pub mod http;
/// Keyword rule files and the matcher: reply text → intent.
pub mod keywords;
/// Subscription platform adapters behind one trait.
pub mod platforms;
/// Postscript's API: custom events and subscriber lookups.
pub mod postscript;
/// `keyroute replay`: QA fixtures replayed against the sandbox or a staging server.
pub mod replay;
/// Simulated Postscript and platforms on loopback, for the demo, replay and tests.
pub mod sandbox;
/// The database: messages, jobs, outcomes.
pub mod store;
/// Logging set-up and masking of personal data.
pub mod telemetry;
/// The job loop: claim, run, retry, rescue, shut down.
pub mod worker;
