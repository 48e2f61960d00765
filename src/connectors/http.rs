//! `connector.http` (HIVE.md 6.5, 7.2): a pool supervisor `pool:<name>` of
//! [`HttpWorker`](super::http_worker::HttpWorker)s, each a supervised actor with its own thread.
//!
//! Concurrency is bounded by `max_connections` (default `size + overflow`): a request first takes
//! one of that many permits (waiting up to `connectors.rent_timeout`, or to the end of a graceful
//! termination, see [`super::Connectors::drain_until`]), then an idle worker, or a
//! new overflow worker if none is idle. The `size` base workers `worker:<name>:0..size` are the
//! supervisor's permanent children (restarted when they crash); overflow workers are temporary
//! children added with `start_child` and retire by themselves after [`OVERFLOW_IDLE`] without
//! work. Renting needs no coordinating actor: the permits and the idle list live in the shared
//! state of the handle.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ractor::{Actor, ActorCell};
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::http_worker::{Done, HttpWorker, HttpWorkerActor, HttpWorkerArgs, Job, Method};
use super::pool::{PoolCore, WORKER_SHUTDOWN, WorkerGuard, lock};
use crate::error::HiveError;
use crate::metrics::HttpPoolMetrics;
use otp::{ChildSpec, Restart, StartFn, SupervisionError};

/// Idle time after which an overflow worker retires.
pub(crate) const OVERFLOW_IDLE: Duration = Duration::from_secs(5);

/// Parsed `connector.http` args (HIVE.md 2.11).
#[derive(Debug, Clone)]
pub(crate) struct HttpArgs {
    /// `http://host[:port][/prefix]`, without a trailing slash.
    pub(crate) base_url: String,
    /// Backend host (brackets stripped).
    pub(crate) host: String,
    /// Backend port (80 by default).
    pub(crate) port: u16,
    /// Whole-request timeout (`max_connection_timeout`, 0 = 5000 ms).
    pub(crate) timeout: Duration,
    /// Bound on concurrent requests.
    pub(crate) max_connections: usize,
}

impl HttpArgs {
    /// Parse and check the args of a pool with `size`/`overflow`.
    ///
    /// # Errors
    /// A reason text (the caller wraps it into the pool's start error).
    pub(crate) fn parse(args: &Value, size: u32, overflow: u32) -> Result<HttpArgs, String> {
        let base_url = args
            .get("base_url")
            .and_then(Value::as_str)
            .ok_or("args.base_url must be a string")?
            .trim_end_matches('/')
            .to_string();
        let rest = base_url
            .strip_prefix("http://")
            .ok_or_else(|| format!("args.base_url must be an http:// URL, got {base_url:?}"))?;
        let authority = rest.split('/').next().unwrap_or_default();
        let (host, port) = split_host_port(authority)?;
        let ms = |k: &str| args.get(k).and_then(Value::as_u64);
        let timeout = match ms("max_connection_timeout") {
            Some(0) | None
                if args
                    .get("max_connection_timeout")
                    .is_some_and(|v| !v.is_u64()) =>
            {
                return Err("args.max_connection_timeout must be an integer >= 0".into());
            }
            Some(0) | None => Duration::from_millis(5000),
            Some(n) => Duration::from_millis(n),
        };
        let default_max = (size as usize + overflow as usize).max(1);
        let max_connections = match ms("max_connections") {
            Some(0) | None => default_max,
            Some(n) => n as usize,
        };
        Ok(HttpArgs {
            base_url,
            host,
            port,
            timeout,
            max_connections,
        })
    }
}

/// Split `host[:port]` / `[v6][:port]`.
fn split_host_port(authority: &str) -> Result<(String, u16), String> {
    let bad = || format!("bad host in args.base_url: {authority:?}");
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(bad)?;
        (h.to_string(), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(bad());
    }
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| bad())?,
        None => 80,
    };
    Ok((host, port))
}

/// State shared by the handle, the pool supervisor and the workers.
pub(crate) struct HttpShared {
    pub(crate) core: Arc<PoolCore>,
    pub(crate) args: HttpArgs,
    /// Base workers.
    pub(crate) size: usize,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<HttpWorker>>,
    /// `connectors.http.<pool>.*` besides the core's.
    counters: HttpPoolMetrics,
}

/// Handle of a `connector.http` pool (cheap clone).
#[derive(Clone)]
pub struct HttpPool {
    shared: Arc<HttpShared>,
}

