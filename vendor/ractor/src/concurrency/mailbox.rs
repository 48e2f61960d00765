//! Hive patch: the unbounded queue behind every actor's message and supervision ports.
//!
//! Upstream ractor uses `tokio::sync::mpsc::unbounded_channel` for both ports. Tokio's channel
//! allocates a cache-padded shared state (~512 bytes) and a first block of 32 slots up front,
//! which for `SupervisionEvent` alone is ~2.6 KB, so every idle actor carried ~4 KB of empty
//! queue. Hive runs one actor per client session (and `flood` one per simulated user), tens of
//! thousands of them, so this queue is a `Mutex<VecDeque>` plus one waker in a single small
//! `Arc`: it allocates slots only while messages wait and gives a burst's memory back once
//! drained. Same contract as tokio's unbounded channel for what ractor uses: `send` fails with
//! `SendError` once the receiver is closed or dropped; `recv` is cancel safe and yields `None`
//! once the queue is empty and closed or every sender is gone; `try_recv` never waits.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

pub(crate) use tokio::sync::mpsc::error::{SendError, TryRecvError};

/// A drained queue keeps at most this many slots of memory.
const KEEP: usize = 4;

struct State<T> {
    items: VecDeque<T>,
    /// The receiver, parked waiting for an item.
    waker: Option<Waker>,
    /// The receiver closed the queue or is gone: sends fail.
    closed: bool,
    senders: usize,
}

struct Shared<T> {
    state: Mutex<State<T>>,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // No code panics while holding the lock; a poisoned lock still guards consistent data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The sending half (cloneable).
pub(crate) struct MailboxSender<T>(Arc<Shared<T>>);

/// The receiving half.
pub(crate) struct MailboxReceiver<T>(Arc<Shared<T>>);

/// A new, empty, unbounded queue.
pub(crate) fn mailbox<T>() -> (MailboxSender<T>, MailboxReceiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            waker: None,
            closed: false,
            senders: 1,
        }),
    });
    (MailboxSender(Arc::clone(&shared)), MailboxReceiver(shared))
}

impl<T> MailboxSender<T> {
    /// Queue `value`, or hand it back when the receiver is closed or gone.
    pub(crate) fn send(&self, value: T) -> Result<(), SendError<T>> {
        let waker = {
            let mut st = self.0.lock();
            if st.closed {
                return Err(SendError(value));
            }
            st.items.push_back(value);
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// How many items wait in the queue (Hive patch: the mailbox depth an observer reads; one
    /// uncontended lock, no allocation).
    pub(crate) fn len(&self) -> usize {
        self.0.lock().items.len()
    }

    /// True once the receiver is closed or gone.
    #[cfg(test)]
    pub(crate) fn is_closed(&self) -> bool {
        self.0.lock().closed
    }
}

impl<T> Clone for MailboxSender<T> {
    fn clone(&self) -> Self {
        self.0.lock().senders += 1;
        MailboxSender(Arc::clone(&self.0))
    }
}

impl<T> Drop for MailboxSender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut st = self.0.lock();
            st.senders -= 1;
            if st.senders == 0 {
                st.waker.take()
            } else {
                None
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> MailboxReceiver<T> {
    /// The next item; `None` once the queue is empty and closed, or every sender is gone.
    /// Cancel safe: nothing is taken unless it is returned.
    pub(crate) async fn recv(&mut self) -> Option<T> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Poll for the next item (see [`MailboxReceiver::recv`]).
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut st = self.0.lock();
        if let Some(v) = pop(&mut st) {
            return Poll::Ready(Some(v));
        }
        if st.closed || st.senders == 0 {
            return Poll::Ready(None);
        }
        // Checked and registered under the lock: a later send wakes this task.
        match &mut st.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            w => *w = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The next item if one is queued.
    pub(crate) fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut st = self.0.lock();
        match pop(&mut st) {
            Some(v) => Ok(v),
            None if st.closed || st.senders == 0 => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Refuse further sends; what is queued can still be received.
    pub(crate) fn close(&mut self) {
        self.0.lock().closed = true;
    }
}

impl<T> Drop for MailboxReceiver<T> {
    fn drop(&mut self) {
        let items = {
            let mut st = self.0.lock();
            st.closed = true;
            st.waker = None;
            std::mem::take(&mut st.items)
        };
        // Dropped outside the lock: a queued message may own a sender of this very queue.
        drop(items);
    }
}

fn pop<T>(st: &mut State<T>) -> Option<T> {
    let v = st.items.pop_front();
    if st.items.is_empty() && st.items.capacity() > KEEP {
        // A burst is over: give its memory back.
        st.items.shrink_to(KEEP);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn delivers_in_order_then_none_when_senders_are_gone() {
        let (tx, mut rx) = mailbox();
        let tx2 = tx.clone();
        tx.send(1).unwrap();
        tx2.send(2).unwrap();
        drop(tx);
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        drop(tx2);
        assert_eq!(rx.recv().await, None);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    }

    #[test]
    fn len_counts_queued_items() {
        let (tx, mut rx) = mailbox();
        assert_eq!(tx.len(), 0);
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        assert_eq!(tx.len(), 2);
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(tx.len(), 1);
    }

    #[tokio::test]
    async fn close_refuses_sends_but_keeps_the_queue() {
        let (tx, mut rx) = mailbox();
        tx.send(1).unwrap();
        rx.close();
        assert!(tx.is_closed());
        assert_eq!(tx.send(2), Err(SendError(2)));
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn a_send_wakes_a_parked_receiver() {
        let (tx, mut rx) = mailbox::<u32>();
        let h = tokio::spawn(async move { rx.recv().await });
        tokio::task::yield_now().await;
        tx.send(7).unwrap();
        assert_eq!(h.await.unwrap(), Some(7));
    }

    #[test]
    fn dropping_the_receiver_drops_queued_senders_of_itself() {
        struct Msg(#[allow(dead_code)] MailboxSender<Msg>);
        let (tx, rx) = mailbox::<Msg>();
        tx.send(Msg(tx.clone())).unwrap();
        drop(rx);
        assert!(tx.is_closed());
    }
}
