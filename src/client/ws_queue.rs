//! The bounded queue from a client actor to its WebSocket connection: senders are the actor's
//! [`crate::client::Sink::Ws`] and the one lent to the pub-sub [`crate::client::shortcut`]; the one
//! receiver is the connection task.
//!
//! Same use as a `tokio::sync::mpsc` channel (`try_send` with `Full`/`Closed`, `recv`,
//! `try_recv`) at a fraction of the memory per idle connection: tokio's channel allocates a
//! cache-padded 512-byte state and a first block of 32 slots (800 bytes for [`WsOut`]) up front,
//! while this is one small `Arc` and a `VecDeque` that grows only while messages wait.
//!
//! [`QueueFigures`]: the session's outgoing queue depth and bytes, kept up to date by the queue
//! itself (under the lock it takes anyway) and by the client actor (its outbox), read by the
//! monitor without a message.
//!
//! Direct writes: while a 0.9 WebSocket connection (or an Engine.IO session on WebSocket) waits
//! with nothing to write ([`WsReceiver::recv_lending`]), its socket's write end ([`WsWriter`]) is
//! lent to the queue, and a sender whose item is frames that the writer takes writes them into the
//! socket itself when nothing is queued before them: no push, no wake, no task poll. The choice
//! and the write are made under the queue's lock, so they keep the queue's order: what the socket
//! does not take at once stays in the writer and the connection task, woken, writes it before
//! anything else; while it does, senders queue.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};

use tokio::sync::mpsc::error::TrySendError;

use super::ws_writer::{Inner as Lent, Wrote, WsWriter};

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

/// One session's outgoing queue, as the monitor reads it (`/actors?sort=queued`): messages in the
/// client actor's outbox, and items and bytes waiting in its WebSocket connection's queue. Owned
/// by the session (shared through its handle); relaxed atomics, never a message.
#[derive(Debug, Default)]
pub struct QueueFigures {
    outbox: AtomicUsize,
    ws_items: AtomicUsize,
    ws_bytes: AtomicUsize,
}

impl QueueFigures {
    /// Outgoing messages waiting: the actor's outbox plus the connection queue's items.
    pub fn items(&self) -> usize {
        self.outbox.load(Ordering::Relaxed) + self.ws_items.load(Ordering::Relaxed)
    }

    /// Encoded bytes waiting in the connection queue (the outbox is not encoded yet).
    pub fn bytes(&self) -> usize {
        self.ws_bytes.load(Ordering::Relaxed)
    }

    /// The actor's outbox now holds `n` messages.
    pub fn set_outbox(&self, n: usize) {
        if !Self::on() {
            return;
        }
        self.outbox.store(n, Ordering::Relaxed);
    }

    /// Whether the queue keeps these figures (`monitor.figures`).
    fn on() -> bool {
        crate::metrics::figures_on()
    }

    fn add(&self, items: usize, bytes: usize) {
        self.ws_items.fetch_add(items, Ordering::Relaxed);
        self.ws_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    fn sub(&self, items: usize, bytes: usize) {
        self.ws_items.fetch_sub(items, Ordering::Relaxed);
        self.ws_bytes.fetch_sub(bytes, Ordering::Relaxed);
    }
}

impl WsOut {
    /// The frames this item carries (none for control items).
    fn frames(&self) -> Option<&[Arc<str>]> {
        match self {
            WsOut::Frames(f) => Some(f),
            WsOut::Shared(f) => Some(f),
            WsOut::KeepAlive | WsOut::Close => None,
        }
    }

    /// Bytes of text this item carries (frames' payloads; 0 for control items).
    pub fn text_len(&self) -> usize {
        match self {
            WsOut::Frames(f) => f.iter().map(|s| s.len()).sum(),
            WsOut::Shared(f) => f.iter().map(|s| s.len()).sum(),
            WsOut::KeepAlive | WsOut::Close => 0,
        }
    }
}

/// In this order (`repr(C)`): a direct write reads `lent` and `items`' length, then writes.
#[repr(C)]
struct State {
    /// The connection's write end, while it waits idle (see the module docs).
    lent: Option<Lent>,
    items: VecDeque<WsOut>,
    /// The receiver waiting for an item.
    waker: Option<Waker>,
    /// Live senders (the actor's, and the one lent to the pub-sub shortcut).
    senders: usize,
    receiver: bool,
}

/// `cap` first (`repr(C)`): a warm-up read of it ([`QueueHint::warm`]) loads the lock's line.
#[repr(C)]
struct Shared {
    cap: usize,
    state: Mutex<State>,
    figures: Arc<QueueFigures>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; a poisoned one still holds consistent data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The actor's end.
pub struct WsSender(Arc<Shared>);

/// A queue's memory, for warm-up reads only ([`crate::pubsub::Subscriber::warm`]): it keeps the
/// allocation, not the queue (a receiver still sees every sender gone).
#[derive(Clone)]
pub struct QueueHint(Arc<Shared>);

impl QueueHint {
    /// Load the line a sender locks first (reads only).
    pub fn warm(&self) {
        std::hint::black_box(self.0.cap);
    }
}

impl std::fmt::Debug for QueueHint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueueHint")
    }
}

