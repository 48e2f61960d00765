//! What a channel hands to its subscribers, and the [`Subscriber`] contract the client actors fulfil.

use std::sync::Arc;

use super::published::Published;
use crate::wire::Wire;
use codec::event::InternalEvent;

/// What a subscriber receives.
///
/// Both variants are reference-counted: a publish to N subscribers clones an `Arc`, never the
/// payload. `Frames` are messages already encoded for the subscriber's wire, shared by all its
/// subscribers and queued as-is (what [`Subscriber::deliver_published`] makes of a [`Published`]
/// by default, for the 0.9 wire); `Events` are internal events each subscriber dispatches itself
/// (used when the result depends on the client).
#[derive(Clone, Debug)]
pub enum Delivery {
    /// Internal events to dispatch in the subscriber's context.
    Events(Arc<[InternalEvent]>),
    /// Pre-encoded Socket.IO messages, queued verbatim.
    Frames(Arc<[Arc<str>]>),
}

impl Delivery {
    /// One pre-encoded frame.
    pub fn frame(f: impl Into<Arc<str>>) -> Delivery {
        Delivery::Frames(Arc::from(vec![f.into()]))
    }

    /// Number of events or frames carried (`pubsub.published_events`).
    pub fn len(&self) -> usize {
        match self {
            Delivery::Events(e) => e.len(),
            Delivery::Frames(f) => f.len(),
        }
    }

    /// True when nothing is carried.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a channel fans out: a [`Delivery`], or a neutral [`Published`] each subscriber takes in
/// the encoding of its wire.
#[derive(Clone, Debug)]
pub enum Payload {
    /// Handed to every subscriber as is.
    Delivery(Delivery),
    /// Encoded once per wire.
    Published(Arc<Published>),
}

impl Payload {
    /// Number of events or items carried.
    pub fn len(&self) -> usize {
        match self {
            Payload::Delivery(d) => d.len(),
            Payload::Published(p) => p.len(),
        }
    }

    /// True when nothing is carried.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<Delivery> for Payload {
    fn from(d: Delivery) -> Self {
        Payload::Delivery(d)
    }
}

impl From<Arc<Published>> for Payload {
    fn from(p: Arc<Published>) -> Self {
        Payload::Published(p)
    }
}

/// Result of handing a [`Delivery`] to one subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliverOutcome {
    /// Accepted into the subscriber's bounded queue.
    Queued,
    /// The subscriber is gone; the channel drops it.
    Dead,
    /// The subscriber's queue is full: the channel drops it and calls
    /// [`Subscriber::kill_slow`] (slow consumer, counted in `pubsub.dropped_deliveries`).
    Overloaded,
}

/// A channel subscriber (the lead's `ClientHandle` implements it).
///
/// Channels call these methods from inside their own message handler, so none of them may block
/// or await: `deliver` must be a `try_send` into a bounded queue.
pub trait Subscriber: Send + Sync + std::fmt::Debug + 'static {
    /// The subscriber's actor; the channel monitors it to learn about its death and keys
    /// subscriptions on its id.
    fn cell(&self) -> ractor::ActorCell;
    /// Hand over one delivery without blocking.
    fn deliver(&self, d: Delivery) -> DeliverOutcome;
    /// Hand over a neutral publish: by default its 0.9 frames (encoded once for every 0.9
    /// subscriber); a subscriber on another wire takes that wire's.
    fn deliver_published(&self, p: &Arc<Published>) -> DeliverOutcome {
        self.deliver(Delivery::Frames(p.encoded(&Wire::Sio09)))
    }
    /// Ask the client to disconnect because it cannot keep up.
    fn kill_slow(&self);
}
