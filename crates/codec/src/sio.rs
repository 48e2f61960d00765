//! Socket.IO protocols 5 and 4 packets: `<type>[<n>-][<nsp>,][<id>][<json>]`, binary attachments.
//!
//! [`decode`] parses one text packet with the validity rules of the protocol (types, attachment
//! counts, namespaces, ack ids up to 2^53 - 1, payload shapes, reserved event names);
//! [`Assembler`] collects a binary packet's attachments from the following Engine.IO binary
//! messages and checks its placeholders. [`encode`] writes the text part (type 5/6 when the packet
//! has attachments). [`to_markers`] / [`from_markers`] convert between placeholders + attachments
//! and Hive's JSON form `{"_hive_binary":"<base64>"}`. Nothing here panics on any input.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value};

/// Socket.IO packet types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `0`: namespace connect (client request, server accept).
    Connect,
    /// `1`: namespace disconnect.
    Disconnect,
    /// `2`: event (`5` on the wire when it has attachments).
    Event,
    /// `3`: acknowledgement (`6` on the wire when it has attachments).
    Ack,
    /// `4`: CONNECT_ERROR (SIO5) / ERROR (SIO4), server only.
    ConnectError,
}

/// The largest ack id a server accepts (JavaScript's safe integer limit).
pub const MAX_ACK_ID: u64 = (1 << 53) - 1;

/// Event names a client may never send as the first EVENT element.
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// The marker key of a binary value in Hive's JSON form.
pub const BINARY_MARKER: &str = "_hive_binary";

/// One Socket.IO packet. For binary packets `data` holds placeholders
/// (`{"_placeholder":true,"num":k}`) and `attachments` the binaries in `k` order.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// Packet type.
    pub kind: Kind,
    /// Namespace, `/` by default.
    pub nsp: String,
    /// Ack id (requested on events, answered on acks).
    pub id: Option<u64>,
    /// JSON payload, if any.
    pub data: Option<Value>,
    /// Binary attachments (non-empty makes an EVENT a BINARY_EVENT, an ACK a BINARY_ACK).
    pub attachments: Vec<Vec<u8>>,
}

/// Why a Socket.IO packet is malformed; the connection is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SioError {
    /// Empty packet or unknown type digit.
    #[error("unknown packet type")]
    Type,
    /// Attachment count missing, malformed or outside `[1, max]`.
    #[error("invalid attachment count")]
    AttachmentCount,
    /// Ack id longer than the safe integer range.
    #[error("invalid ack id")]
    AckId,
    /// Payload is not JSON.
    #[error("invalid JSON payload")]
    Json,
    /// Payload does not match the packet type.
    #[error("invalid payload for the packet type")]
    Payload,
    /// Reserved or invalid event name.
    #[error("invalid event name")]
    EventName,
    /// A text packet while attachments were awaited, or a binary message when none was.
    #[error("unexpected attachment order")]
    Attachment,
    /// A placeholder whose `num` is not an index of the received attachments.
    #[error("invalid placeholder")]
    Placeholder,
}

impl Packet {
    /// A packet with no id, data or attachments.
    pub fn new(kind: Kind, nsp: &str) -> Packet {
        Packet {
            kind,
            nsp: nsp.to_owned(),
            id: None,
            data: None,
            attachments: Vec::new(),
        }
    }

    /// A packet with a payload.
    pub fn with_data(kind: Kind, nsp: &str, data: Value) -> Packet {
        Packet {
            data: Some(data),
            ..Packet::new(kind, nsp)
        }
    }

    /// An EVENT `[name, args...]` with optional ack id.
    pub fn event(nsp: &str, name: &str, args: Vec<Value>, id: Option<u64>) -> Packet {
        let mut arr = Vec::with_capacity(args.len() + 1);
        arr.push(Value::String(name.to_owned()));
        arr.extend(args);
        Packet {
            id,
            ..Packet::with_data(Kind::Event, nsp, Value::Array(arr))
        }
    }

