//! The modern Socket.IO wire (protocol 5 over Engine.IO 4, protocol 4 over Engine.IO 3): neutral
//! items of one namespace socket to and from Socket.IO packets, through the pure codecs
//! (`codec::sio`, `codec::eio`).
//!
//! A frame of this wire is what the Engine.IO session (`transport::eio`) queues for its client:
//! Engine.IO packets in their EIO4 polling spelling, joined by `\x1e` when there are several (a
//! binary event is its text packet followed by its attachments, `451-[…]\x1ebAQID`). A text-only
//! item is one packet such as `42["x",1]`, sent as it is on an EIO4 WebSocket or poll; the
//! session re-frames it for EIO3. Socket.IO protocols 4 and 5 spell every shared item alike, so
//! one wire per namespace serves both revisions; the per-socket packets that differ (the CONNECT
//! answer, CONNECT_ERROR) are completed by the session, which knows the revision and the socket
//! id.
//!
//! - an [`Event`] is EVENT `[name, ...args]` (non-array args are one argument); the id of an ack
//!   the client asked for is never sent back on an event (an echo is not an ack request);
//!   `{"_hive_binary": "<base64>"}` markers in the args become attachments (BINARY_EVENT);
//! - `send_message` / `send_json` are the event `message`; an ack is ACK (BINARY_ACK with
//!   markers) with args as an array; connect / disconnect are CONNECT / DISCONNECT of the
//!   namespace; a noop is nothing (the empty frame, skipped by the session);
//! - a raw publish that is an event object is an event; any other raw value cannot be spelled on
//!   this wire and is dropped with a warning.

use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

use crate::events::{AckId, Event, In, Out};
use codec::sio::{self, Kind, Packet};

/// One namespace of the modern wire: its name and its slot in shared encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nsp {
    name: &'static str,
    index: u8,
}

/// Most distinct namespaces a node interns (configuration bounds them; more share no cache).
const MAX_NAMESPACES: usize = 255;

fn interned() -> &'static Mutex<Vec<&'static str>> {
    static NAMES: OnceLock<Mutex<Vec<&'static str>>> = OnceLock::new();
    NAMES.get_or_init(|| Mutex::new(vec!["/"]))
}

impl Nsp {
    /// The namespace `name` (`/` is the default one). Names are interned once per process (the
    /// configured namespaces: a handful of strings), so a [`super::Wire`] stays `Copy`.
    pub fn named(name: &str) -> Nsp {
        let mut names = interned().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = names.iter().position(|n| *n == name) {
            return Nsp {
                name: names[i],
                index: u8::try_from(i).unwrap_or(u8::MAX),
            };
        }
        if names.len() >= MAX_NAMESPACES {
            return Nsp {
                name: "/",
                index: 0,
            };
        }
        let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
        names.push(leaked);
        Nsp {
            name: leaked,
            index: u8::try_from(names.len() - 1).unwrap_or(u8::MAX),
        }
    }

    /// The default namespace `/`.
    pub fn root() -> Nsp {
        Nsp::named("/")
    }

    /// The name.
    pub fn name(self) -> &'static str {
        self.name
    }

    /// The interning index (0 for `/`).
    pub fn index(self) -> usize {
        usize::from(self.index)
    }
}

/// A packet as this wire's frame: its text, then its attachments, joined by `\x1e`.
pub fn frame(p: &Packet) -> String {
    let mut out = String::from("4");
    out.push_str(&sio::encode(p));
    for a in &p.attachments {
        out.push('\x1e');
        codec::eio::Packet::Binary(a.clone()).encode_text_into(codec::eio::Revision::V4, &mut out);
    }
    out
}

/// `args` as an argument list: an array as it is, null as none, anything else as one argument.
fn arg_list(args: Option<&Value>) -> Vec<Value> {
    match args {
        Some(Value::Array(a)) => a.clone(),
        None | Some(Value::Null) => Vec::new(),
        Some(v) => vec![v.clone()],
    }
}

/// An EVENT or ACK whose `data` may hold binary markers: BINARY_EVENT/BINARY_ACK when it does.
fn with_binaries(mut p: Packet) -> Packet {
    if let Some(d) = p.data.take() {
        if sio::has_markers(&d) {
            let mut bins = Vec::new();
            p.data = Some(sio::from_markers(d, &mut bins));
            p.attachments = bins;
        } else {
            p.data = Some(d);
        }
    }
    p
}

