//! `connector.tcp` (HIVE.md 6.6, 7.3): Hive LISTENS on `args.port`; every connection the backend
//! opens becomes a worker actor `worker:<name>:<n>` (temporary: the backend reconnects) under the
//! pool supervisor `pool:<name>`. The pool's coordinating actor is its first child,
//! `worker:<name>:acceptor` (permanent): it owns the accept loop and adds one worker per accepted
//! connection with `start_child`.
//!
//! Renting takes an idle connection (waiting up to `connectors.rent_timeout`, at most
//! `size + overflow` waiters; during a graceful termination up to its deadline, without a waiter
//! limit, see [`super::Connectors::drain_until`]). A connection closed by the backend is retired
//! and the request is retried on another one within the same deadline.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::pool::{PoolCore, WORKER_SHUTDOWN, WorkerGuard, lock};
use super::tcp_worker::{TcpFail, TcpWorkerActor, TcpWorkerArgs, TcpWorkerMsg};
use crate::error::HiveError;
use crate::metrics::TcpPoolMetrics;
use otp::{ChildSpec, Restart, StartFn, SupervisionError, SupervisorHandle, start_actor};

/// Parsed `connector.tcp` args (HIVE.md 2.11).
#[derive(Debug, Clone)]
pub(crate) struct TcpArgs {
    /// Listening port (0: any free port, see [`TcpPool::local_addr`]).
    pub(crate) port: u16,
    /// Listening address (`args.bind`, default `0.0.0.0` like the original: backends may be remote).
    pub(crate) bind: String,
    /// Retire each connection this long after it was accepted (`None` for `restart_timeout = 0`).
    pub(crate) restart_timeout: Option<Duration>,
    /// Send/receive timeout.
    pub(crate) timeout: Duration,
    /// Wait queue limit (`size + overflow`; 0 = unlimited).
    pub(crate) queue_limit: usize,
}

impl TcpArgs {
    /// Parse the args.
    ///
    /// # Errors
    /// A reason text.
    pub(crate) fn parse(args: &Value, size: u32, overflow: u32) -> Result<TcpArgs, String> {
        let port = args
            .get("port")
            .and_then(Value::as_u64)
            .filter(|p| *p <= 65535)
            .ok_or("args.port must be an integer 0-65535")? as u16;
        let restart = args
            .get("restart_timeout")
            .and_then(Value::as_u64)
            .ok_or("args.restart_timeout must be an integer >= 0")?;
        let timeout = args
            .get("max_connection_timeout")
            .and_then(Value::as_u64)
            .unwrap_or(5000)
            .max(1);
        let bind = match args.get("bind") {
            None | Some(Value::Null) => "0.0.0.0".to_string(),
            Some(Value::String(b)) if !b.is_empty() => b.clone(),
            Some(_) => return Err("args.bind must be an address string".into()),
        };
        Ok(TcpArgs {
            port,
            bind,
            restart_timeout: (restart > 0).then(|| Duration::from_millis(restart)),
            timeout: Duration::from_millis(timeout),
            queue_limit: size as usize + overflow as usize,
        })
    }
}

/// An idle or rented backend connection.
pub(crate) struct TcpWorker {
    actor: ActorRef<TcpWorkerMsg>,
    alive: Arc<AtomicBool>,
}

pub(crate) struct TcpShared {
    core: Arc<PoolCore>,
    args: TcpArgs,
    listener: Arc<TcpListener>,
    local_addr: SocketAddr,
    idle: Mutex<Vec<TcpWorker>>,
    idle_permits: Semaphore,
    waiting: AtomicUsize,
    /// `connectors.tcp.<pool>.*` besides the core's.
    counters: TcpPoolMetrics,
}

/// Handle of a `connector.tcp` pool (cheap clone).
#[derive(Clone)]
pub struct TcpPool {
    shared: Arc<TcpShared>,
}

struct Rental {
    shared: Arc<TcpShared>,
    worker: Option<TcpWorker>,
}

impl Drop for Rental {
    fn drop(&mut self) {
        if let Some(w) = self.worker.take()
            && w.alive.load(Ordering::Acquire)
        {
            lock(&self.shared.idle).push(w);
            self.shared.idle_permits.add_permits(1);
        }
        self.shared.core.busy.fetch_sub(1, Ordering::Relaxed);
        self.shared.core.counters.returns.inc();
    }
}

