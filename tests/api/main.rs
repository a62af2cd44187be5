//! Black-box tests: the real server on port 0, simulated platforms on loopback.
//! One binary, so the crate is linked once.

mod cli;
mod flows;
mod helpers;
mod outbound;
mod owners;
mod platforms;
mod protocol;
mod records;
mod replay;
mod replicas;
mod strict;
mod webhook;
