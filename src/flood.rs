//! Flood: the Socket.IO 0.9 load tester behind the `flood` binary (FLOOD.md, docs/flood.md).
//!
//! # Layout
//! - [`scenario`], [`inherit`], [`action`]: the scenario model, session inheritance and the
//!   compiled action lists.
//! - [`meta`]: per-user metadata and `$` substitution.
//! - [`stats`], [`result`], [`goal`], [`report`]: measurements, the result document, draft-03
//!   goal checks and the HTML report.
//! - [`schedule`]: spawn cadence and goal-check plans.

pub mod action;
pub mod error;
pub mod goal;
pub mod inherit;
pub mod meta;
pub mod result;
pub mod scenario;
pub mod stats;

pub use error::FloodError;
