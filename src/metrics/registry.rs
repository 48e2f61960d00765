//! [`Metrics`]: the registry of one node, by name for rendering, and the typed groups it hands out.

use std::sync::Arc;

use super::api::ApiMetrics;
use super::clients::{ClientMetrics, ClientStateMetrics, EventMetrics, StateMgrMetrics};
use super::connectors::{
    ConnectorsMetrics, HttpPoolMetrics, PoolMetrics, RedisPoolMetrics, TcpPoolMetrics,
};
use super::counter::Counter;
use super::hive::{ClusterMetrics, HiveMetrics, RouterMetrics};
use super::hooks::{EventHookMetrics, HookMetrics};
use super::names::Names;
use super::pubsub::{PubsubMetrics, PubsubPrefixMetrics};
use super::transports::{EioTransportMetrics, HttpTransportMetrics, WebsocketTransportMetrics};

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
    "clients.transports.eio.handshakes",
    "clients.transports.eio.v3",
    "clients.transports.eio.v4",
    "clients.transports.eio.upgrades",
    "clients.transports.eio.ping_timeouts",
    "clients.transports.eio.errors",
    "clients.transports.eio.connect_errors",
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

/// The registry of every metric of one Hive node, and the typed groups of the [`INIT_METRICS`].
#[derive(Debug)]
pub struct Metrics {
    names: Arc<Names>,
    hive: HiveMetrics,
    cluster: ClusterMetrics,
    router: RouterMetrics,
    clients: ClientMetrics,
    states: ClientStateMetrics,
    events: EventMetrics,
    state_mgr: StateMgrMetrics,
    http: HttpTransportMetrics,
    websocket: WebsocketTransportMetrics,
    eio: EioTransportMetrics,
    hooks: HookMetrics,
    connectors: ConnectorsMetrics,
    pubsub: PubsubMetrics,
    api: ApiMetrics,
    latencies: super::latency::Latencies,
    delivery: Arc<super::delivery::DeliveryProbe>,
    series: super::series::Series,
}

impl Metrics {
    /// A registry with every init metric present at 0.
    pub fn new() -> Arc<Self> {
        let names = Arc::new(Names::default());
        for name in INIT_METRICS {
            names.entry(name);
        }
        let latencies = super::latency::Latencies::default();
        Arc::new(Self {
            hive: HiveMetrics::register(&names),
            cluster: ClusterMetrics::register(&names),
            router: RouterMetrics::register(&names),
            clients: ClientMetrics::register(&names),
            states: ClientStateMetrics::register(&names),
            events: EventMetrics::register(&names),
            state_mgr: StateMgrMetrics::register(&names),
            http: HttpTransportMetrics::register(&names),
            websocket: WebsocketTransportMetrics::register(&names),
            eio: EioTransportMetrics::register(&names),
            hooks: HookMetrics::register(&names),
            connectors: ConnectorsMetrics::register(&names),
            pubsub: PubsubMetrics::register(&names),
            api: ApiMetrics::register(&names),
            delivery: Arc::new(super::delivery::DeliveryProbe::new(Arc::clone(
                &latencies.get("delivery", "websocket"),
            ))),
            latencies,
            series: super::series::Series::default(),
            names,
        })
    }

    /// The latency histogram `(family, label)` (e.g. `("pool", "backend")`), created on first use.
    pub fn latency(&self, family: &str, label: &str) -> Arc<super::latency::Latency> {
        self.latencies.get(family, label)
    }

    /// The sampled publish-to-socket-write probe (the `("delivery", "websocket")` histogram).
    pub fn delivery_probe(&self) -> &Arc<super::delivery::DeliveryProbe> {
        &self.delivery
    }

    /// The last 15 minutes, one sample a second (the dashboard's charts).
    pub fn series(&self) -> &super::series::Series {
        &self.series
    }

    /// Take one sample of the dashboard's series, with the pools' `(name, busy, workers)` and
    /// the RSS in bytes (which the caller knows and the registry does not).
    pub fn sample_series(&self, pools: &[(String, usize, usize)], rss: i64) {
        self.series.sample(super::series::Reading {
            sessions: self.router().current_clients.get(),
            msgs_in: self.events().external.get(),
            msgs_out: self.websocket().ok.get(),
            deliveries: self.delivery_probe().delivered(),
            hooks: self.latencies().family("event"),
            pools,
            rss,
        });
    }

    /// Every latency histogram.
    pub fn latencies(&self) -> &super::latency::Latencies {
        &self.latencies
    }

    /// `hive.*`
    pub fn hive(&self) -> &HiveMetrics {
        &self.hive
    }
    /// `hive.cluster.*`
    pub fn cluster(&self) -> &ClusterMetrics {
        &self.cluster
    }
    /// `hive.router.*`
    pub fn router(&self) -> &RouterMetrics {
        &self.router
    }
    /// `clients.*`
    pub fn clients(&self) -> &ClientMetrics {
        &self.clients
    }
    /// `clients.states.*`
    pub fn states(&self) -> &ClientStateMetrics {
        &self.states
    }
    /// `clients.events.*`
    pub fn events(&self) -> &EventMetrics {
        &self.events
    }
    /// `clients.state_mgr.*`
    pub fn state_mgr(&self) -> &StateMgrMetrics {
        &self.state_mgr
    }
    /// `clients.transports.http.*`
    pub fn http(&self) -> &HttpTransportMetrics {
        &self.http
    }
    /// `clients.transports.websocket.*`
    pub fn websocket(&self) -> &WebsocketTransportMetrics {
        &self.websocket
    }
    /// `clients.transports.eio.*`
    pub fn eio(&self) -> &EioTransportMetrics {
        &self.eio
    }
    /// `clients.hooks.*` totals.
    pub fn hooks(&self) -> &HookMetrics {
        &self.hooks
    }
    /// `connectors.*`
    pub fn connectors(&self) -> &ConnectorsMetrics {
        &self.connectors
    }
    /// `pubsub.*`
    pub fn pubsub(&self) -> &PubsubMetrics {
        &self.pubsub
    }
    /// `api.*`
    pub fn api(&self) -> &ApiMetrics {
        &self.api
    }

