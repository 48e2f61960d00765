//! One RFC 6455 WebSocket frame codec for both roles: the server's transport, the `flood` load
//! tester and the tests all read and write frames through it.
//!
//! - [`proto`]: opcodes, close codes, [`Role`], the one error type [`WsError`] (every variant has a
//!   close code: 1002, 1009 or 1007), what is read ([`Incoming`]), close payloads and masking.
//! - [`Header`]: frame headers, parsed with every per-frame check for the reading role (reserved
//!   bits, mask required from clients and forbidden from servers, 64-bit length top bit, known
//!   opcodes, control frames unfragmented and at most 125 bytes) and written in either role.
//! - [`StreamDecoder`]: sans-IO decoding over the caller's buffer, with the rules between frames
//!   (continuation without a message, new data message inside a fragmented one, message size
//!   limit, UTF-8 text) and direct reads of large payloads into the message.
//! - [`Decoder`]: the same over a buffer it owns, fed bytes in any split.
//! - [`encode`] and friends: unmasked server frames, masked client frames, any opcode and FIN.
//!
//! "Need more bytes" is `Ok(None)`, never an error; no input makes a decoder panic.
//!
//! # Example
//! ```
//! use codec::ws::{Decoder, Incoming, Role, encode_frame, encode_masked, opcode};
//!
//! // RFC 6455 section 5.7: a masked "Hello" from a client...
//! let mut wire = Vec::new();
//! encode_masked(&mut wire, true, opcode::TEXT, [0x37, 0xfa, 0x21, 0x3d], b"Hello");
//! assert_eq!(wire, [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
//! let mut server = Decoder::new(Role::Server, 1 << 20);
//! assert_eq!(server.feed(&wire).unwrap(), vec![Incoming::Text("Hello".into())]);
//! // ... and an unmasked one from a server.
//! let mut wire = Vec::new();
//! encode_frame(&mut wire, opcode::TEXT, b"Hello");
//! assert_eq!(wire, [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
//! // A client refuses a masked frame: close code 1002.
//! let mut client = Decoder::new(Role::Client, 1 << 20);
//! let err = client.feed(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d]).unwrap_err();
//! assert_eq!(err.close_code(), 1002);
//! ```

mod decoder;
mod encode;
mod header;
pub mod proto;
mod stream;

pub use decoder::Decoder;
pub use encode::{close_payload, encode, encode_close, encode_frame, encode_masked, frame_len};
pub use header::{Header, MAX_CONTROL, RSV1};
pub use proto::{Incoming, Role, WsError, close_code, opcode, parse_close, unmask};
pub use stream::{DirectRead, StreamDecoder};

#[cfg(test)]
mod tests;
