//! [`Series`]: the last 15 minutes of the node's figures, one sample a second, kept in memory
//! for the monitor's dashboard (`GET /monitor/<hash>/dashboard/series`).
//!
//! The metrics refresher (`env_sup`'s `metrics` worker) calls [`Series::sample`] on each tick;
//! nothing else writes. A sample is a few numbers per pool and per event: 900 of them are a few
//! hundred KB at most.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use std::sync::Arc;

use super::latency::Latency;

/// Samples kept: 15 minutes at one a second.
pub(crate) const CAPACITY: usize = 900;

/// One second of the node.
#[derive(Debug, Clone)]
struct Sample {
    /// Unix time, ms.
    t: u64,
    sessions: i64,
    msgs_in: f64,
    msgs_out: f64,
    deliveries: f64,
    rss: i64,
    /// Pool -> busy / workers (0..1).
    pools: Vec<(String, f64)>,
    /// Event -> p99 of the hook chains run in this second (µs); absent when none ran.
    hook_p99: Vec<(String, u64)>,
}

/// What the previous tick saw (for rates and per-second quantiles).
#[derive(Default)]
struct Prev {
    at: Option<Instant>,
    msgs_in: i64,
    msgs_out: i64,
    deliveries: u64,
    hooks: HashMap<String, Option<Histogram<u64>>>,
}

/// The ring and the previous tick.
#[derive(Default)]
pub struct Series {
    ring: Mutex<VecDeque<Sample>>,
    prev: Mutex<Prev>,
}

impl std::fmt::Debug for Series {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Series").finish_non_exhaustive()
    }
}

/// The counters one sample reads (the registry gathers them: see `Metrics::sample_series`).
pub struct Reading<'a> {
    /// Live sessions.
    pub sessions: i64,
    /// Messages in, as a running total.
    pub msgs_in: i64,
    /// Messages out, as a running total.
    pub msgs_out: i64,
    /// Deliveries, as a running total.
    pub deliveries: u64,
    /// The per-event hook chain latencies.
    pub hooks: Vec<(String, Arc<Latency>)>,
    /// The pools' `(name, busy, workers)`.
    pub pools: &'a [(String, usize, usize)],
    /// The RSS in bytes.
    pub rss: i64,
}

impl Series {
    /// Take one sample from `r`.
    pub fn sample(&self, r: Reading<'_>) {
        let now = Instant::now();
        let Reading {
            sessions,
            msgs_in,
            msgs_out,
            deliveries,
            hooks,
            pools,
            rss,
        } = r;
        let mut prev = self.prev.lock().unwrap_or_else(|e| e.into_inner());
        let secs = prev
            .at
            .map(|t| now.duration_since(t).as_secs_f64())
            .filter(|s| *s > 0.0);
        let rate = |cur: f64, before: f64| match secs {
            Some(s) if cur >= before => ((cur - before) / s * 10.0).round() / 10.0,
            _ => 0.0,
        };
        let mut hook_p99 = Vec::new();
        for (event, lat) in hooks {
            let before = prev.hooks.entry(event.clone()).or_default();
            if let Some(p) = lat.p99_since(before) {
                hook_p99.push((event, p));
            }
        }
        let s = Sample {
            t: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(0))
                .unwrap_or(0),
            sessions,
            msgs_in: rate(msgs_in as f64, prev.msgs_in as f64),
            msgs_out: rate(msgs_out as f64, prev.msgs_out as f64),
            deliveries: rate(deliveries as f64, prev.deliveries as f64),
            rss,
            pools: pools
                .iter()
                .map(|(n, busy, workers)| {
                    let u = if *workers == 0 {
                        0.0
                    } else {
                        (*busy as f64 / *workers as f64).min(1.0)
                    };
                    (n.clone(), (u * 1000.0).round() / 1000.0)
                })
                .collect(),
            hook_p99,
        };
        prev.at = Some(now);
        prev.msgs_in = msgs_in;
        prev.msgs_out = msgs_out;
        prev.deliveries = deliveries;
        drop(prev);
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        if ring.len() == CAPACITY {
            ring.pop_front();
        }
        ring.push_back(s);
    }

    /// Number of samples held.
    pub fn len(&self) -> usize {
        self.ring.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True before the first sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The samples as columns: `t` (unix ms), `sessions`, `msgs_in`, `msgs_out`, `deliveries`
    /// (per second), `rss` (bytes), `pools` (name -> utilisation 0..1) and `hook_p99_us`
    /// (event -> µs, `null` in seconds when the event did not run).
    pub fn to_json(&self) -> Value {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let n = ring.len();
        let col = |f: &dyn Fn(&Sample) -> Value| ring.iter().map(f).collect::<Vec<Value>>();
        let mut pools: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        let mut hooks: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        for (i, s) in ring.iter().enumerate() {
            for (p, u) in &s.pools {
                pools.entry(p).or_insert_with(|| vec![Value::Null; n])[i] = json!(u);
            }
            for (e, v) in &s.hook_p99 {
                hooks.entry(e).or_insert_with(|| vec![Value::Null; n])[i] = json!(v);
            }
        }
        json!({
            "interval_ms": 1000,
            "capacity": CAPACITY,
            "len": n,
            "t": col(&|s| json!(s.t)),
            "sessions": col(&|s| json!(s.sessions)),
            "msgs_in": col(&|s| json!(s.msgs_in)),
            "msgs_out": col(&|s| json!(s.msgs_out)),
            "deliveries": col(&|s| json!(s.deliveries)),
            "rss": col(&|s| json!(s.rss)),
            "pools": pools,
            "hook_p99_us": hooks,
        })
    }
}
