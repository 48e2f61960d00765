//! The pure outgoing buffer of a session: chronological order (HIVE.md 16.3 #3 fixed), a bound on
//! its length, and encoding per transport (one frame per message on WebSocket, one U+FFFD batch
//! with UTF-16 lengths on XHR, HIVE.md 3.7).

use std::sync::Arc;

use crate::error::{HiveError, Mode};
use crate::hooks::Reply;
use codec::batch::{LengthUnit, frame_into};
use codec::socketio::{Message, encode};

/// Outgoing messages waiting for a flush.
#[derive(Debug, Default)]
pub struct Outbox {
    items: Vec<Reply>,
}

impl Outbox {
    /// Queued messages.
    pub fn len(&self) -> usize {
        self.items.len()
    }
    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    /// Append replies in order.
    pub fn extend(&mut self, replies: impl IntoIterator<Item = Reply>) {
        self.items.extend(replies);
    }
    /// The queue itself, for hooks to append to.
    pub fn items_mut(&mut self) -> &mut Vec<Reply> {
        &mut self.items
    }
    /// Append one message.
    pub fn push(&mut self, r: Reply) {
        self.items.push(r);
    }
    /// Queue an error as the `hive_error` event (HIVE.md 11.2).
    pub fn push_error(&mut self, e: &HiveError, mode: Mode) {
        self.items
            .push(Reply::Msg(Message::event(e.to_client_event(mode))));
    }
    /// Take everything queued.
    pub fn take(&mut self) -> Vec<Reply> {
        std::mem::take(&mut self.items)
    }
    /// Put back a batch that could not be delivered, before anything queued since.
    pub fn requeue(&mut self, mut batch: Vec<Reply>) {
        batch.append(&mut self.items);
        self.items = batch;
    }
}

/// One WebSocket text frame per message.
pub fn ws_frames(batch: &[Reply]) -> Vec<Arc<str>> {
    batch
        .iter()
        .map(|r| match r {
            Reply::Msg(m) => Arc::from(encode(m)),
            Reply::Frame(f) => Arc::clone(f),
        })
        .collect()
}

/// One XHR body: every flush with at least one message is framed, even a single one (HIVE.md 3.7),
/// with lengths in UTF-16 code units as the 0.9 browser client counts them.
pub fn xhr_body(batch: &[Reply]) -> String {
    let mut out = String::new();
    for r in batch {
        match r {
            Reply::Msg(m) => frame_into(&mut out, &encode(m), LengthUnit::Utf16),
            Reply::Frame(f) => frame_into(&mut out, f, LengthUnit::Utf16),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requeue_keeps_chronological_order() {
        let mut o = Outbox::default();
        o.push(Reply::Frame(Arc::from("5:::a")));
        let batch = o.take();
        o.push(Reply::Frame(Arc::from("5:::b")));
        o.requeue(batch);
        assert_eq!(
            ws_frames(&o.take()),
            vec![Arc::from("5:::a"), Arc::from("5:::b")]
        );
    }

    #[test]
    fn xhr_lengths_are_utf16_units() {
        let body = xhr_body(&[Reply::Frame(Arc::from("5:::😀"))]);
        // "5:::" is 4 units, the emoji 2.
        assert_eq!(body, "\u{FFFD}6\u{FFFD}5:::😀");
    }
}
