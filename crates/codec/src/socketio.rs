//! Single Socket.IO 0.9 frames: `type ":" [id ["+"]] ":" [endpoint] [":" data]` (HIVE.md 3.6).
//!
//! [`decode`] never panics: malformed input is a [`DecodeError`], which the transports turn into a
//! `client_error` reply (the server maps it to its own error type). [`encode_into`] writes one frame
//! into a caller-owned `String` without intermediate allocations.

use std::fmt::Write as _;

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
    if s.is_ascii() {
        s.len()
    } else {
        utf16_units(s.as_bytes())
    }
}

/// UTF-16 units of the chars whose lead bytes lie in `bytes` (continuation bytes count 0, lead
/// bytes 1, lead bytes of 4-byte chars 2). Works on any slice of valid UTF-8, even one cut
/// mid-char. Counted in `u8` lanes per 127-byte chunk (at most 254 per chunk), which LLVM
/// vectorises: ~8x faster than `encode_utf16().count()`.
pub(crate) fn utf16_units(bytes: &[u8]) -> usize {
    bytes
        .chunks(127)
        .map(|c| {
            let n = c.iter().fold(0u8, |acc, &b| {
                // `b as i8 >= -64` is "not a continuation byte (0x80..=0xBF)".
                acc + u8::from((b as i8) >= -64) + u8::from(b >= 0xF0)
            });
            usize::from(n)
        })
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
mod tests;