/// A rented worker and its permit; dropping it gives the worker back.
struct Rental {
    shared: Arc<HttpShared>,
    worker: Option<HttpWorker>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Rental {
    fn drop(&mut self) {
        if let Some(mut w) = self.worker.take()
            && w.alive.load(Ordering::Acquire)
        {
            w.idle_since = Instant::now();
            lock(&self.shared.idle).push(w);
        }
        self.shared.core.busy.fetch_sub(1, Ordering::Relaxed);
        self.shared.core.counters.returns.inc();
    }
}

impl HttpPool {
    /// A pool handle over fresh shared state (no supervisor yet).
    pub(crate) fn new(core: Arc<PoolCore>, args: HttpArgs, size: u32) -> HttpPool {
        let counters = core.metrics.http_pool(&core.name);
        let size = (size as usize).min(args.max_connections);
        core.reserve_workers(size);
        let shared = HttpShared {
            permits: Arc::new(Semaphore::new(args.max_connections)),
            idle: Mutex::new(Vec::new()),
            counters,
            core,
            args,
            size,
        };
        HttpPool {
            shared: Arc::new(shared),
        }
    }

    /// The pool's shared core.
    pub(crate) fn core(&self) -> &Arc<PoolCore> {
        &self.shared.core
    }

    /// How to (re)start `pool:<name>`: a supervisor with the `size` base workers.
    pub(crate) fn sup_start_fn(&self) -> StartFn {
        let shared = self.shared.clone();
        self.shared.core.sup_start_fn(Arc::new(move || {
            (0..shared.size)
                .map(|n| base_worker_spec(&shared, n))
                .collect()
        }))
    }

    /// `POST <base_url><endpoint>` and return the reply body.
    ///
    /// # Errors
    /// `http_error` on rent timeout, transport failure, non-2xx status or unreadable body.
    pub async fn hp_post(&self, endpoint: &str, body: String) -> Result<String, HiveError> {
        self.shared.counters.sync_posts.inc();
        self.sync(endpoint, Method::Post(body)).await
    }

    /// `GET <base_url><endpoint>` and return the reply body.
    ///
    /// # Errors
    /// As [`HttpPool::hp_post`].
    pub async fn hp_get(&self, endpoint: &str) -> Result<String, HiveError> {
        self.shared.counters.sync_gets.inc();
        self.sync(endpoint, Method::Get).await
    }

    /// Fire-and-forget `POST`: returns once a worker has the request; its outcome is logged and
    /// counted, never returned.
    ///
    /// # Errors
    /// `http_error` when no worker frees up within `rent_timeout`.
    pub async fn hp_put(&self, endpoint: &str, body: String) -> Result<(), HiveError> {
        self.shared.counters.async_posts.inc();
        self.shared.core.counters.request();
        let rental = self
            .rent()
            .await
            .inspect_err(|_| self.shared.core.counters.error())?;
        let tx = worker_tx(&rental)?;
        let core = self.shared.core.clone();
        let done: Done = Box::new(move |r| {
            if let Err(e) = r {
                core.counters.error();
                tracing::warn!(pool = %core.name, error = %e, "asynchronous hp.put failed");
            }
            drop(rental);
        });
        let url = format!("{}{endpoint}", self.shared.args.base_url);
        send_job(&tx, url, Method::Post(body), done)
    }

    async fn sync(&self, endpoint: &str, method: Method) -> Result<String, HiveError> {
        let counters = &self.shared.core.counters;
        counters.request();
        let result = async {
            let rental = self.rent().await?;
            let (tx, rx) = tokio::sync::oneshot::channel();
            let done: Done = Box::new(move |r| {
                let _ = tx.send(r);
            });
            let url = format!("{}{endpoint}", self.shared.args.base_url);
            send_job(&worker_tx(&rental)?, url, method, done)?;
            let r = rx.await.unwrap_or_else(|_| {
                Err(HiveError::HttpError(
                    "Hive HTTP Hook request failed: the worker crashed".into(),
                ))
            });
            drop(rental);
            r
        }
        .await;
        if result.is_err() {
            counters.error();
        }
        result
    }

    async fn rent(&self) -> Result<Rental, HiveError> {
        let core = &self.shared.core;
        let t = Instant::now();
        let r = core.backoff.run(|| self.rent_once()).await;
        core.rent_latency.record(t.elapsed());
        r
    }

    async fn rent_once(&self) -> Result<Rental, HiveError> {
        let s = &self.shared;
        let wait = s.core.rent_wait();
        let permit = match tokio::time::timeout(wait, s.permits.clone().acquire_owned()).await {
            Ok(Ok(p)) => p,
            _ => {
                return Err(HiveError::HttpError(format!(
                    "Hive HTTP Hook request failed: no connection to {} became free within {} ms",
                    s.core.name,
                    wait.as_millis()
                )));
            }
        };
        let worker = loop {
            let next = lock(&s.idle).pop();
            match next {
                Some(w) if w.alive.load(Ordering::Acquire) => break w,
                Some(_) => continue,
                None => self.spawn_overflow().await?,
            }
        };
        s.core.busy.fetch_add(1, Ordering::Relaxed);
        s.core.counters.rents.inc();
        Ok(Rental {
            shared: s.clone(),
            worker: Some(worker),
            _permit: permit,
        })
    }