fn event_packet(nsp: &str, e: &Event) -> Option<Packet> {
    let name = e.object.get("name")?.as_str()?;
    let mut arr = vec![Value::String(name.to_owned())];
    arr.extend(arg_list(e.object.get("args")));
    // A server-side ack request (`with_data` false) keeps its id; a client's id is never echoed.
    let id = e.ack.filter(|a| !a.with_data).map(|a| a.id);
    Some(with_binaries(Packet {
        id,
        ..Packet::with_data(Kind::Event, nsp, Value::Array(arr))
    }))
}

/// An event without binary markers as its frame, written straight from the event's object (no
/// packet or copy of its arguments is built); `None` for the other events, which go through
/// [`event_packet`].
fn event_frame(nsp: &str, e: &Event) -> Option<Arc<str>> {
    let name = e.object.get("name")?.as_str()?;
    let args = match e.object.get("args") {
        Some(Value::Array(a)) => a.as_slice(),
        None | Some(Value::Null) => &[],
        Some(v) => std::slice::from_ref(v),
    };
    if args.iter().any(sio::has_markers) {
        return None;
    }
    let id = e.ack.filter(|a| !a.with_data).map(|a| a.id);
    let mut out = Vec::with_capacity(16 + name.len() + 16 * args.len());
    out.push(b'4');
    sio::encode_event_into(&mut out, nsp, id, name, args);
    std::str::from_utf8(&out).ok().map(Arc::from)
}

fn message_event(nsp: &str, data: &Value) -> Packet {
    Packet::event(nsp, "message", vec![data.clone()], None)
}

/// One item as one frame of namespace `nsp` (empty: nothing to send).
pub fn encode(nsp: Nsp, item: &Out) -> Arc<str> {
    let n = nsp.name;
    let p = match item {
        Out::Encoded(f) => return Arc::clone(f),
        Out::Noop => return Arc::from(""),
        Out::Connect => Packet::new(Kind::Connect, n),
        Out::Disconnect => Packet::new(Kind::Disconnect, n),
        Out::ConnectError(v) => Packet::with_data(Kind::ConnectError, n, v.clone()),
        Out::Event(e) => match event_frame(n, e) {
            Some(f) => return f,
            None => match event_packet(n, e) {
                Some(p) => p,
                None => return Arc::from(""),
            },
        },
        Out::Raw(v) if v.get("name").and_then(Value::as_str).is_some() => {
            match event_packet(n, &Event::new(v.clone())) {
                Some(p) => p,
                None => return Arc::from(""),
            }
        }
        Out::Raw(v) => {
            tracing::warn!(value = %v, "a raw publish that is not an event object cannot be sent to a modern client; dropped");
            return Arc::from("");
        }
        Out::Message { data, .. } | Out::Json { data, .. } => with_binaries(message_event(n, data)),
        Out::Ack { id, args } => with_binaries(Packet {
            id: Some(id.id),
            ..Packet::with_data(Kind::Ack, n, Value::Array(arg_list(args.as_ref())))
        }),
    };
    Arc::from(frame(&p))
}

