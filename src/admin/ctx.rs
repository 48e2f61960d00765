//! [`MonitorCtx`]: what the monitor listener needs from the running app, built by the app.
//!
//! The listener never touches actors directly: the supervision tree, health and app-owned gauges
//! reach it through the closures below, so the monitor can be tested with a hand-made tree.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::health::Health;
use super::observer::Observer;
use crate::error::HiveError;
use crate::metrics::Metrics;
use otp::SupervisorReport;

/// A boxed, sendable future (the return type of the context's async closures).
pub type BoxFut<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Which children a tree snapshot lists for dynamic supervisors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeQuery {
    /// List the children of dynamic supervisors (`?children=all`); otherwise only their count.
    pub children_all: bool,
    /// First child listed (paging of dynamic supervisors).
    pub offset: usize,
    /// Most children listed per dynamic supervisor.
    pub limit: usize,
}

impl Default for TreeQuery {
    fn default() -> Self {
        Self {
            children_all: false,
            offset: 0,
            limit: TreeQuery::DEFAULT_LIMIT,
        }
    }
}

impl TreeQuery {
    /// Page size when `limit` is not given.
    pub const DEFAULT_LIMIT: usize = 100;
    /// Largest accepted page size.
    pub const MAX_LIMIT: usize = 10_000;
}

/// Everything the monitor listener needs; cheap to clone.
#[derive(Clone)]
pub struct MonitorCtx {
    /// The node's metrics registry.
    pub metrics: Arc<Metrics>,
    /// The secret expected in every URL (`monitor.hash`).
    pub hash: String,
    /// When the node started (for `hive.uptime`).
    pub started: std::time::Instant,
    /// This node's name: the single entry of `hive.cluster.nodes`.
    pub node_name: String,
    /// Snapshot of the live supervision tree.
    pub tree: Arc<dyn Fn(TreeQuery) -> BoxFut<Result<SupervisorReport, HiveError>> + Send + Sync>,
    /// Health of the router and every connector pool.
    pub health: Arc<dyn Fn() -> BoxFut<Health> + Send + Sync>,
    /// Called before answering: the app updates the derived gauges it owns (router uptime, queue
    /// length, pub-sub uptime...).
    pub refresh: Arc<dyn Fn() + Send + Sync>,
    /// The live actors, for `/actors` ([`Observer::none`] when there are none to observe).
    pub observer: Observer,
    /// The cluster this node belongs to, for `/cluster` (`None`: a single node, 404).
    pub cluster: Option<Arc<crate::cluster::Shared>>,
}

impl std::fmt::Debug for MonitorCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorCtx")
            .field("node_name", &self.node_name)
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}
