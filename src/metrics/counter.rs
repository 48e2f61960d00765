//! [`Counter`]: one shared atomic counter or gauge.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// A shared counter or gauge: clones count into the same value.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<Cell>);

#[derive(Debug, Default)]
struct Cell {
    value: AtomicI64,
    /// Per-thread parts of the value, once something counted with [`Counter::add_spread`].
    spread: OnceLock<Box<[Stripe]>>,
}

/// One thread's part of a spread counter, alone in its pair of cache lines.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe(AtomicI64);

/// Parts of a spread counter (threads beyond this share them).
const STRIPES: usize = 16;

/// This thread's part of every spread counter.
fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static MINE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    MINE.with(|i| *i)
}

impl Counter {
    /// Add one.
    pub fn inc(&self) {
        self.0.value.fetch_add(1, Ordering::Relaxed);
    }
    /// Subtract one.
    pub fn dec(&self) {
        self.0.value.fetch_sub(1, Ordering::Relaxed);
    }
    /// Add `n` (may be negative).
    pub fn add(&self, n: i64) {
        self.0.value.fetch_add(n, Ordering::Relaxed);
    }
    /// Add `n` into this thread's part of the counter: for a counter bumped on every core at
    /// once (a delivery's), where one shared value would move its cache line between the cores
    /// at every add. [`Counter::get`] sums the parts, so the value stays exact.
    pub fn add_spread(&self, n: i64) {
        let parts = self
            .0
            .spread
            .get_or_init(|| (0..STRIPES).map(|_| Stripe::default()).collect());
        if let Some(p) = parts.get(stripe()) {
            p.0.fetch_add(n, Ordering::Relaxed);
        }
    }
    /// Set the value (gauges, and a reset from the admin API). An add racing with it may count
    /// or not, as with one shared value.
    pub fn set(&self, n: i64) {
        self.0.value.store(n, Ordering::Relaxed);
        if let Some(parts) = self.0.spread.get() {
            for p in parts.iter() {
                p.0.store(0, Ordering::Relaxed);
            }
        }
    }
    /// Read the value.
    pub fn get(&self) -> i64 {
        let spread = self.0.spread.get().map_or(0, |parts| {
            parts.iter().map(|p| p.0.load(Ordering::Relaxed)).sum()
        });
        self.0.value.load(Ordering::Relaxed) + spread
    }
}

#[cfg(test)]
mod tests {
    use super::Counter;

    #[test]
    fn spread_adds_from_many_threads_sum_exactly() {
        let c = Counter::default();
        c.add(5);
        std::thread::scope(|s| {
            for _ in 0..20 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        c.add_spread(2);
                    }
                });
            }
        });
        c.inc();
        assert_eq!(c.get(), 5 + 20 * 1000 * 2 + 1);
    }

    #[test]
    fn set_replaces_the_spread_parts_too() {
        let c = Counter::default();
        c.add_spread(7);
        c.add(3);
        c.set(0);
        assert_eq!(c.get(), 0);
        c.add_spread(2);
        assert_eq!(c.get(), 2);
    }
}
