//! Pub-sub counters: node-wide `pubsub.*` and, per configured channel prefix,
//! `pubsub.channels.<prefix>.*`.

use super::counter::Counter;
use super::names::Names;

metric_group! {
    /// `pubsub.*`: every pub-sub operation of the node, live channels and uptime.
    PubsubMetrics {
        uptime: Counter = "pubsub.uptime",
        requests: Counter = "pubsub.requests",
        errors: Counter = "pubsub.errors",
        total_channels: Counter = "pubsub.total_channels",
        status: Counter = "pubsub.status",
        subscribe: Counter = "pubsub.subscribe",
        unsubscribe: Counter = "pubsub.unsubscribe",
        join: Counter = "pubsub.join",
        leave: Counter = "pubsub.leave",
        publish: Counter = "pubsub.publish",
        published_events: Counter = "pubsub.published_events",
        dropped_deliveries: Counter = "pubsub.dropped_deliveries",
    }
}

/// `pubsub.channels.<prefix>.*`: one configured channel prefix. Built when pub-sub starts, for
/// configured prefixes only (names never come from request input); held by pub-sub and by the
/// channels of that prefix.
#[derive(Debug, Clone)]
pub struct PubsubPrefixMetrics {
    /// `pubsub.channels.<prefix>.requests`
    pub requests: Counter,
    /// `pubsub.channels.<prefix>.errors`
    pub errors: Counter,
    /// `pubsub.channels.<prefix>.status`
    pub status: Counter,
    /// `pubsub.channels.<prefix>.subscribe`
    pub subscribe: Counter,
    /// `pubsub.channels.<prefix>.unsubscribe`
    pub unsubscribe: Counter,
    /// `pubsub.channels.<prefix>.publish`
    pub publish: Counter,
    /// `pubsub.channels.<prefix>.published_events`
    pub published_events: Counter,
    /// `pubsub.channels.<prefix>.total_channels` (gauge).
    pub total_channels: Counter,
    /// `pubsub.channels.<prefix>.subscribed_clients` (gauge).
    pub subscribed_clients: Counter,
}

impl PubsubPrefixMetrics {
    pub(super) fn register(names: &Names, prefix: &str) -> Self {
        let c = |leaf: &str| names.entry(&format!("pubsub.channels.{prefix}.{leaf}"));
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
