//! Pub-sub counters (HIVE.md 10.3): node-wide `pubsub.*` and one set per configured prefix.
//!
//! Per-prefix counters exist only for configured prefixes (created at start, like the original);
//! names are never built from request input, so a client cannot grow the registry.

use std::collections::HashMap;
use std::sync::Arc;

use crate::monitor::{Counter, Metrics};

/// Counters of one configured prefix: `pubsub.channels.<prefix>.*`.
#[derive(Debug, Clone)]
pub(crate) struct PrefixCounters {
    pub(crate) requests: Counter,
    pub(crate) errors: Counter,
    pub(crate) status: Counter,
    pub(crate) subscribe: Counter,
    pub(crate) unsubscribe: Counter,
    pub(crate) publish: Counter,
    pub(crate) published_events: Counter,
    pub(crate) total_channels: Counter,
    pub(crate) subscribed_clients: Counter,
}

impl PrefixCounters {
    fn new(m: &Metrics, prefix: &str) -> Self {
        let c = |leaf: &str| m.counter(&format!("pubsub.channels.{prefix}.{leaf}"));
        Self {
            requests: c("requests"),
            errors: c("errors"),
            status: c("status"),
            subscribe: c("subscribe"),
            unsubscribe: c("unsubscribe"),
            publish: c("publish"),
            published_events: c("published_events"),
            total_channels: c("total_channels"),
            subscribed_clients: c("subscribed_clients"),
        }
    }
}

/// Node-wide pub-sub counters plus the per-prefix sets.
#[derive(Debug, Clone)]
pub(crate) struct PubsubCounters {
    pub(crate) requests: Counter,
    pub(crate) errors: Counter,
    pub(crate) total_channels: Counter,
    pub(crate) status: Counter,
    pub(crate) subscribe: Counter,
    pub(crate) unsubscribe: Counter,
    pub(crate) join: Counter,
    pub(crate) leave: Counter,
    pub(crate) publish: Counter,
    pub(crate) published_events: Counter,
    pub(crate) dropped_deliveries: Counter,
    prefixes: Arc<HashMap<String, PrefixCounters>>,
}

impl PubsubCounters {
    pub(crate) fn new<'a>(m: &Metrics, prefixes: impl Iterator<Item = &'a str>) -> Self {
        let c = |n: &str| m.counter(n);
        Self {
            requests: c("pubsub.requests"),
            errors: c("pubsub.errors"),
            total_channels: c("pubsub.total_channels"),
            status: c("pubsub.status"),
            subscribe: c("pubsub.subscribe"),
            unsubscribe: c("pubsub.unsubscribe"),
            join: c("pubsub.join"),
            leave: c("pubsub.leave"),
            publish: c("pubsub.publish"),
            published_events: c("pubsub.published_events"),
            dropped_deliveries: c("pubsub.dropped_deliveries"),
            prefixes: Arc::new(
                prefixes
                    .map(|p| (p.to_string(), PrefixCounters::new(m, p)))
                    .collect(),
            ),
        }
    }

    /// The counters of the prefix of `cid`, when that prefix is configured.
    pub(crate) fn prefix(&self, cid: &str) -> Option<&PrefixCounters> {
        self.prefixes.get(super::cid::prefix_of(cid))
    }

    /// Count one failed operation on `cid`.
    pub(crate) fn error(&self, cid: &str) {
        self.errors.inc();
        if let Some(p) = self.prefix(cid) {
            p.errors.inc();
        }
    }
}
