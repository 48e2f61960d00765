//! Metrics with Hive's names and the monitor (admin) listener (HIVE.md section 10).

mod metrics;

pub use metrics::{Counter, INIT_METRICS, Metrics};
