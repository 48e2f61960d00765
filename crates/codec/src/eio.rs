//! Engine.IO revisions 4 and 3: packets, polling payloads, WebSocket binary frames, the open packet.
//!
//! One text packet is a type digit plus UTF-8 data (`4hello`, `2probe`); a binary message is a
//! [`Packet::Binary`]. Polling payloads differ by revision: EIO4 joins packets with `\x1e` and
//! writes binaries as `b<base64>`; EIO3 prefixes each packet with its length in UTF-16 code units
//! (`6:4hello`, binaries `b4<base64>`) or, for clients that can receive binary, uses the
//! `<kind><digits>FF<bytes>` binary payload. Decoders never panic; a bad part is an [`EioError`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

/// The Engine.IO protocol revision of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Revision {
    /// Engine.IO 3 (socket.io-client 1.x/2.x): client pings, length-prefixed payloads.
    V3,
    /// Engine.IO 4 (socket.io-client 3.x/4.x): server pings, `\x1e`-separated payloads.
    V4,
}

impl Revision {
    /// The revision named by the `EIO` query value; only the literal `3` and `4` are revisions.
    pub fn from_query(v: Option<&str>) -> Option<Revision> {
        match v {
            Some("4") => Some(Revision::V4),
            Some("3") => Some(Revision::V3),
            _ => None,
        }
    }

    /// The number sent as `EIO`.
    pub fn number(self) -> u8 {
        match self {
            Revision::V3 => 3,
            Revision::V4 => 4,
        }
    }
}

/// One Engine.IO packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// `0` + handshake JSON (server to client).
    Open(String),
    /// `1`: close the session.
    Close,
    /// `2` + optional data (`probe` during an upgrade).
    Ping(String),
    /// `3` + optional data.
    Pong(String),
    /// `4` + text data.
    Message(String),
    /// A binary message (only messages carry binary data).
    Binary(Vec<u8>),
    /// `5`: completes an upgrade.
    Upgrade,
    /// `6`: filler.
    Noop,
}

/// Why an Engine.IO packet or payload could not be decoded: the session is closed as a parse error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EioError {
    /// Empty packet text.
    #[error("empty packet")]
    Empty,
    /// First character is not a packet type.
    #[error("unknown packet type {0:?}")]
    UnknownType(char),
    /// `b` packet whose base64 does not decode.
    #[error("invalid base64 in a binary packet")]
    Base64,
    /// EIO3 length prefix missing, non-numeric or not matching the available text.
    #[error("invalid length prefix in an EIO3 payload")]
    Length,
    /// EIO3 binary payload structure broken.
    #[error("invalid EIO3 binary payload")]
    BinaryPayload,
    /// EIO3 WebSocket binary frame without the `04` type byte.
    #[error("binary frame without the message type byte")]
    BinaryFrame,
}

impl Packet {
    /// The type digit of a text packet (binary messages are type `4`).
    pub fn digit(&self) -> char {
        match self {
            Packet::Open(_) => '0',
            Packet::Close => '1',
            Packet::Ping(_) => '2',
            Packet::Pong(_) => '3',
            Packet::Message(_) | Packet::Binary(_) => '4',
            Packet::Upgrade => '5',
            Packet::Noop => '6',
        }
    }

    /// Encodes one packet as text: the digit plus data; binaries in polling form for `rev`
    /// (`b<base64>` in EIO4, `b4<base64>` in EIO3).
    pub fn encode_text(&self, rev: Revision) -> String {
        let mut out = String::new();
        self.encode_text_into(rev, &mut out);
        out
    }

    /// [`Packet::encode_text`] appending to `out`.
    pub fn encode_text_into(&self, rev: Revision, out: &mut String) {
        match self {
            Packet::Binary(b) => {
                out.push('b');
                if rev == Revision::V3 {
                    out.push('4');
                }
                B64.encode_string(b, out);
            }
            Packet::Open(d) | Packet::Ping(d) | Packet::Pong(d) | Packet::Message(d) => {
                out.push(self.digit());
                out.push_str(d);
            }
            _ => out.push(self.digit()),
        }
    }
}

