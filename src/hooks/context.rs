//! The hook/dispatcher calling convention: [`Trigger`] in, [`Flow`] out, replies into [`Cx`].

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::config::Config;
use crate::connectors::Connectors;
use crate::error::{HiveError, Mode};
use crate::metrics::Metrics;
use crate::pubsub::{PubSub, Subscriber};
use crate::slot::Slot;
use crate::state::StateStore;
use codec::socketio::{Kind, Message, MsgId};

use super::registry::{HookTable, Tables};

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
    /// The triggering message (kind, id, endpoint, raw data).
    pub message: Message,
    /// The parsed data: the event object, `null` for on_connect/on_disconnect, the reason string for
    /// on_terminate.
    pub value: Value,
}

impl Trigger {
    /// A client event.
    pub fn event(name: String, message: Message, value: Value) -> Self {
        Self {
            name,
            message,
            value,
        }
    }

    /// `on_connect` / `on_disconnect`: data `null`, type noop.
    pub fn special(name: &str) -> Self {
        Self {
            name: name.into(),
            message: Message::noop(),
            value: Value::Null,
        }
    }

    /// `on_terminate`: a Socket.IO *message* whose data is the JSON-encoded reason.
    pub fn terminate(reason: &str) -> Self {
        let value = Value::String(reason.to_string());
        let message = Message::with_data(Kind::Message, value.to_string());
        Self {
            name: "on_terminate".into(),
            message,
            value,
        }
    }

    /// `trigger_id` as the backend sees it: `N`, `N+` or `""`.
    pub fn trigger_id(&self) -> String {
        match self.message.id {
            MsgId::None => String::new(),
            id => id.render(),
        }
    }
}

/// One outgoing item: a message, or a frame pre-encoded once and shared by many clients.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A message to encode.
    Msg(Message),
    /// An already-encoded Socket.IO message.
    Frame(Arc<str>),
}

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
