//! `connector.tcp` (HIVE.md 6.6, 7.3): Hive LISTENS on `args.port`; every connection the backend
//! opens becomes a worker actor `worker:<name>:<n>` (temporary: the backend reconnects) under the
//! pool actor `pool:<name>`, which owns the accept loop.
//!
//! Renting takes an idle connection (waiting up to `connectors.rent_timeout`, at most
//! `size + overflow` waiters). A connection closed by the backend is retired and the request is
//! retried on another one within the same deadline.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::pool::{PoolCore, WorkerEntry, lock};
use super::tcp_worker::{TcpFail, TcpWorkerActor, TcpWorkerArgs, TcpWorkerMsg};
use crate::error::HiveError;
use crate::monitor::Counter;

/// Parsed `connector.tcp` args (HIVE.md 2.11).
#[derive(Debug, Clone)]
pub(crate) struct TcpArgs {
    /// Listening port (0: any free port, see [`TcpPool::local_addr`]).
    pub(crate) port: u16,
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
        Ok(TcpArgs {
            port,
            restart_timeout: (restart > 0).then(|| Duration::from_millis(restart)),
            timeout: Duration::from_millis(timeout),
            queue_limit: size as usize + overflow as usize,
        })
    }
}

/// An idle or rented backend connection.
pub(crate) struct TcpWorker {
    n: usize,
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
    send: Counter,
    recv: Counter,
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
    /// Bind the listener (once per pool: it survives pool actor restarts).
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
        let listener = TcpListener::bind(("0.0.0.0", args.port))
            .await
            .map_err(fail)?;
        let local_addr = listener.local_addr().map_err(fail)?;
        let c = |x: &str| {
            core.metrics
                .counter(&format!("connectors.tcp.{}.{x}", core.name))
        };
        let shared = TcpShared {
            send: c("send"),
            recv: c("recv"),
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

    /// Spawn (or re-spawn) the pool actor linked to `supervisor`.
    pub(crate) async fn spawn(
        &self,
        supervisor: ractor::ActorCell,
    ) -> Result<ractor::ActorCell, HiveError> {
        let (r, _) = Actor::spawn_linked(None, TcpPoolActor, self.shared.clone(), supervisor)
            .await
            .map_err(|e| HiveError::ConnectorsError(e.to_string()))?;
        Ok(r.get_cell())
    }

    /// Write one frame with `body` to `endpoint`, read one frame back and return its data.
    ///
    /// # Errors
    /// `tcp_error`: no connection within `rent_timeout`, I/O failure, unexpected reply.
    pub async fn hp_post(&self, endpoint: &str, body: String) -> Result<String, HiveError> {
        self.shared.send.inc();
        self.shared.recv.inc();
        self.request(endpoint, Some(body), true).await
    }

    /// Read one frame for `endpoint` (nothing is written).
    ///
    /// # Errors
    /// As [`TcpPool::hp_post`].
    pub async fn hp_get(&self, endpoint: &str) -> Result<String, HiveError> {
        self.shared.recv.inc();
        self.request(endpoint, None, true).await
    }

    /// Write one frame, read nothing.
    ///
    /// # Errors
    /// As [`TcpPool::hp_post`].
    pub async fn hp_put(&self, endpoint: &str, body: String) -> Result<(), HiveError> {
        self.shared.send.inc();
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
        let deadline = Instant::now() + self.shared.core.rent_timeout;
        loop {
            let rental = self.rent(deadline).await?;
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
                    if limit > 0 && s.waiting.load(Ordering::Relaxed) >= limit {
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

/// The pool actor: accepts backend connections and supervises one worker per connection.
pub(crate) struct TcpPoolActor;

/// Messages of [`TcpPoolActor`].
pub(crate) enum TcpPoolMsg {
    /// A backend connected.
    Accepted(tokio::net::TcpStream, SocketAddr),
}

/// State of one pool actor incarnation.
pub(crate) struct TcpPoolState {
    shared: Arc<TcpShared>,
    acceptor: tokio::task::JoinHandle<()>,
    workers: HashMap<ActorId, usize>,
    my_id: ActorId,
}

impl Drop for TcpPoolState {
    fn drop(&mut self) {
        self.acceptor.abort();
        for n in self.workers.values() {
            self.shared.core.worker_down(*n);
        }
        self.shared.core.clear_cell_if(self.my_id);
    }
}

impl Actor for TcpPoolActor {
    type Msg = TcpPoolMsg;
    type State = TcpPoolState;
    type Arguments = Arc<TcpShared>;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        shared: Arc<TcpShared>,
    ) -> Result<Self::State, ActorProcessingErr> {
        let listener = shared.listener.clone();
        let me = myself.clone();
        let name = shared.core.name.clone();
        let acceptor = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((s, peer)) => {
                        if me.cast(TcpPoolMsg::Accepted(s, peer)).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(pool = %name, error = %e, "TCP connector accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        shared.core.set_cell(Some(myself.get_cell()));
        Ok(TcpPoolState {
            shared,
            acceptor,
            workers: HashMap::new(),
            my_id: myself.get_id(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let TcpPoolMsg::Accepted(stream, peer) = msg;
        let s = &state.shared;
        let n = s.core.next_worker_id();
        let alive = Arc::new(AtomicBool::new(true));
        let args = TcpWorkerArgs {
            stream,
            alive: alive.clone(),
            timeout: s.args.timeout,
            restart_timeout: s.args.restart_timeout,
        };
        match Actor::spawn_linked(None, TcpWorkerActor, args, myself.get_cell()).await {
            Ok((actor, _)) => {
                tracing::debug!(pool = %s.core.name, worker = n, %peer, "backend connected");
                state.workers.insert(actor.get_id(), n);
                let entry = WorkerEntry {
                    actor_id: actor.get_id().to_string(),
                    permanent: false,
                    restarts: 0,
                };
                s.core.worker_up(n, entry);
                lock(&s.idle).push(TcpWorker { n, actor, alive });
                s.idle_permits.add_permits(1);
            }
            Err(e) => tracing::warn!(pool = %s.core.name, error = %e, "cannot start TCP worker"),
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<Self::Msg>,
        evt: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let cell = match &evt {
            SupervisionEvent::ActorFailed(c, _) | SupervisionEvent::ActorTerminated(c, _, _) => c,
            _ => return Ok(()),
        };
        if let Some(n) = state.workers.remove(&cell.get_id()) {
            state.shared.core.worker_down(n);
            let idle = lock(&state.shared.idle);
            for w in idle.iter().filter(|w| w.n == n) {
                w.alive.store(false, Ordering::Release);
            }
        }
        Ok(())
    }
}
