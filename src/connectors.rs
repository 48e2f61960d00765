//! Backend connector pools (HIVE.md 7): `connector.http`, `connector.tcp`, `connector.redis`.
//!
//! [`Connectors`] is the manager: a registry name -> [`Pool`] plus `connectors_sup`, a static
//! supervisor of the `otp` crate with one supervisor per pool, each
//! supervising its workers:
//!
//! ```text
//! connectors_sup (one_for_one, 5 restarts / 10 s; a registered pool is always restarted)
//! └── pool:<name>   (one_for_one, 10 restarts / 10 s; base workers permanent, others temporary)
//!     └── worker:<name>:<n>
//! ```
//!
//! * `connector.http`: `size` base workers `worker:<name>:0..size` (permanent) and overflow workers
//!   (temporary) started under load with `start_child` and retiring after 5 s idle. Renting needs
//!   no coordinating actor (a semaphore and an idle list shared with the handle).
//! * `connector.tcp`: `worker:<name>:acceptor` (permanent), the coordinating actor that owns the
//!   accept loop, then one temporary `worker:<name>:<n>` per accepted backend connection.
//! * `connector.redis`: `size` permanent workers `worker:<name>:0..size`, one fred client each.
//!   A periodic reconnection (`restart_timeout`) is a deliberate `terminate_child` +
//!   `restart_child`, not a crash: it neither counts against the intensity nor as a restart.
//!
//! Pools start in config order; the first one that cannot start stops the ones already started
//! and fails [`Connectors::start`] with one line naming the pool and the address.

mod backoff;
mod http;
mod http_worker;
mod manager;
mod pool;
mod redis;
mod tcp;
pub(crate) mod tcp_frame;
mod tcp_worker;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use ractor::ActorCell;

pub use http::HttpPool;
pub use redis::RedisPool;
pub use tcp::TcpPool;

use backoff::Backoff;
use manager::PoolDefs;
use pool::{Drain, PoolCore, lock};

use crate::config::{ConnectorName, ConnectorsSection, PoolDescriptor};
use crate::error::HiveError;
use crate::metrics::{ConnectorsMetrics, Metrics};
use otp::{StartFn, SupervisorHandle, SupervisorReport};

/// A pool of any connector type (cheap clone; stays valid across pool restarts).
#[derive(Clone)]
pub enum Pool {
    /// `connector.http`.
    Http(HttpPool),
    /// `connector.tcp`.
    Tcp(TcpPool),
    /// `connector.redis`.
    Redis(RedisPool),
}

/// Health of one pool, as the monitor reports it.
pub use crate::admin::PoolHealth;

impl Pool {
    fn core(&self) -> &Arc<PoolCore> {
        match self {
            Pool::Http(p) => p.core(),
            Pool::Tcp(p) => p.core(),
            Pool::Redis(p) => p.core(),
        }
    }

    fn not_hp(&self) -> HiveError {
        HiveError::BadConnectorDescriptor(format!(
            "Hive Protocol hooks need a connector.http or connector.tcp pool, {} is {}",
            self.core().name,
            self.core().connector
        ))
    }

    /// Send `body` to `endpoint` and return the reply body (`""` allowed).
    ///
    /// # Errors
    /// `http_error` / `tcp_error` from the connector; `bad_connector_descriptor` for a Redis pool.
    pub async fn hp_post(&self, endpoint: &str, body: String) -> Result<String, HiveError> {
        let t = std::time::Instant::now();
        let r = match self {
            Pool::Http(p) => p.hp_post(endpoint, body).await,
            Pool::Tcp(p) => p.hp_post(endpoint, body).await,
            Pool::Redis(_) => return Err(self.not_hp()),
        };
        self.core().latency.record(t.elapsed());
        r
    }

    /// Ask `endpoint` for a reply without sending anything.
    ///
    /// # Errors
    /// As [`Pool::hp_post`].
    pub async fn hp_get(&self, endpoint: &str) -> Result<String, HiveError> {
        let t = std::time::Instant::now();
        let r = match self {
            Pool::Http(p) => p.hp_get(endpoint).await,
            Pool::Tcp(p) => p.hp_get(endpoint).await,
            Pool::Redis(_) => return Err(self.not_hp()),
        };
        self.core().latency.record(t.elapsed());
        r
    }

