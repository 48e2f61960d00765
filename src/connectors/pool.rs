//! What every pool shares, whatever its backend: name, counters, live worker table, restart window.
//!
//! A pool's [`PoolCore`] is created once by `start_pool` and survives restarts of the pool actor,
//! so the [`super::Pool`] handles held by hooks never go stale (HIVE.md 7.5 / 16.6 #3).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ractor::ActorCell;

use super::backoff::Backoff;
use crate::monitor::{Counter, Metrics};
use crate::supervision::{ChildReport, IntensityReport, SupervisorReport};

/// Restart intensity of a pool's workers: more than this many restarts ...
pub(crate) const WORKER_MAX_RESTARTS: u32 = 10;
/// ... within this many seconds make the pool actor fail (escalating to `connectors_sup`).
pub(crate) const WORKER_MAX_SECONDS: u64 = 10;

/// One live worker, as the supervision report shows it.
#[derive(Debug, Clone)]
pub(crate) struct WorkerEntry {
    /// The ractor id of the worker actor.
    pub(crate) actor_id: String,
    /// Base workers are permanent (restarted); overflow / accepted ones are temporary.
    pub(crate) permanent: bool,
    /// Times this worker slot was restarted.
    pub(crate) restarts: u32,
}

/// Counters of one pool (`connectors.<kind>.<pool>.*`) plus the global `connectors.*` ones.
#[derive(Debug, Clone)]
pub(crate) struct PoolCounters {
    pub(crate) workers: Counter,
    pub(crate) requests: Counter,
    pub(crate) errors: Counter,
    pub(crate) all_requests: Counter,
    pub(crate) all_errors: Counter,
    pub(crate) rents: Counter,
    pub(crate) returns: Counter,
    /// `connectors.unsafe_transactions` (hp.*) or `connectors.safe_transactions` (Redis).
    pub(crate) transactions: Counter,
}

impl PoolCounters {
    fn new(metrics: &Metrics, kind: &str, pool: &str) -> Self {
        let p = |x: &str| metrics.counter(&format!("connectors.{kind}.{pool}.{x}"));
        Self {
            workers: p("workers"),
            requests: p("requests"),
            errors: p("errors"),
            all_requests: metrics.counter("connectors.requests"),
            all_errors: metrics.counter("connectors.errors"),
            rents: metrics.counter("connectors.rents"),
            returns: metrics.counter("connectors.returns"),
            transactions: metrics.counter(if kind == "redis" {
                "connectors.safe_transactions"
            } else {
                "connectors.unsafe_transactions"
            }),
        }
    }

    /// Count one request to this pool.
    pub(crate) fn request(&self) {
        self.transactions.inc();
        self.requests.inc();
        self.all_requests.inc();
    }

    /// Count one failed request.
    pub(crate) fn error(&self) {
        self.errors.inc();
        self.all_errors.inc();
    }
}

/// State shared by a pool's handle, its pool actor incarnations and its workers.
#[derive(Debug)]
pub(crate) struct PoolCore {
    /// The pool name (key in `connectors.pools`).
    pub(crate) name: String,
    /// `connector.http`, `connector.tcp` or `connector.redis`.
    pub(crate) connector: &'static str,
    /// Max wait for a free worker.
    pub(crate) rent_timeout: Duration,
    /// Retry policy for renting.
    pub(crate) backoff: Backoff,
    /// The registry, for per-operation counters.
    pub(crate) metrics: Arc<Metrics>,
    /// Counters.
    pub(crate) counters: PoolCounters,
    /// The current pool actor.
    pub(crate) cell: Mutex<Option<ActorCell>>,
    /// Live workers by worker number.
    pub(crate) workers: Mutex<BTreeMap<usize, WorkerEntry>>,
    /// Next worker number.
    pub(crate) next_worker: AtomicUsize,
    /// Workers currently rented / running a request.
    pub(crate) busy: AtomicUsize,
    /// Restarts of the pool actor by `connectors_sup`.
    pub(crate) restarts: AtomicU32,
    /// Worker restarts performed by the pool (its own supervisor report's `restarts`).
    pub(crate) worker_restarts: AtomicU32,
}