/// The connection's end.
pub struct WsReceiver(Arc<Shared>);

/// A queue of at most `cap` items.
pub fn channel(cap: usize) -> (WsSender, WsReceiver) {
    channel_counted(cap, Arc::default())
}

/// A queue of at most `cap` items whose depth and bytes are kept in `figures`.
pub fn channel_counted(cap: usize, figures: Arc<QueueFigures>) -> (WsSender, WsReceiver) {
    let shared = Arc::new(Shared {
        cap,
        state: Mutex::new(State {
            items: VecDeque::new(),
            waker: None,
            senders: 1,
            receiver: true,
            lent: None,
        }),
        figures,
    });
    (WsSender(Arc::clone(&shared)), WsReceiver(shared))
}

impl WsSender {
    /// This queue's memory, as a warm-up hint.
    pub fn hint(&self) -> QueueHint {
        QueueHint(Arc::clone(&self.0))
    }

    /// Queue `m` unless the queue is full or the connection is gone; frames are written into the
    /// socket at once instead when its write end is lent and nothing is queued.
    pub fn try_send(&self, m: WsOut) -> Result<(), TrySendError<WsOut>> {
        let mut st = self.0.lock();
        if !st.receiver {
            return Err(TrySendError::Closed(m));
        }
        if let Some(frames) = m.frames()
            && let Some(waker) = direct(&mut st, &[frames])
        {
            drop(st);
            wake(waker);
            return Ok(());
        }
        self.push(st, m)
    }

    /// [`WsSender::try_send`] of frames shared with other sessions (a channel's publish): cloned
    /// only when they must be queued, so a direct write touches no reference count.
    pub fn try_send_shared(&self, frames: &Arc<[Arc<str>]>) -> Result<(), TrySendError<()>> {
        let mut st = self.0.lock();
        if !st.receiver {
            return Err(TrySendError::Closed(()));
        }
        if let Some(waker) = direct(&mut st, &[&frames[..]]) {
            drop(st);
            wake(waker);
            return Ok(());
        }
        self.push(st, WsOut::Shared(Arc::clone(frames)))
            .map_err(|e| match e {
                TrySendError::Full(_) => TrySendError::Full(()),
                TrySendError::Closed(_) => TrySendError::Closed(()),
            })
    }

    /// Write every group of `groups` (several publishes, in order) into the socket with one write
    /// when its write end is lent and nothing is queued; false when that cannot be done now
    /// (nothing was written: send them one by one).
    pub fn try_write_all(&self, groups: &[&[Arc<str>]]) -> bool {
        let mut st = self.0.lock();
        if !st.receiver {
            return false;
        }
        match direct(&mut st, groups) {
            Some(waker) => {
                drop(st);
                wake(waker);
                true
            }
            None => false,
        }
    }

    /// Queue `m` (under the lock `st`) and wake the connection.
    fn push(&self, mut st: MutexGuard<'_, State>, m: WsOut) -> Result<(), TrySendError<WsOut>> {
        if st.items.len() >= self.0.cap {
            return Err(TrySendError::Full(m));
        }
        if QueueFigures::on() {
            self.0.figures.add(1, m.text_len());
        }
        st.items.push_back(m);
        let waker = st.waker.take();
        drop(st);
        wake(waker);
        Ok(())
    }
}

