//! Pub-sub's counters (HIVE.md 10.3): the node-wide [`PubsubMetrics`] and one
//! [`PubsubPrefixMetrics`] per configured prefix, looked up by a channel id's prefix.
//!
//! Per-prefix counters exist only for configured prefixes (created at start, like the original);
//! names are never built from request input, so a client cannot grow the registry.

use std::collections::HashMap;
use std::sync::Arc;

use super::subscriber::Subscriber;
use crate::metrics::{Metrics, PubsubMetrics, PubsubPrefixMetrics};

/// Node-wide pub-sub counters plus the per-prefix sets.
#[derive(Debug, Clone)]
pub(crate) struct PubsubCounters {
    /// `pubsub.*`
    pub(crate) node: PubsubMetrics,
    /// Stamps one publish in N for the delivery latency histogram.
    pub(crate) probe: Arc<crate::metrics::DeliveryProbe>,
    prefixes: Arc<HashMap<String, PubsubPrefixMetrics>>,
}

impl PubsubCounters {
    pub(crate) fn new<'a>(m: &Metrics, prefixes: impl Iterator<Item = &'a str>) -> Self {
        Self {
            node: m.pubsub().clone(),
            probe: Arc::clone(m.delivery_probe()),
            prefixes: Arc::new(
                prefixes
                    .map(|p| (p.to_string(), m.pubsub_prefix(p)))
                    .collect(),
            ),
        }
    }

    /// A subscriber of `cid` that could not keep up was dropped: count it, say so, and ask it to
    /// disconnect (the channel's own fan-out loop and its shards alike).
    pub(crate) fn slow_dropped(&self, cid: &str, id: ractor::ActorId, sub: &dyn Subscriber) {
        self.node.dropped_deliveries.inc();
        tracing::warn!(cid = %cid, subscriber = %id, "slow subscriber dropped");
        sub.kill_slow();
    }

    /// The counters of the prefix of `cid`, when that prefix is configured.
    pub(crate) fn prefix(&self, cid: &str) -> Option<&PubsubPrefixMetrics> {
        self.prefixes.get(super::cid::prefix_of(cid))
    }

    /// Count one failed operation on `cid`.
    pub(crate) fn error(&self, cid: &str) {
        self.node.errors.inc();
        if let Some(p) = self.prefix(cid) {
            p.errors.inc();
        }
    }
}
