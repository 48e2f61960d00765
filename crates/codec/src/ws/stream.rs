//! The sans-IO streaming decoder: frames in, messages and control frames out, for a reader that
//! keeps its own buffer (the server's connection, flood's client).
//!
//! It owns the rules between frames: a continuation needs a message, a new data message may not
//! start inside a fragmented one, control frames may come between fragments, the reassembled
//! message has a size limit, and text must be UTF-8, checked as the bytes come (a text message
//! fails at the first invalid sequence, not at its end: RFC 6455 8.1 "fail fast"). Payload bytes are moved out of the caller's
//! buffer as they come, so the caller's buffer only ever holds headers and small frames; a large
//! payload can also be read straight into the message ([`StreamDecoder::direct_read`]).

use super::header::Header;
use super::proto::{Incoming, Role, WsError, opcode, parse_close, unmask};

/// The frame whose payload is being read.
#[derive(Debug)]
struct Current {
    opcode: u8,
    fin: bool,
    mask: Option<[u8; 4]>,
    /// Payload bytes still to come.
    remaining: usize,
    /// Payload bytes already in (the mask's phase).
    done: usize,
    /// A control frame's payload (data payloads go to the message).
    control: Vec<u8>,
}

/// Decodes the frames `role` reads, fed from the caller's buffer (see the module docs).
#[derive(Debug)]
pub struct StreamDecoder {
    role: Role,
    max: usize,
    current: Option<Current>,
    /// Opcode of the data message being reassembled, if a fragment of it has come.
    message: Option<u8>,
    data: Vec<u8>,
    /// Bytes of a text message's `data` already checked as UTF-8 (up to a char boundary).
    checked: usize,
}

impl StreamDecoder {
    /// A decoder of the frames `role` reads, for messages up to `max` bytes.
    pub fn new(role: Role, max: usize) -> Self {
        Self {
            role,
            max,
            current: None,
            message: None,
            data: Vec::new(),
            checked: 0,
        }
    }

    /// Consume a prefix of `buf`: the bytes used, and the message or control frame they complete,
    /// if any. Call again with the rest of the buffer after a `Some`; after a `None`, everything
    /// but an incomplete header has been used, so wait for more bytes. After an error the stream
    /// is broken: close it with [`WsError::close_code`].
    ///
    /// # Errors
    /// [`WsError::Protocol`], [`WsError::TooBig`] or [`WsError::BadUtf8`] when the frames break
    /// RFC 6455 or the size limit.
    pub fn decode(&mut self, buf: &[u8]) -> Result<(usize, Option<Incoming>), WsError> {
        // Payload read straight into a text message since the last call is checked here.
        self.check_text(false)?;
        let mut used = 0;
        loop {
            let rest = buf.get(used..).unwrap_or_default();
            if self.current.is_none() {
                match self.header(rest)? {
                    Some((c, n)) => {
                        self.current = Some(c);
                        used += n;
                        continue;
                    }
                    None => return Ok((used, None)),
                }
            }
            let Some(c) = self.current.as_mut() else {
                return Ok((used, None));
            };
            let take = c.remaining.min(rest.len());
            let dst = if opcode::is_control(c.opcode) {
                &mut c.control
            } else {
                &mut self.data
            };
            let from = dst.len();
            dst.extend_from_slice(rest.get(..take).unwrap_or_default());
            used += take;
            c.remaining -= take;
            if let Some(k) = c.mask {
                unmask(dst.get_mut(from..).unwrap_or_default(), k, c.done);
            }
            c.done += take;
            let done = c.remaining == 0;
            let last = done && c.fin;
            self.check_text(last)?;
            if !done {
                return Ok((used, None));
            }
            let Some(c) = self.current.take() else {
                return Ok((used, None));
            };
            if let Some(m) = self.complete(c)? {
                return Ok((used, Some(m)));
            }
        }
    }

