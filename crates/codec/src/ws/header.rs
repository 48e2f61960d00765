//! Frame headers (RFC 6455 section 5.2): parsing with every per-frame check, and writing.

use super::proto::{Role, WsError, opcode};

/// The FIN bit of the first byte.
const FIN: u8 = 0x80;
/// The three reserved bits of the first byte (RSV1..RSV3), set only by extensions.
const RSV: u8 = 0x70;
/// RSV1 alone, for tests that need a frame breaking the rules.
pub const RSV1: u8 = 0x40;
/// The opcode bits of the first byte.
const OPCODE: u8 = 0x0F;
/// The MASK bit of the second byte.
const MASKED: u8 = 0x80;
/// The length bits of the second byte.
const LEN: u8 = 0x7F;
/// The length value announcing a 16-bit extended length.
const LEN_16: u8 = 126;
/// The length value announcing a 64-bit extended length.
const LEN_64: u8 = 127;
/// Largest payload of a control frame.
pub const MAX_CONTROL: u64 = 125;

/// One frame header: what [`Header::parse`] reads and [`Header::write`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Last frame of its message.
    pub fin: bool,
    /// The opcode (4 bits; [`Header::write`] drops any higher ones).
    pub opcode: u8,
    /// The mask key: client frames have one, server frames none.
    pub mask: Option<[u8; 4]>,
    /// Payload length in bytes.
    pub len: u64,
}

impl Header {
    /// Parse the header at the front of `buf`, read by `role`: the header and its size in bytes,
    /// or `None` when more bytes are needed. A frame whose first bytes already break a rule fails
    /// before its mask key has arrived.
    ///
    /// Checked here: no reserved bits, masked iff `role` is [`Role::Server`], no 64-bit length
    /// with its top bit, a known opcode, control frames unfragmented and at most 125 bytes.
    /// The rules between frames (fragments, message size) are the decoders'.
    ///
    /// # Errors
    /// [`WsError::Protocol`] for a header breaking one of the rules above.
    pub fn parse(buf: &[u8], role: Role) -> Result<Option<(Header, usize)>, WsError> {
        let [b0, b1, rest @ ..] = buf else {
            return Ok(None);
        };
        let (len, at) = match b1 & LEN {
            LEN_16 => match rest.first_chunk::<2>() {
                Some(x) => (u64::from(u16::from_be_bytes(*x)), 4),
                None => return Ok(None),
            },
            LEN_64 => match rest.first_chunk::<8>() {
                Some(x) => (u64::from_be_bytes(*x), 10),
                None => return Ok(None),
            },
            n => (u64::from(n), 2),
        };
        let (fin, op, masked) = (b0 & FIN != 0, b0 & OPCODE, b1 & MASKED != 0);
        check(role, fin, b0 & RSV, op, masked, len)?;
        let (mask, used) = if masked {
            match buf.get(at..).and_then(<[u8]>::first_chunk::<4>) {
                Some(m) => (Some(*m), at + 4),
                None => return Ok(None),
            }
        } else {
            (None, at)
        };
        let h = Header {
            fin,
            opcode: op,
            mask,
            len,
        };
        Ok(Some((h, used)))
    }

    /// Size of this header on the wire.
    pub fn size(&self) -> usize {
        let ext = match self.len {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        2 + ext + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Append this header to `out`, in the shortest length form. Anything is written, including
    /// headers [`Header::parse`] refuses (for tests of bad input).
    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(if self.fin { FIN } else { 0 } | (self.opcode & OPCODE));
        let m = if self.mask.is_some() { MASKED } else { 0 };
        match self.len {
            n @ 0..=125 => out.push(m | n as u8),
            n @ 126..=0xFFFF => {
                out.push(m | LEN_16);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(m | LEN_64);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        if let Some(k) = self.mask {
            out.extend_from_slice(&k);
        }
    }
}

/// The checks of one header, in a fixed order (reserved bits, mask, length, opcode).
fn check(role: Role, fin: bool, rsv: u8, op: u8, masked: bool, len: u64) -> Result<(), WsError> {
    if rsv != 0 {
        return Err(WsError::Protocol("reserved bits set without an extension"));
    }
    match role {
        Role::Server if !masked => return Err(WsError::Protocol("client frame is not masked")),
        Role::Client if masked => return Err(WsError::Protocol("server frame is masked")),
        _ => {}
    }
    if len >> 63 != 0 {
        return Err(WsError::Protocol("payload length has its top bit set"));
    }
    match op {
        opcode::CONTINUATION | opcode::TEXT | opcode::BINARY => Ok(()),
        opcode::CLOSE | opcode::PING | opcode::PONG if !fin => {
            Err(WsError::Protocol("fragmented control frame"))
        }
        opcode::CLOSE | opcode::PING | opcode::PONG if len > MAX_CONTROL => {
            Err(WsError::Protocol("control frame payload over 125 bytes"))
        }
        opcode::CLOSE | opcode::PING | opcode::PONG => Ok(()),
        _ => Err(WsError::Protocol("unknown opcode")),
    }
}
