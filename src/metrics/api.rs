//! API listener counters: `api.*` and `api.<section>.*`.

use super::counter::Counter;
use super::names::Names;

/// `api.<section>.*` of one API section (`hive`, `router`, `clients`, `pubsub`).
#[derive(Debug, Clone)]
pub struct ApiSectionMetrics {
    /// `api.<section>.requests`
    pub requests: Counter,
    /// `api.<section>.errors`
    pub errors: Counter,
}

impl ApiSectionMetrics {
    fn register(names: &Names, section: &str) -> Self {
        Self {
            requests: names.entry(&format!("api.{section}.requests")),
            errors: names.entry(&format!("api.{section}.errors")),
        }
    }
}

/// `api.*`: every API request, and per section. Held by the API listener.
#[derive(Debug, Clone)]
pub struct ApiMetrics {
    /// `api.requests`
    pub requests: Counter,
    /// `api.errors`
    pub errors: Counter,
    /// `api.hive.*`
    pub hive: ApiSectionMetrics,
    /// `api.router.*`
    pub router: ApiSectionMetrics,
    /// `api.clients.*`
    pub clients: ApiSectionMetrics,
    /// `api.pubsub.*`
    pub pubsub: ApiSectionMetrics,
}

impl ApiMetrics {
    pub(super) fn register(names: &Names) -> Self {
        Self {
            requests: names.entry("api.requests"),
            errors: names.entry("api.errors"),
            hive: ApiSectionMetrics::register(names, "hive"),
            router: ApiSectionMetrics::register(names, "router"),
            clients: ApiSectionMetrics::register(names, "clients"),
            pubsub: ApiSectionMetrics::register(names, "pubsub"),
        }
    }
}