    /// When a data frame's payload of at least `min` more bytes is due: a place to read up to
    /// `max` of them straight into the message, skipping the caller's buffer. Only call it with
    /// nothing left unconsumed in that buffer.
    pub fn direct_read(&mut self, min: usize, max: usize) -> Option<DirectRead<'_>> {
        let c = self.current.as_ref()?;
        if opcode::is_control(c.opcode) || c.remaining < min {
            return None;
        }
        let want = c.remaining.min(max);
        self.data.reserve(want);
        let old = self.data.len();
        Some(DirectRead {
            dec: self,
            old,
            want,
        })
    }

    /// Is a text message's payload being read (a text frame, or a continuation of one)?
    fn in_text(&self) -> bool {
        match &self.current {
            Some(c) if opcode::is_control(c.opcode) => false,
            Some(c) if c.opcode == opcode::TEXT => true,
            _ => self.message == Some(opcode::TEXT),
        }
    }

    /// Check the text message's bytes that came since the last check: an invalid sequence fails
    /// at once; an incomplete one at the end is fine unless the message is `complete`.
    fn check_text(&mut self, complete: bool) -> Result<(), WsError> {
        if !self.in_text() || self.checked >= self.data.len() {
            return Ok(());
        }
        let new = self.data.get(self.checked..).unwrap_or_default();
        match std::str::from_utf8(new) {
            Ok(_) => self.checked = self.data.len(),
            Err(e) if e.error_len().is_none() && !complete => self.checked += e.valid_up_to(),
            Err(_) => return Err(WsError::BadUtf8),
        }
        Ok(())
    }

    /// Parse the next frame header if it is all in `b`, and check it against the message rules.
    fn header(&self, b: &[u8]) -> Result<Option<(Current, usize)>, WsError> {
        let Some((h, used)) = Header::parse(b, self.role)? else {
            return Ok(None);
        };
        let len = usize::try_from(h.len).map_err(|_| WsError::TooBig(self.max))?;
        match h.opcode {
            opcode::CONTINUATION if self.message.is_none() => {
                return Err(WsError::Protocol("continuation frame without a message"));
            }
            opcode::TEXT | opcode::BINARY if self.message.is_some() => {
                return Err(WsError::Protocol("new message inside a fragmented one"));
            }
            _ => {}
        }
        if !opcode::is_control(h.opcode) && self.data.len().saturating_add(len) > self.max {
            return Err(WsError::TooBig(self.max));
        }
        let c = Current {
            opcode: h.opcode,
            fin: h.fin,
            mask: h.mask,
            remaining: len,
            done: 0,
            control: Vec::new(),
        };
        Ok(Some((c, used)))
    }

    /// A whole frame is in: a message, a control frame, or (a fragment) nothing yet.
    fn complete(&mut self, c: Current) -> Result<Option<Incoming>, WsError> {
        match c.opcode {
            opcode::PING => Ok(Some(Incoming::Ping(c.control))),
            opcode::PONG => Ok(Some(Incoming::Pong(c.control))),
            opcode::CLOSE => parse_close(&c.control).map(|code| Some(Incoming::Close(code))),
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
                self.checked = 0;
                let data = std::mem::take(&mut self.data);
                if op == opcode::TEXT {
                    String::from_utf8(data)
                        .map(|t| Some(Incoming::Text(t)))
                        .map_err(|_| WsError::BadUtf8)
                } else {
                    Ok(Some(Incoming::Binary(data)))
                }
            }
        }
    }
}

/// A read straight into the message being reassembled ([`StreamDecoder::direct_read`]): append
/// up to [`DirectRead::want`] bytes to [`DirectRead::buf`], then [`DirectRead::commit`]. Dropped
/// without a commit (a cancelled read), it leaves the decoder as it was, provided nothing was
/// appended.
#[derive(Debug)]
pub struct DirectRead<'a> {
    dec: &'a mut StreamDecoder,
    old: usize,
    want: usize,
}

impl DirectRead<'_> {
    /// Most bytes to append (space for them is reserved).
    pub fn want(&self) -> usize {
        self.want
    }

    /// The message buffer to append the raw (still masked) payload bytes to.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.dec.data
    }

    /// Take the appended bytes as payload (unmasking them): their number. Bytes beyond the
    /// frame's payload are dropped.
    pub fn commit(self) -> usize {
        let Some(c) = self.dec.current.as_mut() else {
            return 0;
        };
        let data = &mut self.dec.data;
        let n = data.len().saturating_sub(self.old).min(c.remaining);
        data.truncate(self.old + n);
        if let Some(k) = c.mask {
            unmask(data.get_mut(self.old..).unwrap_or_default(), k, c.done);
        }
        c.remaining -= n;
        c.done += n;
        n
    }
}
