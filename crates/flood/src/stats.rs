//! Global measurements (FLOOD.md 8): counters with the original's names, HDR timers, errors by
//! kind, built-in connection latencies and a per-second time series for the report.
//!
//! Everything is shared by all users through one `Arc<Stats>`; counters are atomics, histograms
//! sit behind short mutexes (one record is a few nanoseconds of work under the lock).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::histogram::new_histogram;

/// Built-in counters, in the original's order and spelling (`incomming` included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// Users that finished initialising.
    AllUsers,
    /// Users started minus users terminated.
    AliveUsers,
    /// Users whose handshake has been sent.
    ConnectedUsers,
    /// Users not connected.
    DisconnectedUsers,
    /// Users that terminated.
    TerminatedUsers,
    /// WebSocket text frames received.
    WsIncomming,
    /// Socket.IO packets sent over WebSocket.
    WsOutgoing,
    /// HTTP response bodies received.
    HttpIncomming,
    /// HTTP requests sent.
    HttpOutgoing,
}

/// Names of the built-in counters, indexed by [`Builtin`].
pub const BUILTIN_NAMES: [&str; 9] = [
    "all_users",
    "alive_users",
    "connected_users",
    "disconnected_users",
    "terminated_users",
    "ws_incomming",
    "ws_outgoing",
    "http_incomming",
    "http_outgoing",
];

/// Built-in latency histograms kept apart from scenario timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Latency {
    /// Handshake request to response.
    Handshake,
    /// Handshake start to the Socket.IO connect packet (`1::`): the connection setup time.
    Connect,
}

/// One point of the time series (one per progress tick).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sample {
    /// Run-clock seconds.
    pub t: f64,
    /// `connected_users`.
    pub connected: i64,
    /// Users that received the Socket.IO connect packet and are still up.
    pub sio_connected: i64,
    /// Packets received per second over the interval.
    pub in_rate: f64,
    /// Packets sent per second over the interval.
    pub out_rate: f64,
    /// Errors so far.
    pub errors: u64,
    /// Latencies recorded in the interval, one entry per timer (`timers.<name>`) and per emitted
    /// event's round trip (`events.<name>`): never mixed, so that a think-time timer does not
    /// pass for a latency.
    pub latency: BTreeMap<String, IntervalLatency>,
    /// CPU cores flood itself used over the interval (CPU seconds per second).
    pub flood_cores: f64,
    /// Idle share of all the machine's cores over the interval (`/proc/stat`), when readable.
    pub idle: Option<f64>,
}

/// One timer's (or event's) latencies over one interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct IntervalLatency {
    /// Samples in the interval.
    pub n: u64,
    /// Median, ms.
    pub p50: f64,
    /// 99th percentile, ms.
    pub p99: f64,
}

impl IntervalLatency {
    fn of(h: &Histogram<u64>) -> Self {
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        Self {
            n: h.len(),
            p50: ms(0.5),
            p99: ms(0.99),
        }
    }
}

/// Per-interval histograms: scenario timers by name, event round trips by event index.
type IntervalHists = (
    BTreeMap<String, Histogram<u64>>,
    Vec<Option<Histogram<u64>>>,
);

/// User counters: creation order plus lookup.
type UserCounters = (Vec<String>, HashMap<String, Arc<AtomicI64>>);

/// All run measurements.
#[derive(Debug)]
pub struct Stats {
    started: Instant,
    builtin: [AtomicI64; 9],
    user: RwLock<UserCounters>,
    timers: Mutex<BTreeMap<String, Histogram<u64>>>,
    latency: [Mutex<Histogram<u64>>; 2],
    interval: Mutex<IntervalHists>,
    cpu: Mutex<super::cpu::CpuMeter>,
    errors: Mutex<BTreeMap<String, u64>>,
    error_total: AtomicU64,
    /// Socket.IO packets received.
    pub packets_in: AtomicU64,
    /// Socket.IO packets sent.
    pub packets_out: AtomicU64,
    /// Users currently Socket.IO-connected (got `1::`).
    pub sio_connected: AtomicI64,
    series: Mutex<(Vec<Sample>, u64, u64, Instant)>,
    goal_times: Mutex<Vec<(String, i64)>>,
    /// Users the run will spawn (for `all_connected_ms`).
    pub target: AtomicI64,
    /// Run-clock ms when every target user had its Socket.IO connect (0 = not yet).
    pub all_connected_ms: AtomicU64,
    /// Peak resident set size of this process, bytes.
    pub rss_peak: AtomicU64,
    /// Round trips of emitted events, by event name.
    pub events: super::rtt::EventStats,
}

/// Resident set size of this process in bytes (`VmRSS` of /proc/self/status), 0 if unknown.
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

