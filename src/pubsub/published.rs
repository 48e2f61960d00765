//! [`Published`]: a client-independent publish in neutral form, encoded at most once per wire
//! that its subscribers use, whatever their number.
//!
//! A channel hands the same `Arc<Published>` to every subscriber; each asks for the frames of its
//! own wire ([`Published::encoded`]). The first subscriber of a wire encodes (one `OnceLock` per
//! wire slot), the others clone the shared frames (`Arc<[Arc<str>]>`).

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::events::Out;
use crate::metrics::DeliveryProbe;
use crate::wire::{Encoder, SLOTS};

/// The frames of one publish on one wire, shared by its subscribers.
pub type Frames = Arc<[Arc<str>]>;

/// A publish whose items do not depend on the receiving client (plain `action.send_event`
/// events, raw publishes, the API's external events).
#[derive(Debug)]
pub struct Published {
    items: Vec<Out>,
    cache: [OnceLock<Frames>; SLOTS],
    encodes: AtomicUsize,
    /// Sampled for the delivery latency: when it was published, and the probe to arm.
    stamp: OnceLock<(std::time::Instant, Arc<DeliveryProbe>)>,
}

impl Published {
    /// Share `items`.
    pub fn new(items: Vec<Out>) -> Arc<Self> {
        Arc::new(Self {
            items,
            cache: Default::default(),
            encodes: AtomicUsize::new(0),
            stamp: OnceLock::new(),
        })
    }

    /// Time this publish's deliveries (published at `at`): the frames it is encoded to are armed
    /// in `probe` (before any subscriber gets them: the channel encodes on its first delivery).
    pub fn stamp(&self, at: std::time::Instant, probe: Arc<DeliveryProbe>) {
        let _ = self.stamp.set((at, probe));
    }

    /// The neutral items.
    pub fn items(&self) -> &[Out] {
        &self.items
    }

    /// Number of items (`pubsub.published_events`).
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when nothing is carried.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The frames of `wire`: encoded by the first caller of that wire, shared afterwards.
    pub fn encoded(&self, wire: &dyn Encoder) -> Frames {
        self.encoded_ref(wire).into_owned()
    }

    /// [`Published::encoded`], borrowed from the cache when the wire has a slot: a delivery that
    /// writes the frames at once touches no reference count (shared by every fan-out shard's
    /// thread, so that would be a cache line bounced between cores per delivery).
    pub fn encoded_ref(&self, wire: &dyn Encoder) -> Cow<'_, Frames> {
        let encode = || {
            self.encodes.fetch_add(1, Ordering::Relaxed);
            let frames = Frames::from(wire.encode_all(&self.items));
            if let (Some((at, probe)), Some(first)) = (self.stamp.get(), frames.first()) {
                probe.arm(first, *at);
            }
            frames
        };
        match self.cache.get(wire.slot()) {
            Some(cell) => Cow::Borrowed(cell.get_or_init(encode)),
            None => Cow::Owned(encode()),
        }
    }

    /// How many times the items were encoded (once per wire used).
    pub fn encodes(&self) -> usize {
        self.encodes.load(Ordering::Relaxed)
    }
}
