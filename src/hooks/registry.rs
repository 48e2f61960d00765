//! Name -> constructor tables for hooks and dispatchers, and the compiled per-config [`Tables`].
//!
//! Every hook/dispatcher name of HIVE.md 1.4 (plus the `cp.*` aliases of `hp.*`) resolves here when
//! the configuration is loaded, so an unknown name or bad args is a start-up error with its path,
//! never a runtime surprise. A constructor validates its `args` and returns the ready object.

use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

use super::context::{Cx, Flow, Trigger};
use super::{actions, hp, pubsub_hooks, utils};
use crate::config::{ActionDescriptor, Config, HookDescriptor};
use crate::error::HiveError;
use crate::metrics::{EventHookMetrics, Metrics};
use codec::event::InternalEvent;

/// A boxed future borrowing the context.
pub type FlowFuture<'a> = Pin<Box<dyn Future<Output = Flow> + Send + 'a>>;

/// A hook: runs for a client event (HIVE.md 5.1).
pub trait Hook: Send + Sync + Debug {
    /// The registered name (`utils.echo`, ...), for metrics.
    fn name(&self) -> &'static str;
    /// Run with the trigger; replies go to `cx`.
    fn run<'a>(&'a self, cx: &'a mut Cx<'_>, trigger: &'a Trigger) -> FlowFuture<'a>;
}

/// An action dispatcher: runs for an internal event (HIVE.md 6.2).
pub trait Dispatcher: Send + Sync + Debug {
    /// Run with the event; replies go to `cx`.
    fn run<'a>(&'a self, cx: &'a mut Cx<'_>, event: &'a InternalEvent) -> FlowFuture<'a>;
    /// True for `action.send_event` (lets pub-sub encode a frame once for every subscriber).
    fn is_send_event(&self) -> bool {
        false
    }
}

/// What constructors may look at besides their own args.
pub struct BuildEnv<'a> {
    /// The whole configuration (pool names and types).
    pub config: &'a Config,
    /// The node's metrics, for the counters a hook holds (`clients.hooks.hp.get`, ...).
    pub metrics: &'a Metrics,
}

