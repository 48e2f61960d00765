//! A lean server-side WebSocket frame reader (RFC 6455 section 5) over a small buffer, and the
//! encoder of the (unmasked) frames a server sends.
//!
//! One connection costs [`READ_BUFFER`] bytes of buffer (fastwebsockets' reader keeps 8 KiB).
//! Client frames must be masked; fragments are reassembled into one message (control frames may
//! come between them); a text message must be UTF-8; a message larger than the limit ends the
//! connection. Large payloads are read straight into the message, not through the buffer.
//!
//! [`FrameReader::next`] is cancel safe: its only await is a read into free buffer space, and all
//! progress lives in the reader, so it can be one branch of a `select!` next to the writer's.

use bytes::BufMut;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Read buffer of a connection, in bytes (enough for every header and any small message).
pub const READ_BUFFER: usize = 256;

/// Frame opcodes (RFC 6455 section 5.2).
pub mod opcode {
    /// Continuation of a fragmented message.
    pub const CONTINUATION: u8 = 0x0;
    /// Text message.
    pub const TEXT: u8 = 0x1;
    /// Binary message.
    pub const BINARY: u8 = 0x2;
    /// Close.
    pub const CLOSE: u8 = 0x8;
    /// Ping.
    pub const PING: u8 = 0x9;
    /// Pong.
    pub const PONG: u8 = 0xA;
}

/// Close codes the reader's errors map to (RFC 6455 section 7.4.1).
pub mod close_code {
    /// Normal closure.
    pub const NORMAL: u16 = 1000;
    /// Protocol error.
    pub const PROTOCOL: u16 = 1002;
    /// Invalid payload data (bad UTF-8).
    pub const INVALID_DATA: u16 = 1007;
    /// Message too big.
    pub const TOO_BIG: u16 = 1009;
}

/// One complete message or control frame from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A text message (fragments reassembled, UTF-8 checked).
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// A ping; answer with a pong carrying this payload.
    Ping(Vec<u8>),
    /// A pong.
    Pong,
    /// A close frame with its status code, if any; answer with a close echoing the code.
    Close(Option<u16>),
}