    /// Send `body` to `endpoint` without waiting for a reply.
    ///
    /// # Errors
    /// As [`Pool::hp_post`] (only failures to hand the request over).
    pub async fn hp_put(&self, endpoint: &str, body: String) -> Result<(), HiveError> {
        match self {
            Pool::Http(p) => p.hp_put(endpoint, body).await,
            Pool::Tcp(p) => p.hp_put(endpoint, body).await,
            Pool::Redis(_) => Err(self.not_hp()),
        }
    }

    async fn health(&self) -> PoolHealth {
        let core = self.core();
        let (reachable, workers, busy) = match self {
            Pool::Http(p) => p.health().await,
            Pool::Tcp(p) => p.health(),
            Pool::Redis(p) => p.health(),
        };
        PoolHealth {
            name: core.name.clone(),
            connector: core.connector.into(),
            reachable,
            workers,
            busy,
        }
    }

    /// How to (re)start this pool's supervisor.
    fn sup_start_fn(&self) -> StartFn {
        match self {
            Pool::Http(p) => p.sup_start_fn(),
            Pool::Tcp(p) => p.sup_start_fn(),
            Pool::Redis(p) => p.sup_start_fn(),
        }
    }

    async fn after_stop(&self) {
        if let Pool::Redis(p) = self {
            p.after_stop().await;
        }
    }
}

struct Inner {
    sup: SupervisorHandle,
    registry: RwLock<Vec<(String, Pool)>>,
    /// Pool definitions, looked up by the `pool:<name>` child specs on every (re)start.
    defs: PoolDefs,
    /// Names with a child spec in `connectors_sup` (running or stopped by `stop_pool`).
    known: Mutex<HashSet<String>>,
    /// The registry, for the counters of pools started later.
    metrics: Arc<Metrics>,
    /// `connectors.*`
    counters: ConnectorsMetrics,
    rent_timeout: Duration,
    backoff: Backoff,
    /// The graceful-termination window, shared by every pool.
    drain: Arc<Drain>,
}

/// The connectors manager (cheap clone).
#[derive(Clone)]
pub struct Connectors {
    inner: Arc<Inner>,
}

impl Connectors {
    /// Start `connectors_sup` (linked to `parent` if given) and every configured pool in order.
    ///
    /// # Errors
    /// `connectors_error` naming the first pool that could not start (the others are stopped).
    pub async fn start(
        cfg: &ConnectorsSection,
        metrics: Arc<Metrics>,
        parent: Option<ActorCell>,
    ) -> Result<Connectors, HiveError> {
        let sup = manager::start(parent)
            .await
            .map_err(|e| HiveError::ConnectorsError(format!("cannot start connectors_sup: {e}")))?;
        let c = Connectors {
            inner: Arc::new(Inner {
                sup,
                registry: RwLock::new(Vec::new()),
                defs: PoolDefs::default(),
                known: Mutex::new(HashSet::new()),
                counters: metrics.connectors().clone(),
                metrics,
                rent_timeout: Duration::from_millis(cfg.rent_timeout.max(1)),
                backoff: Backoff {
                    num: cfg.backoff_num.max(1),
                    time_ms: cfg.backoff_time,
                },
                drain: Arc::default(),
            }),
        };
        for (name, d) in cfg.pools.iter() {
            if let Err(e) = c.start_pool(name, d).await {
                c.shutdown().await;
                return Err(e);
            }
        }
        Ok(c)
    }

