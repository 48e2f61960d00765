//! Single Socket.IO 0.9 frames: `type ":" [id ["+"]] ":" [endpoint] [":" data]` (HIVE.md 3.6).
//!
//! [`decode`] never panics: malformed input is a [`DecodeError`], which the transports turn into a
//! `client_error` reply through `From<DecodeError> for HiveError`. [`encode_into`] writes one frame
//! into a caller-owned `String` without intermediate allocations.

use std::fmt::Write as _;

use crate::error::HiveError;

/// Socket.IO 0.9 message types, in wire order (digits `0`..`8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `0`: session end (sent by the server as `0:::`).
    Disconnect,
    /// `1`: transport connected (sent as `1:::`).
    Connect,
    /// `2`: heartbeat (never sent by Hive).
    Heartbeat,
    /// `3`: plain message (`action.send_message`, the TCP connector sub-protocol).
    Message,
    /// `4`: JSON message (`action.send_json`).
    Json,
    /// `5`: event, `{"name": .., "args": ..}`; the only type Hive processes from clients.
    Event,
    /// `6`: acknowledgement, data `<id>` or `<id>+<json array>`.
    Ack,
    /// `7`: error.
    Error,
    /// `8`: no-op, used as keep-alive.
    Noop,
}

impl Kind {
    /// All kinds in digit order.
    pub const ALL: [Kind; 9] = [
        Kind::Disconnect,
        Kind::Connect,
        Kind::Heartbeat,
        Kind::Message,
        Kind::Json,
        Kind::Event,
        Kind::Ack,
        Kind::Error,
        Kind::Noop,
    ];

    /// The numeric type (`0`..=`8`), not the ASCII digit.
    pub fn digit(self) -> u8 {
        self as u8
    }

    /// The ASCII character of [`Kind::digit`] (`b'0'`..=`b'8'`).
    pub fn ascii(self) -> u8 {
        b'0' + self.digit()
    }

    /// The kind for a numeric type `0..=8`; also accepts the ASCII digits `b'0'..=b'8'`.
    pub fn from_digit(b: u8) -> Option<Kind> {
        let n = if b.is_ascii_digit() { b - b'0' } else { b };
        Kind::ALL.get(usize::from(n)).copied()
    }

    /// Lower-case name as used in logs and HIVE.md (`"event"`, `"noop"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Disconnect => "disconnect",
            Kind::Connect => "connect",
            Kind::Heartbeat => "heartbeat",
            Kind::Message => "message",
            Kind::Json => "json",
            Kind::Event => "event",
            Kind::Ack => "ack",
            Kind::Error => "error",
            Kind::Noop => "noop",
        }
    }
}

/// The id field of a frame: empty, `N` (server-side ack) or `N+` (client wants an ack with data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MsgId {
    /// No id (empty or non-numeric field).
    #[default]
    None,
    /// `N`.
    Server(u64),
    /// `N+`.
    Client(u64),
}

impl MsgId {
    /// Parses an id field. Empty, non-numeric (including signs and spaces) or out-of-range input
    /// is [`MsgId::None`], as in the original parser.
    pub fn parse(s: &str) -> MsgId {
        let (digits, client) = match s.strip_suffix('+') {
            Some(d) => (d, true),
            None => (s, false),
        };
        match parse_digits(digits) {
            Some(n) if client => MsgId::Client(n),
            Some(n) => MsgId::Server(n),
            None => MsgId::None,
        }
    }

    /// `"N+"`, `"N"` or `""`.
    pub fn render(&self) -> String {
        let mut s = String::new();
        self.write_into(&mut s);
        s
    }

    /// Appends the rendering of [`MsgId::render`] to `out`.
    pub fn write_into(&self, out: &mut String) {
        // Writing to a String cannot fail.
        let _ = match *self {
            MsgId::None => Ok(()),
            MsgId::Server(n) => write!(out, "{n}"),
            MsgId::Client(n) => write!(out, "{n}+"),
        };
    }

    /// Length in bytes (= UTF-16 units, it is ASCII) of the rendering.
    pub fn rendered_len(&self) -> usize {
        match *self {
            MsgId::None => 0,
            MsgId::Server(n) => decimal_len(n),
            MsgId::Client(n) => decimal_len(n) + 1,
        }
    }

