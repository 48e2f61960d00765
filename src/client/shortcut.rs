//! [`Shortcut`]: what a session shares with the channels it joined, so that ready frames reach an
//! idle WebSocket without a trip through the client actor.
//!
//! A pub-sub delivery of pre-encoded frames ([`crate::pubsub::Delivery::Frames`]) needs nothing from the
//! session: no hooks, no state, just "put these bytes on the socket". When the session is a
//! WebSocket with no batching window (`socketio.poll_timeout` 0), the client actor *opens* the
//! shortcut by lending the channel side a sender of its connection's queue; a channel then queues
//! the frames itself (one `Arc` clone, one lock, one wake of the connection task), which halves
//! the server's work per delivery at large fan-outs. Everything else (events to dispatch, XHR,
//! batching) goes through the actor as before.
//!
//! Ordering holds because the actor opens the shortcut only after its own queued frames (`1:::`
//! first) are in the connection queue, and from then on both it and the channels append to that
//! same queue. The actor closes the shortcut before it ends the session or drops the connection,
//! so a delivery either lands in the queue before the final `0:::`/close or goes the slow way and
//! is ignored by an ended session, as before.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::error::TrySendError;

use super::handle::WsOut;
use super::ws_queue::WsSender;
use crate::monitor::Counter;

/// Per-session state shared by the client actor, its handle and the channels it joined.
#[derive(Debug)]
pub struct Shortcut {
    /// Deliveries sent to the actor and not yet processed (back-pressure for the slow way).
    pending: AtomicUsize,
    /// The open shortcut: a sender of the WebSocket connection's queue.
    ws: Mutex<Option<WsSender>>,
    /// `clients.transports.websocket.ok`: frames handed to a WebSocket.
    ws_ok: Counter,
}

/// What [`Shortcut::try_frames`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// Closed: deliver through the actor.
    No,
    /// Queued on the connection.
    Queued,
    /// The connection's queue is full: the client is not reading.
    Full,
}

impl Shortcut {
    /// A closed shortcut.
    pub fn new(ws_ok: Counter) -> Arc<Self> {
        Arc::new(Self {
            pending: AtomicUsize::new(0),
            ws: Mutex::new(None),
            ws_ok,
        })
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<WsSender>> {
        // Nothing panics while holding the lock; a poisoned one still holds consistent data.
        self.ws.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Let channels queue ready frames on this connection (called by the actor).
    pub fn open(&self, tx: WsSender) {
        *self.slot() = Some(tx);
    }

    /// Route everything through the actor again (called by the actor).
    pub fn close(&self) {
        let tx = self.slot().take();
        drop(tx);
    }

    /// Queue `frames` on the WebSocket if the shortcut is open.
    pub fn try_frames(&self, frames: &Arc<[Arc<str>]>) -> Taken {
        let slot = self.slot();
        let Some(tx) = slot.as_ref() else {
            return Taken::No;
        };
        match tx.try_send(WsOut::Shared(Arc::clone(frames))) {
            Ok(()) => {
                drop(slot);
                self.ws_ok.add(frames.len() as i64);
                Taken::Queued
            }
            Err(TrySendError::Full(_)) => Taken::Full,
            // The connection is gone: the actor learns it and ends the session.
            Err(TrySendError::Closed(_)) => Taken::No,
        }
    }

    /// Count one delivery on its way to the actor, unless `max` are already waiting.
    pub fn reserve(&self, max: usize) -> bool {
        if self.pending.load(Ordering::Relaxed) >= max {
            return false;
        }
        self.pending.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// The actor took one delivery.
    pub fn release(&self) {
        self.pending.fetch_sub(1, Ordering::Relaxed);
    }

    /// Count frames the actor itself handed to the WebSocket.
    pub fn count_ws(&self, n: usize) {
        self.ws_ok.add(n as i64);
    }
}
