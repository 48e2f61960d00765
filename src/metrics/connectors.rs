//! Connector counters: `connectors.*` and, per pool, `connectors.<type>.<pool>.*`.

use super::counter::Counter;
use super::names::{LazyCounter, Names};

metric_group! {
    /// `connectors.*`: pool starts and stops, and the totals every pool also counts into. Held by
    /// the connectors manager.
    ConnectorsMetrics {
        requests: Counter = "connectors.requests",
        errors: Counter = "connectors.errors",
        pools: Counter = "connectors.pools",
        starts: Counter = "connectors.starts",
        stops: Counter = "connectors.stops",
        safe_transactions: Counter = "connectors.safe_transactions",
        rents: Counter = "connectors.rents",
        returns: Counter = "connectors.returns",
        uses: LazyCounter = "connectors.uses",
    }
}

/// The counters every pool has: its own `connectors.<type>.<pool>.{workers,requests,errors}` and
/// the `connectors.*` totals it counts into. Built when the pool is started; held by the pool.
#[derive(Debug, Clone)]
pub struct PoolMetrics {
    /// `connectors.<type>.<pool>.workers` (gauge).
    pub workers: Counter,
    /// `connectors.<type>.<pool>.requests`
    pub requests: Counter,
    /// `connectors.<type>.<pool>.errors`
    pub errors: Counter,
    /// `connectors.requests`
    pub all_requests: Counter,
    /// `connectors.errors`
    pub all_errors: Counter,
    /// `connectors.rents`
    pub rents: Counter,
    /// `connectors.returns`
    pub returns: Counter,
    /// `connectors.safe_transactions` (Redis) or `connectors.unsafe_transactions` (hp.*).
    pub transactions: Counter,
}

impl PoolMetrics {
    /// `kind` is the metric infix: `http`, `tcp` or `redis`.
    pub(super) fn register(names: &Names, kind: &str, pool: &str) -> Self {
        let p = |x: &str| names.entry(&format!("connectors.{kind}.{pool}.{x}"));
        Self {
            workers: p("workers"),
            requests: p("requests"),
            errors: p("errors"),
            all_requests: names.entry("connectors.requests"),
            all_errors: names.entry("connectors.errors"),
            rents: names.entry("connectors.rents"),
            returns: names.entry("connectors.returns"),
            transactions: names.entry(if kind == "redis" {
                "connectors.safe_transactions"
            } else {
                "connectors.unsafe_transactions"
            }),
        }
    }

    /// Count one request to this pool.
    pub fn request(&self) {
        self.transactions.inc();
        self.requests.inc();
        self.all_requests.inc();
    }

    /// Count one failed request.
    pub fn error(&self) {
        self.errors.inc();
        self.all_errors.inc();
    }
}

/// `connectors.http.<pool>.*` of a `connector.http` pool, besides [`PoolMetrics`].
#[derive(Debug, Clone)]
pub struct HttpPoolMetrics {
    /// `connectors.http.<pool>.sync_gets`
    pub sync_gets: Counter,
    /// `connectors.http.<pool>.sync_posts`
    pub sync_posts: Counter,
    /// `connectors.http.<pool>.async_posts`
    pub async_posts: Counter,
}

impl HttpPoolMetrics {
    pub(super) fn register(names: &Names, pool: &str) -> Self {
        let c = |x: &str| names.entry(&format!("connectors.http.{pool}.{x}"));
        Self {
            sync_gets: c("sync_gets"),
            sync_posts: c("sync_posts"),
            async_posts: c("async_posts"),
        }
    }
}

/// `connectors.tcp.<pool>.*` of a `connector.tcp` pool, besides [`PoolMetrics`].
#[derive(Debug, Clone)]
pub struct TcpPoolMetrics {
    /// `connectors.tcp.<pool>.send`
    pub send: Counter,
    /// `connectors.tcp.<pool>.recv`
    pub recv: Counter,
}

impl TcpPoolMetrics {
    pub(super) fn register(names: &Names, pool: &str) -> Self {
        let c = |x: &str| names.entry(&format!("connectors.tcp.{pool}.{x}"));
        Self {
            send: c("send"),
            recv: c("recv"),
        }
    }
}

/// `connectors.redis.<pool>.*` of a `connector.redis` pool, besides [`PoolMetrics`].
#[derive(Debug, Clone)]
pub struct RedisPoolMetrics {
    /// `connectors.redis.<pool>.queries`
    pub queries: Counter,
}

impl RedisPoolMetrics {
    pub(super) fn register(names: &Names, pool: &str) -> Self {
        Self {
            queries: names.entry(&format!("connectors.redis.{pool}.queries")),
        }
    }
}