/// What a complete Socket.IO EVENT of a namespace socket means to its session: an event whose
/// object is `{"name": <name>, "args": [...]}` with binaries as markers, the client's ack id (an
/// id that wants data, like 0.9's `N+`, so `trigger_id` is `"<id>+"` and a backend's
/// `send_ack` works unchanged), and the namespace. A numeric event name becomes its decimal string.
pub fn incoming_event(p: Packet) -> In {
    let Some(Value::Array(mut arr)) = p.data else {
        return In::Invalid(crate::error::HiveError::ClientError(
            "Socket.IO event without arguments".into(),
        ));
    };
    if arr.is_empty() {
        return In::Invalid(crate::error::HiveError::ClientError(
            "Socket.IO event without a name".into(),
        ));
    }
    let name = match arr.remove(0) {
        Value::String(s) => s,
        other => other.to_string(),
    };
    let args = sio::to_markers(Value::Array(arr), &p.attachments);
    let mut object = serde_json::Map::new();
    object.insert("name".into(), Value::String(name));
    object.insert("args".into(), args);
    let ack = p.id.map(|id| AckId {
        id,
        with_data: true,
    });
    // The default namespace is the empty name, shared (no allocation per event).
    let ns: Arc<str> = if p.nsp == "/" {
        Arc::default()
    } else {
        Arc::from(p.nsp)
    };
    In::Event(
        Event::new(Value::Object(object))
            .with_ack(ack)
            .in_namespace(ns),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(v: Value, ack: Option<AckId>) -> Out {
        Out::Event(Event::new(v).with_ack(ack))
    }

    #[test]
    fn items_as_frames() {
        let root = Nsp::root();
        let custom = Nsp::named("/custom");
        assert_eq!(Nsp::named("/custom"), custom);
        assert_eq!(&*encode(root, &Out::Connect), "40");
        assert_eq!(&*encode(custom, &Out::Connect), "40/custom,");
        assert_eq!(&*encode(custom, &Out::Disconnect), "41/custom,");
        assert_eq!(&*encode(root, &Out::Noop), "");
        assert_eq!(
            &*encode(root, &ev(json!({"name":"auth","args":[{}]}), None)),
            r#"42["auth",{}]"#
        );
        let client_ack = Some(AckId {
            id: 5,
            with_data: true,
        });
        assert_eq!(
            &*encode(custom, &ev(json!({"name":"m","args":[1,"2"]}), client_ack)),
            r#"42/custom,["m",1,"2"]"#
        );
        assert_eq!(
            &*encode(
                root,
                &Out::Ack {
                    id: AckId {
                        id: 456,
                        with_data: true
                    },
                    args: Some(json!([1, "2", {"3": [false]}]))
                }
            ),
            r#"43456[1,"2",{"3":[false]}]"#
        );
        assert_eq!(
            &*encode(
                root,
                &ev(
                    json!({"name":"message-back","args":[{"_hive_binary":"AQID"}]}),
                    None
                )
            ),
            "451-[\"message-back\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID"
        );
        assert_eq!(
            &*encode(
                root,
                &Out::Json {
                    data: json!({"a": 1}),
                    ack: None
                }
            ),
            r#"42["message",{"a":1}]"#
        );
        assert_eq!(&*encode(root, &Out::Raw(json!("5:::{}"))), "");
        assert_eq!(
            &*encode(root, &Out::ConnectError(json!({"message": "no"}))),
            r#"44{"message":"no"}"#
        );
    }

    #[test]
    fn a_publish_is_encoded_once_per_wire() {
        use crate::pubsub::Published;
        use crate::wire::Wire;
        let p = Published::new(vec![ev(json!({"name":"news","args":[1]}), None)]);
        let (old, root, chat) = (
            Wire::Sio09,
            Wire::Modern(Nsp::root()),
            Wire::Modern(Nsp::named("/chat")),
        );
        for _ in 0..3 {
            assert_eq!(&*p.encoded(&old)[0], r#"5:::{"name":"news","args":[1]}"#);
            assert_eq!(&*p.encoded(&root)[0], r#"42["news",1]"#);
            assert_eq!(&*p.encoded(&chat)[0], r#"42/chat,["news",1]"#);
        }
        assert_eq!(p.encodes(), 3);
    }

    #[test]
    fn events_in() {
        let d = sio::decode(r#"2/custom,7["m",1]"#, 10).unwrap().packet;
        let In::Event(e) = incoming_event(d) else {
            panic!("not an event")
        };
        assert_eq!(e.object, json!({"name":"m","args":[1]}));
        assert_eq!(&*e.namespace, "/custom");
        assert_eq!(e.ack.map(|a| a.id), Some(7));
        let mut a = sio::Assembler::new(10);
        a.push_text(r#"51-["b",{"_placeholder":true,"num":0}]"#)
            .unwrap();
        let p = a.push_binary(vec![1, 2, 3]).unwrap().unwrap();
        let In::Event(e) = incoming_event(p) else {
            panic!("not an event")
        };
        assert_eq!(
            e.object,
            json!({"name":"b","args":[{"_hive_binary":"AQID"}]})
        );
    }
}