    /// True unless [`MsgId::None`].
    pub fn is_some(&self) -> bool {
        !matches!(self, MsgId::None)
    }
}

/// Parses a non-empty run of ASCII digits into a `u64` (no sign, no overflow).
pub(crate) fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Number of decimal digits of `n`.
pub(crate) fn decimal_len(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |l| l as usize + 1)
}

/// One Socket.IO 0.9 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Message type.
    pub kind: Kind,
    /// Id field.
    pub id: MsgId,
    /// Endpoint (namespace); never contains `:` when encoded by Hive. Empty for the default one.
    pub endpoint: String,
    /// Everything after the third `:`, verbatim.
    pub data: String,
}

impl Message {
    /// A message of `kind` with no id, endpoint or data.
    pub fn new(kind: Kind) -> Self {
        Self::with_data(kind, String::new())
    }

    /// A message of `kind` carrying `data` (no id, default endpoint).
    pub fn with_data(kind: Kind, data: impl Into<String>) -> Self {
        Message {
            kind,
            id: MsgId::None,
            endpoint: String::new(),
            data: data.into(),
        }
    }

    /// `5:::<data>`; `data` is the event JSON text.
    pub fn event(data: impl Into<String>) -> Self {
        Self::with_data(Kind::Event, data)
    }

    /// `8:::`.
    pub fn noop() -> Self {
        Self::new(Kind::Noop)
    }

    /// `1:::`.
    pub fn connect() -> Self {
        Self::new(Kind::Connect)
    }

    /// `0:::`.
    pub fn disconnect() -> Self {
        Self::new(Kind::Disconnect)
    }

    /// `7:::<data>`.
    pub fn error(data: impl Into<String>) -> Self {
        Self::with_data(Kind::Error, data)
    }

    /// Builder: sets the id.
    pub fn with_id(mut self, id: MsgId) -> Self {
        self.id = id;
        self
    }

    /// Builder: sets the endpoint.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = endpoint.into();
        self
    }

    /// Length in bytes of [`encode`]'s output, computed without encoding.
    pub fn encoded_len(&self) -> usize {
        4 + self.id.rendered_len() + self.endpoint.len() + self.data.len()
    }

    /// Length in UTF-16 code units of [`encode`]'s output, computed without encoding.
    pub fn encoded_utf16_len(&self) -> usize {
        4 + self.id.rendered_len() + utf16_len(&self.endpoint) + utf16_len(&self.data)
    }
}

impl Default for Message {
    /// The all-defaults message of the original: `8:::`.
    fn default() -> Self {
        Message::noop()
    }
}

/// Number of UTF-16 code units needed for `s` (what the 0.9 JS client's `.length` counts).
pub fn utf16_len(s: &str) -> usize {
    // Every non-continuation byte starts a char (one unit); 4-byte chars (lead >= 0xF0) need a
    // surrogate pair (a second unit). One branch-free pass, vectorisable.
    s.as_bytes()
        .iter()
        .map(|&b| usize::from((b & 0xC0) != 0x80) + usize::from(b >= 0xF0))
        .sum()
}

/// Encodes one frame: always three colons (`5:1+::data`, `8:::`, `8::foo:`).
pub fn encode(msg: &Message) -> String {
    let mut out = String::with_capacity(msg.encoded_len());
    encode_into(msg, &mut out);
    out
}

/// Appends the encoding of `msg` to `out`.
pub fn encode_into(msg: &Message, out: &mut String) {
    out.reserve(msg.encoded_len());
    out.push(char::from(msg.kind.ascii()));
    out.push(':');
    msg.id.write_into(out);
    out.push(':');
    out.push_str(&msg.endpoint);
    out.push(':');
    out.push_str(&msg.data);
}

