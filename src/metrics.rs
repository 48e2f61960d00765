//! Hive's counters and gauges as typed handles, in a leaf module: it imports nothing else of the
//! crate. The names are catalogued in `docs/monitor.md`.
//!
//! Every metric keeps its Hive name (`hive.router.requests`, ...) in one registry, [`Metrics`], so
//! the admin listener can render them all; but code that counts never names a metric. It holds a
//! struct of [`Counter`] fields for its subsystem, built once, and an increment is one relaxed
//! atomic add. The groups, and who holds them:
//!
//! - [`HiveMetrics`] (`hive.*`), [`ClusterMetrics`] (`hive.cluster.*`): the env refresher, the
//!   admin's derived gauges, the app's refresh hook.
//! - [`RouterMetrics`] (`hive.router.*`): the router.
//! - [`ClientMetrics`], [`ClientStateMetrics`], [`EventMetrics`], [`StateMgrMetrics`]
//!   (`clients.*`, `clients.states.*`, `clients.events.*`, `clients.state_mgr.*`): the registry,
//!   reached by every session through its `Services`.
//! - [`HttpTransportMetrics`], [`WebsocketTransportMetrics`] (`clients.transports.*`): the
//!   Socket.IO listener's context.
//! - [`HookMetrics`] (`clients.hooks.*` totals): the hooks that count them.
//! - [`EventHookMetrics`] (`clients.hooks.<event>.*`): a hook table, per event, and the hooks of
//!   that event.
//! - [`ConnectorsMetrics`] (`connectors.*`): the connectors manager.
//! - [`PoolMetrics`], [`HttpPoolMetrics`], [`TcpPoolMetrics`], [`RedisPoolMetrics`]
//!   (`connectors.<type>.<pool>.*`): each pool.
//! - [`PubsubMetrics`] (`pubsub.*`), [`PubsubPrefixMetrics`] (`pubsub.channels.<prefix>.*`):
//!   pub-sub, one prefix group per configured prefix.
//! - [`ApiMetrics`], [`ApiSectionMetrics`] (`api.*`, `api.<section>.*`): the API listener.
//! - [`Latencies`]: HDR latency histograms ([`Metrics::latency`]), each pool its own.
//!
//! The groups whose names are all in [`INIT_METRICS`] are built with the registry and handed out by
//! reference ([`Metrics::router`], ...); groups with a run-time part in their names (a pool, a
//! channel prefix, a hook event) are built by [`Metrics`] methods when their owner is built
//! ([`Metrics::pool`], [`Metrics::pubsub_prefix`], [`Metrics::hook_event`], ...).
//!
//! Names that only appear once used (a hook event's counters, `connectors.uses`) are
//! [`LazyCounter`]s: built with their owner, entered in the registry on their first increment, so
//! the registry lists exactly what it listed when counting was by name.
//!
//! Looking a metric up by name ([`Metrics::counter`], [`Metrics::get`], [`Metrics::reset`]) is for
//! the admin listener's renderers and reset route, and for tests.

/// Declare a group: a struct of handles, each registered under its exact name when the group is
/// built (`register`, private to this module tree).
macro_rules! metric_group {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $field:ident : $kind:ident = $metric:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        pub struct $name {
            $(
                #[doc = concat!("`", $metric, "`")]
                pub $field: $kind,
            )*
        }

        impl $name {
            pub(super) fn register(names: &std::sync::Arc<$crate::metrics::names::Names>) -> Self {
                Self {
                    $( $field: $crate::metrics::names::Handle::register(names, $metric), )*
                }
            }
        }
    };
}

mod counter;
mod delivery;
mod names;

mod api;
mod clients;
mod connectors;
mod hive;
mod hooks;
mod latency;
mod pubsub;
mod registry;
mod series;
mod transports;

pub use api::{ApiMetrics, ApiSectionMetrics};
pub use clients::{ClientMetrics, ClientStateMetrics, EventMetrics, StateMgrMetrics};
pub use connectors::{
    ConnectorsMetrics, HttpPoolMetrics, PoolMetrics, RedisPoolMetrics, TcpPoolMetrics,
};
pub use counter::Counter;
pub use delivery::{DEFAULT_EVERY, DeliveryProbe};
pub use hive::{ClusterMetrics, HiveMetrics, RouterMetrics};
pub use hooks::{EventHookMetrics, HookMetrics};
pub use latency::{Latencies, Latency, LatencySummary};
pub use names::LazyCounter;
pub use pubsub::{PubsubMetrics, PubsubPrefixMetrics};
pub use registry::{INIT_METRICS, Metrics};
pub use series::Series;
pub use transports::{EioTransportMetrics, HttpTransportMetrics, WebsocketTransportMetrics};