    /// The wire type digit (`5`/`6` when there are attachments).
    pub fn wire_digit(&self) -> char {
        match (self.kind, self.attachments.is_empty()) {
            (Kind::Connect, _) => '0',
            (Kind::Disconnect, _) => '1',
            (Kind::Event, true) => '2',
            (Kind::Ack, true) => '3',
            (Kind::ConnectError, _) => '4',
            (Kind::Event, false) => '5',
            (Kind::Ack, false) => '6',
        }
    }
}

/// Encodes the text part of a packet; attachments follow as separate binary messages.
pub fn encode(p: &Packet) -> String {
    let mut out = String::new();
    out.push(p.wire_digit());
    if !p.attachments.is_empty() && matches!(p.kind, Kind::Event | Kind::Ack) {
        out.push_str(&p.attachments.len().to_string());
        out.push('-');
    }
    if p.nsp != "/" && !p.nsp.is_empty() {
        out.push_str(&p.nsp);
        out.push(',');
    }
    if let Some(id) = p.id {
        out.push_str(&id.to_string());
    }
    if let Some(d) = &p.data {
        out.push_str(&serde_json::to_string(d).unwrap_or_default());
    }
    out
}

/// Appends the text of an EVENT without attachments, `2[<nsp>,][<id>][<name>,<args>...]`, to
/// `out`: the bytes [`encode`] writes for `Packet::event(nsp, name, args.to_vec(), id)`, written
/// straight from the borrowed name and arguments (no packet, JSON array or copy of the arguments
/// is built). Arguments holding binary markers are the caller's to convert first.
pub fn encode_event_into(
    out: &mut Vec<u8>,
    nsp: &str,
    id: Option<u64>,
    name: &str,
    args: &[Value],
) {
    out.push(b'2');
    if nsp != "/" && !nsp.is_empty() {
        out.extend_from_slice(nsp.as_bytes());
        out.push(b',');
    }
    if let Some(id) = id {
        out.extend_from_slice(id.to_string().as_bytes());
    }
    out.push(b'[');
    // Writing JSON into a vector cannot fail (values' keys are strings).
    let _ = serde_json::to_writer(&mut *out, name);
    for a in args {
        out.push(b',');
        let _ = serde_json::to_writer(&mut *out, a);
    }
    out.push(b']');
}

/// A decoded text packet: complete, or waiting for `attachments` binary messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The packet (for binary packets, `attachments` is still empty).
    pub packet: Packet,
    /// Binary messages that must follow (0 for plain packets).
    pub expect: usize,
}

