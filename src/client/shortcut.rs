//! [`Shortcut`]: what a session shares with the channels it joined, so that ready frames reach an
//! idle WebSocket without a trip through the client actor.
//!
//! A pub-sub publish in neutral form, once encoded for the session's wire
//! ([`super::Delivery::Frames`]), needs nothing from the session: no hooks, no state, just "put
//! these bytes on the socket". When the session
//! is a WebSocket with no batching window (`socketio.poll_timeout` 0) and its actor is idle, the
//! actor lends the channel side a sender of its connection's queue and *opens* the shortcut; a
//! channel then hands the frames to that queue itself, which takes a third off the server's work
//! per delivery at large fan-outs. When the connection is idle too (nothing queued, nothing being
//! written, no batching window: [`super::ws_writer`]), the queue writes them straight into the
//! socket from the channel's task (one lock, one `write()`, no wake); else it queues them (one
//! `Arc` clone, one lock, one wake of the connection task). Everything else (events to dispatch,
//! XHR) goes through the actor as before.
//!
//! Order is the actor's, as if every delivery went through its mailbox:
//! - the actor closes the shortcut when it starts handling any other message, so what that
//!   handling causes (a backend publishing to a room the client just joined) is delivered after
//!   the handler's own replies;
//! - it reopens it only once it is idle again, its replies are in the connection queue, and no
//!   delivery is waiting in its mailbox (`pending` is 0, checked under the same lock a channel
//!   takes to choose between the two ways), so a later delivery never overtakes an earlier one;
//! - it closes it before it ends the session or drops the connection.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use ractor::ActorCell;
use tokio::sync::mpsc::error::TrySendError;

use super::ws_queue::{QueueFigures, QueueHint, WsSender};
use crate::metrics::Counter;
use crate::wire::Wire;

/// Per-session state shared by the client actor, its handle and the channels it joined. It is the
/// session as its channels hold it (the [`crate::pubsub::Subscriber`], in `client::handle`): a
/// delivery's first load from the session is this allocation, whose first fields (`repr(C)`) are
/// what a delivery reads.
#[derive(Debug)]
#[repr(C)]
pub struct Shortcut {
    inner: Mutex<Inner>,
    /// The session's wire, set when its first transport attaches (pub-sub encodes for it).
    wire: OnceLock<Wire>,
    /// The first WebSocket queue lent, for warm-up reads only ([`Shortcut::warm`]).
    hint: OnceLock<QueueHint>,
    /// Most deliveries waiting for the actor before the client counts as slow.
    max_pending: usize,
    /// `clients.transports.websocket.ok`: frames handed to a WebSocket.
    ws_ok: Counter,
    /// The session's actor (deliveries that go through its mailbox).
    actor: ActorCell,
    /// The session's outgoing queue depth and bytes, for the monitor.
    figures: Arc<QueueFigures>,
}

#[derive(Debug, Default)]
struct Inner {
    /// A sender of the WebSocket connection's queue, lent by the actor.
    ws: Option<WsSender>,
    /// Channels may use `ws` now.
    open: bool,
    /// Deliveries sent to the actor and not yet taken by it.
    pending: usize,
}

/// How [`Shortcut::deliver`] handed a delivery over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Written into the socket or queued on the connection by the shortcut.
    Socket,
    /// Sent to the actor (`cast` said yes).
    Actor,
    /// The actor is gone (`cast` said no).
    Dead,
    /// The connection's queue or the actor's pending deliveries are full: a slow client.
    Full,
}

