//! Named counters and gauges with Hive's metric names (HIVE.md 10.3), backed by atomics.
//!
//! Hot paths hold [`Counter`] handles (an `Arc<AtomicI64>`) fetched once, so an increment is one
//! relaxed atomic add, never a message to an actor. Per-event names (`clients.hooks.<event>.calls`)
//! are looked up under a read lock the first time and cached by the caller where it matters.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

/// A shared counter or gauge.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicI64>);

impl Counter {
    /// Add one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    /// Subtract one.
    pub fn dec(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
    /// Add `n` (may be negative).
    pub fn add(&self, n: i64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    /// Set the value (gauges).
    pub fn set(&self, n: i64) {
        self.0.store(n, Ordering::Relaxed);
    }
    /// Read the value.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The registry of every metric of one Hive node.
#[derive(Debug, Default)]
pub struct Metrics {
    map: RwLock<BTreeMap<String, Counter>>,
}

/// Metrics present (at 0) from start-up ("init" in HIVE.md 10.3).
pub const INIT_METRICS: &[&str] = &[
    "hive.uptime",
    "hive.errors",
    "hive.total_processes",
    "hive.memory.total",
    "hive.memory.processes",
    "hive.memory.system",
    "hive.memory.atom",
    "hive.memory.binary",
    "hive.memory.code",
    "hive.memory.ets",
    "hive.router.uptime",
    "hive.router.spawned_clients",
    "hive.router.current_clients",
    "hive.router.requests",
    "hive.router.msg_queue_length",
    "hive.router.routed_events",
    "hive.router.routed_msgs",
    "hive.router.errors",
    "hive.cluster.size",
    "hive.cluster.calls",
    "hive.cluster.casts",
    "hive.cluster.errors",
    "clients.total",
    "clients.websocket",
    "clients.xhr_polling",
    "clients.errors",
    "clients.slow_dropped",
    "clients.states.generic",
    "clients.states.transient",
    "clients.states.waiting",
    "clients.states.polling",
    "clients.states.transitions",
    "clients.events.total",
    "clients.events.errors",
    "clients.events.external",
    "clients.events.internal",
    "clients.events.control",
    "clients.events.external_errors",
    "clients.events.internal_errors",
    "clients.events.control_errors",
    "clients.state_mgr.requests",
    "clients.state_mgr.errors",
    "clients.state_mgr.init",
    "clients.state_mgr.get",
    "clients.state_mgr.set",
    "clients.state_mgr.cleanup",
    "clients.transports.http.requests",
    "clients.transports.http.errors",
    "clients.transports.http.2XX",
    "clients.transports.http.4XX",
    "clients.transports.http.5XX",
    "clients.transports.http.???",
    "clients.transports.http.hang_up",
    "clients.transports.websocket.requests",
    "clients.transports.websocket.errors",
    "clients.transports.websocket.frames",
    "clients.transports.websocket.ok",
    "clients.transports.websocket.bad",
    "clients.transports.websocket.hang_up",
    "clients.hooks.calls",
    "clients.hooks.errors",
    "clients.hooks.hp.get",
    "clients.hooks.hp.put",
    "clients.hooks.hp.post",
    "clients.hooks.pubsub.publish",
    "clients.hooks.pubsub.subscribe",
    "clients.hooks.pubsub.unsubscribe",
    "connectors.requests",
    "connectors.errors",
    "connectors.pools",
    "connectors.starts",
    "connectors.stops",
    "connectors.safe_transactions",
    "connectors.rents",
    "connectors.returns",
    "pubsub.uptime",
    "pubsub.requests",
    "pubsub.errors",
    "pubsub.total_channels",
    "pubsub.status",
    "pubsub.subscribe",
    "pubsub.unsubscribe",
    "pubsub.join",
    "pubsub.leave",
    "pubsub.publish",
    "pubsub.published_events",
    "pubsub.dropped_deliveries",
    "api.requests",
    "api.errors",
    "api.hive.requests",
    "api.hive.errors",
    "api.router.requests",
    "api.router.errors",
    "api.pubsub.requests",
    "api.pubsub.errors",
    "api.clients.requests",
    "api.clients.errors",
];

impl Metrics {
    /// A registry with every init metric present at 0.
    pub fn new() -> Arc<Self> {
        let m = Self::default();
        {
            // A fresh lock cannot be poisoned.
            let mut map = m.map.write().unwrap_or_else(|e| e.into_inner());
            for name in INIT_METRICS {
                map.insert((*name).to_string(), Counter::default());
            }
        }
        Arc::new(m)
    }

    /// The counter named `name`, created at 0 on first use.
    pub fn counter(&self, name: &str) -> Counter {
        if let Some(c) = self.map.read().unwrap_or_else(|e| e.into_inner()).get(name) {
            return c.clone();
        }
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        map.entry(name.to_string()).or_default().clone()
    }

    /// Increment `name` by one.
    pub fn inc(&self, name: &str) {
        self.counter(name).inc();
    }

    /// Current value of `name` (0 when absent).
    pub fn get(&self, name: &str) -> i64 {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .map(Counter::get)
            .unwrap_or(0)
    }

    /// Every metric as `(name, value)`, sorted by name.
    pub fn snapshot(&self) -> Vec<(String, i64)> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.get()))
            .collect()
    }
}