/// Decodes one text packet (a WebSocket text frame, or one part of a polling payload when
/// `polling` allows the `b` binary form). `rev` selects the `b` form (`b4…` in EIO3).
pub fn decode_packet(text: &str, rev: Revision, polling: bool) -> Result<Packet, EioError> {
    let mut chars = text.chars();
    let first = chars.next().ok_or(EioError::Empty)?;
    let rest = chars.as_str();
    Ok(match first {
        '0' => Packet::Open(rest.to_owned()),
        '1' => Packet::Close,
        '2' => Packet::Ping(rest.to_owned()),
        '3' => Packet::Pong(rest.to_owned()),
        '4' => Packet::Message(rest.to_owned()),
        '5' => Packet::Upgrade,
        '6' => Packet::Noop,
        'b' if polling => {
            let b64 = match rev {
                Revision::V4 => rest,
                Revision::V3 => rest.strip_prefix('4').ok_or(EioError::Base64)?,
            };
            Packet::Binary(B64.decode(b64).map_err(|_| EioError::Base64)?)
        }
        c => return Err(EioError::UnknownType(c)),
    })
}

/// Decodes a WebSocket binary frame: the data itself in EIO4, `04` + data in EIO3.
pub fn decode_ws_binary(rev: Revision, frame: &[u8]) -> Result<Vec<u8>, EioError> {
    match rev {
        Revision::V4 => Ok(frame.to_vec()),
        Revision::V3 => match frame.split_first() {
            Some((4, rest)) => Ok(rest.to_vec()),
            _ => Err(EioError::BinaryFrame),
        },
    }
}

/// Encodes a binary message as a WebSocket binary frame body (EIO3 adds the `04` type byte).
pub fn encode_ws_binary(rev: Revision, data: &[u8]) -> Vec<u8> {
    match rev {
        Revision::V4 => data.to_vec(),
        Revision::V3 => {
            let mut v = Vec::with_capacity(data.len() + 1);
            v.push(4);
            v.extend_from_slice(data);
            v
        }
    }
}

/// A decoded polling body: the packets before the first bad part, and the error if any (the
/// session processes the packets, then closes as a parse error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// Packets decoded in order.
    pub packets: Vec<Packet>,
    /// The first failure; `None` when the whole body decoded.
    pub error: Option<EioError>,
}

/// Decodes an EIO4 text payload: parts separated by `\x1e`; decoding stops at the first bad part.
pub fn decode_payload_v4(body: &str) -> Decoded {
    let mut packets = Vec::new();
    for part in body.split('\x1e') {
        match decode_packet(part, Revision::V4, true) {
            Ok(p) => packets.push(p),
            Err(e) => {
                return Decoded {
                    packets,
                    error: Some(e),
                };
            }
        }
    }
    Decoded {
        packets,
        error: None,
    }
}

/// Encodes an EIO4 text payload (binaries as `b<base64>`), packets joined by `\x1e`.
pub fn encode_payload_v4(packets: &[Packet]) -> String {
    let mut out = String::new();
    for (i, p) in packets.iter().enumerate() {
        if i > 0 {
            out.push('\x1e');
        }
        p.encode_text_into(Revision::V4, &mut out);
    }
    out
}

/// Number of UTF-16 code units of `s` (JavaScript string length).
pub fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// Encodes an EIO3 text payload: `<utf16 length>:<packet>` per packet, binaries as `b4<base64>`.
pub fn encode_payload_v3(packets: &[Packet]) -> String {
    let mut out = String::new();
    let mut one = String::new();
    for p in packets {
        one.clear();
        p.encode_text_into(Revision::V3, &mut one);
        out.push_str(&utf16_len(&one).to_string());
        out.push(':');
        out.push_str(&one);
    }
    out
}

/// Decodes an EIO3 text payload. Any bad length or packet makes the body an error; the packets
/// before the bad one are returned with it.
pub fn decode_payload_v3(body: &str) -> Decoded {
    let mut packets = Vec::new();
    let mut rest = body;
    let fail = |packets, e| Decoded {
        packets,
        error: Some(e),
    };
    if rest.is_empty() {
        return fail(packets, EioError::Empty);
    }
    while !rest.is_empty() {
        let Some(colon) = rest.find(':') else {
            return fail(packets, EioError::Length);
        };
        let digits = &rest[..colon];
        if digits.is_empty() || digits.len() > 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return fail(packets, EioError::Length);
        }
        let Ok(n) = digits.parse::<usize>() else {
            return fail(packets, EioError::Length);
        };
        let after = &rest[colon + 1..];
        // Walk n UTF-16 code units.
        let mut units = 0usize;
        let mut end = 0usize;
        for (i, c) in after.char_indices() {
            if units >= n {
                break;
            }
            units += c.len_utf16();
            end = i + c.len_utf8();
        }
        if units != n {
            return fail(packets, EioError::Length);
        }
        match decode_packet(&after[..end], Revision::V3, true) {
            Ok(p) => packets.push(p),
            Err(e) => return fail(packets, e),
        }
        rest = &after[end..];
    }
    Decoded {
        packets,
        error: None,
    }
}

