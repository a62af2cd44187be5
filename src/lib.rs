//! keyroute: inbound SMS keyword router for subscription commerce.
//!
//! The path of one reply, one way: a Postscript webhook arrives ([`http`]), is read against
//! the shop's rules ([`keywords`]) and stored with a job ([`store`]); a worker claims the job
//! ([`jobs`]), finds the shopper, plans and makes the writes on their platform
//! ([`platforms`]) and tells Postscript ([`postscript`]), every call out going through
//! [`outbound`]. [`domain`] and [`keywords`] are pure and sit below everything; nothing below
//! imports from above. The simulated platforms live apart, in the `keyroute-sandbox` crate.

/// Wiring: builds the state, binds the listener, runs server and worker, shuts down.
pub mod app;
/// A bounded cache with a time to live (subscribers, customers).
pub mod cache;
/// The command line (`serve`, `migrate`, `match`, `replay`, `rules check`, `demo`).
pub mod cli;
/// Typed configuration: file plus `KEYROUTE_*` environment, validated at start-up.
pub mod config;
/// `keyroute demo`: the whole path against simulated platforms, offline.
pub mod demo;
/// The vocabulary: platform, action, intent, shopper, subscription, dates, reasons, events.
pub mod domain;
/// One test harness: a seeded world of simulators and the config that points keyroute at it
/// (the API tests, replay's sandbox, the demo and the benches).
pub mod harness;
/// The HTTP surface: webhook, health, metrics, admin.
pub mod http;
/// The job queue's worker, and carrying out one message: lookup, plan (pure), write, confirm.
pub mod jobs;
/// Keyword rule files and the reader: reply text → intent, and how sure it is.
pub mod keywords;
/// Prometheus metrics, one registry per app.
pub mod metrics;
/// The one HTTP path out: client, rate-limit permits, call log, classification of answers.
pub mod outbound;
/// Subscription platform adapters behind one trait (their wire formats).
pub mod platforms;
/// Postscript's API: custom events and subscriber lookups.
pub mod postscript;
/// `keyroute replay`: QA fixtures replayed against the sandbox or a staging server.
pub mod replay;
/// A configured shop as the process holds it: rules, adapters, Postscript account, policy.
pub mod shop;
/// The database: messages, jobs, outcomes, call logs. Nothing else writes SQL.
pub mod store;
/// Logging set-up and masking of personal data.
pub mod telemetry;
