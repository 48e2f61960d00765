//! The whole-buffer decoder: bytes pushed in any split, complete messages and control frames out.

use super::proto::{Incoming, Role, WsError};
use super::stream::StreamDecoder;

/// Decodes the frames `role` reads from bytes it is fed, keeping what is not used yet.
#[derive(Debug)]
pub struct Decoder {
    frames: StreamDecoder,
    buf: Vec<u8>,
    start: usize,
}

impl Decoder {
    /// A decoder of the frames `role` reads, for messages up to `max` bytes.
    pub fn new(role: Role, max: usize) -> Self {
        Self {
            frames: StreamDecoder::new(role, max),
            buf: Vec::new(),
            start: 0,
        }
    }

    /// Add bytes read from the peer.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete message or control frame, or `None` until more bytes are pushed.
    ///
    /// # Errors
    /// As [`StreamDecoder::decode`]; the stream is broken after one.
    pub fn next_item(&mut self) -> Result<Option<Incoming>, WsError> {
        let rest = self.buf.get(self.start..).unwrap_or_default();
        let (used, item) = self.frames.decode(rest)?;
        self.start += used;
        if self.start >= self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        Ok(item)
    }

    /// [`Decoder::push`] `bytes`, then every item they complete.
    ///
    /// # Errors
    /// As [`Decoder::next_item`] (the items before the error are lost).
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<Incoming>, WsError> {
        self.push(bytes);
        let mut out = Vec::new();
        while let Some(m) = self.next_item()? {
            out.push(m);
        }
        Ok(out)
    }

    /// Bytes pushed but not used yet (at most an incomplete frame header).
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }
}