/// Decodes one text packet, with at most `max_attachments` attachments on binary packets.
pub fn decode(text: &str, max_attachments: usize) -> Result<Decoded, SioError> {
    let b = text.as_bytes();
    let (&t, mut rest) = b.split_first().ok_or(SioError::Type)?;
    let (kind, binary) = match t {
        b'0' => (Kind::Connect, false),
        b'1' => (Kind::Disconnect, false),
        b'2' => (Kind::Event, false),
        b'3' => (Kind::Ack, false),
        b'4' => (Kind::ConnectError, false),
        b'5' => (Kind::Event, true),
        b'6' => (Kind::Ack, true),
        _ => return Err(SioError::Type),
    };
    let mut expect = 0usize;
    if binary {
        let dash = rest
            .iter()
            .position(|&c| c == b'-')
            .ok_or(SioError::AttachmentCount)?;
        let digits = &rest[..dash];
        if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
            return Err(SioError::AttachmentCount);
        }
        expect = digits
            .iter()
            .fold(0usize, |a, &d| a * 10 + usize::from(d - b'0'));
        if expect < 1 || expect > max_attachments {
            return Err(SioError::AttachmentCount);
        }
        rest = &rest[dash + 1..];
    }
    let mut nsp = "/".to_owned();
    if rest.first() == Some(&b'/') {
        let end = rest.iter().position(|&c| c == b',').unwrap_or(rest.len());
        nsp = String::from_utf8_lossy(&rest[..end]).into_owned();
        rest = rest.get(end + 1..).unwrap_or(&[]);
    }
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    let mut id = None;
    if digits > 0 {
        let run = &rest[..digits];
        let trimmed = run
            .iter()
            .position(|&c| c != b'0')
            .map_or(&run[run.len()..], |i| &run[i..]);
        if trimmed.len() > 16 {
            return Err(SioError::AckId);
        }
        let n = trimmed
            .iter()
            .fold(0u64, |a, &d| a * 10 + u64::from(d - b'0'));
        if n > MAX_ACK_ID {
            return Err(SioError::AckId);
        }
        id = Some(n);
        rest = &rest[digits..];
    }
    let data: Option<Value> = if rest.is_empty() {
        None
    } else {
        Some(serde_json::from_slice(rest).map_err(|_| SioError::Json)?)
    };
    let data = match kind {
        Kind::Connect => match data {
            None => None,
            Some(v @ Value::Object(_)) => Some(v),
            Some(_) => return Err(SioError::Payload),
        },
        Kind::Disconnect => match data {
            None => None,
            Some(_) => return Err(SioError::Payload),
        },
        Kind::Event => match data {
            Some(Value::Array(a)) => {
                match a.first() {
                    Some(Value::String(s)) if !RESERVED_EVENTS.contains(&s.as_str()) => {}
                    Some(Value::Number(_)) => {}
                    Some(_) => return Err(SioError::EventName),
                    None => return Err(SioError::Payload),
                }
                Some(Value::Array(a))
            }
            _ => return Err(SioError::Payload),
        },
        Kind::Ack => match data {
            None => Some(Value::Array(Vec::new())),
            Some(v @ Value::Array(_)) => Some(v),
            Some(_) => return Err(SioError::Payload),
        },
        Kind::ConnectError => match data {
            Some(v @ (Value::Object(_) | Value::String(_))) => Some(v),
            _ => return Err(SioError::Payload),
        },
    };
    Ok(Decoded {
        packet: Packet {
            kind,
            nsp,
            id,
            data,
            attachments: Vec::new(),
        },
        expect,
    })
}

/// Reassembles binary packets: feed every Engine.IO message of a session in order.
///
/// Small while no packet waits for attachments (one pointer): every session holds one.
#[derive(Debug, Default)]
pub struct Assembler {
    pending: Option<Box<(Packet, usize)>>,
    max_attachments: usize,
}

impl Assembler {
    /// An assembler accepting up to `max_attachments` attachments per packet.
    pub fn new(max_attachments: usize) -> Assembler {
        Assembler {
            pending: None,
            max_attachments,
        }
    }

    /// True while attachments are awaited.
    pub fn waiting(&self) -> bool {
        self.pending.is_some()
    }

    /// A text message: a complete packet, `None` when attachments must follow, or an error.
    pub fn push_text(&mut self, text: &str) -> Result<Option<Packet>, SioError> {
        if self.pending.is_some() {
            return Err(SioError::Attachment);
        }
        let d = decode(text, self.max_attachments)?;
        if d.expect == 0 {
            return Ok(Some(d.packet));
        }
        self.pending = Some(Box::new((d.packet, d.expect)));
        Ok(None)
    }

    /// A binary message: the completed packet after its last attachment, or an error.
    pub fn push_binary(&mut self, data: Vec<u8>) -> Result<Option<Packet>, SioError> {
        let Some(mut pending) = self.pending.take() else {
            return Err(SioError::Attachment);
        };
        pending.0.attachments.push(data);
        if pending.0.attachments.len() < pending.1 {
            self.pending = Some(pending);
            return Ok(None);
        }
        let (p, n) = *pending;
        if let Some(d) = &p.data {
            check_placeholders(d, n)?;
        }
        Ok(Some(p))
    }
}

