//! The wire seam: how a client's protocol spells the neutral items of [`crate::events`].
//!
//! A [`Wire`] is chosen when a transport attaches to a session; it encodes and decodes at the
//! edge and knows the wire's batching (one frame per item on a WebSocket, one framed body per
//! poll), keep-alive and close rules. Socket.IO 0.9 ([`sio09`]) and the modern Socket.IO 4/5
//! wire of one namespace ([`modern`]). Nothing
//! above this module and the codec crate writes a wire literal.

pub mod modern;
pub mod sio09;

use std::sync::Arc;

use crate::events::{In, Out};
use codec::socketio::Message;

/// How many wires a shared encoding is kept for (see [`crate::pubsub::Published`]).
/// Slot 0 is 0.9; slot `1 + i` the modern wire of the `i`-th interned namespace.
pub const SLOTS: usize = 16;

/// What a fan-out needs of a wire: a cache slot and the frames of a batch of items. [`Wire`] is
/// the implementation; tests plug in doubles.
pub trait Encoder: Send + Sync + std::fmt::Debug {
    /// This wire's slot in a shared encoding cache, below [`SLOTS`] (another value is not cached).
    fn slot(&self) -> usize;
    /// `items` as the frames of this wire.
    fn encode_all(&self, items: &[Out]) -> Vec<Arc<str>>;
}

impl Encoder for Wire {
    fn slot(&self) -> usize {
        match self {
            Wire::Sio09 => 0,
            Wire::Modern(n) => 1 + n.index(),
        }
    }
    fn encode_all(&self, items: &[Out]) -> Vec<Arc<str>> {
        self.frames(items)
    }
}

/// The wire a transport speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Wire {
    /// Socket.IO 0.9 (HIVE.md 3).
    #[default]
    Sio09,
    /// Socket.IO 5/4 over Engine.IO 4/3, one namespace socket ([`modern`]).
    Modern(modern::Nsp),
}

impl Wire {
    /// One item as one frame.
    pub fn encode(self, item: &Out) -> Arc<str> {
        match self {
            Wire::Sio09 => sio09::encode(item),
            Wire::Modern(n) => modern::encode(n, item),
        }
    }

    /// Items as the frames of a WebSocket write: one frame per item.
    pub fn frames(self, items: &[Out]) -> Vec<Arc<str>> {
        items.iter().map(|i| self.encode(i)).collect()
    }

    /// Items as the body answering one poll (the wire's batching of a polling transport).
    pub fn poll_body(self, items: &[Out]) -> String {
        match self {
            Wire::Sio09 => sio09::poll_body(items),
            // A namespace socket's sink is its Engine.IO session, never a poll of its own.
            Wire::Modern(n) => items
                .iter()
                .map(|i| modern::encode(n, i).to_string())
                .filter(|f| !f.is_empty())
                .collect::<Vec<_>>()
                .join("\x1e"),
        }
    }

    /// What a 0.9 message means to the session (the transports of the 0.9 wire call it).
    pub fn incoming(self, m: Message) -> In {
        sio09::incoming(m)
    }

    /// Does the session announce the transport with [`Out::Connect`] as soon as it attaches?
    /// 0.9 does (`1:::`); the modern wire answers a namespace CONNECT only once `on_connect`
    /// has accepted it.
    pub fn connects_on_attach(self) -> bool {
        matches!(self, Wire::Sio09)
    }
}
