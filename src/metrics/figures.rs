//! The process-wide switch of the monitor's figures (`monitor.figures`, on by default): per-actor
//! message counts (the vendored ractor's [`ractor::observe::set_counting`]), sessions' queue
//! figures, channel publish counts, and the latency histograms (event chains, pools, rent waits,
//! sampled deliveries). Off, each recording site costs one relaxed load and records nothing; the
//! monitor's routes still answer, with what was recorded while on (mailbox depths and ages, read
//! from the actors, stay exact).
//!
//! Process-wide because ractor's count is: a process runs one node.

use std::sync::atomic::{AtomicBool, Ordering};

static ON: AtomicBool = AtomicBool::new(true);

/// Turn the figures on or off for the whole process.
pub fn set_figures(on: bool) {
    ON.store(on, Ordering::Relaxed);
    ractor::observe::set_counting(on);
}

/// Whether figures are recorded.
#[inline]
pub fn figures_on() -> bool {
    ON.load(Ordering::Relaxed)
}
