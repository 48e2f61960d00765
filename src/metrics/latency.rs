//! HDR latency histograms (microseconds, 2 significant figures, 1 µs .. 10 min, ~23 KB each), one per
//! `(family, label)`: `pool` per backend pool (an `hp.post` / `hp.get` round trip, rent wait
//! included) and `event` per event name (its hook chain). Recording takes one uncontended lock
//! of that histogram; never on the fan-out path.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency recorded: longer ones are clamped to it (µs).
const MAX_US: u64 = 600_000_000;

/// One histogram.
#[derive(Debug)]
pub struct Latency(Mutex<Option<Histogram<u64>>>);

impl Latency {
    pub(crate) fn new() -> Self {
        Self(Mutex::new(Histogram::new_with_bounds(1, MAX_US, 2).ok()))
    }

    /// Record one duration.
    pub fn record(&self, d: Duration) {
        if !super::figures::figures_on() {
            return;
        }
        let us = u64::try_from(d.as_micros())
            .unwrap_or(MAX_US)
            .clamp(1, MAX_US);
        if let Some(h) = self.0.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            h.saturating_record(us);
        }
    }

    /// The 99th percentile of what was recorded since `prev` (the histogram as it was then,
    /// replaced by the current one); `None` when nothing was.
    pub fn p99_since(&self, prev: &mut Option<Histogram<u64>>) -> Option<u64> {
        let g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let h = g.as_ref()?;
        if prev.as_ref().map(Histogram::len) == Some(h.len()) {
            return None;
        }
        let mut d = h.clone();
        drop(g);
        let current = d.clone();
        if let Some(p) = prev.as_ref() {
            d.subtract(p).ok()?;
        }
        *prev = Some(current);
        (!d.is_empty()).then(|| d.value_at_quantile(0.99))
    }

    /// Its summary, and the count at or below each of `bounds_us`.
    pub fn summary(&self, bounds_us: &[u64]) -> LatencySummary {
        let g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let Some(h) = g.as_ref() else {
            return LatencySummary::default();
        };
        let empty = h.is_empty();
        let q = |p: f64| if empty { 0 } else { h.value_at_quantile(p) };
        LatencySummary {
            count: h.len(),
            min_us: if empty { 0 } else { h.min() },
            p50_us: q(0.5),
            p90_us: q(0.9),
            p99_us: q(0.99),
            p999_us: q(0.999),
            max_us: if empty { 0 } else { h.max() },
            mean_us: h.mean(),
            buckets: bounds_us
                .iter()
                .map(|b| if empty { 0 } else { h.count_between(0, *b) })
                .collect(),
        }
    }
}

/// A histogram's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LatencySummary {
    /// Recorded durations.
    pub count: u64,
    /// Quantiles and extremes in µs (0 when empty).
    pub min_us: u64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Largest.
    pub max_us: u64,
    /// Mean in µs.
    pub mean_us: f64,
    /// Counts at or below the requested bounds (Prometheus buckets); not in the JSON.
    #[serde(skip)]
    pub buckets: Vec<u64>,
}

/// Every histogram of a node, by `(family, label)`.
#[derive(Debug, Default)]
pub struct Latencies(RwLock<BTreeMap<(String, String), Arc<Latency>>>);

impl Latencies {
    /// The histogram `(family, label)`, created empty on first use.
    pub fn get(&self, family: &str, label: &str) -> Arc<Latency> {
        let key = (family.to_owned(), label.to_owned());
        if let Some(l) = self.0.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Arc::clone(l);
        }
        let mut w = self.0.write().unwrap_or_else(|e| e.into_inner());
        Arc::clone(w.entry(key).or_insert_with(|| Arc::new(Latency::new())))
    }

    /// The histograms of `family`, by label.
    pub fn family(&self, family: &str) -> Vec<(String, Arc<Latency>)> {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .filter(|((f, _), _)| f == family)
            .map(|((_, l), h)| (l.clone(), Arc::clone(h)))
            .collect()
    }

    /// Every histogram's summary, in `(family, label)` order.
    pub fn snapshot(&self, bounds_us: &[u64]) -> Vec<(String, String, LatencySummary)> {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .map(|((f, l), h)| (f.clone(), l.clone(), h.summary(bounds_us)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_summarises() {
        let all = Latencies::default();
        let h = all.get("pool", "backend");
        for ms in [1, 2, 3, 100] {
            h.record(Duration::from_millis(ms));
        }
        let snap = all.snapshot(&[2_500, 1_000_000]);
        assert_eq!(snap.len(), 1);
        let (f, l, s) = &snap[0];
        assert_eq!((f.as_str(), l.as_str(), s.count), ("pool", "backend", 4));
        assert_eq!(s.buckets, vec![2, 4]);
        assert!(s.max_us >= 99_000 && s.p50_us <= 2_100, "{s:?}");
        assert!(Arc::ptr_eq(&h, &all.get("pool", "backend")));
        let mut prev = None;
        assert!(h.p99_since(&mut prev).is_some_and(|p| p >= 99_000));
        assert_eq!(h.p99_since(&mut prev), None, "nothing new");
        h.record(Duration::from_millis(5));
        let p = h.p99_since(&mut prev);
        assert!(p.is_some_and(|p| (4_900..=5_100).contains(&p)), "{p:?}");
        assert_eq!(all.family("pool").len(), 1);
        assert!(all.family("event").is_empty());
    }
}
