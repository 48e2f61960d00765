//! Registered names (HIVE.md 1.4): the one table of hook, action dispatcher, state manager and
//! connector names, plus the fixed vocabularies of the config (sections, log levels, transports).
//!
//! Each set of plugin names is a closed enum declared once here, name string included. The code
//! that builds the plugins matches on the enum exhaustively, so a name added here does not compile
//! until it has a constructor, and nothing can be constructed under a name that is not here:
//! [`HookName`] and [`ActionName`] in the hooks registry (`crate::hooks::registry`),
//! [`StateManagerName`] in the client actor, [`ConnectorName`] in `Connectors::start_pool`.
//! Config validation parses names with the same enums. This file is a leaf (it imports nothing),
//! and it sits in `config` because config is below the plugins: they read the typed config, so
//! config validation cannot ask them for their names, but they can take their names from here.

/// Declares a closed set of registered names: the enum (each variant documented by its name),
/// with `ALL`, `NAMES`, `name()` and `from_name()`.
macro_rules! registered {
    ($(#[$m:meta])* $vis:vis enum $E:ident { $($V:ident = $s:literal,)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $E {
            $(#[doc = concat!("`", $s, "`")] $V,)+
        }

        impl $E {
            /// Every name, in registry order.
            pub const ALL: &'static [$E] = &[$($E::$V,)+];
            /// Every name as its string, in registry order.
            pub const NAMES: &'static [&'static str] = &[$($s,)+];

            /// The registered name.
            pub const fn name(self) -> &'static str {
                match self {
                    $($E::$V => $s,)+
                }
            }

            /// The variant registered as `name`, if any.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($s => Some($E::$V),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $E {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

registered! {
    /// Hook names (`clients.hooks`), including the `cp.*` aliases of `hp.*` (HIVE.md 1.4
    /// recommendation).
    pub enum HookName {
        UtilsEcho = "utils.echo",
        UtilsAck = "utils.ack",
        UtilsConsoleDump = "utils.console_dump",
        UtilsDispatch = "utils.dispatch",
        PubsubSubscribe = "pubsub.subscribe",
        PubsubUnsubscribe = "pubsub.unsubscribe",
        PubsubResubscribe = "pubsub.resubscribe",
        PubsubPublish = "pubsub.publish",
        HpGet = "hp.get",
        HpPut = "hp.put",
        HpPost = "hp.post",
        CpGet = "cp.get",
        CpPut = "cp.put",
        CpPost = "cp.post",
    }
}

impl HookName {
    /// True for the hooks that speak the Hive Protocol to a backend pool (`hp.*` and their `cp.*`
    /// aliases): their args name an HTTP or TCP pool and an endpoint.
    pub const fn is_protocol(self) -> bool {
        matches!(
            self,
            HookName::HpGet
                | HookName::HpPut
                | HookName::HpPost
                | HookName::CpGet
                | HookName::CpPut
                | HookName::CpPost
        )
    }
}

registered! {
    /// Action dispatcher names (`clients.actions`).
    pub enum ActionName {
        Stop = "action.stop",
        Error = "action.error",
        SendEvent = "action.send_event",
        SendMessage = "action.send_message",
        SendJson = "action.send_json",
        SendAck = "action.send_ack",
        UpdateState = "action.update_state",
        Dispatch = "action.dispatch",
        AddHooks = "action.add_hooks",
        RemoveHooks = "action.remove_hooks",
        StartConnectors = "action.start_connectors",
        StopConnectors = "action.stop_connectors",
        PubsubPublish = "action.pubsub.publish",
        PubsubPublishRaw = "action.pubsub.publish_raw",
        PubsubSubscribe = "action.pubsub.subscribe",
        PubsubUnsubscribe = "action.pubsub.unsubscribe",
        PubsubResubscribe = "action.pubsub.resubscribe",
    }
}

registered! {
    /// State manager names (`clients.state.state_manager`).
    pub enum StateManagerName {
        Local = "sm.local",
        Redis = "sm.redis",
    }
}

registered! {
    /// Connector names (`connectors.pools.<name>.connector`).
    pub enum ConnectorName {
        Http = "connector.http",
        Tcp = "connector.tcp",
        Redis = "connector.redis",
    }
}

/// Hook names as strings.
pub const HOOKS: &[&str] = HookName::NAMES;
/// Action dispatcher names as strings.
pub const ACTIONS: &[&str] = ActionName::NAMES;
/// State manager names as strings.
pub const STATE_MANAGERS: &[&str] = StateManagerName::NAMES;
/// Connector names as strings.
pub const CONNECTORS: &[&str] = ConnectorName::NAMES;

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
    "cluster",
];
