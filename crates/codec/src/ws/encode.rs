//! Frame encoding in both roles: unmasked server frames and masked client frames, any opcode,
//! with or without FIN.

use super::header::Header;
use super::proto::{opcode, unmask};

/// Append one frame to `out`: FIN flag `fin`, opcode `op` (any 4-bit value, so tests can write
/// unknown ones), the payload masked with `mask` when given (client frames), as is otherwise
/// (server frames).
pub fn encode(out: &mut Vec<u8>, fin: bool, op: u8, mask: Option<[u8; 4]>, payload: &[u8]) {
    let h = Header {
        fin,
        opcode: op,
        mask,
        len: payload.len() as u64,
    };
    out.reserve(h.size() + payload.len());
    h.write(out);
    let from = out.len();
    out.extend_from_slice(payload);
    if let Some(k) = mask {
        unmask(&mut out[from..], k, 0);
    }
}

/// Append one unfragmented, unmasked server frame to `out`.
pub fn encode_frame(out: &mut Vec<u8>, op: u8, payload: &[u8]) {
    encode(out, true, op, None, payload);
}

/// Append a server close frame with `code` and `reason` to `out`.
pub fn encode_close(out: &mut Vec<u8>, code: u16, reason: &[u8]) {
    encode_frame(out, opcode::CLOSE, &close_payload(code, reason));
}

/// Append one client frame, masked with `mask`, to `out`.
pub fn encode_masked(out: &mut Vec<u8>, fin: bool, op: u8, mask: [u8; 4], payload: &[u8]) {
    encode(out, fin, op, Some(mask), payload);
}

/// The payload of a close frame: `code` big-endian, then `reason`.
pub fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(2 + reason.len());
    p.extend_from_slice(&code.to_be_bytes());
    p.extend_from_slice(reason);
    p
}

/// Bytes [`encode_frame`] adds for a payload of `len` bytes.
pub fn frame_len(len: usize) -> usize {
    let h = Header {
        fin: true,
        opcode: 0,
        mask: None,
        len: len as u64,
    };
    h.size() + len
}