impl Shortcut {
    /// A closed shortcut to `actor`, which counts as slow once `max_pending` deliveries wait in
    /// its mailbox.
    pub fn new(actor: ActorCell, max_pending: usize, ws_ok: Counter) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Inner::default()),
            wire: OnceLock::new(),
            hint: OnceLock::new(),
            max_pending,
            ws_ok,
            actor,
            figures: Arc::default(),
        })
    }

    /// The session's actor.
    pub fn actor(&self) -> &ActorCell {
        &self.actor
    }

    /// Most deliveries waiting for the actor before the client counts as slow.
    pub fn max_pending(&self) -> usize {
        self.max_pending
    }

    /// The session's outgoing queue figures (shared with its connection queues).
    pub fn figures(&self) -> &Arc<QueueFigures> {
        &self.figures
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while holding the lock; a poisoned one still holds consistent data.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hand over one delivery: `frames` (if it is ready frames) straight to the socket when the
    /// shortcut is open, otherwise `cast` it to the actor, unless `max` deliveries already wait.
    pub fn deliver(
        &self,
        frames: Option<&Arc<[Arc<str>]>>,
        max: usize,
        cast: impl FnOnce() -> bool,
    ) -> Route {
        let mut g = self.lock();
        if let (Some(frames), true, Some(tx)) = (frames, g.open, g.ws.as_ref()) {
            match tx.try_send_shared(frames) {
                Ok(()) => {
                    drop(g);
                    self.ws_ok.add_spread(frames.len() as i64);
                    return Route::Socket;
                }
                Err(TrySendError::Full(_)) => return Route::Full,
                // The connection is gone: the actor learns it and ends the session.
                Err(TrySendError::Closed(_)) => {}
            }
        }
        if g.pending >= max {
            return Route::Full;
        }
        // Cast under the lock: the actor cannot reopen the shortcut between our choice and the
        // delivery reaching its mailbox.
        if cast() {
            g.pending += 1;
            Route::Actor
        } else {
            Route::Dead
        }
    }

    /// Several deliveries of ready frames at once (a fan-out shard that had fallen behind): all
    /// of them written into the socket with one write when the shortcut is open and the
    /// connection idle. False when that cannot be done now; nothing was handed over then, and the
    /// caller delivers them one by one ([`Shortcut::deliver`]).
    pub fn deliver_now(&self, groups: &[&[Arc<str>]]) -> bool {
        let g = self.lock();
        let written = g.open && g.ws.as_ref().is_some_and(|tx| tx.try_write_all(groups));
        drop(g);
        if written {
            self.ws_ok
                .add_spread(groups.iter().map(|f| f.len() as i64).sum());
        }
        written
    }

    /// The actor took one delivery from its mailbox.
    pub fn release(&self) {
        let mut g = self.lock();
        g.pending = g.pending.saturating_sub(1);
    }

    /// Lend a sender of the session's WebSocket queue (closed until [`Shortcut::open`]).
    pub fn lend(&self, tx: WsSender) {
        let _ = self.hint.get_or_init(|| tx.hint());
        let old = {
            let mut g = self.lock();
            g.open = false;
            g.ws.replace(tx)
        };
        drop(old); // outside the lock: dropping a sender locks the connection queue
    }

    /// Take the sender back: the connection or the session is going away.
    pub fn take_back(&self) {
        let old = {
            let mut g = self.lock();
            g.open = false;
            g.ws.take()
        };
        drop(old);
    }

    /// Route everything through the actor for now (it is busy).
    pub fn close(&self) {
        self.lock().open = false;
    }

    /// Let channels queue ready frames on the lent sender again, unless deliveries wait in the
    /// mailbox.
    pub fn open(&self) {
        let mut g = self.lock();
        if g.pending == 0 && g.ws.is_some() {
            g.open = true;
        }
    }

    /// Load what a delivery reads, `step` pointers deep, without taking a lock (a lock would
    /// wait for the loads before it): 0 this shortcut's first line, 1 its queue's (the one lent
    /// first; a later one is only not warmed).
    pub fn warm(&self, step: usize) {
        match step {
            0 => {
                std::hint::black_box(self.wire.get());
            }
            _ => {
                if let Some(h) = self.hint.get() {
                    h.warm();
                }
            }
        }
    }

    /// Record the session's wire (its first transport's; later ones are ignored).
    pub fn set_wire(&self, wire: Wire) {
        let _ = self.wire.set(wire);
    }

    /// The session's wire (0.9 until a transport attached).
    pub fn wire(&self) -> Wire {
        self.wire.get().copied().unwrap_or_default()
    }

    /// Count frames the actor itself handed to the WebSocket.
    pub fn count_ws(&self, n: usize) {
        self.ws_ok.add(n as i64);
    }
}
