//! [`Health`]: whether the router accepts sessions and each pool's backend is reachable.

use serde::Serialize;

/// The answer of `GET /monitor/<hash>/health` (200 when `ok`, 503 otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// The router accepts new sessions (not disabled, not terminating).
    pub router_accepting: bool,
    /// One entry per configured connector pool.
    pub pools: Vec<PoolHealth>,
    /// True when the router accepts sessions and every pool is reachable.
    pub ok: bool,
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
        }
    }

    /// HTTP status of the health endpoint: 200 when ok, 503 otherwise.
    pub fn http_status(&self) -> u16 {
        if self.ok { 200 } else { 503 }
    }
}
