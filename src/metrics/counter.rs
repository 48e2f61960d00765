//! [`Counter`]: one shared atomic counter or gauge.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A shared counter or gauge: clones count into the same value.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicI64>);

impl Counter {
    /// Add one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    /// Subtract one.
    pub fn dec(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
    /// Add `n` (may be negative).
    pub fn add(&self, n: i64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    /// Set the value (gauges).
    pub fn set(&self, n: i64) {
        self.0.store(n, Ordering::Relaxed);
    }
    /// Read the value.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}