    /// Start an overflow worker (a temporary child of the pool supervisor) into the idle list.
    async fn spawn_overflow(&self) -> Result<(), HiveError> {
        let s = &self.shared;
        let fail = |r: String| HiveError::HttpError(format!("Hive HTTP Hook request failed: {r}"));
        let sup = s
            .core
            .sup()
            .ok_or_else(|| fail(format!("pool {} is not running", s.core.name)))?;
        let n = s.core.next_worker_id();
        let shared = s.clone();
        let spec = ChildSpec::worker(
            s.core.worker_id(n),
            Restart::Temporary,
            WORKER_SHUTDOWN,
            Arc::new(move |sup: ActorCell| {
                let shared = shared.clone();
                Box::pin(async move {
                    let (cell, w) = start_worker(&shared, n, false, sup).await?;
                    lock(&shared.idle).push(w);
                    Ok(cell)
                })
            }),
        );
        // The worker lands in the idle list, so a renter that gave up leaves nothing behind (an
        // unused overflow worker retires when idle).
        match tokio::time::timeout(Duration::from_secs(5), sup.start_child(spec)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(fail(e.to_string())),
            Err(_) => Err(fail(format!("pool {} did not start a worker", s.core.name))),
        }
    }

    /// Whether the backend accepts TCP connections now, plus live and busy worker counts.
    pub(crate) async fn health(&self) -> (bool, usize, usize) {
        let s = &self.shared;
        let ok = super::pool::connect_check(&s.args.host, s.args.port, Duration::from_millis(1000))
            .await
            .is_ok();
        (
            ok,
            s.core.worker_count(),
            s.core.busy.load(Ordering::Relaxed),
        )
    }
}

/// The job channel of a rented worker.
fn worker_tx(rental: &Rental) -> Result<std::sync::mpsc::Sender<Job>, HiveError> {
    rental
        .worker
        .as_ref()
        .map(|w| w.tx.clone())
        .ok_or_else(|| HiveError::InternalError("rental without worker".into()))
}

/// Hand a job to a worker thread.
fn send_job(
    tx: &std::sync::mpsc::Sender<Job>,
    url: String,
    method: Method,
    done: Done,
) -> Result<(), HiveError> {
    tx.send(Job { method, url, done }).map_err(|_| {
        HiveError::HttpError("Hive HTTP Hook request failed: the worker is gone".into())
    })
}

/// The child spec of base worker `n`: permanent; every incarnation joins the idle list.
fn base_worker_spec(shared: &Arc<HttpShared>, n: usize) -> ChildSpec {
    let shared = shared.clone();
    ChildSpec::worker(
        shared.core.worker_id(n),
        Restart::Permanent,
        WORKER_SHUTDOWN,
        Arc::new(move |sup: ActorCell| {
            let shared = shared.clone();
            Box::pin(async move {
                let (cell, w) = start_worker(&shared, n, true, sup).await?;
                lock(&shared.idle).push(w);
                Ok(cell)
            })
        }),
    )
}

/// Spawn one incarnation of worker `n` linked to the pool supervisor `sup`. Overflow workers
/// (`permanent` false) check once a second whether they sat idle for [`OVERFLOW_IDLE`], and then
/// leave the idle list and stop.
async fn start_worker(
    shared: &Arc<HttpShared>,
    n: usize,
    permanent: bool,
    sup: ActorCell,
) -> Result<(ActorCell, HttpWorker), SupervisionError> {
    let core = &shared.core;
    let (tx, rx) = std::sync::mpsc::channel();
    let alive = Arc::new(AtomicBool::new(true));
    let purge = shared.clone();
    let guard = WorkerGuard::new(
        core.clone(),
        Some(Box::new(move || {
            lock(&purge.idle).retain(|w| w.alive.load(Ordering::Acquire));
        })),
    );
    let retire = (!permanent).then(|| {
        let shared = shared.clone();
        Box::new(move || {
            let mut idle = lock(&shared.idle);
            let due = idle
                .iter()
                .position(|w| w.n == n && w.idle_since.elapsed() >= OVERFLOW_IDLE);
            due.map(|i| idle.remove(i)).is_some()
        }) as Box<dyn Fn() -> bool + Send + Sync>
    });
    let args = HttpWorkerArgs {
        label: format!("{}-{n}", core.name),
        rx,
        alive: alive.clone(),
        timeout: shared.args.timeout,
        guard,
        retire,
    };
    let id = core.worker_id(n);
    let (r, _) = Actor::spawn_linked(None, HttpWorkerActor, args, sup)
        .await
        .map_err(|e| SupervisionError::StartFailed {
            id,
            reason: e.to_string(),
        })?;
    let worker = HttpWorker {
        n,
        tx,
        alive,
        idle_since: Instant::now(),
    };
    Ok((r.get_cell(), worker))
}