impl PoolCore {
    /// A fresh core; `kind` is `http`, `tcp` or `redis` (the metric infix).
    pub(crate) fn new(
        name: &str,
        connector: &'static str,
        kind: &str,
        rent_timeout: Duration,
        backoff: Backoff,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            name: name.to_string(),
            connector,
            rent_timeout,
            backoff,
            counters: PoolCounters::new(&metrics, kind, name),
            metrics,
            cell: Mutex::new(None),
            workers: Mutex::new(BTreeMap::new()),
            next_worker: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
            restarts: AtomicU32::new(0),
            worker_restarts: AtomicU32::new(0),
        }
    }

    /// A new worker number.
    pub(crate) fn next_worker_id(&self) -> usize {
        self.next_worker.fetch_add(1, Ordering::Relaxed)
    }

    /// Record a started worker.
    pub(crate) fn worker_up(&self, n: usize, entry: WorkerEntry) {
        lock(&self.workers).insert(n, entry);
        self.counters.workers.set(lock(&self.workers).len() as i64);
    }

    /// Forget a stopped worker.
    pub(crate) fn worker_down(&self, n: usize) -> Option<WorkerEntry> {
        let e = lock(&self.workers).remove(&n);
        self.counters.workers.set(lock(&self.workers).len() as i64);
        e
    }

    /// Number of live workers.
    pub(crate) fn worker_count(&self) -> usize {
        lock(&self.workers).len()
    }

    /// Set the current pool actor.
    pub(crate) fn set_cell(&self, cell: Option<ActorCell>) {
        *lock(&self.cell) = cell;
    }

    /// Clear the current pool actor if it is still `id` (a late drop of an old incarnation must not
    /// clear its successor).
    pub(crate) fn clear_cell_if(&self, id: ractor::ActorId) {
        let mut cell = lock(&self.cell);
        if cell.as_ref().is_some_and(|c| c.get_id() == id) {
            *cell = None;
        }
    }

    /// The current pool actor, if running.
    pub(crate) fn current_cell(&self) -> Option<ActorCell> {
        lock(&self.cell).clone()
    }

    /// The pool as a supervisor in the tree report (`pool:<name>` with `worker:<name>:<n>`).
    pub(crate) fn report(&self) -> SupervisorReport {
        let children: Vec<ChildReport> = lock(&self.workers)
            .iter()
            .map(|(n, w)| ChildReport {
                id: format!("worker:{}:{n}", self.name),
                kind: "worker".into(),
                restart: if w.permanent {
                    "permanent"
                } else {
                    "temporary"
                }
                .into(),
                restarts: w.restarts,
                status: "running".into(),
                actor_id: Some(w.actor_id.clone()),
                supervisor: None,
            })
            .collect();
        SupervisorReport {
            id: format!("pool:{}", self.name),
            strategy: "one_for_one".into(),
            intensity: IntensityReport {
                max_restarts: WORKER_MAX_RESTARTS,
                max_seconds: WORKER_MAX_SECONDS,
            },
            restarts: self.worker_restarts.load(Ordering::Relaxed),
            child_count: children.len(),
            max_children: None,
            children,
            children_truncated: false,
        }
    }
}

/// Lock a std mutex, ignoring poisoning (the data are plain tables, valid after any panic).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sliding restart window (OTP intensity): `allow()` is false once more than `max` restarts
/// happened within `period`.
#[derive(Debug)]
pub(crate) struct RestartWindow {
    max: u32,
    period: Duration,
    times: VecDeque<Instant>,
}

impl RestartWindow {
    /// `max` restarts per `period`.
    pub(crate) fn new(max: u32, period: Duration) -> Self {
        Self {
            max,
            period,
            times: VecDeque::new(),
        }
    }

    /// Record a restart; false when the intensity is exceeded.
    pub(crate) fn allow(&mut self) -> bool {
        let now = Instant::now();
        while self
            .times
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.period)
        {
            self.times.pop_front();
        }
        self.times.push_back(now);
        self.times.len() <= self.max as usize
    }
}

/// Both loopback addresses (`127.0.0.1`, `::1`) at `port`: what `localhost` means (RFC 6761).
pub(crate) fn loopback_addrs(port: u16) -> [std::net::SocketAddr; 2] {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
    [
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        SocketAddr::from((Ipv6Addr::LOCALHOST, port)),
    ]
}

/// Connectivity check used at pool start (HIVE.md 7.2, 7.4): a TCP connect to `host:port` within
/// `within`, trying every address the name resolves to (`localhost` may be `::1` and `127.0.0.1`).
///
/// # Errors
/// The reason of the last failed attempt, as text.
pub(crate) async fn connect_check(host: &str, port: u16, within: Duration) -> Result<(), String> {
    let attempt = async {
        let mut addrs: Vec<std::net::SocketAddr> = match tokio::net::lookup_host((host, port)).await
        {
            Ok(a) => a.collect(),
            Err(e) if !host.eq_ignore_ascii_case("localhost") => return Err(e.to_string()),
            Err(_) => Vec::new(),
        };
        if host.eq_ignore_ascii_case("localhost") {
            for a in loopback_addrs(port) {
                if !addrs.contains(&a) {
                    addrs.push(a);
                }
            }
        }
        let mut last = String::from("no address");
        for addr in addrs {
            match tokio::net::TcpStream::connect(addr).await {
                Ok(_) => return Ok(()),
                Err(e) => last = e.to_string(),
            }
        }
        Err(last)
    };
    match tokio::time::timeout(within, attempt).await {
        Ok(r) => r,
        Err(_) => Err(format!("timed out after {} ms", within.as_millis())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn restart_window_limits() {
        let mut w = RestartWindow::new(2, Duration::from_secs(10));
        assert!(w.allow());
        assert!(w.allow());
        assert!(!w.allow());
    }
}