impl TcpPool {
    /// Bind the listener (once per pool: it survives pool supervisor restarts).
    ///
    /// # Errors
    /// `tcp_error` "Hive TCP Connector <pool> is unable to initialize the listener: <reason>".
    pub(crate) async fn bind(core: Arc<PoolCore>, args: TcpArgs) -> Result<TcpPool, HiveError> {
        let fail = |e: std::io::Error| {
            HiveError::TcpError(format!(
                "Hive TCP Connector {} is unable to initialize the listener: {e}",
                core.name
            ))
        };
        let listener = TcpListener::bind((args.bind.as_str(), args.port))
            .await
            .map_err(fail)?;
        let local_addr = listener.local_addr().map_err(fail)?;
        let counters = core.metrics.tcp_pool(&core.name);
        let shared = TcpShared {
            counters,
            listener: Arc::new(listener),
            local_addr,
            idle: Mutex::new(Vec::new()),
            idle_permits: Semaphore::new(0),
            waiting: AtomicUsize::new(0),
            core,
            args,
        };
        Ok(TcpPool {
            shared: Arc::new(shared),
        })
    }

    /// The pool's shared core.
    pub(crate) fn core(&self) -> &Arc<PoolCore> {
        &self.shared.core
    }

    /// The address Hive listens on for this pool (port resolved when `args.port` was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// How to (re)start `pool:<name>`: a supervisor whose first child is the acceptor.
    pub(crate) fn sup_start_fn(&self) -> StartFn {
        let shared = self.shared.clone();
        self.shared
            .core
            .sup_start_fn(Arc::new(move || vec![acceptor_spec(&shared)]))
    }

    /// Write one frame with `body` to `endpoint`, read one frame back and return its data.
    ///
    /// # Errors
    /// `tcp_error`: no connection within `rent_timeout`, I/O failure, unexpected reply.
    pub async fn hp_post(&self, endpoint: &str, body: String) -> Result<String, HiveError> {
        self.shared.counters.send.inc();
        self.shared.counters.recv.inc();
        self.request(endpoint, Some(body), true).await
    }

    /// Read one frame for `endpoint` (nothing is written).
    ///
    /// # Errors
    /// As [`TcpPool::hp_post`].
    pub async fn hp_get(&self, endpoint: &str) -> Result<String, HiveError> {
        self.shared.counters.recv.inc();
        self.request(endpoint, None, true).await
    }

    /// Write one frame, read nothing.
    ///
    /// # Errors
    /// As [`TcpPool::hp_post`].
    pub async fn hp_put(&self, endpoint: &str, body: String) -> Result<(), HiveError> {
        self.shared.counters.send.inc();
        self.request(endpoint, Some(body), false).await.map(|_| ())
    }

    async fn request(
        &self,
        endpoint: &str,
        body: Option<String>,
        read: bool,
    ) -> Result<String, HiveError> {
        let counters = &self.shared.core.counters;
        counters.request();
        let backoff = self.shared.core.backoff;
        let r = backoff
            .run(|| self.attempt(endpoint, body.clone(), read))
            .await;
        if r.is_err() {
            counters.error();
        }
        r
    }

    /// One attempt: rent within the deadline; a connection found closed is retired and another
    /// one is tried until the deadline.
    async fn attempt(
        &self,
        endpoint: &str,
        body: Option<String>,
        read: bool,
    ) -> Result<String, HiveError> {
        let deadline = Instant::now() + self.shared.core.rent_wait();
        loop {
            let t = Instant::now();
            let rental = self.rent(deadline).await;
            self.shared.core.rent_latency.record(t.elapsed());
            let rental = rental?;
            let Some(w) = rental.worker.as_ref() else {
                return Err(HiveError::InternalError("rental without worker".into()));
            };
            let (ep, b) = (endpoint.to_string(), body.clone());
            let r = ractor::call!(w.actor, |reply| TcpWorkerMsg::Request {
                endpoint: ep,
                body: b,
                read,
                reply
            });
            match r {
                Ok(Ok(data)) => return Ok(data),
                Ok(Err(TcpFail::Error(e))) => return Err(e),
                Ok(Err(TcpFail::Closed)) | Err(_) => {
                    w.alive.store(false, Ordering::Release);
                    continue;
                }
            }
        }
    }

