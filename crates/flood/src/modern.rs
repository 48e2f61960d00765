//! The modern protocols for flood users (session key `protocol`: `sio5` = Socket.IO 5 over
//! Engine.IO 4, `sio4` = Socket.IO 4 over Engine.IO 3): a pure mapping between the packets the
//! interpreter works with (Socket.IO 0.9 [`Message`]s, so scenarios, `on_event` matching, acks and
//! round trips stay the same) and Socket.IO packets, plus the Engine.IO framing per transport.
//! Bytes are written and parsed by the shared codecs (`codec::eio`, `codec::sio`).
//!
//! | 0.9 message (script side) | Socket.IO packet |
//! |---|---|
//! | event `5:[id+]:nsp:{"name":n,"args":[a,b]}` | EVENT `2[nsp,][id][n,a,b]` |
//! | message `3` / JSON `4` | EVENT `["message", data]` |
//! | ack `6:::id+[args]` | ACK `3[nsp,]id[args]` |
//! | connect `1::nsp` (data: auth JSON) | CONNECT `0nsp,{auth}` |
//! | disconnect `0::nsp` | DISCONNECT `1nsp,` |
//! | error `7::nsp:<json>` (received only) | CONNECT_ERROR `4[nsp,]{...}` |
//!
//! Binary attachments are shown to scripts as `{"_hive_binary":"<base64>"}` markers, and markers
//! in emitted arguments become attachments. Heartbeats are Engine.IO packets and handled by the
//! user itself (answered in EIO4, sent every `pingInterval` in EIO3); scripts do not see them.

use codec::eio::{self, Packet as Eio, Revision};
use codec::sio::{self, Kind as SKind, Packet};
use codec::{Kind, Message, MsgId};
use serde_json::{Value, json};

use super::scenario::Protocol;

/// Attachments accepted per received packet (socket.io's default).
pub const MAX_ATTACHMENTS: usize = 10;

/// The Engine.IO revision of a modern protocol.
pub fn revision(p: Protocol) -> Revision {
    match p {
        Protocol::Sio4 => Revision::V3,
        _ => Revision::V4,
    }
}

/// The namespace of a 0.9 endpoint (`""` is `/`).
fn nsp(endpoint: &str) -> String {
    if endpoint.is_empty() {
        "/".to_owned()
    } else {
        endpoint.to_owned()
    }
}

/// The 0.9 endpoint of a namespace (`/` is `""`).
fn endpoint(nsp: &str) -> String {
    if nsp == "/" {
        String::new()
    } else {
        nsp.to_owned()
    }
}

/// The ack id a message asks for or answers (`N` or `N+`).
fn id_of(id: &MsgId) -> Option<u64> {
    match *id {
        MsgId::None => None,
        MsgId::Server(n) | MsgId::Client(n) => Some(n),
    }
}

/// An outgoing script message as a Socket.IO packet (binary markers become attachments); `None`
/// for what has no modern form (heartbeats, errors, no-ops).
pub fn to_sio(m: &Message) -> Option<Packet> {
    let ns = nsp(&m.endpoint);
    let mut p = match m.kind {
        Kind::Event => {
            let ev: Value = serde_json::from_str(&m.data).unwrap_or(Value::Null);
            let name = match ev.get("name") {
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => "undefined".to_owned(),
            };
            let args = match ev.get("args") {
                Some(Value::Array(a)) => a.clone(),
                None | Some(Value::Null) => Vec::new(),
                Some(v) => vec![v.clone()],
            };
            Packet::event(&ns, &name, args, id_of(&m.id))
        }
        Kind::Message => Packet::event(&ns, "message", vec![json!(m.data)], id_of(&m.id)),
        Kind::Json => {
            let v = serde_json::from_str(&m.data).unwrap_or_else(|_| json!(m.data));
            Packet::event(&ns, "message", vec![v], id_of(&m.id))
        }
        Kind::Ack => {
            let (id, args) = m.data.split_once('+').unwrap_or((m.data.as_str(), "[]"));
            let args = match serde_json::from_str(args) {
                Ok(Value::Array(a)) => a,
                Ok(v) => vec![v],
                Err(_) => Vec::new(),
            };
            let mut p = Packet::with_data(SKind::Ack, &ns, Value::Array(args));
            p.id = Some(id.trim().parse().ok()?);
            p
        }
        Kind::Connect => match serde_json::from_str::<Value>(&m.data) {
            Ok(auth @ Value::Object(_)) => Packet::with_data(SKind::Connect, &ns, auth),
            _ => Packet::new(SKind::Connect, &ns),
        },
        Kind::Disconnect => Packet::new(SKind::Disconnect, &ns),
        Kind::Heartbeat | Kind::Error | Kind::Noop => return None,
    };
    if let Some(d) = p.data.take() {
        let mut bins = Vec::new();
        let d = sio::from_markers(d, &mut bins);
        p.data = Some(d);
        p.attachments = bins;
    }
    Some(p)
}

