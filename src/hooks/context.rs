//! The hook/dispatcher calling convention: what a [`Hook`] and a [`Dispatcher`] are, [`Trigger`]
//! in, [`Flow`] out, replies into [`Cx`]; the tables hooks are kept in ([`HookTable`], [`Tables`]);
//! and what their constructors get ([`BuildEnv`]).
//!
//! These types refer to each other (a hook runs with a `Cx`, which holds the client's
//! `HookTable` of hooks), so they live in one file that the built-ins, the engine and the
//! registry all build on; this file imports none of them.

use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::config::{Config, HookDescriptor};
use crate::connectors::Connectors;
use crate::error::{HiveError, Mode};
use crate::events::{Event, Out};
use crate::metrics::{EventHookMetrics, Metrics};
use crate::pubsub::{PubSub, Subscriber};
use crate::slot::Slot;
use crate::state::StateStore;
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

/// Builds one hook of an event from its descriptor: the registry's `build_hook`, handed to
/// constructors in [`BuildEnv`] for dispatchers that build hooks when they run
/// (`action.add_hooks`).
pub type HookBuilder =
    fn(&HookDescriptor, &BuildEnv<'_>, &EventHookMetrics) -> Result<Arc<dyn Hook>, HiveError>;

/// A hook constructor: validates its `args` and returns the ready hook, which may keep handles of
/// the counters of the event it is built for (`clients.hooks.<event>.*`).
pub type HookCtor =
    fn(&Value, &BuildEnv<'_>, &EventHookMetrics) -> Result<Arc<dyn Hook>, HiveError>;

/// A dispatcher constructor: validates its `args` and returns the ready dispatcher.
pub type DispatcherCtor = fn(&Value, &BuildEnv<'_>) -> Result<Arc<dyn Dispatcher>, HiveError>;

/// What constructors may look at besides their own args.
pub struct BuildEnv<'a> {
    /// The whole configuration (pool names and types).
    pub config: &'a Config,
    /// The registry's hook builder.
    pub build_hook: HookBuilder,
    /// The node's metrics: the counters hooks hold (`clients.hooks.hp.get`, ...) and those of new
    /// hook events (`clients.hooks.<event>.*`).
    pub metrics: &'a Metrics,
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
    /// Set the chain of `event` (hooks built with `metrics`), replacing any.
    pub fn set(&mut self, event: &str, metrics: Arc<EventHookMetrics>, hooks: Vec<Arc<dyn Hook>>) {
        self.map
            .insert(event.to_string(), HookChain { hooks, metrics });
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

/// The compiled `clients.hooks` and `clients.actions` of one configuration (built by
/// `Tables::build`, in the registry).
#[derive(Debug, Default)]
pub struct Tables {
    /// The initial hook table every client starts from.
    pub hooks: Arc<HookTable>,
    /// alias -> dispatchers, all run in order (HIVE.md 16.4 #1: the original kept only the last).
    pub actions: HashMap<String, Vec<Arc<dyn Dispatcher>>>,
    /// Modern-protocol namespaces with a hook table of their own
    /// (`socketio.namespaces.<nsp>.hooks`), used instead of `hooks` by their sockets.
    pub namespaces: HashMap<String, Arc<HookTable>>,
}

impl Tables {
    /// True when `alias` dispatches only to `action.send_event`.
    pub fn is_plain_send_event(&self, alias: &str) -> bool {
        matches!(self.actions.get(alias), Some(v) if v.len() == 1 && v[0].is_send_event())
    }
}

/// Node-wide services a hook may use. Built once by the app; shared by every client.
#[derive(Clone)]
pub struct Services {
    /// Build mode (error masking).
    pub mode: Mode,
    /// The loaded configuration.
    pub config: Arc<Config>,
    /// The node's metrics: sessions count into its typed groups (`events()`, `state_mgr()`, ...);
    /// hooks added at run time register their event's counters here.
    pub metrics: Arc<Metrics>,
    /// Compiled hook and action tables.
    pub tables: Arc<Tables>,
    /// Connector pools (the current incarnation of connectors_sup).
    pub connectors: Slot<Connectors>,
    /// Pub-sub (the current incarnation of pubsub_sup).
    pub pubsub: Slot<PubSub>,
    /// The sessions' initial state (`clients.state.initial_value` as a map), built once and shared
    /// by every session until it first writes its state (`sm.local` copies it then).
    pub initial_state: Arc<crate::state::StateMap>,
}

impl Services {
    /// The running connectors.
    ///
    /// # Errors
    /// `connectors_error` while connectors_sup is restarting.
    pub fn connectors(&self) -> Result<Connectors, HiveError> {
        self.connectors
            .get()
            .ok_or_else(|| HiveError::ConnectorsError("Hive Connectors are restarting.".into()))
    }

    /// The running pub-sub.
    ///
    /// # Errors
    /// `pubsub_error` while pubsub_sup is restarting.
    pub fn pubsub(&self) -> Result<PubSub, HiveError> {
        self.pubsub
            .get()
            .ok_or_else(|| HiveError::PubsubError("Hive Pub-Sub is restarting.".into()))
    }
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// What triggered a hook chain or a dispatch.
#[derive(Debug, Clone)]
pub struct Trigger {
    /// Event name (`authorize`, `on_connect`, ...).
    pub name: String,
    /// What triggered the chain: the client's event (with its ack and namespace; its object is
    /// `value`, moved there rather than copied, so the object here is `null`), a noop for
    /// on_connect/on_disconnect, a message for on_terminate. [`Trigger::echo`] is the item
    /// `utils.echo` sends back.
    pub origin: Out,
    /// The parsed data: the event object, `null` for on_connect/on_disconnect, the reason string for
    /// on_terminate.
    pub value: Value,
}

impl Trigger {
    /// A client event (or one dispatched by `action.dispatch`).
    pub fn event(mut event: Event) -> Self {
        let name = event.name().to_string();
        let value = std::mem::take(&mut event.object);
        Self {
            name,
            value,
            origin: Out::Event(event),
        }
    }

    /// What triggered the chain as the item `utils.echo` sends back: the client's event whole
    /// (its object from `value`), or the origin as it is.
    pub fn echo(&self) -> Out {
        match &self.origin {
            Out::Event(e) => Out::Event(Event {
                namespace: Arc::clone(&e.namespace),
                object: self.value.clone(),
                text: e.text.clone(),
                ack: e.ack,
                attachments: e.attachments.clone(),
            }),
            other => other.clone(),
        }
    }

    /// `on_connect` / `on_disconnect`: data `null`, a noop.
    pub fn special(name: &str) -> Self {
        Self {
            name: name.into(),
            origin: Out::Noop,
            value: Value::Null,
        }
    }

    /// `on_connect` of a modern namespace socket: data `{"name":"on_connect", "args":[<auth>],
    /// "nsp": .., "query": {..}}` (`hello` holds every key but the name), a noop.
    pub fn connect(hello: Value) -> Self {
        let mut obj = serde_json::Map::new();
        obj.insert("name".into(), Value::String("on_connect".into()));
        if let Value::Object(m) = hello {
            obj.extend(m);
        }
        Self {
            name: "on_connect".into(),
            origin: Out::Noop,
            value: Value::Object(obj),
        }
    }

    /// `on_terminate`: a message whose data is the reason.
    pub fn terminate(reason: &str) -> Self {
        let value = Value::String(reason.to_string());
        Self {
            name: "on_terminate".into(),
            origin: Out::Message {
                data: value.clone(),
                ack: None,
            },
            value,
        }
    }

    /// `trigger_id` as the backend sees it: `N`, `N+` or `""`.
    pub fn trigger_id(&self) -> String {
        match &self.origin {
            Out::Event(Event { ack: Some(a), .. }) => a.trigger_id(),
            _ => String::new(),
        }
    }
}

/// One outgoing item of a hook: a neutral [`Out`], encoded by the session's wire.
pub type Reply = Out;

/// The result of one hook or dispatcher.
#[derive(Debug, Clone, PartialEq)]
pub enum Flow {
    /// Go on with the next hook.
    Continue,
    /// Stop the chain; the error goes to the client as `hive_error`; the session continues.
    Error(HiveError),
    /// Stop the chain; the error goes to the client; the session ends.
    Stop(HiveError),
}

/// The per-call context of a hook: the calling client's session and the node's services.
pub struct Cx<'s> {
    /// Session id.
    pub sid: &'s str,
    /// Node-wide services.
    pub services: &'s Services,
    /// The session's state store.
    pub state: &'s mut StateStore,
    /// The session's own hook table (`action.add_hooks` changes only this client's).
    pub hooks: &'s mut Arc<HookTable>,
    /// Replies accumulated so far, in chronological order.
    pub replies: &'s mut Vec<Reply>,
    /// This client as a pub-sub subscriber.
    pub me: Arc<dyn Subscriber>,
}

impl Cx<'_> {
    /// Queue a reply.
    pub fn reply(&mut self, r: Reply) {
        self.replies.push(r);
    }

    /// All state keys, counting the state-manager metrics.
    ///
    /// # Errors
    /// The state manager's error.
    pub async fn state_all(&mut self) -> Result<Map<String, Value>, HiveError> {
        let m = self.services.metrics.state_mgr();
        m.call(&m.get);
        let r = self.state.get_all().await;
        if r.is_err() {
            m.errors.inc();
        }
        r
    }

    /// Write state keys, counting the state-manager metrics.
    ///
    /// # Errors
    /// The state manager's error.
    pub async fn state_set(&mut self, update: Value) -> Result<(), HiveError> {
        let m = self.services.metrics.state_mgr();
        m.call(&m.set);
        let r = self.state.set_all(update).await;
        if r.is_err() {
            m.errors.inc();
        }
        r
    }

    /// The client metadata document of HIVE.md 4.5:
    /// `{"sid","trigger","trigger_id","state"}` in that key order, compact.
    ///
    /// # Errors
    /// The state manager's error.
    pub async fn metadata(&mut self, trigger: &Trigger) -> Result<String, HiveError> {
        let state = self.state_all().await?;
        let mut doc = Map::new();
        doc.insert("sid".into(), Value::String(self.sid.to_string()));
        doc.insert("trigger".into(), trigger.value.clone());
        doc.insert("trigger_id".into(), Value::String(trigger.trigger_id()));
        doc.insert("state".into(), Value::Object(state));
        Ok(Value::Object(doc).to_string())
    }
}

/// Turn a state-manager error into a flow: a lost Redis connection ends the session.
pub fn state_flow(e: HiveError) -> Flow {
    match e {
        HiveError::NoConnection(_) => Flow::Stop(e),
        other => Flow::Error(other),
    }
}