impl Stats {
    /// Fresh measurements; the run clock starts now.
    pub fn new() -> Self {
        let now = Instant::now();
        Self {
            started: now,
            builtin: Default::default(),
            user: RwLock::default(),
            timers: Mutex::default(),
            latency: [Mutex::new(new_histogram()), Mutex::new(new_histogram())],
            interval: Mutex::default(),
            cpu: Mutex::new(super::cpu::CpuMeter::start()),
            errors: Mutex::default(),
            error_total: AtomicU64::new(0),
            packets_in: AtomicU64::new(0),
            packets_out: AtomicU64::new(0),
            sio_connected: AtomicI64::new(0),
            series: Mutex::new((Vec::new(), 0, 0, now)),
            goal_times: Mutex::default(),
            target: AtomicI64::new(i64::MAX),
            all_connected_ms: AtomicU64::new(0),
            rss_peak: AtomicU64::new(0),
            events: super::rtt::EventStats::default(),
        }
    }

    /// Milliseconds on the run clock.
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The instant the run clock started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Adds `by` to a built-in counter.
    pub fn add(&self, c: Builtin, by: i64) {
        self.builtin[c as usize].fetch_add(by, Ordering::Relaxed);
    }

    /// A built-in counter's value.
    pub fn get(&self, c: Builtin) -> i64 {
        self.builtin[c as usize].load(Ordering::Relaxed)
    }

    fn user_counter(&self, name: &str) -> Arc<AtomicI64> {
        if let Ok(g) = self.user.read()
            && let Some(c) = g.1.get(name)
        {
            return c.clone();
        }
        let mut g = self
            .user
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = g.1.get(name) {
            return c.clone();
        }
        let c = Arc::new(AtomicI64::new(0));
        g.0.push(name.to_owned());
        g.1.insert(name.to_owned(), c.clone());
        c
    }

    /// `inc`/`dec`: adds `by` to user counter `name`, creating it at 0.
    pub fn counter_add(&self, name: &str, by: i64) {
        if let Some(i) = BUILTIN_NAMES.iter().position(|n| *n == name) {
            self.builtin[i].fetch_add(by, Ordering::Relaxed);
            return;
        }
        self.user_counter(name).fetch_add(by, Ordering::Relaxed);
    }

    /// `set`: sets user counter `name` to `v`.
    pub fn counter_set(&self, name: &str, v: i64) {
        if let Some(i) = BUILTIN_NAMES.iter().position(|n| *n == name) {
            self.builtin[i].store(v, Ordering::Relaxed);
            return;
        }
        self.user_counter(name).store(v, Ordering::Relaxed);
    }

    /// Records a timer sample.
    pub fn record_timer(&self, name: &str, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
        {
            let mut t = self
                .timers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let h = t.entry(name.to_owned()).or_insert_with(new_histogram);
            h.saturating_record(us);
        }
        let mut i = self
            .interval
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match i.0.get_mut(name) {
            Some(h) => h.saturating_record(us),
            None => {
                let mut h = new_histogram();
                h.saturating_record(us);
                i.0.insert(name.to_owned(), h);
            }
        }
    }

    /// Records the round trip of an emitted event (its index in [`Stats::events`]).
    pub fn record_event(&self, event: u32, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
        self.events.record(event, us);
        let mut i = self
            .interval
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let at = event as usize;
        if i.1.len() <= at {
            i.1.resize_with(at + 1, || None);
        }
        if let Some(slot) = i.1.get_mut(at) {
            slot.get_or_insert_with(new_histogram).saturating_record(us);
        }
    }

    /// Records a built-in latency.
    pub fn record_latency(&self, which: Latency, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
        self.latency[which as usize]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .saturating_record(us);
    }

    /// Counts an error of a kind.
    pub fn error(&self, kind: &str) {
        self.error_total.fetch_add(1, Ordering::Relaxed);
        *self
            .errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(kind.to_owned())
            .or_default() += 1;
    }

    /// Total errors.
    pub fn error_total(&self) -> u64 {
        self.error_total.load(Ordering::Relaxed)
    }

