//! `connector.http` (HIVE.md 6.5, 7.2): a pool actor `pool:<name>` renting
//! [`HttpWorker`](super::http_worker::HttpWorker)s, each a supervised actor with its own thread.
//!
//! Concurrency is bounded by `max_connections` (default `size + overflow`): a request first takes
//! one of that many permits (waiting up to `connectors.rent_timeout`), then an idle worker, or a
//! new overflow worker if none is idle. The `size` base workers start with the pool and are
//! restarted when they crash; overflow workers retire after [`OVERFLOW_IDLE`] without work.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::http_worker::{Done, HttpWorker, HttpWorkerActor, HttpWorkerArgs, Job, Method};
use super::pool::{
    PoolCore, RestartWindow, WORKER_MAX_RESTARTS, WORKER_MAX_SECONDS, WorkerEntry, lock,
};
use crate::error::HiveError;
use crate::monitor::Counter;

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

/// State shared by the handle and the pool actor.
pub(crate) struct HttpShared {
    pub(crate) core: Arc<PoolCore>,
    pub(crate) args: HttpArgs,
    /// Base workers.
    pub(crate) size: usize,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<HttpWorker>>,
    actor: Mutex<Option<ActorRef<HttpPoolMsg>>>,
    sync_gets: Counter,
    sync_posts: Counter,
    async_posts: Counter,
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
    /// A pool handle over fresh shared state (no actor yet).
    pub(crate) fn new(core: Arc<PoolCore>, args: HttpArgs, size: u32) -> HttpPool {
        let m = &core.metrics;
        let c = |x: &str| m.counter(&format!("connectors.http.{}.{x}", core.name));
        let size = (size as usize).min(args.max_connections);
        let shared = HttpShared {
            permits: Arc::new(Semaphore::new(args.max_connections)),
            idle: Mutex::new(Vec::new()),
            actor: Mutex::new(None),
            sync_gets: c("sync_gets"),
            sync_posts: c("sync_posts"),
            async_posts: c("async_posts"),
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

    /// Spawn (or re-spawn) the pool actor linked to `supervisor`.
    pub(crate) async fn spawn(
        &self,
        supervisor: ractor::ActorCell,
    ) -> Result<ractor::ActorCell, HiveError> {
        let (r, _) = Actor::spawn_linked(None, HttpPoolActor, self.shared.clone(), supervisor)
            .await
            .map_err(|e| HiveError::ConnectorsError(e.to_string()))?;
        Ok(r.get_cell())
    }

    /// `POST <base_url><endpoint>` and return the reply body.
    ///
    /// # Errors
    /// `http_error` on rent timeout, transport failure, non-2xx status or unreadable body.
    pub async fn hp_post(&self, endpoint: &str, body: String) -> Result<String, HiveError> {
        self.shared.sync_posts.inc();
        self.sync(endpoint, Method::Post(body)).await
    }

    /// `GET <base_url><endpoint>` and return the reply body.
    ///
    /// # Errors
    /// As [`HttpPool::hp_post`].
    pub async fn hp_get(&self, endpoint: &str) -> Result<String, HiveError> {
        self.shared.sync_gets.inc();
        self.sync(endpoint, Method::Get).await
    }

    /// Fire-and-forget `POST`: returns once a worker has the request; its outcome is logged and
    /// counted, never returned.
    ///
    /// # Errors
    /// `http_error` when no worker frees up within `rent_timeout`.
    pub async fn hp_put(&self, endpoint: &str, body: String) -> Result<(), HiveError> {
        self.shared.async_posts.inc();
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
        core.backoff.run(|| self.rent_once()).await
    }

    async fn rent_once(&self) -> Result<Rental, HiveError> {
        let s = &self.shared;
        let permit = match tokio::time::timeout(
            s.core.rent_timeout,
            s.permits.clone().acquire_owned(),
        )
        .await
        {
            Ok(Ok(p)) => p,
            _ => {
                return Err(HiveError::HttpError(format!(
                    "Hive HTTP Hook request failed: no connection to {} became free within {} ms",
                    s.core.name,
                    s.core.rent_timeout.as_millis()
                )));
            }
        };
        let worker = loop {
            let next = lock(&s.idle).pop();
            match next {
                Some(w) if w.alive.load(Ordering::Acquire) => break w,
                Some(_) => continue,
                None => break self.spawn_overflow().await?,
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

    async fn spawn_overflow(&self) -> Result<HttpWorker, HiveError> {
        let s = &self.shared;
        let actor = lock(&s.actor).clone();
        let fail = |r: String| HiveError::HttpError(format!("Hive HTTP Hook request failed: {r}"));
        let actor = actor.ok_or_else(|| fail(format!("pool {} is not running", s.core.name)))?;
        let r =
            ractor::call_t!(actor, HttpPoolMsg::Spawn, 5000).map_err(|e| fail(e.to_string()))?;
        r.map_err(|e| fail(e.to_string()))
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

/// The pool actor (`pool:<name>`): supervises the workers.
pub(crate) struct HttpPoolActor;

/// Messages of [`HttpPoolActor`].
pub(crate) enum HttpPoolMsg {
    /// Start an overflow worker for a renter that holds a permit but found no idle worker.
    Spawn(RpcReplyPort<Result<HttpWorker, HiveError>>),
    /// Periodic: retire overflow workers idle for longer than [`OVERFLOW_IDLE`].
    Tick,
}

/// State of one pool actor incarnation.
pub(crate) struct HttpPoolState {
    shared: Arc<HttpShared>,
    /// Live worker actors: id -> (worker number, permanent, restarts).
    workers: HashMap<ActorId, (usize, bool, u32)>,
    refs: HashMap<usize, ractor::ActorCell>,
    window: RestartWindow,
    my_id: ActorId,
}

impl Drop for HttpPoolState {
    fn drop(&mut self) {
        // This incarnation's workers die with it (ractor kills linked children): forget them.
        for (n, _, _) in self.workers.values() {
            self.shared.core.worker_down(*n);
        }
        // Only this incarnation's entries: the successor may already be running.
        lock(&self.shared.idle).retain(|w| !self.refs.contains_key(&w.n));
        let mut actor = lock(&self.shared.actor);
        if actor.as_ref().is_some_and(|a| a.get_id() == self.my_id) {
            *actor = None;
        }
        drop(actor);
        self.shared.core.clear_cell_if(self.my_id);
    }
}

impl HttpPoolActor {
    async fn spawn_worker(
        myself: &ActorRef<HttpPoolMsg>,
        state: &mut HttpPoolState,
        permanent: bool,
        restarts: u32,
    ) -> Result<HttpWorker, HiveError> {
        let core = &state.shared.core;
        let n = core.next_worker_id();
        let (tx, rx) = std::sync::mpsc::channel();
        let alive = Arc::new(AtomicBool::new(true));
        let args = HttpWorkerArgs {
            label: format!("{}-{n}", core.name),
            rx,
            alive: alive.clone(),
            timeout: state.shared.args.timeout,
        };
        let (r, _) = Actor::spawn_linked(None, HttpWorkerActor, args, myself.get_cell())
            .await
            .map_err(|e| HiveError::ConnectorError(format!("cannot start worker {n}: {e}")))?;
        state.workers.insert(r.get_id(), (n, permanent, restarts));
        state.refs.insert(n, r.get_cell());
        core.worker_up(
            n,
            WorkerEntry {
                actor_id: r.get_id().to_string(),
                permanent,
                restarts,
            },
        );
        Ok(HttpWorker {
            n,
            tx,
            alive,
            permanent,
            idle_since: Instant::now(),
        })
    }
}

impl Actor for HttpPoolActor {
    type Msg = HttpPoolMsg;
    type State = HttpPoolState;
    type Arguments = Arc<HttpShared>;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        shared: Arc<HttpShared>,
    ) -> Result<Self::State, ActorProcessingErr> {
        lock(&shared.idle).retain(|w| w.alive.load(Ordering::Acquire));
        let mut state = HttpPoolState {
            shared: shared.clone(),
            workers: HashMap::new(),
            refs: HashMap::new(),
            window: RestartWindow::new(
                WORKER_MAX_RESTARTS,
                Duration::from_secs(WORKER_MAX_SECONDS),
            ),
            my_id: myself.get_id(),
        };
        for _ in 0..shared.size {
            let w = Self::spawn_worker(&myself, &mut state, true, 0).await?;
            lock(&shared.idle).push(w);
        }
        *lock(&shared.actor) = Some(myself.clone());
        shared.core.set_cell(Some(myself.get_cell()));
        ractor::time::send_interval(Duration::from_secs(1), myself.get_cell(), || {
            HttpPoolMsg::Tick
        });
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            HttpPoolMsg::Spawn(reply) => {
                let r = Self::spawn_worker(&myself, state, false, 0).await;
                let _ = reply.send(r);
            }
            HttpPoolMsg::Tick => {
                let retired: Vec<HttpWorker> = {
                    let mut idle = lock(&state.shared.idle);
                    let (old, keep): (Vec<_>, Vec<_>) = idle
                        .drain(..)
                        .partition(|w| !w.permanent && w.idle_since.elapsed() >= OVERFLOW_IDLE);
                    *idle = keep;
                    old
                };
                for w in retired {
                    if let Some(cell) = state.refs.get(&w.n) {
                        cell.stop(Some("idle".into()));
                    }
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        evt: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, failed) = match &evt {
            SupervisionEvent::ActorFailed(c, _) => (c, true),
            SupervisionEvent::ActorTerminated(c, _, _) => (c, false),
            _ => return Ok(()),
        };
        let Some((n, permanent, restarts)) = state.workers.remove(&cell.get_id()) else {
            return Ok(());
        };
        state.refs.remove(&n);
        state.shared.core.worker_down(n);
        lock(&state.shared.idle).retain(|w| w.n != n);
        if failed {
            tracing::warn!(pool = %state.shared.core.name, worker = n, "HTTP worker crashed: {evt:?}");
        }
        if permanent {
            if !state.window.allow() {
                return Err(format!(
                    "pool {}: worker restart intensity exceeded",
                    state.shared.core.name
                )
                .into());
            }
            let w = Self::spawn_worker(&myself, state, true, restarts + 1)
                .await
                .inspect(|_| {
                    state
                        .shared
                        .core
                        .worker_restarts
                        .fetch_add(1, Ordering::Relaxed);
                })?;
            lock(&state.shared.idle).push(w);
        }
        Ok(())
    }
}
