//! keyroute-sandbox: simulated third-party APIs for `keyroute demo`, `keyroute replay --sandbox`,
//! `keyroute sandbox` and the black-box tests. This crate depends on nothing in keyroute: the
//! simulators are written from `shared/platforms.md`, not from the adapters.
//!
//! Each simulator is a real HTTP server on `127.0.0.1:<random port>` that behaves like the
//! platform described in `shared/platforms.md`: same paths, methods, auth headers, bodies and
//! answer shapes, with state that writes really change. Point a config's `base_url` at
//! `sim.base_url()`. Every simulator also records the requests it received
//! ([`RecordedRequest`]) and can be told to misbehave ([`Fault`]), so tests can check what
//! keyroute sent and how it copes with lost answers, 429s and refusals.
//!
//! The shared plumbing lives in `common.rs`; a platform file only describes its own API.

mod common;
mod loop_sim;
mod postscript;
mod prive;
mod recharge;
mod skio;
mod smartrr;
pub mod world;

pub use common::{DateForm, Fault, FaultKind, RateLimit, RecordedRequest, Simulator};
pub use loop_sim::{LoopCustomer, LoopSim, LoopSub};
pub use postscript::{PostscriptSim, SimSubscriber};
pub use prive::{PriveSim, PriveSub};
pub use recharge::{RechargeSim, RechargeSub};
pub use skio::{SkioSim, SkioSub};
pub use smartrr::{SmartrrSim, SmartrrSub};
pub use world::{Credentials, Sims, World, WorldShop, WorldShopper, WorldSubscription};