/// Why a frame or batch could not be decoded. `Display` is meant for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// More input is needed (streaming readers; complete inputs never produce it from [`decode`]).
    #[error("incomplete frame, more data needed")]
    Incomplete,
    /// The frame is empty.
    #[error("empty frame")]
    EmptyFrame,
    /// The type field is not a single digit `0`..`8`; holds the start of the frame.
    #[error("invalid message type in {0:?} (expected a digit 0-8 followed by ':')")]
    BadType(String),
    /// The frame has no `:` at all; holds the start of the frame.
    #[error("no ':' separator in {0:?}")]
    NoSeparator(String),
    /// A U+FFFD length header is malformed or does not match the payload; holds the details.
    #[error("bad frame length: {0}")]
    BadLength(String),
    /// A declared frame length exceeds the configured maximum.
    #[error("frame too large (limit {limit} bytes)")]
    TooLarge {
        /// The maximum accepted length.
        limit: usize,
    },
    /// Anything else (invalid UTF-8, bad handshake body, ...).
    #[error("{0}")]
    Invalid(String),
}

impl From<DecodeError> for HiveError {
    fn from(e: DecodeError) -> Self {
        HiveError::ClientError(format!("Bad Socket.IO frame: {e}"))
    }
}

/// At most this many characters of offending input are copied into a [`DecodeError`].
const SNIPPET_CHARS: usize = 32;

/// The start of `s`, at most [`SNIPPET_CHARS`] characters, with `...` when cut.
pub(crate) fn snippet(s: &str) -> String {
    match s.char_indices().nth(SNIPPET_CHARS) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}