    fn registry(&self) -> std::sync::RwLockReadGuard<'_, Vec<(String, Pool)>> {
        self.inner
            .registry
            .read()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The pool named `name`.
    ///
    /// # Errors
    /// `bad_connector_id` (description = the name) when no such pool runs.
    pub fn pool(&self, name: &str) -> Result<Pool, HiveError> {
        self.inner.counters.uses.inc();
        self.registry()
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.clone())
            .ok_or_else(|| HiveError::BadConnectorId(name.to_string()))
    }

    /// Validate, check connectivity, start and register a pool (boot and `action.start_connectors`).
    ///
    /// # Errors
    /// `connectors_error`: `Unable to start Hive Connector <pool> (<connector>): <reason>`.
    pub async fn start_pool(&self, name: &str, d: &PoolDescriptor) -> Result<(), HiveError> {
        let m = &self.inner.counters;
        m.requests.inc();
        let fail = |reason: String| {
            m.errors.inc();
            HiveError::ConnectorsError(format!(
                "Unable to start Hive Connector {name} ({}): {reason}",
                d.connector
            ))
        };
        if self.registry().iter().any(|(n, _)| n == name) {
            return Err(fail("a pool with this name is already running".into()));
        }
        let (rent, backoff) = (self.inner.rent_timeout, self.inner.backoff);
        let core = |connector, kind| {
            Arc::new(PoolCore::new(
                name,
                connector,
                kind,
                rent,
                backoff,
                Arc::clone(&self.inner.drain),
                Arc::clone(&self.inner.metrics),
            ))
        };
        let Some(connector) = ConnectorName::from_name(&d.connector) else {
            return Err(fail(format!("unknown connector {:?}", d.connector)));
        };
        // One arm per registered connector name (`config/names.rs`): adding a name does not
        // compile until it can be started here.
        let pool = match connector {
            ConnectorName::Http => {
                let args = http::HttpArgs::parse(&d.args, d.size, d.overflow).map_err(&fail)?;
                let addr = format!("{}:{}", args.host, args.port);
                pool::connect_check(&args.host, args.port, Duration::from_millis(5000))
                    .await
                    .map_err(|e| fail(format!("cannot connect to {addr}: {e}")))?;
                Pool::Http(HttpPool::new(core(connector.name(), "http"), args, d.size))
            }
            ConnectorName::Tcp => {
                let args = tcp::TcpArgs::parse(&d.args, d.size, d.overflow).map_err(&fail)?;
                let p = TcpPool::bind(core(connector.name(), "tcp"), args)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                Pool::Tcp(p)
            }
            ConnectorName::Redis => {
                let args = redis::RedisArgs::parse(&d.args, d.size).map_err(&fail)?;
                let addr = format!("{}:{}", args.host, args.port);
                pool::connect_check(&args.host, args.port, Duration::from_millis(5000))
                    .await
                    .map_err(|e| fail(format!("cannot connect to {addr}: {e}")))?;
                Pool::Redis(RedisPool::new(core(connector.name(), "redis"), args))
            }
        };
        // The definition slot doubles as the reservation of the name (two concurrent starts).
        let reserved = match lock(&self.inner.defs).entry(name.to_string()) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(pool.sup_start_fn());
                true
            }
        };
        if !reserved {
            pool.after_stop().await;
            return Err(fail("a pool with this name is already running".into()));
        }
        // A name stopped before keeps its (stopped) child in connectors_sup: restart that child,
        // which now starts the new definition.
        let known = lock(&self.inner.known).contains(name);
        let started = if known {
            self.inner.sup.restart_child(&manager::pool_id(name)).await
        } else {
            let spec = manager::pool_child(name, self.inner.defs.clone());
            self.inner.sup.start_child(spec).await
        };
        if let Err(e) = started {
            lock(&self.inner.defs).remove(name);
            pool.after_stop().await;
            return Err(fail(e.to_string()));
        }
        lock(&self.inner.known).insert(name.to_string());
        let mut reg = self
            .inner
            .registry
            .write()
            .unwrap_or_else(|e| e.into_inner());
        reg.push((name.to_string(), pool));
        m.pools.set(reg.len() as i64);
        m.starts.inc();
        Ok(())
    }

    /// Stop a pool and unregister it (it is not restarted; later uses get `bad_connector_id`).
    ///
    /// # Errors
    /// `bad_connector_id` when no such pool runs.
    pub async fn stop_pool(&self, name: &str) -> Result<(), HiveError> {
        let m = &self.inner.counters;
        m.requests.inc();
        let pool = {
            let mut reg = self
                .inner
                .registry
                .write()
                .unwrap_or_else(|e| e.into_inner());
            let Some(i) = reg.iter().position(|(n, _)| n == name) else {
                m.errors.inc();
                return Err(HiveError::BadConnectorId(name.to_string()));
            };
            let (_, p) = reg.remove(i);
            m.pools.set(reg.len() as i64);
            p
        };
        // Deliberate: the child stays down (status `stopped`) and is not counted as a crash.
        self.inner
            .sup
            .terminate_child(&manager::pool_id(name))
            .await;
        lock(&self.inner.defs).remove(name);
        pool.core().clear_sup();
        pool.after_stop().await;
        m.stops.inc();
        Ok(())
    }

    /// Health of every pool, in start order.
    pub async fn health(&self) -> Vec<PoolHealth> {
        let pools: Vec<Pool> = self.registry().iter().map(|(_, p)| p.clone()).collect();
        let mut out = Vec::with_capacity(pools.len());
        for p in pools {
            out.push(p.health().await);
        }
        out
    }

    /// Open (`Some(deadline)`) or close (`None`) the graceful-termination window of every pool:
    /// until `deadline`, a request waits for a connection until the deadline rather than
    /// `rent_timeout`, and a TCP pool's wait queue has no limit. When every session ends at once,
    /// their last hooks (`on_terminate`, `on_disconnect`) queue for the pools instead of failing
    /// after `rent_timeout`; the graceful timeout still bounds them (the router kills what is left).
    pub fn drain_until(&self, deadline: Option<Instant>) {
        self.inner.drain.set(deadline);
    }

    /// Every pool's `(name, busy, workers)`, in start order (the dashboard's utilisation).
    pub fn utilisation(&self) -> Vec<(String, usize, usize)> {
        self.registry()
            .iter()
            .map(|(n, p)| (n.clone(), p.core().busy(), p.core().worker_count()))
            .collect()
    }

    /// Requests the pools have in hand (rented connections; an HTTP `hp.put` keeps its connection
    /// until the backend answered).
    pub fn in_flight(&self) -> usize {
        self.registry().iter().map(|(_, p)| p.core().busy()).sum()
    }

    /// Wait until no pool has a request in hand, or until `deadline`; returns the requests still
    /// in hand then. A graceful stop calls it between the end of the sessions and the stop of the
    /// pools, so that the `hp.put`s of the last hooks reach their backend.
    pub async fn wait_idle(&self, deadline: Instant) -> usize {
        loop {
            let n = self.in_flight();
            if n == 0 || Instant::now() >= deadline {
                return n;
            }
            let next = (Instant::now() + Duration::from_millis(5)).min(deadline);
            tokio::time::sleep_until(next.into()).await;
        }
    }

    /// Names of the running pools, in start order.
    pub fn names(&self) -> Vec<String> {
        self.registry().iter().map(|(n, _)| n.clone()).collect()
    }

    /// Stop every pool in reverse start order, then `connectors_sup`.
    pub async fn shutdown(&self) {
        for name in self.names().into_iter().rev() {
            let _ = self.stop_pool(&name).await;
        }
        let _ = self.inner.sup.shutdown().await;
    }

    /// The `connectors_sup` actor (to link or monitor it).
    pub fn supervisor_cell(&self) -> ActorCell {
        self.inner.sup.cell()
    }

    /// `connectors_sup`'s own report (from the supervision runtime): pools (`pool:<name>`) with
    /// their workers.
    ///
    /// # Errors
    /// `internal_error` when `connectors_sup` is not running or does not answer.
    pub async fn supervisor_report(&self) -> Result<SupervisorReport, HiveError> {
        self.inner
            .sup
            .report(None)
            .await
            .map_err(|e| HiveError::InternalError(format!("connectors_sup: {e}")))
    }
}