/// A received Socket.IO packet as the script sees it (attachments as markers).
pub fn from_sio(p: Packet) -> Message {
    let data = p
        .data
        .map(|d| {
            if p.attachments.is_empty() {
                d
            } else {
                sio::to_markers(d, &p.attachments)
            }
        })
        .unwrap_or(Value::Null);
    let mut m = match p.kind {
        SKind::Connect => Message::with_data(Kind::Connect, text_or_empty(&data)),
        SKind::Disconnect => Message::new(Kind::Disconnect),
        SKind::ConnectError => Message::with_data(Kind::Error, data.to_string()),
        SKind::Ack => {
            let id = p.id.unwrap_or(0);
            Message::with_data(Kind::Ack, format!("{id}+{data}"))
        }
        SKind::Event => {
            let mut items = match data {
                Value::Array(a) => a,
                other => vec![other],
            };
            let name = if items.is_empty() {
                Value::Null
            } else {
                items.remove(0)
            };
            let name = match name {
                Value::String(s) => Value::String(s),
                Value::Null => json!("undefined"),
                other => Value::String(other.to_string()),
            };
            let mut m = Message::event(json!({"name": name, "args": items}).to_string());
            m.id = p.id.map_or(MsgId::None, MsgId::Client);
            m
        }
    };
    m.endpoint = endpoint(&p.nsp);
    m
}

fn text_or_empty(v: &Value) -> String {
    if v.is_null() {
        String::new()
    } else {
        v.to_string()
    }
}

/// The Engine.IO messages of one Socket.IO packet: its text, then each attachment.
pub fn to_eio(p: &Packet, out: &mut Vec<Eio>) {
    out.push(Eio::Message(sio::encode(p)));
    out.extend(p.attachments.iter().cloned().map(Eio::Binary));
}

/// A polling POST body of `packets` in `rev`'s payload format.
pub fn payload(rev: Revision, packets: &[Eio]) -> String {
    match rev {
        Revision::V4 => eio::encode_payload_v4(packets),
        Revision::V3 => eio::encode_payload_v3(packets),
    }
}

