//! What a channel hands to its subscribers, and the [`Subscriber`] contract the client actors fulfil.

use std::sync::Arc;

use super::published::Published;
use codec::event::InternalEvent;

/// What a channel fans out. Both forms are reference-counted: a publish to N subscribers clones
/// an `Arc`, never the payload.
///
/// There is no pre-encoded form: a publish whose result does not depend on the client travels as
/// a neutral [`Published`], which each subscriber takes in the encoding of its own wire (encoded
/// once per wire, [`Published::encoded`]); everything else is internal events each subscriber
/// dispatches itself.
#[derive(Clone, Debug)]
pub enum Payload {
    /// Internal events to dispatch in the subscriber's context (the result depends on it).
    Events(Arc<[InternalEvent]>),
    /// Neutral items, encoded once per wire.
    Published(Arc<Published>),
}

impl Payload {
    /// Internal events to dispatch.
    pub fn events(events: impl Into<Arc<[InternalEvent]>>) -> Payload {
        Payload::Events(events.into())
    }

    /// Number of events or items carried (`pubsub.published_events`).
    pub fn len(&self) -> usize {
        match self {
            Payload::Events(e) => e.len(),
            Payload::Published(p) => p.len(),
        }
    }

    /// True when nothing is carried.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<Arc<Published>> for Payload {
    fn from(p: Arc<Published>) -> Self {
        Payload::Published(p)
    }
}

/// Result of handing a [`Payload`] to one subscriber.
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

/// A channel subscriber (a session's `client::shortcut::Shortcut` implements it).
///
/// Channels call these methods from inside their own message handler or from their fan-out
/// shards' tasks (any thread; one channel's deliveries to a subscriber come one at a time, in
/// publish order), so none of them may block or await: `deliver` must be a `try_send` into a
/// bounded queue.
pub trait Subscriber: Send + Sync + std::fmt::Debug + 'static {
    /// The subscriber's actor; the channel monitors it to learn about its death and keys
    /// subscriptions on its id.
    fn cell(&self) -> ractor::ActorCell;
    /// Hand over one publish without blocking. A [`Payload::Published`] is taken in the encoding
    /// of the subscriber's wire (`p.encoded(wire)`: the first subscriber of a wire encodes, the
    /// others share its frames).
    fn deliver(&self, p: &Payload) -> DeliverOutcome;
    /// Hand over several publishes, in order (a fan-out shard that fell behind hands over what
    /// waits for it at once): as [`Subscriber::deliver`] of each, stopping at the first that is
    /// not `Queued`. A subscriber may take them together (one socket write for all).
    fn deliver_batch(&self, ps: &[Payload]) -> DeliverOutcome {
        deliver_each(self, ps)
    }
    /// Ask the client to disconnect because it cannot keep up.
    fn kill_slow(&self);
    /// Load (without changing anything) the memory a delivery will read, `step` pointers deep
    /// from the subscriber (0: its own first line): a fan-out warms the next subscribers a step
    /// each before it delivers to them, so the cold loads of several subscribers overlap instead
    /// of coming one after the other (see `shard.rs`). Does nothing by default.
    fn warm(&self, _step: usize) {}
}

/// [`Subscriber::deliver`] of each of `ps` in turn, stopping at the first that is not `Queued`
/// (what [`Subscriber::deliver_batch`] does unless a subscriber takes them together).
pub fn deliver_each<S: Subscriber + ?Sized>(s: &S, ps: &[Payload]) -> DeliverOutcome {
    for p in ps {
        match s.deliver(p) {
            DeliverOutcome::Queued => {}
            other => return other,
        }
    }
    DeliverOutcome::Queued
}