fn placeholder_num(v: &Map<String, Value>) -> Option<Option<u64>> {
    if v.get("_placeholder") == Some(&Value::Bool(true)) {
        Some(v.get("num").and_then(Value::as_u64))
    } else {
        None
    }
}

fn check_placeholders(v: &Value, n: usize) -> Result<(), SioError> {
    match v {
        Value::Array(a) => a.iter().try_for_each(|x| check_placeholders(x, n)),
        Value::Object(o) => match placeholder_num(o) {
            Some(Some(k)) if (k as usize) < n && k <= u64::from(u32::MAX) => Ok(()),
            Some(_) => Err(SioError::Placeholder),
            None => o.values().try_for_each(|x| check_placeholders(x, n)),
        },
        _ => Ok(()),
    }
}

/// Replaces every placeholder of `data` by Hive's marker `{"_hive_binary":"<base64>"}` of its
/// attachment (placeholders with bad indexes are left as they are).
pub fn to_markers(data: Value, attachments: &[Vec<u8>]) -> Value {
    match data {
        Value::Array(a) => {
            Value::Array(a.into_iter().map(|x| to_markers(x, attachments)).collect())
        }
        Value::Object(o) => match placeholder_num(&o) {
            Some(Some(k)) => match usize::try_from(k).ok().and_then(|k| attachments.get(k)) {
                Some(bin) => marker(bin),
                None => Value::Object(o),
            },
            _ => Value::Object(
                o.into_iter()
                    .map(|(k, v)| (k, to_markers(v, attachments)))
                    .collect(),
            ),
        },
        other => other,
    }
}

/// The marker object of one binary value.
pub fn marker(bin: &[u8]) -> Value {
    let mut m = Map::new();
    m.insert(BINARY_MARKER.to_owned(), Value::String(B64.encode(bin)));
    Value::Object(m)
}

/// The binary of a marker object: exactly one key `_hive_binary` with valid base64.
pub fn marker_bytes(o: &Map<String, Value>) -> Option<Vec<u8>> {
    if o.len() != 1 {
        return None;
    }
    match o.get(BINARY_MARKER) {
        Some(Value::String(s)) => B64.decode(s).ok(),
        _ => None,
    }
}

/// Replaces every marker object by a placeholder, collecting the binaries in depth-first order.
pub fn from_markers(data: Value, out: &mut Vec<Vec<u8>>) -> Value {
    match data {
        Value::Array(a) => Value::Array(a.into_iter().map(|x| from_markers(x, out)).collect()),
        Value::Object(o) => match marker_bytes(&o) {
            Some(bin) => {
                let num = out.len();
                out.push(bin);
                serde_json::json!({"_placeholder": true, "num": num})
            }
            None => Value::Object(
                o.into_iter()
                    .map(|(k, v)| (k, from_markers(v, out)))
                    .collect(),
            ),
        },
        other => other,
    }
}

/// True when `data` holds at least one marker object.
pub fn has_markers(data: &Value) -> bool {
    match data {
        Value::Array(a) => a.iter().any(has_markers),
        Value::Object(o) => marker_bytes(o).is_some() || o.values().any(has_markers),
        _ => false,
    }
}

/// Splits a SIO4 CONNECT namespace `"/custom?token=abc"` into the namespace and its query
/// parameters (percent-decoded, `+` as space).
pub fn split_nsp_query(nsp: &str) -> (String, Map<String, Value>) {
    match nsp.split_once('?') {
        None => (nsp.to_owned(), Map::new()),
        Some((n, q)) => (n.to_owned(), parse_query(q)),
    }
}

/// Parses `a=1&b=x%20y` into a JSON object of strings (later keys win).
pub fn parse_query(q: &str) -> Map<String, Value> {
    let mut m = Map::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        m.insert(percent_decode(k), Value::String(percent_decode(v)));
    }
    m
}

/// Percent-decodes a query component (`+` is a space); invalid escapes stay literal.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