/// Decodes a polling GET body in `rev`'s payload format.
pub fn decode_body(rev: Revision, body: &str) -> eio::Decoded {
    match rev {
        Revision::V4 => eio::decode_payload_v4(body),
        Revision::V3 => eio::decode_payload_v3(body),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn wire(m: &Message) -> Vec<Eio> {
        let mut out = Vec::new();
        to_eio(&to_sio(m).unwrap(), &mut out);
        out
    }

    #[test]
    fn script_messages_become_socketio_packets() {
        let mut ev = Message::event(r#"{"name":"echo","args":["é€😀",{"a":[1]}]}"#);
        assert_eq!(
            wire(&ev),
            [Eio::Message(r#"2["echo","é€😀",{"a":[1]}]"#.into())]
        );
        ev.id = MsgId::Client(7);
        ev.endpoint = "/chat".into();
        assert_eq!(
            payload(Revision::V4, &wire(&ev)),
            r#"42/chat,7["echo","é€😀",{"a":[1]}]"#
        );
        let ack = Message::with_data(Kind::Ack, r#"12+["x"]"#);
        assert_eq!(wire(&ack), [Eio::Message(r#"312["x"]"#.into())]);
        let mut c = Message::with_data(Kind::Connect, r#"{"token":"abc"}"#);
        c.endpoint = "/admin".into();
        assert_eq!(
            wire(&c),
            [Eio::Message(r#"0/admin,{"token":"abc"}"#.into())]
        );
        assert_eq!(wire(&Message::connect()), [Eio::Message("0".into())]);
        assert_eq!(wire(&Message::disconnect()), [Eio::Message("1".into())]);
        assert_eq!(
            wire(&Message::with_data(Kind::Message, "hi")),
            [Eio::Message(r#"2["message","hi"]"#.into())]
        );
        assert!(to_sio(&Message::new(Kind::Heartbeat)).is_none());
        // A marker becomes an attachment.
        let bin = Message::event(r#"{"name":"up","args":[{"_hive_binary":"AQID"}]}"#);
        assert_eq!(
            wire(&bin),
            [
                Eio::Message(r#"51-["up",{"_placeholder":true,"num":0}]"#.into()),
                Eio::Binary(vec![1, 2, 3])
            ]
        );
        assert_eq!(
            payload(Revision::V3, &wire(&Message::event(r#"{"name":"€"}"#))),
            r#"7:42["€"]"#
        );
    }

    fn recv(text: &str) -> Message {
        let mut a = sio::Assembler::new(MAX_ATTACHMENTS);
        from_sio(a.push_text(text).unwrap().unwrap())
    }

    #[test]
    fn socketio_packets_become_script_messages() {
        let m = recv(r#"2["echo","é",1]"#);
        assert_eq!((m.kind, m.endpoint.as_str()), (Kind::Event, ""));
        let v: Value = serde_json::from_str(&m.data).unwrap();
        assert_eq!(v, json!({"name": "echo", "args": ["é", 1]}));
        let m = recv(r#"2/chat,5["x"]"#);
        assert_eq!((m.endpoint.as_str(), m.id), ("/chat", MsgId::Client(5)));
        let m = recv(r#"3456[1,"2"]"#);
        assert_eq!((m.kind, m.data.as_str()), (Kind::Ack, r#"456+[1,"2"]"#));
        let m = recv(r#"0{"sid":"abc"}"#);
        assert_eq!(
            (m.kind, m.data.as_str()),
            (Kind::Connect, r#"{"sid":"abc"}"#)
        );
        assert_eq!(recv("0/chat,").endpoint, "/chat");
        assert_eq!(recv("1").kind, Kind::Disconnect);
        let m = recv(r#"4{"message":"Invalid namespace"}"#);
        assert_eq!(
            (m.kind, m.data.as_str()),
            (Kind::Error, r#"{"message":"Invalid namespace"}"#)
        );
        let mut a = sio::Assembler::new(MAX_ATTACHMENTS);
        assert_eq!(
            a.push_text(r#"51-["b",{"_placeholder":true,"num":0}]"#),
            Ok(None)
        );
        let m = from_sio(a.push_binary(vec![1, 2, 3]).unwrap().unwrap());
        assert_eq!(m.data, r#"{"name":"b","args":[{"_hive_binary":"AQID"}]}"#);
    }

    #[test]
    fn polling_bodies_per_revision() {
        let d = decode_body(Revision::V4, "40{\"sid\":\"x\"}\x1e2");
        assert_eq!(
            d.packets,
            [
                Eio::Message("0{\"sid\":\"x\"}".into()),
                Eio::Ping(String::new())
            ]
        );
        let d = decode_body(Revision::V3, "2:401:3");
        assert_eq!(
            d.packets,
            [Eio::Message("0".into()), Eio::Pong(String::new())]
        );
        assert!(d.error.is_none());
    }
}
