//! Backend connector pools (HIVE.md 7): `connector.http`, `connector.tcp`, `connector.redis`.
//!
//! [`Connectors`] is the manager: a registry name -> [`Pool`] plus the `connectors_sup` actor that
//! supervises one pool actor per pool, each supervising its workers:
//!
//! ```text
//! connectors_sup (one_for_one, 5 restarts / 10 s; a registered pool is always restarted)
//! └── pool:<name>   (one_for_one, 10 restarts / 10 s; base workers permanent, others temporary)
//!     └── worker:<name>:<n>
//! ```
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
mod tcp_frame;
mod tcp_worker;

use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ractor::{Actor, ActorCell, ActorRef};

pub use http::HttpPool;
pub use redis::RedisPool;
pub use tcp::TcpPool;

use backoff::Backoff;
use manager::{ConnectorsSup, ConnectorsSupMsg, PoolStart};
use pool::PoolCore;

use crate::config::{ConnectorsSection, PoolDescriptor};
use crate::error::HiveError;
use crate::monitor::Metrics;
use crate::supervision::{ChildReport, IntensityReport, SupervisorReport};

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
pub use crate::monitor::PoolHealth;

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
        match self {
            Pool::Http(p) => p.hp_post(endpoint, body).await,
            Pool::Tcp(p) => p.hp_post(endpoint, body).await,
            Pool::Redis(_) => Err(self.not_hp()),
        }
    }

    /// Ask `endpoint` for a reply without sending anything.
    ///
    /// # Errors
    /// As [`Pool::hp_post`].
    pub async fn hp_get(&self, endpoint: &str) -> Result<String, HiveError> {
        match self {
            Pool::Http(p) => p.hp_get(endpoint).await,
            Pool::Tcp(p) => p.hp_get(endpoint).await,
            Pool::Redis(_) => Err(self.not_hp()),
        }
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

    async fn after_stop(&self) {
        if let Pool::Redis(p) = self {
            p.after_stop().await;
        }
    }
}