    /// Register the counters of hook event `event` (`clients.hooks.<event>.*`, listed once used).
    pub fn hook_event(&self, event: &str) -> EventHookMetrics {
        EventHookMetrics::register(&self.names, event, self.latencies.get("event", event))
    }
    /// Register the common counters of pool `pool` of type `kind` (`http`, `tcp`, `redis`).
    pub fn pool(&self, kind: &str, pool: &str) -> PoolMetrics {
        PoolMetrics::register(&self.names, kind, pool)
    }
    /// Register `connectors.http.<pool>.*`.
    pub fn http_pool(&self, pool: &str) -> HttpPoolMetrics {
        HttpPoolMetrics::register(&self.names, pool)
    }
    /// Register `connectors.tcp.<pool>.*`.
    pub fn tcp_pool(&self, pool: &str) -> TcpPoolMetrics {
        TcpPoolMetrics::register(&self.names, pool)
    }
    /// Register `connectors.redis.<pool>.*`.
    pub fn redis_pool(&self, pool: &str) -> RedisPoolMetrics {
        RedisPoolMetrics::register(&self.names, pool)
    }
    /// Register `pubsub.channels.<prefix>.*`.
    pub fn pubsub_prefix(&self, prefix: &str) -> PubsubPrefixMetrics {
        PubsubPrefixMetrics::register(&self.names, prefix)
    }

    /// The counter named `name`, created at 0 on first use. By name: for tests and tools; Hive's
    /// own code holds typed handles.
    pub fn counter(&self, name: &str) -> Counter {
        self.names.entry(name)
    }

    /// Increment `name` by one (by name, as [`Metrics::counter`]).
    pub fn inc(&self, name: &str) {
        self.counter(name).inc();
    }

    /// Current value of `name` (0 when absent).
    pub fn get(&self, name: &str) -> i64 {
        self.names.find(name).map_or(0, |c| c.get())
    }

    /// Reset `name` to 0 if it exists (creating nothing); false when it does not.
    pub fn reset(&self, name: &str) -> bool {
        match self.names.find(name) {
            Some(c) => {
                c.set(0);
                true
            }
            None => false,
        }
    }

    /// Every metric as `(name, value)`, sorted by name.
    pub fn snapshot(&self) -> Vec<(String, i64)> {
        self.names.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed groups register exactly the init names: a misspelt name in a group would show up
    /// here as an extra metric.
    #[test]
    fn typed_groups_register_exactly_the_init_metrics() {
        let m = Metrics::new();
        let got: Vec<String> = m.snapshot().into_iter().map(|(n, _)| n).collect();
        let mut want: Vec<String> = INIT_METRICS.iter().map(|s| s.to_string()).collect();
        want.sort();
        want.dedup();
        assert_eq!(got, want);
        assert_eq!(want.len(), INIT_METRICS.len(), "no duplicate init names");
    }

    #[test]
    fn handles_count_into_the_named_metric() {
        let m = Metrics::new();
        m.router().requests.add(2);
        m.http().status(404).inc();
        m.api().pubsub.errors.inc();
        assert_eq!(m.get("hive.router.requests"), 2);
        assert_eq!(m.get("clients.transports.http.4XX"), 1);
        assert_eq!(m.get("api.pubsub.errors"), 1);
        assert!(m.reset("hive.router.requests"));
        assert_eq!(m.router().requests.get(), 0);
        assert!(!m.reset("no.such.metric"));
        assert_eq!(m.get("no.such.metric"), 0);
    }

    /// Lazy names appear on their first increment only, and clones share the registration.
    #[test]
    fn lazy_counters_appear_on_first_use() {
        let m = Metrics::new();
        let ev = m.hook_event("chat");
        let listed = |name: &str| m.snapshot().iter().any(|(n, _)| n == name);
        assert!(!listed("clients.hooks.chat.calls"));
        assert!(!listed("connectors.uses"));
        let calls = ev.calls.clone();
        calls.inc();
        ev.calls.inc();
        m.connectors().uses.inc();
        assert_eq!(m.get("clients.hooks.chat.calls"), 2);
        assert_eq!(m.get("connectors.uses"), 1);
        assert!(!listed("clients.hooks.chat.errors"));
        assert!(!listed("hive.router.killed_sessions"));
        m.router().killed_sessions.add(4);
        assert_eq!(m.get("hive.router.killed_sessions"), 4);
        assert_eq!(m.hook_event("chat").calls.get(), 2, "same metric by name");
    }

    #[test]
    fn per_owner_groups_use_their_names() {
        let m = Metrics::new();
        m.pool("http", "backend").request();
        m.http_pool("backend").sync_gets.inc();
        m.tcp_pool("t").send.inc();
        m.redis_pool("r").queries.inc();
        m.pool("redis", "r").request();
        m.pubsub_prefix("rooms").subscribed_clients.set(3);
        for (name, v) in [
            ("connectors.http.backend.requests", 1),
            ("connectors.unsafe_transactions", 1),
            ("connectors.safe_transactions", 1),
            ("connectors.requests", 2),
            ("connectors.http.backend.sync_gets", 1),
            ("connectors.tcp.t.send", 1),
            ("connectors.redis.r.queries", 1),
            ("pubsub.channels.rooms.subscribed_clients", 3),
        ] {
            assert_eq!(m.get(name), v, "{name}");
        }
    }
}