/// A hook constructor: args, environment, and the counters of the event the hook is built for
/// (`clients.hooks.<event>.*`).
type HookCtor = fn(&Value, &BuildEnv<'_>, &EventHookMetrics) -> Result<Arc<dyn Hook>, HiveError>;
type DispatcherCtor = fn(&Value, &BuildEnv<'_>) -> Result<Arc<dyn Dispatcher>, HiveError>;

/// Every hook name and its constructor.
pub fn hook_ctors() -> Vec<(&'static str, HookCtor)> {
    let mut v: Vec<(&'static str, HookCtor)> = Vec::new();
    v.extend(utils::hooks());
    v.extend(hp::hooks());
    v.extend(pubsub_hooks::hooks());
    v
}

/// Every dispatcher name and its constructor.
pub fn dispatcher_ctors() -> Vec<(&'static str, DispatcherCtor)> {
    let mut v: Vec<(&'static str, DispatcherCtor)> = Vec::new();
    v.extend(actions::dispatchers());
    v.extend(pubsub_hooks::dispatchers());
    v
}

/// Build one hook of an event from its descriptor; `event` are that event's counters.
///
/// # Errors
/// `bad_connector_descriptor` (the original's code for bad hook descriptors) for an unknown name, or
/// the constructor's own error for bad args.
pub fn build_hook(
    d: &HookDescriptor,
    env: &BuildEnv<'_>,
    event: &EventHookMetrics,
) -> Result<Arc<dyn Hook>, HiveError> {
    let ctor = hook_ctors()
        .into_iter()
        .find(|(n, _)| *n == d.hook)
        .map(|(_, c)| c)
        .ok_or_else(|| HiveError::BadConnectorDescriptor(format!("unknown hook \"{}\"", d.hook)))?;
    ctor(&d.args, env, event)
}

/// Build one dispatcher from its descriptor.
///
/// # Errors
/// As [`build_hook`].
pub fn build_dispatcher(
    d: &ActionDescriptor,
    env: &BuildEnv<'_>,
) -> Result<Arc<dyn Dispatcher>, HiveError> {
    let ctor = dispatcher_ctors()
        .into_iter()
        .find(|(n, _)| *n == d.action)
        .map(|(_, c)| c)
        .ok_or_else(|| {
            HiveError::BadConnectorDescriptor(format!("unknown action dispatcher \"{}\"", d.action))
        })?;
    ctor(&d.args, env)
}

/// The hooks of one event, in order, and the event's counters (shared with those hooks).
#[derive(Debug, Clone)]
pub struct HookChain {
    /// The hooks, run in order.
    pub hooks: Vec<Arc<dyn Hook>>,
    /// `clients.hooks.<event>.*`
    pub metrics: Arc<EventHookMetrics>,
}

/// A client's hook table: event name -> hook chain. Shared copy-on-write between clients.
#[derive(Debug, Default, Clone)]
pub struct HookTable {
    map: HashMap<String, HookChain>,
}

impl HookTable {
    /// The chain of `event`, if it has one.
    pub fn get(&self, event: &str) -> Option<HookChain> {
        self.map.get(event).cloned()
    }
    /// The counters of `event`, if it has a chain (new hooks of the event are built with them).
    pub fn event_metrics(&self, event: &str) -> Option<Arc<EventHookMetrics>> {
        self.map.get(event).map(|c| Arc::clone(&c.metrics))
    }
    /// Prepend hooks for `event` (`action.add_hooks`, HIVE.md 6.3). `metrics` become the event's
    /// counters when it had no chain; pass what the hooks were built with.
    pub fn prepend(
        &mut self,
        event: &str,
        metrics: Arc<EventHookMetrics>,
        hooks: Vec<Arc<dyn Hook>>,
    ) {
        let chain = self.map.entry(event.to_string()).or_insert(HookChain {
            hooks: Vec::new(),
            metrics,
        });
        let mut v = hooks;
        v.append(&mut chain.hooks);
        chain.hooks = v;
    }
    /// Remove every hook of `event`.
    pub fn remove(&mut self, event: &str) {
        self.map.remove(event);
    }
}

/// The compiled `clients.hooks` and `clients.actions` of one configuration.
#[derive(Debug, Default)]
pub struct Tables {
    /// The initial hook table every client starts from.
    pub hooks: Arc<HookTable>,
    /// alias -> dispatchers, all run in order (HIVE.md 16.4 #1: the original kept only the last).
    pub actions: HashMap<String, Vec<Arc<dyn Dispatcher>>>,
}

impl Tables {
    /// Compile the tables of `config`, collecting every error with its path; each event's counters
    /// (`clients.hooks.<event>.*`) are registered in `metrics` here, once.
    ///
    /// # Errors
    /// `invalid_config` listing each bad descriptor as `clients.hooks.<event>[i]: <error>`.
    pub fn build(config: &Config, metrics: &Metrics) -> Result<Tables, HiveError> {
        let env = BuildEnv { config, metrics };
        let mut errors = Vec::new();
        let mut hooks = HookTable::default();
        for (event, descs) in config.clients.hooks.iter() {
            let counters = Arc::new(metrics.hook_event(event));
            let mut v = Vec::new();
            for (i, d) in descs.iter().enumerate() {
                match build_hook(d, &env, &counters) {
                    Ok(h) => v.push(h),
                    Err(e) => errors.push(format!("clients.hooks.{event}[{i}]: {e}")),
                }
            }
            let chain = HookChain {
                hooks: v,
                metrics: counters,
            };
            hooks.map.insert(event.clone(), chain);
        }
        let mut actions = HashMap::new();
        for (alias, descs) in config.clients.actions.iter() {
            let mut v = Vec::new();
            for (i, d) in descs.iter().enumerate() {
                match build_dispatcher(d, &env) {
                    Ok(h) => v.push(h),
                    Err(e) => errors.push(format!("clients.actions.{alias}[{i}]: {e}")),
                }
            }
            actions.insert(alias.clone(), v);
        }
        if errors.is_empty() {
            Ok(Tables {
                hooks: Arc::new(hooks),
                actions,
            })
        } else {
            Err(HiveError::InvalidConfig(errors.join("\n")))
        }
    }

    /// True when `alias` dispatches only to `action.send_event`.
    pub fn is_plain_send_event(&self, alias: &str) -> bool {
        matches!(self.actions.get(alias), Some(v) if v.len() == 1 && v[0].is_send_event())
    }
}
