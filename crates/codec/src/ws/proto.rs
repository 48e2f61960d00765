//! The RFC 6455 vocabulary: opcodes, close codes, roles, the one error type and what is read.
//!
//! A leaf module: the header parser, the encoder and the decoders all build on it.

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

    /// Whether `op` is a control opcode (close, ping, pong, or a reserved one from 0xB up).
    pub fn is_control(op: u8) -> bool {
        op & 0x8 != 0
    }
}

/// Close codes (RFC 6455 section 7.4.1).
pub mod close_code {
    /// Normal closure.
    pub const NORMAL: u16 = 1000;
    /// The endpoint is going away.
    pub const GOING_AWAY: u16 = 1001;
    /// Protocol error.
    pub const PROTOCOL: u16 = 1002;
    /// A data type the endpoint cannot accept.
    pub const UNSUPPORTED: u16 = 1003;
    /// Invalid payload data (bad UTF-8).
    pub const INVALID_DATA: u16 = 1007;
    /// Policy violation.
    pub const POLICY: u16 = 1008;
    /// Message too big.
    pub const TOO_BIG: u16 = 1009;

    /// Whether `code` may be sent in a close frame: 1000-1003, 1007-1014 and 3000-4999
    /// (1004-1006 and 1015 are reserved, 0-999 unused, 1016-2999 not yet assigned).
    pub fn is_valid(code: u16) -> bool {
        matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

/// Which end of the connection we are: a server reads masked frames and writes unmasked ones,
/// a client reads unmasked frames and writes masked ones (RFC 6455 section 5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The server end: frames read must be masked.
    Server,
    /// The client end: frames read must not be masked.
    Client,
}

/// Why the frames read break RFC 6455. Every variant has a close code ([`WsError::close_code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WsError {
    /// The frames break the protocol (close code 1002).
    #[error("websocket protocol error: {0}")]
    Protocol(&'static str),
    /// A message over the size limit, the limit given (close code 1009).
    #[error("websocket message over {0} bytes")]
    TooBig(usize),
    /// A text message or close reason that is not UTF-8 (close code 1007).
    #[error("websocket text is not UTF-8")]
    BadUtf8,
}

impl WsError {
    /// The close code to send before hanging up: 1002, 1009 or 1007.
    pub fn close_code(&self) -> u16 {
        match self {
            WsError::Protocol(_) => close_code::PROTOCOL,
            WsError::TooBig(_) => close_code::TOO_BIG,
            WsError::BadUtf8 => close_code::INVALID_DATA,
        }
    }
}

/// One complete message or control frame read from the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A text message (fragments reassembled, UTF-8 checked).
    Text(String),
    /// A binary message (fragments reassembled).
    Binary(Vec<u8>),
    /// A ping; answer with a pong carrying this payload.
    Ping(Vec<u8>),
    /// A pong, with its payload.
    Pong(Vec<u8>),
    /// A close frame with its status code, if any (the reason is checked, not kept); answer with
    /// a close echoing the code.
    Close(Option<u16>),
}

/// Check a close frame's payload: nothing, or a valid code and a UTF-8 reason. The code, if any.
///
/// # Errors
/// [`WsError::Protocol`] for a 1-byte payload or a code [`close_code::is_valid`] refuses,
/// [`WsError::BadUtf8`] for a reason that is not UTF-8.
pub fn parse_close(payload: &[u8]) -> Result<Option<u16>, WsError> {
    match payload {
        [] => Ok(None),
        [_] => Err(WsError::Protocol("close frame with a 1-byte payload")),
        [a, b, reason @ ..] => {
            let code = u16::from_be_bytes([*a, *b]);
            if !close_code::is_valid(code) {
                return Err(WsError::Protocol("close frame with an invalid code"));
            }
            if std::str::from_utf8(reason).is_err() {
                return Err(WsError::BadUtf8);
            }
            Ok(Some(code))
        }
    }
}

/// XOR `data` with the mask key `mask`, starting at mask phase `phase` (the number of payload
/// bytes of the frame before `data`). Masking and unmasking are the same operation.
pub fn unmask(data: &mut [u8], mask: [u8; 4], phase: usize) {
    let mut key = mask;
    key.rotate_left(phase & 3);
    for chunk in data.chunks_mut(4) {
        for (b, k) in chunk.iter_mut().zip(key) {
            *b ^= k;
        }
    }
}