/// Write `groups` into the socket when its write end is lent and nothing is queued before them.
/// `None`: not written (queue them); `Some(waker)`: written, or begun with the rest left in the
/// writer, whose connection is then to be woken (`waker`) to finish it.
fn direct(st: &mut State, groups: &[&[Arc<str>]]) -> Option<Option<Waker>> {
    if !st.items.is_empty() {
        return None;
    }
    let lent = st.lent.as_mut().filter(|l| l.idle() && l.takes(groups))?;
    match lent.write_now(groups) {
        Wrote::All => Some(None),
        // The rest waits in the writer: the connection takes it back and finishes.
        Wrote::Part => Some(st.waker.take()),
        // Queued as usual: the connection's own write meets the failure.
        Wrote::Failed => None,
    }
}

fn wake(w: Option<Waker>) {
    if let Some(w) = w {
        w.wake();
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
            if let Some(m) = Self::pop(&self.0, &mut st) {
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

    /// Like [`WsReceiver::recv`], but while nothing is queued `w` is lent to the senders (if
    /// `lend`), who write frames into the socket themselves (see the module docs). Wakes with
    /// [`Woken::Rest`] when a sender left part of its frames in `w` for the connection to write.
    /// `w` is back with the caller when this returns or is dropped (cancel safe).
    pub fn recv_lending<'a>(&'a mut self, w: &'a mut WsWriter, lend: bool) -> Lending<'a> {
        Lending {
            shared: &self.0,
            w,
            lend,
            lent: false,
        }
    }

    /// Stop being woken by senders until the next [`WsReceiver::recv`]: while a batching window
    /// holds output back, what is queued meanwhile waits for the window's end without waking the
    /// connection once per item.
    pub fn park(&mut self) {
        self.0.lock().waker = None;
    }

    /// The next item if one is queued.
    pub fn try_recv(&mut self) -> Option<WsOut> {
        Self::pop(&self.0, &mut self.0.lock())
    }

    fn pop(shared: &Shared, st: &mut State) -> Option<WsOut> {
        let m = st.items.pop_front();
        if let Some(m) = &m
            && QueueFigures::on()
        {
            shared.figures.sub(1, m.text_len());
        }
        if st.items.is_empty() && st.items.capacity() > KEEP {
            // A burst is over: give its memory back.
            st.items.shrink_to(KEEP);
        }
        m
    }
}

/// What woke a connection waiting in [`WsReceiver::recv_lending`].
#[derive(Debug)]
pub enum Woken {
    /// As [`WsReceiver::recv`]: the next item, or `None` once every sender is gone.
    Item(Option<WsOut>),
    /// A sender's frames were written only in part: the rest waits in the writer.
    Rest,
}

/// The future of [`WsReceiver::recv_lending`].
pub struct Lending<'a> {
    shared: &'a Arc<Shared>,
    w: &'a mut WsWriter,
    lend: bool,
    /// The writer's parts are in the queue's state.
    lent: bool,
}

impl std::future::Future for Lending<'_> {
    type Output = Woken;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Woken> {
        let this = self.get_mut();
        let mut st = this.shared.lock();
        if this.lent {
            let busy = !st.items.is_empty()
                || st.senders == 0
                || st.lent.as_ref().is_none_or(|l| !l.idle());
            if busy {
                this.w.give_back(st.lent.take());
                this.lent = false;
            }
        }
        if !this.lent {
            if this.w.has_rest() {
                return Poll::Ready(Woken::Rest);
            }
            if let Some(m) = WsReceiver::pop(this.shared, &mut st) {
                return Poll::Ready(Woken::Item(Some(m)));
            }
            if st.senders == 0 {
                return Poll::Ready(Woken::Item(None));
            }
            if this.lend {
                st.lent = this.w.lend();
                this.lent = st.lent.is_some();
            }
        }
        // Checked and registered under the lock: a send (or a partial write) after this wakes us.
        match &mut st.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            w => *w = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for Lending<'_> {
    fn drop(&mut self) {
        if self.lent {
            let parts = self.shared.lock().lent.take();
            self.w.give_back(parts);
        }
    }
}

impl Drop for WsReceiver {
    fn drop(&mut self) {
        let lent = {
            let mut st = self.0.lock();
            st.receiver = false;
            if QueueFigures::on() {
                let bytes = st.items.iter().map(WsOut::text_len).sum();
                self.0.figures.sub(st.items.len(), bytes);
            }
            st.items.clear();
            st.waker = None;
            st.lent.take()
        };
        // Only a leaked `Lending` leaves it there; the socket closes with it.
        drop(lent);
    }
}

#[cfg(test)]
mod tests;
