//! What every pool shares, whatever its backend: name, counters, live worker count, and the
//! `pool:<name>` supervisor (a static [`SupervisorHandle`] of the crate's supervision runtime).
//!
//! A pool's [`PoolCore`] is created once by `start_pool` and survives restarts of the pool
//! supervisor, so the [`super::Pool`] handles held by hooks never go stale (HIVE.md 7.5 / 16.6 #3).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ractor::ActorCell;

use super::backoff::Backoff;
use crate::metrics::{Metrics, PoolMetrics};
use otp::{
    ChildSpec, Intensity, Shutdown, StartFn, Strategy, SupervisionError, SupervisorHandle,
    SupervisorSpec,
};

/// Restart intensity of a pool supervisor: more than 10 worker restarts in 10 s make it give up
/// (escalating to `connectors_sup`).
pub(crate) const POOL_INTENSITY: Intensity = Intensity {
    max_restarts: 10,
    max_seconds: 10,
};

/// How a pool supervisor stops a worker: gracefully (after the request in hand), killed after 5 s.
pub(crate) const WORKER_SHUTDOWN: Shutdown = Shutdown::Timeout(Duration::from_secs(5));

/// The graceful-termination window of a node's pools (see [`super::Connectors::drain_until`]):
/// until its deadline, a request waits for a connection until the deadline instead of
/// `rent_timeout`, and a TCP pool's wait queue has no limit. One per [`super::Connectors`],
/// shared by its pools.
#[derive(Debug, Default)]
pub(crate) struct Drain {
    until: Mutex<Option<Instant>>,
}

impl Drain {
    /// Open the window until `deadline` (`None` closes it).
    pub(crate) fn set(&self, deadline: Option<Instant>) {
        *lock(&self.until) = deadline;
    }

    /// The deadline, while the window is open.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        lock(&self.until).filter(|d| *d > Instant::now())
    }
}

/// State shared by a pool's handle, its supervisor incarnations and its workers.
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
    /// The node's graceful-termination window (shared by every pool of the node).
    pub(crate) drain: Arc<Drain>,
    /// The registry, where the backend registers its own per-pool counters when built.
    pub(crate) metrics: Arc<Metrics>,
    /// `connectors.<kind>.<pool>.*` and the `connectors.*` totals the pool counts into.
    pub(crate) counters: PoolMetrics,
    /// The current `pool:<name>` supervisor (set after each (re)start).
    sup: Mutex<Option<SupervisorHandle>>,
    /// Live connection-owning workers (not the TCP acceptor).
    live: AtomicUsize,
    /// Next number for an overflow / accepted worker (`worker:<name>:<n>`).
    next_worker: AtomicUsize,
    /// Workers currently rented / running a request.
    pub(crate) busy: AtomicUsize,
    /// `hp.post` / `hp.get` round trips through this pool, rent wait included.
    pub(crate) latency: Arc<crate::metrics::Latency>,
    /// Time spent waiting for a free worker or connection (`rent`), failures included.
    pub(crate) rent_latency: Arc<crate::metrics::Latency>,
}

impl PoolCore {
    /// A fresh core; `kind` is `http`, `tcp` or `redis` (the metric infix).
    pub(crate) fn new(
        name: &str,
        connector: &'static str,
        kind: &str,
        rent_timeout: Duration,
        backoff: Backoff,
        drain: Arc<Drain>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            name: name.to_string(),
            connector,
            rent_timeout,
            backoff,
            drain,
            counters: metrics.pool(kind, name),
            latency: metrics.latency("pool", name),
            rent_latency: metrics.latency("rent", name),
            metrics,
            sup: Mutex::new(None),
            live: AtomicUsize::new(0),
            next_worker: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
        }
    }

    /// How long a request waits for a connection: `rent_timeout`, or until the end of the
    /// graceful-termination window when that is later. A session's last hooks then queue for the
    /// pool instead of failing after `rent_timeout` when thousands of sessions end at once;
    /// `graceful_termination_timeout` still bounds them.
    pub(crate) fn rent_wait(&self) -> Duration {
        let window = self
            .drain
            .deadline()
            .map(|d| d.saturating_duration_since(Instant::now()))
            .unwrap_or_default();
        self.rent_timeout.max(window)
    }

    /// Whether the graceful-termination window is open.
    pub(crate) fn draining(&self) -> bool {
        self.drain.deadline().is_some()
    }

    /// Requests in hand: rented connections (an HTTP `hp.put` keeps its rental until the backend
    /// answered).
    pub(crate) fn busy(&self) -> usize {
        self.busy.load(Ordering::Relaxed)
    }

    /// Worker numbers below `n` are reserved (base workers `0..n`).
    pub(crate) fn reserve_workers(&self, n: usize) {
        self.next_worker.fetch_max(n, Ordering::Relaxed);
    }

    /// A new worker number.
    pub(crate) fn next_worker_id(&self) -> usize {
        self.next_worker.fetch_add(1, Ordering::Relaxed)
    }

    /// The child id of worker `n`: `worker:<name>:<n>`.
    pub(crate) fn worker_id(&self, n: impl std::fmt::Display) -> String {
        format!("worker:{}:{n}", self.name)
    }

    /// Number of live workers.
    pub(crate) fn worker_count(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// The current pool supervisor, if the pool was started.
    pub(crate) fn sup(&self) -> Option<SupervisorHandle> {
        lock(&self.sup).clone()
    }

    /// Forget the pool supervisor (the pool was stopped).
    pub(crate) fn clear_sup(&self) {
        *lock(&self.sup) = None;
    }

    /// A [`StartFn`] for `pool:<name>`: a static one_for_one supervisor ([`POOL_INTENSITY`])
    /// whose initial children `children()` builds afresh on every (re)start; the new handle is
    /// recorded in the core.
    pub(crate) fn sup_start_fn(
        self: &Arc<Self>,
        children: Arc<dyn Fn() -> Vec<ChildSpec> + Send + Sync>,
    ) -> StartFn {
        let core = self.clone();
        Arc::new(move |parent: ActorCell| {
            let core = core.clone();
            let spec = SupervisorSpec {
                id: format!("pool:{}", core.name),
                strategy: Strategy::OneForOne,
                intensity: POOL_INTENSITY,
                children: children(),
            };
            Box::pin(async move {
                let (h, _join) = SupervisorHandle::start(spec, Some(parent)).await?;
                *lock(&core.sup) = Some(h.clone());
                Ok::<_, SupervisionError>(h.cell())
            })
        })
    }
}

/// Held by a worker actor's state: counts it as live while it exists (however it ends), and runs
/// `on_drop` (e.g. to purge it from an idle list) when it goes.
pub(crate) struct WorkerGuard {
    core: Arc<PoolCore>,
    on_drop: Option<Box<dyn FnOnce() + Send>>,
}

impl WorkerGuard {
    /// Count one more live worker of `core`.
    pub(crate) fn new(core: Arc<PoolCore>, on_drop: Option<Box<dyn FnOnce() + Send>>) -> Self {
        let n = core.live.fetch_add(1, Ordering::Relaxed) + 1;
        core.counters.workers.set(n as i64);
        Self { core, on_drop }
    }
}

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        let n = self
            .core
            .live
            .fetch_sub(1, Ordering::Relaxed)
            .saturating_sub(1);
        self.core.counters.workers.set(n as i64);
        if let Some(f) = self.on_drop.take() {
            f();
        }
    }
}

/// Lock a std mutex, ignoring poisoning (the data are plain tables, valid after any panic).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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