    /// Errors by kind.
    pub fn errors(&self) -> BTreeMap<String, u64> {
        self.errors.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Sets `<phase>_goal_time`.
    pub fn set_goal_time(&self, phase: &str, t: i64) {
        let mut g = self
            .goal_times
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = format!("{phase}_goal_time");
        g.retain(|(k, _)| *k != key);
        g.push((key, t));
    }

    /// Every counter: built-ins, user counters in creation order, then goal times.
    pub fn counters(&self) -> Vec<(String, i64)> {
        let mut out: Vec<(String, i64)> = BUILTIN_NAMES
            .iter()
            .zip(&self.builtin)
            .map(|(n, c)| ((*n).to_owned(), c.load(Ordering::Relaxed)))
            .collect();
        if let Ok(g) = self.user.read() {
            for n in &g.0 {
                if let Some(c) = g.1.get(n) {
                    out.push((n.clone(), c.load(Ordering::Relaxed)));
                }
            }
        }
        if let Ok(g) = self.goal_times.lock() {
            out.extend(g.iter().cloned());
        }
        out
    }

    /// A copy of every scenario timer histogram.
    pub fn timers(&self) -> BTreeMap<String, Histogram<u64>> {
        self.timers.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// A copy of a built-in latency histogram.
    pub fn latency(&self, which: Latency) -> Histogram<u64> {
        self.latency[which as usize]
            .lock()
            .map(|h| h.clone())
            .unwrap_or_else(|_| new_histogram())
    }

    /// A user got its Socket.IO connect packet.
    pub fn sio_up(&self) {
        let n = self.sio_connected.fetch_add(1, Ordering::Relaxed) + 1;
        if n >= self.target.load(Ordering::Relaxed) {
            let _ = self.all_connected_ms.compare_exchange(
                0,
                self.now_ms().max(1),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    /// Closes the current interval: appends a [`Sample`] and returns it.
    pub fn tick(&self) -> Sample {
        self.rss_peak.fetch_max(rss_bytes(), Ordering::Relaxed);
        let mut latency = BTreeMap::new();
        {
            let names = self.events.names();
            let mut i = self
                .interval
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (name, h) in &mut i.0 {
                if !h.is_empty() {
                    latency.insert(format!("timers.{name}"), IntervalLatency::of(h));
                    h.reset();
                }
            }
            for (at, h) in i.1.iter_mut().enumerate() {
                if let Some(h) = h.as_mut().filter(|h| !h.is_empty()) {
                    let name = names.get(at).map_or("?", String::as_str);
                    latency.insert(format!("events.{name}"), IntervalLatency::of(h));
                    h.reset();
                }
            }
        }
        let mut s = self
            .series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let secs = now.duration_since(s.3).as_secs_f64().max(1e-3);
        let pin = self.packets_in.load(Ordering::Relaxed);
        let pout = self.packets_out.load(Ordering::Relaxed);
        let cpu = self
            .cpu
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .tick(secs);
        let sample = Sample {
            t: now.duration_since(self.started).as_secs_f64(),
            connected: self.get(Builtin::ConnectedUsers),
            sio_connected: self.sio_connected.load(Ordering::Relaxed),
            in_rate: pin.saturating_sub(s.1) as f64 / secs,
            out_rate: pout.saturating_sub(s.2) as f64 / secs,
            errors: self.error_total(),
            latency,
            flood_cores: cpu.flood_cores,
            idle: cpu.idle,
        };
        s.0.push(sample.clone());
        s.1 = pin;
        s.2 = pout;
        s.3 = now;
        sample
    }

    /// The time series so far.
    pub fn series(&self) -> Vec<Sample> {
        self.series.lock().map(|s| s.0.clone()).unwrap_or_default()
    }

    /// flood's own CPU over the run and the machine's saturation verdict, for `run.cpu` of the
    /// result document.
    pub fn cpu_summary(&self) -> CpuSummary {
        let (total, cores) = {
            let m = self
                .cpu
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            (m.total_secs(), m.cores)
        };
        let idle: Vec<f64> = self.series().iter().filter_map(|s| s.idle).collect();
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        CpuSummary {
            flood_cpu_s: total,
            flood_cores_mean: total / secs,
            machine: super::cpu::saturation(cores, &idle),
        }
    }
}

/// `run.cpu` of the result document.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CpuSummary {
    /// flood's utime + stime over the run, seconds.
    pub flood_cpu_s: f64,
    /// `flood_cpu_s` per second of run: cores flood used on average.
    pub flood_cores_mean: f64,
    /// The machine's idle samples and the saturation verdict.
    pub machine: super::cpu::Saturation,
}

impl CpuSummary {
    /// The text report's line on flood's CPU and the machine.
    pub fn line(&self) -> String {
        format!(
            "flood used {:.1} s of CPU ({:.2} cores on average); the machine has {} cores, idle \
             {:.0}% on average (lowest {:.0}%) over {} seconds",
            self.flood_cpu_s,
            self.flood_cores_mean,
            self.machine.cores,
            self.machine.idle_mean * 100.0,
            self.machine.idle_min * 100.0,
            self.machine.intervals
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn counters_keep_builtin_names_and_creation_order() {
        let s = Stats::new();
        s.counter_add("zeta", 2);
        s.counter_add("alpha", -1);
        s.counter_set("zeta", 7);
        s.add(Builtin::HttpIncomming, 3);
        s.set_goal_time("p", 1200);
        let c = s.counters();
        let names: Vec<&str> = c.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(&names[..9], &BUILTIN_NAMES);
        assert_eq!(&names[9..], &["zeta", "alpha", "p_goal_time"]);
        assert_eq!(c[7].1, 3);
        assert_eq!(c[9].1, 7);
        assert_eq!(c[10].1, -1);
    }

    #[test]
    fn timers_and_series_record() {
        let s = Stats::new();
        s.record_timer("rtt", Duration::from_millis(10));
        s.record_timer("rtt", Duration::from_millis(30));
        let t = s.timers();
        assert_eq!(t["rtt"].len(), 2);
        let e = s.events.emit("echo");
        s.record_event(e, Duration::from_secs(5));
        let sample = s.tick();
        let rtt = sample.latency["timers.rtt"];
        assert!(rtt.p99 >= 29.0 && rtt.p99 <= 31.0, "{sample:?}");
        assert_eq!(rtt.n, 2);
        // A 5 s event round trip stays in its own series and does not move the timer's.
        assert!(sample.latency["events.echo"].p50 >= 4999.0, "{sample:?}");
        assert!(s.tick().latency.is_empty());
        assert_eq!(s.series().len(), 2);
    }
}
