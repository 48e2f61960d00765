//! Flood: the Socket.IO 0.9 load tester behind the `flood` binary (FLOOD.md, docs/flood.md).
//!
//! # Layout
//! - [`scenario`], [`inherit`], [`action`]: the scenario model, session inheritance and the
//!   compiled action lists.
//! - [`meta`]: per-user metadata and `$` substitution.
//! - [`ctx`], [`interp`], [`matching`], [`erlfmt`]: a user's script state and the interpreter.
//! - [`user`], [`link`], [`dial`], [`ws`], [`http`]: the user actor and its transports.
//! - [`modern`]: the Socket.IO 5/4 (Engine.IO 4/3) mapping of the `protocol` session key.
//! - [`pool`]: the dynamic supervisor of users (temporary children); [`cores`]: the per-core
//!   runtimes users are spread over (`--cores`).
//! - [`runner`], [`schedule`]: spawn cadence, goal checks, the verdict, the end of the run.
//! - [`rtt`]: round trips of emitted events (acks and same-name replies).
//! - [`histogram`]: the one latency histogram shape.
//! - [`cpu`]: flood's own CPU time and the machine's saturation verdict.
//! - [`stats`], [`result`], [`goal`], [`report`], [`console`]: measurements, the result
//!   document, draft-03 goal checks, the HTML report and progress output.

pub mod action;
pub mod console;
pub use otp::cores;
pub mod cpu;
pub mod ctx;
pub mod dial;
pub mod erlfmt;
pub mod error;
pub mod goal;
pub mod histogram;
pub mod http;
pub mod inherit;
pub mod interp;
pub mod link;
pub mod matching;
pub mod meta;
pub mod modern;
pub mod pool;
pub mod report;
pub mod result;
pub mod rtt;
pub mod runner;
pub mod scenario;
pub mod schedule;
pub mod stats;
pub mod user;
pub mod ws;

pub use error::FloodError;
pub use runner::{RunOptions, RunOutcome, run};