/// Decodes one frame (HIVE.md 3.6).
///
/// * id `N+` is [`MsgId::Client`], `N` is [`MsgId::Server`], empty or non-numeric is
///   [`MsgId::None`];
/// * the endpoint runs up to the next `:`; the data is everything after the third `:` verbatim;
/// * missing trailing fields are empty (`8::` and even `8:` decode as a bare noop).
///
/// # Errors
/// [`DecodeError::EmptyFrame`] for `""`, [`DecodeError::NoSeparator`] when there is no `:`,
/// [`DecodeError::BadType`] when the part before the first `:` is not one digit `0`..`8`.
pub fn decode(input: &str) -> Result<Message, DecodeError> {
    if input.is_empty() {
        return Err(DecodeError::EmptyFrame);
    }
    let Some((ty, rest)) = input.split_once(':') else {
        return Err(DecodeError::NoSeparator(snippet(input)));
    };
    let kind = match ty.as_bytes() {
        [d @ b'0'..=b'8'] => Kind::from_digit(*d),
        _ => None,
    }
    .ok_or_else(|| DecodeError::BadType(snippet(input)))?;
    let (id, rest) = rest.split_once(':').unwrap_or((rest, ""));
    let (endpoint, data) = rest.split_once(':').unwrap_or((rest, ""));
    Ok(Message {
        kind,
        id: MsgId::parse(id),
        endpoint: endpoint.to_owned(),
        data: data.to_owned(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn m(kind: Kind, id: MsgId, endpoint: &str, data: &str) -> Message {
        Message {
            kind,
            id,
            endpoint: endpoint.into(),
            data: data.into(),
        }
    }

    /// HIVE.md 3.8 "Encoding a single message".
    #[test]
    fn encode_vectors() {
        for (i, k) in Kind::ALL.into_iter().enumerate() {
            assert_eq!(encode(&Message::new(k)), format!("{i}:::"));
        }
        assert_eq!(encode(&Message::default()), "8:::");
        assert_eq!(encode(&Message::new(Kind::Ack)), "6:::");
        let noop = |id, ep: &str, data: &str| encode(&m(Kind::Noop, id, ep, data));
        assert_eq!(noop(MsgId::Server(23), "", ""), "8:23::");
        assert_eq!(noop(MsgId::Client(23), "", ""), "8:23+::");
        assert_eq!(noop(MsgId::None, "foo", ""), "8::foo:");
        assert_eq!(noop(MsgId::None, "", "foo"), "8:::foo");
        let ev = m(Kind::Event, MsgId::Server(5), "foo", "bar");
        assert_eq!(encode(&ev), "5:5:foo:bar");
        assert_eq!(ev.encoded_len(), 11);
    }

    /// HIVE.md 3.8 "Ids".
    #[test]
    fn id_vectors() {
        assert_eq!(MsgId::Client(1).render(), "1+");
        assert_eq!(MsgId::Server(23).render(), "23");
        assert_eq!(MsgId::None.render(), "");
        assert_eq!(MsgId::parse("1+"), MsgId::Client(1));
        assert_eq!(MsgId::parse("23"), MsgId::Server(23));
        assert_eq!(MsgId::parse(""), MsgId::None);
        for junk in ["+", "+1", "-1", "1a", " 1", "1++", "99999999999999999999"] {
            assert_eq!(MsgId::parse(junk), MsgId::None, "{junk}");
        }
        assert_eq!(MsgId::Server(0).rendered_len(), 1);
        assert_eq!(MsgId::Client(u64::MAX).rendered_len(), 21);
    }

    /// HIVE.md 3.8 "Decoding".
    #[test]
    fn decode_vectors() {
        for k in Kind::ALL {
            assert_eq!(decode(&encode(&Message::new(k))), Ok(Message::new(k)));
        }
        assert_eq!(decode("8:::"), Ok(Message::noop()));
        assert_eq!(decode("8::"), Ok(Message::noop()));
        assert_eq!(decode("8:"), Ok(Message::noop()));
        assert_eq!(
            decode("7:::herped-derped"),
            Ok(Message::error("herped-derped"))
        );
        assert_eq!(
            decode("1:2:3:4"),
            Ok(m(Kind::Connect, MsgId::Server(2), "3", "4"))
        );
        assert_eq!(
            decode("1:2+:3:4"),
            Ok(m(Kind::Connect, MsgId::Client(2), "3", "4"))
        );
        assert_eq!(
            decode("5:::a:b::c"),
            Ok(m(Kind::Event, MsgId::None, "", "a:b::c"))
        );
        assert_eq!(decode("5:x::"), Ok(Message::new(Kind::Event)));
    }

    #[test]
    fn decode_errors() {
        assert_eq!(decode(""), Err(DecodeError::EmptyFrame));
        assert_eq!(decode("5"), Err(DecodeError::NoSeparator("5".into())));
        assert_eq!(decode("9:::"), Err(DecodeError::BadType("9:::".into())));
        assert_eq!(decode(":::"), Err(DecodeError::BadType(":::".into())));
        assert_eq!(decode("55:::"), Err(DecodeError::BadType("55:::".into())));
        assert!(matches!(decode("é:::"), Err(DecodeError::BadType(_))));
        let long = "x".repeat(1000);
        match decode(&long) {
            Err(DecodeError::NoSeparator(s)) => assert_eq!(s.len(), SNIPPET_CHARS + 3),
            other => panic!("{other:?}"),
        }
        let e: HiveError = DecodeError::BadType("9:::".into()).into();
        assert_eq!(e.code(), "client_error");
        assert_eq!(
            e.to_string(),
            "Bad Socket.IO frame: invalid message type in \"9:::\" (expected a digit 0-8 followed by ':')"
        );
    }

    #[test]
    fn kind_digits() {
        for (i, k) in Kind::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(k.digit()), i);
            assert_eq!(Kind::from_digit(k.digit()), Some(k));
            assert_eq!(Kind::from_digit(k.ascii()), Some(k));
        }
        assert_eq!(Kind::from_digit(9), None);
        assert_eq!(Kind::from_digit(b'9'), None);
    }

    #[test]
    fn utf16_lengths() {
        assert_eq!(utf16_len(""), 0);
        assert_eq!(utf16_len("abc"), 3);
        assert_eq!(utf16_len("zażółć"), 6);
        assert_eq!(utf16_len("😀"), 2);
        assert_eq!(utf16_len("\u{FFFD}"), 1);
        let s = "5:::{\"args\":[\"zażółć 😀\"]}";
        assert_eq!(utf16_len(s), s.encode_utf16().count());
        let msg = m(Kind::Event, MsgId::Client(7), "né", "😀x");
        assert_eq!(msg.encoded_utf16_len(), encode(&msg).encode_utf16().count());
        assert_eq!(msg.encoded_len(), encode(&msg).len());
    }
}