/// Encodes an EIO3 binary ("XHR2") payload: per packet `<00|01> <decimal digits as bytes> FF
/// <bytes>`, text packets as UTF-8, binaries as `04` + data.
pub fn encode_binary_payload_v3(packets: &[Packet]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut text = String::new();
    for p in packets {
        let (kind, body): (u8, Vec<u8>) = match p {
            Packet::Binary(b) => (1, encode_ws_binary(Revision::V3, b)),
            other => {
                text.clear();
                other.encode_text_into(Revision::V3, &mut text);
                (0, text.as_bytes().to_vec())
            }
        };
        out.push(kind);
        out.extend(body.len().to_string().bytes().map(|d| d - b'0'));
        out.push(0xFF);
        out.extend_from_slice(&body);
    }
    out
}

/// Decodes an EIO3 binary payload (a POST with `Content-Type: application/octet-stream`).
pub fn decode_binary_payload_v3(body: &[u8]) -> Decoded {
    let mut packets = Vec::new();
    let mut rest = body;
    let fail = |packets, e| Decoded {
        packets,
        error: Some(e),
    };
    if rest.is_empty() {
        return fail(packets, EioError::Empty);
    }
    while let Some((&kind, after)) = rest.split_first() {
        if kind > 1 {
            return fail(packets, EioError::BinaryPayload);
        }
        let Some(ff) = after.iter().position(|&b| b == 0xFF) else {
            return fail(packets, EioError::BinaryPayload);
        };
        let digits = &after[..ff];
        if digits.is_empty() || digits.len() > 10 || digits.iter().any(|&d| d > 9) {
            return fail(packets, EioError::BinaryPayload);
        }
        let n = digits.iter().fold(0usize, |a, &d| a * 10 + usize::from(d));
        let data = &after[ff + 1..];
        if data.len() < n {
            return fail(packets, EioError::BinaryPayload);
        }
        let (this, next) = data.split_at(n);
        let packet = if kind == 1 {
            decode_ws_binary(Revision::V3, this).map(Packet::Binary)
        } else {
            match std::str::from_utf8(this) {
                Ok(s) => decode_packet(s, Revision::V3, false),
                Err(_) => Err(EioError::BinaryPayload),
            }
        };
        match packet {
            Ok(p) => packets.push(p),
            Err(e) => return fail(packets, e),
        }
        rest = next;
    }
    Decoded {
        packets,
        error: None,
    }
}

/// The open packet's JSON (spec key order: sid, upgrades, pingInterval, pingTimeout, maxPayload).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenInfo {
    /// Session id.
    pub sid: String,
    /// Transports the session may upgrade to.
    pub upgrades: Vec<String>,
    /// Heartbeat period, ms.
    pub ping_interval: u64,
    /// Heartbeat deadline, ms.
    pub ping_timeout: u64,
    /// Largest POST body / WebSocket frame the server accepts, bytes.
    #[serde(default)]
    pub max_payload: u64,
}

impl OpenInfo {
    /// The open packet's data (JSON text).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses an open packet's data.
    pub fn parse(data: &str) -> Option<OpenInfo> {
        serde_json::from_str(data).ok()
    }
}

/// The Engine.IO request error codes (spec 1.4): `(code, message)`.
pub mod error_code {
    /// Missing, unknown or disabled transport.
    pub const TRANSPORT_UNKNOWN: (u8, &str) = (0, "Transport unknown");
    /// Unknown or closed session.
    pub const SESSION_ID_UNKNOWN: (u8, &str) = (1, "Session ID unknown");
    /// Handshake with a method other than GET.
    pub const BAD_HANDSHAKE_METHOD: (u8, &str) = (2, "Bad handshake method");
    /// Transport or revision mismatch, WebSocket without upgrade headers, bad Origin.
    pub const BAD_REQUEST: (u8, &str) = (3, "Bad request");
    /// Refused by the application (403).
    pub const FORBIDDEN: (u8, &str) = (4, "Forbidden");
    /// `EIO` missing or not an enabled revision.
    pub const UNSUPPORTED_PROTOCOL_VERSION: (u8, &str) = (5, "Unsupported protocol version");
}

/// The JSON body of an Engine.IO error answer: `{"code":<n>,"message":"<text>"}`.
pub fn error_body(code: u8, message: &str) -> String {
    serde_json::json!({"code": code, "message": message}).to_string()
}

#[cfg(test)]
mod tests;
