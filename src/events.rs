//! Protocol-neutral events: what sessions, hooks, pub-sub and the API build and read, whatever wire
//! (Socket.IO 0.9 today, see [`crate::wire`]) a client speaks.
//!
//! - [`Event`]: a named event: Hive's event object (`{"name": .., "args": [..]}`, the form triggers
//!   and backends use), a namespace, an optional [`AckId`] and binary attachments.
//! - [`Out`]: one item a session sends: an event, an ack, a plain or JSON message, a raw publish,
//!   or a session-level signal (connect, disconnect, noop).
//! - [`In`]: one item a client sent, decoded by its wire: an event, a disconnect, a heartbeat, or
//!   input the session answers with an error.
//!
//! Nothing here knows how a wire spells any of it. Events and outgoing items have a serde form
//! (what a backplane carries between nodes, [`crate::pubsub::Envelope`]).

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{HiveError, Mode};

/// An acknowledgement id: the client asked for an ack (`with_data`), or the server names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AckId {
    /// The number.
    pub id: u64,
    /// The peer wants the ack to carry data (0.9's `N+`).
    pub with_data: bool,
}

impl AckId {
    /// Parse a `trigger_id` (HIVE.md 6.3): digits -> an id, digits + `+` -> an id that wants
    /// data; anything else (empty, signs, spaces, overflow) -> none.
    pub fn parse(trigger_id: &str) -> Option<AckId> {
        let (digits, with_data) = match trigger_id.strip_suffix('+') {
            Some(d) => (d, true),
            None => (trigger_id, false),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let id = digits.parse().ok()?;
        Some(AckId { id, with_data })
    }

    /// The `trigger_id` spelling: `N` or `N+`.
    pub fn trigger_id(self) -> String {
        if self.with_data {
            format!("{}+", self.id)
        } else {
            self.id.to_string()
        }
    }
}

/// A named event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The namespace; empty for the default one.
    #[serde(default = "default_namespace", skip_serializing_if = "str::is_empty")]
    pub namespace: Arc<str>,
    /// The event object, `{"name": <string>, "args": ..}` (extra keys kept, in order).
    pub object: Value,
    /// The JSON text of `object` exactly as it arrived, when it arrived as text: a wire that sends
    /// the event on reuses it, so what a client or the API sent goes out byte for byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Arc<str>>,
    /// The ack the event carries or asks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<AckId>,
    /// Binary attachments (the modern protocol's binary events); none on the 0.9 wire.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Bytes>,
}

fn default_namespace() -> Arc<str> {
    // Shared, not allocated: every event of the default namespace has this one.
    Arc::default()
}

impl Event {
    /// An event from its object (default namespace, no ack, no attachments).
    pub fn new(object: Value) -> Self {
        Self {
            namespace: default_namespace(),
            object,
            text: None,
            ack: None,
            attachments: Vec::new(),
        }
    }

    /// An event from its object and the JSON text it was parsed from.
    pub fn with_text(object: Value, text: impl Into<Arc<str>>) -> Self {
        Self {
            text: Some(text.into()),
            ..Self::new(object)
        }
    }

    /// Builder: the ack id.
    pub fn with_ack(mut self, ack: Option<AckId>) -> Self {
        self.ack = ack;
        self
    }

    /// Builder: the namespace.
    pub fn in_namespace(mut self, namespace: impl Into<Arc<str>>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// The `hive_error` event for `e` (HIVE.md 11.2; masked in production).
    pub fn hive_error(e: &HiveError, mode: Mode) -> Self {
        Self::new(e.to_client_object(mode))
    }

    /// The event name (empty when the object has none).
    pub fn name(&self) -> &str {
        self.object
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// One outgoing item of a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Out {
    /// The transport is connected to the session.
    Connect,
    /// The session ends.
    Disconnect,
    /// Nothing (a keep-alive, or the answer to a poll that is replaced).
    Noop,
    /// An event (`action.send_event`, `utils.echo`, `hive_error`).
    Event(Event),
    /// A plain message (`action.send_message`); `data` is its JSON.
    Message {
        /// The data.
        data: Value,
        /// The ack id.
        ack: Option<AckId>,
    },
    /// A JSON message (`action.send_json`).
    Json {
        /// The data.
        data: Value,
        /// The ack id.
        ack: Option<AckId>,
    },
    /// An acknowledgement of `id`, with `args` when it carries data.
    Ack {
        /// The id acknowledged.
        id: AckId,
        /// The ack's data.
        args: Option<Value>,
    },
    /// A raw publish (`pubsub.publish` with `raw`): an event object, or any JSON value.
    Raw(Value),
    /// A refused namespace connection (the modern protocol's CONNECT_ERROR), `{message, data}`;
    /// the 0.9 wire sends it as a `hive_error` event.
    ConnectError(Value),
    /// An item already encoded for the session's wire, shared by many sessions (a pub-sub frame).
    /// It crosses a backplane as its text, for nodes whose subscribers speak that wire.
    Encoded(Arc<str>),
}

/// One incoming item of a session, as its wire decoded it.
#[derive(Debug, Clone, PartialEq)]
pub enum In {
    /// An event: runs its hook chain.
    Event(Event),
    /// The client acknowledged an event the server sent with an ack request (modern wire): the
    /// ack id and the ack's arguments (an array, binaries as markers).
    Ack {
        /// The id the server allocated.
        id: u64,
        /// The acknowledgement's arguments.
        args: Value,
    },
    /// The client ends the session.
    Disconnect,
    /// A client heartbeat (activity only).
    Heartbeat,
    /// Input the session does not process; answered with this error.
    Invalid(HiveError),
}