/// Why reading stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The socket failed.
    #[error("websocket read failed: {0}")]
    Io(#[from] std::io::Error),
    /// The peer closed the connection without a close frame.
    #[error("websocket connection closed without a close frame")]
    Eof,
    /// The frames break RFC 6455.
    #[error("websocket protocol error: {0}")]
    Protocol(&'static str),
    /// A message over the size limit.
    #[error("websocket message over {0} bytes")]
    TooBig(usize),
    /// A text message (or close reason) that is not UTF-8.
    #[error("websocket text is not UTF-8")]
    BadUtf8,
}

impl ReadError {
    /// The close code to send before hanging up (none when the socket is gone).
    pub fn close_code(&self) -> Option<u16> {
        match self {
            ReadError::Io(_) | ReadError::Eof => None,
            ReadError::Protocol(_) => Some(close_code::PROTOCOL),
            ReadError::TooBig(_) => Some(close_code::TOO_BIG),
            ReadError::BadUtf8 => Some(close_code::INVALID_DATA),
        }
    }
}

/// The frame whose payload is being read.
#[derive(Debug)]
struct Current {
    opcode: u8,
    fin: bool,
    mask: [u8; 4],
    /// Payload bytes still to come.
    remaining: usize,
    /// Payload bytes already unmasked (the mask's phase).
    done: usize,
    /// A control frame's payload (data payloads go to the message).
    control: Vec<u8>,
}

/// Reads client frames from `io` (see the module docs).
#[derive(Debug)]
pub struct FrameReader<S> {
    io: S,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    max: usize,
    current: Option<Current>,
    /// Opcode of the data message being reassembled, if a fragment of it has come.
    message: Option<u8>,
    data: Vec<u8>,
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
            max,
            current: None,
            message: None,
            data: Vec::new(),
        }
    }

    /// The stream, for writing.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// The next message or control frame. Cancel safe.
    pub async fn next(&mut self) -> Result<Incoming, ReadError> {
        loop {
            if let Some(m) = self.step()? {
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
            if let Some(c) = self.current.as_mut()
                && c.opcode & 0x8 == 0
                && c.remaining >= self.buf.len()
            {
                let want = c.remaining.min(64 * 1024);
                self.data.reserve(want);
                let old = self.data.len();
                let n = self.io.read_buf(&mut (&mut self.data).limit(want)).await?;
                if n == 0 {
                    return Err(ReadError::Eof);
                }
                unmask(&mut self.data[old..], c.mask, c.done);
                c.remaining -= n;
                c.done += n;
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

    /// Consume what is buffered; `Some` once a message or control frame is complete.
    fn step(&mut self) -> Result<Option<Incoming>, ReadError> {
        loop {
            if self.current.is_none() {
                match self.header()? {
                    Some(c) => self.current = Some(c),
                    None => return Ok(None),
                }
            }
            let Some(c) = self.current.as_mut() else {
                return Ok(None);
            };
            let take = c.remaining.min(self.end - self.start);
            let src = &self.buf[self.start..self.start + take];
            let dst = if c.opcode & 0x8 != 0 {
                &mut c.control
            } else {
                &mut self.data
            };
            let from = dst.len();
            dst.extend_from_slice(src);
            self.start += take;
            c.remaining -= take;
            unmask(&mut dst[from..], c.mask, c.done);
            c.done += take;
            if c.remaining > 0 {
                return Ok(None);
            }
            let Some(c) = self.current.take() else {
                return Ok(None);
            };
            if let Some(m) = self.complete(c)? {
                return Ok(Some(m));
            }
        }
    }

    /// Parse the next frame header if it is all buffered, and check it.
    fn header(&mut self) -> Result<Option<Current>, ReadError> {
        let b = &self.buf[self.start..self.end];
        if b.len() < 2 {
            return Ok(None);
        }
        let (fin, rsv, op) = (b[0] & 0x80 != 0, b[0] & 0x70, b[0] & 0x0F);
        let masked = b[1] & 0x80 != 0;
        let (len, at) = match b[1] & 0x7F {
            126 if b.len() < 4 => return Ok(None),
            126 => (u64::from(u16::from_be_bytes([b[2], b[3]])), 4),
            127 if b.len() < 10 => return Ok(None),
            127 => {
                let mut x = [0; 8];
                x.copy_from_slice(&b[2..10]);
                (u64::from_be_bytes(x), 10)
            }
            n => (u64::from(n), 2),
        };
        if b.len() < at + 4 {
            // Check what we can before waiting for the mask, so a bad frame fails early.
            Self::check(fin, rsv, op, masked, len)?;
            return Ok(None);
        }
        Self::check(fin, rsv, op, masked, len)?;
        let mask = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        let len = usize::try_from(len).map_err(|_| ReadError::TooBig(self.max))?;
        match op {
            opcode::CONTINUATION if self.message.is_none() => {
                return Err(ReadError::Protocol("continuation frame without a message"));
            }
            opcode::TEXT | opcode::BINARY if self.message.is_some() => {
                return Err(ReadError::Protocol("new message inside a fragmented one"));
            }
            _ => {}
        }
        if op & 0x8 == 0 && self.data.len().saturating_add(len) > self.max {
            return Err(ReadError::TooBig(self.max));
        }
        self.start += at + 4;
        Ok(Some(Current {
            opcode: op,
            fin,
            mask,
            remaining: len,
            done: 0,
            control: Vec::new(),
        }))
    }

    fn check(fin: bool, rsv: u8, op: u8, masked: bool, len: u64) -> Result<(), ReadError> {
        if rsv != 0 {
            return Err(ReadError::Protocol(
                "reserved bits set without an extension",
            ));
        }
        if !masked {
            return Err(ReadError::Protocol("client frame is not masked"));
        }
        if len >> 63 != 0 {
            return Err(ReadError::Protocol("payload length has its top bit set"));
        }
        match op {
            opcode::CONTINUATION | opcode::TEXT | opcode::BINARY => Ok(()),
            opcode::CLOSE | opcode::PING | opcode::PONG if !fin => {
                Err(ReadError::Protocol("fragmented control frame"))
            }
            opcode::CLOSE | opcode::PING | opcode::PONG if len > 125 => {
                Err(ReadError::Protocol("control frame payload over 125 bytes"))
            }
            opcode::CLOSE | opcode::PING | opcode::PONG => Ok(()),
            _ => Err(ReadError::Protocol("unknown opcode")),
        }
    }

    /// A whole frame is in: a message, a control frame, or (a fragment) nothing yet.
    fn complete(&mut self, c: Current) -> Result<Option<Incoming>, ReadError> {
        match c.opcode {
            opcode::PING => Ok(Some(Incoming::Ping(c.control))),
            opcode::PONG => Ok(Some(Incoming::Pong)),
            opcode::CLOSE => close_frame(&c.control).map(Some),
            op => {
                let op = if op == opcode::CONTINUATION {
                    self.message.unwrap_or(opcode::BINARY)
                } else {
                    op
                };
                if !c.fin {
                    self.message = Some(op);
                    return Ok(None);
                }
                self.message = None;
                let data = std::mem::take(&mut self.data);
                if op == opcode::TEXT {
                    String::from_utf8(data)
                        .map(|t| Some(Incoming::Text(t)))
                        .map_err(|_| ReadError::BadUtf8)
                } else {
                    Ok(Some(Incoming::Binary(data)))
                }
            }
        }
    }
}

/// Check a close frame's payload: nothing, or a valid code and a UTF-8 reason.
fn close_frame(p: &[u8]) -> Result<Incoming, ReadError> {
    match p {
        [] => Ok(Incoming::Close(None)),
        [_] => Err(ReadError::Protocol("close frame with a 1-byte payload")),
        [a, b, reason @ ..] => {
            let code = u16::from_be_bytes([*a, *b]);
            if !matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999) {
                return Err(ReadError::Protocol("close frame with an invalid code"));
            }
            if std::str::from_utf8(reason).is_err() {
                return Err(ReadError::BadUtf8);
            }
            Ok(Incoming::Close(Some(code)))
        }
    }
}

/// XOR `data` with `mask`, starting at mask phase `phase`.
fn unmask(data: &mut [u8], mask: [u8; 4], phase: usize) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= mask[(phase + i) & 3];
    }
}

/// Append one unfragmented, unmasked server frame to `out`.
pub fn encode_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    out.push(0x80 | opcode);
    match payload.len() {
        n @ 0..=125 => out.push(n as u8),
        n @ 126..=0xFFFF => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
}

/// Append a close frame with `code` and `reason` to `out`.
pub fn encode_close(out: &mut Vec<u8>, code: u16, reason: &[u8]) {
    let mut p = Vec::with_capacity(2 + reason.len());
    p.extend_from_slice(&code.to_be_bytes());
    p.extend_from_slice(reason);
    encode_frame(out, opcode::CLOSE, &p);
}

/// Bytes [`encode_frame`] adds for a payload of `len` bytes.
pub fn frame_len(len: usize) -> usize {
    len + match len {
        0..=125 => 2,
        126..=0xFFFF => 4,
        _ => 10,
    }
}

#[cfg(test)]
mod tests;