struct Inner {
    sup: ActorRef<ConnectorsSupMsg>,
    registry: RwLock<Vec<(String, Pool)>>,
    metrics: Arc<Metrics>,
    rent_timeout: Duration,
    backoff: Backoff,
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
        let spawned = match parent {
            Some(p) => Actor::spawn_linked(None, ConnectorsSup, (), p).await,
            None => Actor::spawn(None, ConnectorsSup, ()).await,
        };
        let (sup, _) = spawned
            .map_err(|e| HiveError::ConnectorsError(format!("cannot start connectors_sup: {e}")))?;
        let c = Connectors {
            inner: Arc::new(Inner {
                sup,
                registry: RwLock::new(Vec::new()),
                metrics,
                rent_timeout: Duration::from_millis(cfg.rent_timeout.max(1)),
                backoff: Backoff {
                    num: cfg.backoff_num.max(1),
                    time_ms: cfg.backoff_time,
                },
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
        self.inner.metrics.inc("connectors.uses");
        self.registry()
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.clone())
            .ok_or_else(|| HiveError::BadConnectorId(name.to_string()))
    }

    /// Validate, check connectivity, start and register a pool (boot and `action.start_connectors`).
    ///
    /// # Errors
    /// `connectors_error`: "Unable to start Hive Connector <pool> (<connector>): <reason>".
    pub async fn start_pool(&self, name: &str, d: &PoolDescriptor) -> Result<(), HiveError> {
        let m = &self.inner.metrics;
        m.inc("connectors.requests");
        let fail = |reason: String| {
            m.inc("connectors.errors");
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
                m.clone(),
            ))
        };
        let (pool, start): (Pool, PoolStart) = match d.connector.as_str() {
            "connector.http" => {
                let args = http::HttpArgs::parse(&d.args, d.size, d.overflow).map_err(&fail)?;
                let addr = format!("{}:{}", args.host, args.port);
                pool::connect_check(&args.host, args.port, Duration::from_millis(5000))
                    .await
                    .map_err(|e| fail(format!("cannot connect to {addr}: {e}")))?;
                let p = HttpPool::new(core("connector.http", "http"), args, d.size);
                let p2 = p.clone();
                (
                    Pool::Http(p),
                    Arc::new(move |sup| {
                        let p = p2.clone();
                        Box::pin(async move { p.spawn(sup).await })
                    }),
                )
            }
            "connector.tcp" => {
                let args = tcp::TcpArgs::parse(&d.args, d.size, d.overflow).map_err(&fail)?;
                let p = TcpPool::bind(core("connector.tcp", "tcp"), args)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                let p2 = p.clone();
                (
                    Pool::Tcp(p),
                    Arc::new(move |sup| {
                        let p = p2.clone();
                        Box::pin(async move { p.spawn(sup).await })
                    }),
                )
            }
            "connector.redis" => {
                let args = redis::RedisArgs::parse(&d.args, d.size).map_err(&fail)?;
                let addr = format!("{}:{}", args.host, args.port);
                pool::connect_check(&args.host, args.port, Duration::from_millis(5000))
                    .await
                    .map_err(|e| fail(format!("cannot connect to {addr}: {e}")))?;
                let p = RedisPool::new(core("connector.redis", "redis"), args);
                let p2 = p.clone();
                (
                    Pool::Redis(p),
                    Arc::new(move |sup| {
                        let p = p2.clone();
                        Box::pin(async move { p.spawn(sup).await })
                    }),
                )
            }
            other => return Err(fail(format!("unknown connector {other:?}"))),
        };
        let core = pool.core().clone();
        let r = ractor::call!(self.inner.sup, |reply| ConnectorsSupMsg::StartChild {
            core,
            start,
            reply
        })
        .map_err(|e| fail(e.to_string()))?;
        if let Err(e) = r {
            pool.after_stop().await;
            return Err(fail(e.to_string()));
        }
        let mut reg = self
            .inner
            .registry
            .write()
            .unwrap_or_else(|e| e.into_inner());
        reg.push((name.to_string(), pool));
        m.counter("connectors.pools").set(reg.len() as i64);
        m.inc("connectors.starts");
        Ok(())
    }

    /// Stop a pool and unregister it (it is not restarted; later uses get `bad_connector_id`).
    ///
    /// # Errors
    /// `bad_connector_id` when no such pool runs.
    pub async fn stop_pool(&self, name: &str) -> Result<(), HiveError> {
        let m = &self.inner.metrics;
        m.inc("connectors.requests");
        let pool = {
            let mut reg = self
                .inner
                .registry
                .write()
                .unwrap_or_else(|e| e.into_inner());
            let Some(i) = reg.iter().position(|(n, _)| n == name) else {
                m.inc("connectors.errors");
                return Err(HiveError::BadConnectorId(name.to_string()));
            };
            let (_, p) = reg.remove(i);
            m.counter("connectors.pools").set(reg.len() as i64);
            p
        };
        let _ = ractor::call!(self.inner.sup, |reply| ConnectorsSupMsg::StopChild {
            name: name.to_string(),
            reply
        });
        pool.after_stop().await;
        m.inc("connectors.stops");
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

    /// Names of the running pools, in start order.
    pub fn names(&self) -> Vec<String> {
        self.registry().iter().map(|(n, _)| n.clone()).collect()
    }

    /// Stop every pool in reverse start order, then `connectors_sup`.
    pub async fn shutdown(&self) {
        for name in self.names().into_iter().rev() {
            let _ = self.stop_pool(&name).await;
        }
        let _ = self
            .inner
            .sup
            .stop_and_wait(Some("shutdown".into()), Some(Duration::from_secs(5)))
            .await;
    }

    /// The `connectors_sup` actor (to link or monitor it).
    pub fn supervisor_cell(&self) -> ActorCell {
        self.inner.sup.get_cell()
    }

    /// `connectors_sup` as a supervisor report: pools (`pool:<name>`) with their workers.
    pub fn supervisor_report(&self) -> SupervisorReport {
        let children: Vec<ChildReport> = self
            .registry()
            .iter()
            .map(|(name, p)| {
                let core = p.core();
                let cell = core.current_cell();
                ChildReport {
                    id: format!("pool:{name}"),
                    kind: "supervisor".into(),
                    restart: "permanent".into(),
                    restarts: core.restarts.load(Ordering::Relaxed),
                    status: if cell.is_some() {
                        "running"
                    } else {
                        "restarting"
                    }
                    .into(),
                    actor_id: cell.map(|c| c.get_id().to_string()),
                    supervisor: Some(Box::new(core.report())),
                }
            })
            .collect();
        SupervisorReport {
            id: "connectors_sup".into(),
            strategy: "one_for_one".into(),
            intensity: IntensityReport {
                max_restarts: manager::POOL_MAX_RESTARTS,
                max_seconds: manager::POOL_MAX_SECONDS,
            },
            restarts: children.iter().map(|c| c.restarts).sum(),
            child_count: children.len(),
            max_children: None,
            children,
            children_truncated: false,
        }
    }
}
