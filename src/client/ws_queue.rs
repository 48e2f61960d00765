//! The bounded queue from a client actor to its WebSocket connection: one sender (the actor's
//! [`crate::client::Sink::Ws`]), one receiver (the connection task).
//!
//! Same use as a `tokio::sync::mpsc` channel (`try_send` with `Full`/`Closed`, `recv`,
//! `try_recv`) at a fraction of the memory per idle connection: tokio's channel allocates a
//! cache-padded 512-byte state and a first block of 32 slots (800 bytes for [`WsOut`]) up front,
//! while this is one small `Arc` and a `VecDeque` that grows only while messages wait.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use tokio::sync::mpsc::error::TrySendError;

use super::handle::WsOut;

/// A queue that drained holds at most this many slots of memory.
const KEEP: usize = 8;

struct State {
    items: VecDeque<WsOut>,
    sender: bool,
    receiver: bool,
}

struct Shared {
    state: Mutex<State>,
    ready: Notify,
    cap: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; a poisoned one still holds consistent data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The actor's end.
pub struct WsSender(Arc<Shared>);

/// The connection's end.
pub struct WsReceiver(Arc<Shared>);

/// A queue of at most `cap` items.
pub fn channel(cap: usize) -> (WsSender, WsReceiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            sender: true,
            receiver: true,
        }),
        ready: Notify::new(),
        cap,
    });
    (WsSender(Arc::clone(&shared)), WsReceiver(shared))
}

impl WsSender {
    /// Queue `m` unless the queue is full or the connection is gone.
    pub fn try_send(&self, m: WsOut) -> Result<(), TrySendError<WsOut>> {
        {
            let mut st = self.0.lock();
            if !st.receiver {
                return Err(TrySendError::Closed(m));
            }
            if st.items.len() >= self.0.cap {
                return Err(TrySendError::Full(m));
            }
            st.items.push_back(m);
        }
        self.0.ready.notify_one();
        Ok(())
    }
}

impl Drop for WsSender {
    fn drop(&mut self) {
        self.0.lock().sender = false;
        self.0.ready.notify_one();
    }
}

impl std::fmt::Debug for WsSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WsSender")
    }
}

impl WsReceiver {
    /// The next item; `None` once the queue is empty and the sender is gone. Cancel safe.
    pub async fn recv(&mut self) -> Option<WsOut> {
        loop {
            let ready = self.0.ready.notified();
            {
                let mut st = self.0.lock();
                if let Some(m) = Self::pop(&mut st) {
                    return Some(m);
                }
                if !st.sender {
                    return None;
                }
            }
            // `notify_one` leaves a permit when nobody waits, so a send between the check
            // and this await is not missed.
            ready.await;
        }
    }

    /// The next item if one is queued.
    pub fn try_recv(&mut self) -> Option<WsOut> {
        Self::pop(&mut self.0.lock())
    }

    fn pop(st: &mut State) -> Option<WsOut> {
        let m = st.items.pop_front();
        if st.items.is_empty() && st.items.capacity() > KEEP {
            // A burst is over: give its memory back.
            st.items.shrink_to(KEEP);
        }
        m
    }
}

impl Drop for WsReceiver {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.receiver = false;
        st.items.clear();
    }
}

#[cfg(test)]
mod tests;
