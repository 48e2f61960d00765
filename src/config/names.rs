//! Registered plugin names (HIVE.md 1.4): the static registry the config is checked against.

/// Hook names, including the `cp.*` aliases of `hp.*` (HIVE.md 1.4 recommendation).
pub const HOOKS: &[&str] = &[
    "utils.echo",
    "utils.console_dump",
    "utils.dispatch",
    "pubsub.subscribe",
    "pubsub.unsubscribe",
    "pubsub.resubscribe",
    "pubsub.publish",
    "hp.get",
    "hp.put",
    "hp.post",
    "cp.get",
    "cp.put",
    "cp.post",
];

/// Action dispatcher names.
pub const ACTIONS: &[&str] = &[
    "action.stop",
    "action.error",
    "action.send_event",
    "action.send_message",
    "action.send_json",
    "action.send_ack",
    "action.update_state",
    "action.dispatch",
    "action.add_hooks",
    "action.remove_hooks",
    "action.start_connectors",
    "action.stop_connectors",
    "action.pubsub.publish",
    "action.pubsub.publish_raw",
    "action.pubsub.subscribe",
    "action.pubsub.unsubscribe",
    "action.pubsub.resubscribe",
];

/// State manager names.
pub const STATE_MANAGERS: &[&str] = &["sm.local", "sm.redis"];

/// Connector names.
pub const CONNECTORS: &[&str] = &["connector.http", "connector.tcp", "connector.redis"];

/// Hooks that speak the Hive Protocol to a backend pool (`hp.*` and their `cp.*` aliases).
pub(crate) const PROTOCOL_HOOKS: &[&str] =
    &["hp.get", "hp.put", "hp.post", "cp.get", "cp.put", "cp.post"];

/// Log levels of `log.file_level` / `log.console_level` (HIVE.md 2.10).
pub(crate) const LOG_LEVELS: &[&str] = &[
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
    "none",
];

/// Transport names of `socketio.transports`.
pub(crate) const TRANSPORTS: &[&str] = &["xhr-polling", "websocket", "flashsocket"];

/// The top-level sections: the original's eight in its order, then the new `http`.
pub(crate) const SECTIONS: &[&str] = &[
    "hive",
    "socketio",
    "clients",
    "connectors",
    "pubsub",
    "api",
    "monitor",
    "log",
    "http",
];
