//! A lean server-side WebSocket frame reader over a small buffer: the IO around the pure
//! RFC 6455 codec ([`codec::ws`]), which owns every rule, the unmasking, the reassembly and the
//! encoding of the (unmasked) frames a server sends.
//!
//! One connection costs [`READ_BUFFER`] bytes of buffer (fastwebsockets' reader keeps 8 KiB).
//! Client frames must be masked; fragments are reassembled into one message (control frames may
//! come between them); a text message must be UTF-8; a message larger than the limit ends the
//! connection. Large payloads are read straight into the message, not through the buffer.
//!
//! [`FrameReader::next`] is cancel safe: its only await is a read into free buffer space (or into
//! the message's reserved space), and all progress lives in the reader, so it can be one branch
//! of a `select!` next to the writer's.

use bytes::BufMut;
use codec::ws::{Incoming, Role, StreamDecoder, WsError};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Read buffer of a connection, in bytes (enough for every header and any small message).
pub const READ_BUFFER: usize = 256;

/// Most payload bytes read straight into a message at once.
const DIRECT_READ: usize = 64 * 1024;

/// Why reading stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The socket failed.
    #[error("websocket read failed: {0}")]
    Io(#[from] std::io::Error),
    /// The peer closed the connection without a close frame.
    #[error("websocket connection closed without a close frame")]
    Eof,
    /// The frames break RFC 6455 or the size limit.
    #[error(transparent)]
    Ws(#[from] WsError),
}

impl ReadError {
    /// The close code to send before hanging up (none when the socket is gone).
    pub fn close_code(&self) -> Option<u16> {
        match self {
            ReadError::Io(_) | ReadError::Eof => None,
            ReadError::Ws(e) => Some(e.close_code()),
        }
    }
}

/// Reads client frames from `io` (see the module docs).
#[derive(Debug)]
pub struct FrameReader<S> {
    io: S,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    frames: StreamDecoder,
}

impl<S: AsyncRead + Unpin> FrameReader<S> {
    /// A reader of messages up to `max` bytes; `pre` holds bytes already read from `io`.
    pub fn new(io: S, pre: &[u8], max: usize) -> Self {
        let mut buf = vec![0; READ_BUFFER.max(pre.len())].into_boxed_slice();
        buf[..pre.len()].copy_from_slice(pre);
        Self {
            io,
            buf,
            start: 0,
            end: pre.len(),
            frames: StreamDecoder::new(Role::Server, max),
        }
    }

    /// The stream, for writing.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// The next message or control frame. Cancel safe.
    pub async fn next(&mut self) -> Result<Incoming, ReadError> {
        loop {
            let (used, item) = self.frames.decode(&self.buf[self.start..self.end])?;
            self.start += used;
            if let Some(m) = item {
                return Ok(m);
            }
            self.fill().await?;
        }
    }

    /// Read more bytes: into the message when a large payload is due and nothing is buffered,
    /// else into the buffer.
    async fn fill(&mut self) -> Result<(), ReadError> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if let Some(mut direct) = self.frames.direct_read(self.buf.len(), DIRECT_READ) {
                let want = direct.want();
                let n = self.io.read_buf(&mut direct.buf().limit(want)).await?;
                if n == 0 {
                    return Err(ReadError::Eof);
                }
                direct.commit();
                return Ok(());
            }
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let n = self.io.read(&mut self.buf[self.end..]).await?;
        if n == 0 {
            return Err(ReadError::Eof);
        }
        self.end += n;
        Ok(())
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod props;
