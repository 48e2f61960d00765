//! The bounded queue from a client actor to its WebSocket connection: senders are the actor's
//! [`crate::client::Sink::Ws`] and the one lent to the pub-sub [`crate::client::shortcut`]; the one
//! receiver is the connection task.
//!
//! Same use as a `tokio::sync::mpsc` channel (`try_send` with `Full`/`Closed`, `recv`,
//! `try_recv`) at a fraction of the memory per idle connection: tokio's channel allocates a
//! cache-padded 512-byte state and a first block of 32 slots (800 bytes for [`WsOut`]) up front,
//! while this is one small `Arc` and a `VecDeque` that grows only while messages wait.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};

use tokio::sync::mpsc::error::TrySendError;

/// What a WebSocket connection task is asked to write.
#[derive(Debug)]
pub enum WsOut {
    /// One text frame per message (several frames may share one socket write).
    Frames(Vec<Arc<str>>),
    /// The same, shared with the other subscribers of a channel (see [`super::shortcut`]).
    Shared(Arc<[Arc<str>]>),
    /// Keep-alive: `8:::` then a WebSocket ping, with the pong deadline armed.
    KeepAlive,
    /// `0:::` then close the socket.
    Close,
}

/// A queue that drained holds at most this many slots of memory.
const KEEP: usize = 8;

struct State {
    items: VecDeque<WsOut>,
    /// The receiver waiting for an item.
    waker: Option<Waker>,
    /// Live senders (the actor's, and the one lent to the pub-sub shortcut).
    senders: usize,
    receiver: bool,
}

struct Shared {
    state: Mutex<State>,
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
            waker: None,
            senders: 1,
            receiver: true,
        }),
        cap,
    });
    (WsSender(Arc::clone(&shared)), WsReceiver(shared))
}

impl WsSender {
    /// Queue `m` unless the queue is full or the connection is gone.
    pub fn try_send(&self, m: WsOut) -> Result<(), TrySendError<WsOut>> {
        let waker = {
            let mut st = self.0.lock();
            if !st.receiver {
                return Err(TrySendError::Closed(m));
            }
            if st.items.len() >= self.0.cap {
                return Err(TrySendError::Full(m));
            }
            st.items.push_back(m);
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }
}

impl Clone for WsSender {
    fn clone(&self) -> Self {
        self.0.lock().senders += 1;
        WsSender(Arc::clone(&self.0))
    }
}

impl Drop for WsSender {
    fn drop(&mut self) {
        let waker = {
            let mut st = self.0.lock();
            st.senders -= 1;
            if st.senders > 0 {
                return;
            }
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl std::fmt::Debug for WsSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WsSender")
    }
}

impl WsReceiver {
    /// The next item; `None` once the queue is empty and every sender is gone. Cancel safe.
    pub async fn recv(&mut self) -> Option<WsOut> {
        std::future::poll_fn(|cx| {
            let mut st = self.0.lock();
            if let Some(m) = Self::pop(&mut st) {
                return Poll::Ready(Some(m));
            }
            if st.senders == 0 {
                return Poll::Ready(None);
            }
            // Checked and registered under the lock: a send after this wakes us.
            match &mut st.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                w => *w = Some(cx.waker().clone()),
            }
            Poll::Pending
        })
        .await
    }

    /// Stop being woken by senders until the next [`WsReceiver::recv`]: while a batching window
    /// holds output back, what is queued meanwhile waits for the window's end without waking the
    /// connection once per item.
    pub fn park(&mut self) {
        self.0.lock().waker = None;
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
        st.waker = None;
    }
}

#[cfg(test)]
mod tests;
