//! Hook counters: the `clients.hooks.*` totals and the per-event `clients.hooks.<event>.*`.

use std::sync::Arc;

use super::counter::Counter;
use super::names::{LazyCounter, Names};

metric_group! {
    /// `clients.hooks.*` totals: hook calls and failures, and calls per built-in hook family.
    HookMetrics {
        calls: Counter = "clients.hooks.calls",
        errors: Counter = "clients.hooks.errors",
        hp_get: Counter = "clients.hooks.hp.get",
        hp_put: Counter = "clients.hooks.hp.put",
        hp_post: Counter = "clients.hooks.hp.post",
        pubsub_publish: Counter = "clients.hooks.pubsub.publish",
        pubsub_subscribe: Counter = "clients.hooks.pubsub.subscribe",
        pubsub_unsubscribe: Counter = "clients.hooks.pubsub.unsubscribe",
    }
}

/// `clients.hooks.<event>.*`: the counters of one hook event, built when its hook chain is
/// compiled (or added by `action.add_hooks`) and shared by the chain and its hooks. Each name is
/// listed once that event first counted it.
#[derive(Debug)]
pub struct EventHookMetrics {
    /// `clients.hooks.<event>.calls`
    pub calls: LazyCounter,
    /// `clients.hooks.<event>.errors`
    pub errors: LazyCounter,
    /// `clients.hooks.<event>.hp.get`
    pub hp_get: LazyCounter,
    /// `clients.hooks.<event>.hp.put`
    pub hp_put: LazyCounter,
    /// `clients.hooks.<event>.hp.post`
    pub hp_post: LazyCounter,
    /// `clients.hooks.<event>.pubsub.publish`
    pub pubsub_publish: LazyCounter,
    /// `clients.hooks.<event>.pubsub.subscribe`
    pub pubsub_subscribe: LazyCounter,
    /// `clients.hooks.<event>.pubsub.unsubscribe`
    pub pubsub_unsubscribe: LazyCounter,
    /// The event's hook chain, from its first hook to its end: the `("event", <event>)` HDR
    /// histogram of [`super::Metrics::latency`].
    pub latency: Arc<super::latency::Latency>,
}

impl EventHookMetrics {
    pub(super) fn register(
        names: &Arc<Names>,
        event: &str,
        latency: Arc<super::latency::Latency>,
    ) -> Self {
        let c = |leaf: &str| LazyCounter::new(names, format!("clients.hooks.{event}.{leaf}"));
        Self {
            calls: c("calls"),
            errors: c("errors"),
            hp_get: c("hp.get"),
            hp_put: c("hp.put"),
            hp_post: c("hp.post"),
            pubsub_publish: c("pubsub.publish"),
            pubsub_subscribe: c("pubsub.subscribe"),
            pubsub_unsubscribe: c("pubsub.unsubscribe"),
            latency,
        }
    }
}
