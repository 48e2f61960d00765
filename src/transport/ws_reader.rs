//! A lean server-side WebSocket frame reader over a small buffer: the IO around the pure
//! RFC 6455 codec ([`codec::ws`]), which owns every rule, the unmasking, the reassembly and the
//! encoding of the (unmasked) frames a server sends.
//!
//! One connection costs [`READ_BUFFER`] bytes of buffer (fastwebsockets' reader keeps 8 KiB), and
//! only while it has bytes to read or buffered: an idle connection (nothing buffered, its read
//! pending) gives the buffer back to a small per-thread stock, so the thousands of idle sessions
//! a node holds keep none.
//! Client frames must be masked; fragments are reassembled into one message (control frames may
//! come between them); a text message must be UTF-8; a message larger than the limit ends the
//! connection. Large payloads are read straight into the message, not through the buffer.
//!
//! [`FrameReader::next`] is cancel safe: its only await is a read into free buffer space (or into
//! the message's reserved space), and all progress lives in the reader, so it can be one branch
//! of a `select!` next to the writer's.

use std::cell::RefCell;
use std::pin::Pin;
use std::task::Poll;

use bytes::BufMut;
use codec::ws::{Incoming, Role, StreamDecoder, WsError};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

/// Read buffer of a connection, in bytes (enough for every header and any small message).
pub const READ_BUFFER: usize = 256;

/// Most idle read buffers a thread keeps for the next connection that has bytes to read.
const STOCK: usize = 64;

thread_local! {
    static BUFFERS: RefCell<Vec<Box<[u8]>>> = const { RefCell::new(Vec::new()) };
}

/// A read buffer from this thread's stock, or a new one.
fn take_buffer() -> Box<[u8]> {
    BUFFERS
        .try_with(|b| b.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_else(|| vec![0; READ_BUFFER].into_boxed_slice())
}

/// Back to this thread's stock (dropped when the stock is full, when it is not a standard one, or
/// when the thread is ending).
fn give_back(buf: Box<[u8]>) {
    if buf.len() == READ_BUFFER {
        let _ = BUFFERS.try_with(|b| {
            let mut b = b.borrow_mut();
            if b.len() < STOCK {
                b.push(buf);
            }
        });
    }
}

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
    /// Empty while idle (see the module docs).
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    frames: StreamDecoder,
}

impl<S: AsyncRead + Unpin> FrameReader<S> {
    /// A reader of messages up to `max` bytes; `pre` holds bytes already read from `io`.
    pub fn new(io: S, pre: &[u8], max: usize) -> Self {
        let buf = if pre.is_empty() {
            Box::default()
        } else {
            let mut buf = vec![0; READ_BUFFER.max(pre.len())].into_boxed_slice();
            buf[..pre.len()].copy_from_slice(pre);
            buf
        };
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
    /// else into the buffer (taken from the stock when the reader has none, and given back when
    /// the read has to wait with nothing buffered).
    async fn fill(&mut self) -> Result<(), ReadError> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            let room = self.buf.len().max(READ_BUFFER);
            if let Some(mut direct) = self.frames.direct_read(room, DIRECT_READ) {
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
        let n = std::future::poll_fn(|cx| {
            if self.buf.is_empty() {
                self.buf = take_buffer();
            }
            let mut free = ReadBuf::new(&mut self.buf[self.end..]);
            match Pin::new(&mut self.io).poll_read(cx, &mut free) {
                Poll::Ready(r) => Poll::Ready(r.map(|()| free.filled().len())),
                Poll::Pending => {
                    if self.end == 0 {
                        give_back(std::mem::take(&mut self.buf));
                    }
                    Poll::Pending
                }
            }
        })
        .await?;
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
