//! [`Health`]: whether the router accepts sessions and each pool's backend is reachable.

use serde::Serialize;

pub use crate::cluster::ClusterHealth;

/// The answer of `GET /monitor/<hash>/health` (200 when `ok`, 503 otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// The router accepts new sessions (not disabled, not terminating).
    pub router_accepting: bool,
    /// One entry per configured connector pool.
    pub pools: Vec<PoolHealth>,
    /// True when the router accepts sessions, every pool is reachable and, in a cluster, Redis is.
    pub ok: bool,
    /// In a cluster: whether this node reaches the cluster's Redis (absent on a single node).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterHealth>,
}

/// Health of one connector pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolHealth {
    /// Pool name from the config.
    pub name: String,
    /// Connector type (`connector.http`, `connector.redis`, `connector.tcp`).
    pub connector: String,
    /// The backend answered the last probe.
    pub reachable: bool,
    /// Workers in the pool.
    pub workers: usize,
    /// Workers currently rented.
    pub busy: usize,
}

impl Health {
    /// Build a report, computing `ok` from the parts.
    pub fn new(router_accepting: bool, pools: Vec<PoolHealth>) -> Self {
        let ok = router_accepting && pools.iter().all(|p| p.reachable);
        Self {
            router_accepting,
            pools,
            ok,
            cluster: None,
        }
    }

    /// The same report with the cluster link: a node that cannot reach Redis is not ok (load
    /// balancers send new sessions elsewhere; its sessions keep being served locally).
    pub fn with_cluster(mut self, cluster: ClusterHealth) -> Self {
        self.ok &= cluster.redis_reachable;
        self.cluster = Some(cluster);
        self
    }

    /// HTTP status of the health endpoint: 200 when ok, 503 otherwise.
    pub fn http_status(&self) -> u16 {
        if self.ok { 200 } else { 503 }
    }
}