    async fn rent(&self, deadline: Instant) -> Result<Rental, HiveError> {
        let s = &self.shared;
        loop {
            let permit = match s.idle_permits.try_acquire() {
                Ok(p) => p,
                Err(_) => {
                    let limit = s.args.queue_limit;
                    // No limit while the node terminates gracefully: every session's last
                    // hooks wait their turn, bounded by the graceful timeout.
                    if limit > 0 && !s.core.draining() && s.waiting.load(Ordering::Relaxed) >= limit
                    {
                        return Err(HiveError::TcpError(format!(
                            "{}'s request queue is full.",
                            s.core.name
                        )));
                    }
                    s.waiting.fetch_add(1, Ordering::Relaxed);
                    let left = deadline.saturating_duration_since(Instant::now());
                    let r = tokio::time::timeout(left, s.idle_permits.acquire()).await;
                    s.waiting.fetch_sub(1, Ordering::Relaxed);
                    match r {
                        Ok(Ok(p)) => p,
                        _ => {
                            return Err(HiveError::TcpError(format!(
                                "{}'s request timed out!",
                                s.core.name
                            )));
                        }
                    }
                }
            };
            permit.forget();
            let w = lock(&s.idle).pop();
            if let Some(w) = w.filter(|w| w.alive.load(Ordering::Acquire)) {
                s.core.busy.fetch_add(1, Ordering::Relaxed);
                s.core.counters.rents.inc();
                return Ok(Rental {
                    shared: s.clone(),
                    worker: Some(w),
                });
            }
        }
    }

    /// Reachable when at least one backend connection is up; live and busy connection counts.
    pub(crate) fn health(&self) -> (bool, usize, usize) {
        let core = &self.shared.core;
        let n = core.worker_count();
        (n > 0, n, core.busy.load(Ordering::Relaxed))
    }
}

/// The child spec of `worker:<name>:acceptor`: permanent, started with its supervisor's handle.
fn acceptor_spec(shared: &Arc<TcpShared>) -> ChildSpec {
    let shared = shared.clone();
    let id = shared.core.worker_id("acceptor");
    ChildSpec::worker(
        id,
        Restart::Permanent,
        WORKER_SHUTDOWN,
        Arc::new(move |sup: ActorCell| {
            let args = (shared.clone(), SupervisorHandle::from_cell(sup.clone()));
            start_actor(move || (TcpAcceptor, args.clone()))(sup)
        }),
    )
}

/// The child spec of the worker for one accepted connection: temporary (the backend reconnects),
/// so it is started exactly once and the stream is taken by that start.
fn connection_spec(shared: &Arc<TcpShared>, n: usize, stream: TcpStream) -> ChildSpec {
    let shared = shared.clone();
    let stream = Arc::new(Mutex::new(Some(stream)));
    let id = shared.core.worker_id(n);
    ChildSpec::worker(
        id.clone(),
        Restart::Temporary,
        WORKER_SHUTDOWN,
        Arc::new(move |sup: ActorCell| {
            let (shared, stream, id) = (shared.clone(), lock(&stream).take(), id.clone());
            Box::pin(async move {
                let fail = |reason: String| SupervisionError::StartFailed {
                    id: id.clone(),
                    reason,
                };
                let stream =
                    stream.ok_or_else(|| fail("the connection was already taken".into()))?;
                let alive = Arc::new(AtomicBool::new(true));
                let args = TcpWorkerArgs {
                    stream,
                    alive: alive.clone(),
                    timeout: shared.args.timeout,
                    restart_timeout: shared.args.restart_timeout,
                    guard: WorkerGuard::new(shared.core.clone(), None),
                };
                let (actor, _) = Actor::spawn_linked(None, TcpWorkerActor, args, sup)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                let cell = actor.get_cell();
                lock(&shared.idle).push(TcpWorker { actor, alive });
                shared.idle_permits.add_permits(1);
                Ok(cell)
            })
        }),
    )
}

/// `worker:<name>:acceptor`, the pool's coordinating actor: runs the accept loop (a task it owns)
/// and asks its supervisor to start one worker per accepted connection.
pub(crate) struct TcpAcceptor;

/// State: the accept task, aborted when the acceptor goes, however it goes.
pub(crate) struct TcpAcceptorState {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TcpAcceptorState {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Actor for TcpAcceptor {
    type Msg = ();
    type State = TcpAcceptorState;
    type Arguments = (Arc<TcpShared>, SupervisorHandle);

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        (shared, sup): (Arc<TcpShared>, SupervisorHandle),
    ) -> Result<Self::State, ActorProcessingErr> {
        // The loop calls the supervisor from a task, never from this actor's handler: the
        // supervisor may be busy stopping this very actor.
        let task = tokio::spawn(async move {
            let name = shared.core.name.clone();
            loop {
                match shared.listener.accept().await {
                    Ok((stream, peer)) => {
                        let n = shared.core.next_worker_id();
                        match sup.start_child(connection_spec(&shared, n, stream)).await {
                            Ok(_) => {
                                tracing::debug!(pool = %name, worker = n, %peer, "backend connected");
                            }
                            Err(SupervisionError::Stopped) => break,
                            Err(e) => {
                                tracing::warn!(pool = %name, error = %e, "cannot start TCP worker");
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(pool = %name, error = %e, "TCP connector accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        Ok(TcpAcceptorState { task })
    }
}
