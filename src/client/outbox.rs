//! The pure outgoing buffer of a session: neutral items in chronological order (HIVE.md 16.3 #3
//! fixed) and a bound on its length. The session's [`crate::wire::Wire`] encodes them when they
//! are flushed.

use crate::error::{HiveError, Mode};
use crate::events::{Event, Out as Reply};

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
        self.items.push(Reply::Event(Event::hive_error(e, mode)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requeue_keeps_chronological_order() {
        let a = Reply::Raw(json!("a"));
        let b = Reply::Raw(json!("b"));
        let mut o = Outbox::default();
        o.push(a.clone());
        let batch = o.take();
        o.push(b.clone());
        o.requeue(batch);
        assert_eq!(o.take(), vec![a, b]);
    }
}
