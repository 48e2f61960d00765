//! The Socket.IO 0.9 wire (HIVE.md 3): neutral items to and from 0.9 messages, through the pure
//! codec (`codec::socketio`, `codec::batch`).
//!
//! - an [`Event`] is a type-5 message whose data is the event object (its text as received when
//!   there is one), with the ack as the id (`N` or `N+`) and the namespace as the endpoint;
//! - `send_message` / `send_json` are types 3 and 4 with the JSON data; an ack is type 6 with
//!   `<id>` or `<id><args json>`; connect, disconnect and noop are `1:::`, `0:::` and `8:::`;
//! - a raw publish is taken as a frame when it is a string, as an event when it has a name, and
//!   as a type-4 JSON message otherwise (fix of HIVE.md 16.4 #6);
//! - a poll is answered with every queued item framed `U+FFFD <len> U+FFFD`, lengths in UTF-16
//!   units as the 0.9 browser client counts them, even a single one (HIVE.md 3.7).

use std::sync::Arc;

use serde_json::Value;

use crate::error::HiveError;
use crate::events::{AckId, Event, In, Out};
use codec::batch::{LengthUnit, frame_into};
use codec::event::parse_external_event;
use codec::socketio::{Kind, Message, MsgId, encode as encode_msg};

/// `0:::`, the disconnect, as the transports answer a request for an unknown or ended session.
pub const DISCONNECT: &str = "0:::";
/// `8:::`, the noop (a poll that waited too long, a keep-alive).
pub const NOOP: &str = "8:::";
/// The error frame a WebSocket gets for a binary frame (0.9 has none).
pub const UNKNOWN_WS_FRAME: &str = "7:::Unknown WebSocket frame type!";

/// The 0.9 id of an ack.
pub fn msg_id(ack: Option<AckId>) -> MsgId {
    match ack {
        None => MsgId::None,
        Some(AckId {
            id,
            with_data: true,
        }) => MsgId::Client(id),
        Some(AckId { id, .. }) => MsgId::Server(id),
    }
}

/// The ack of a 0.9 id.
pub fn ack_id(id: MsgId) -> Option<AckId> {
    match id {
        MsgId::None => None,
        MsgId::Server(id) => Some(AckId {
            id,
            with_data: false,
        }),
        MsgId::Client(id) => Some(AckId {
            id,
            with_data: true,
        }),
    }
}

/// The 0.9 message of an event.
fn event_message(e: &Event) -> Message {
    let data = match &e.text {
        Some(t) => t.to_string(),
        None => e.object.to_string(),
    };
    Message::event(data)
        .with_id(msg_id(e.ack))
        .with_endpoint(e.namespace.as_ref())
}

/// One item as one 0.9 frame.
pub fn encode(item: &Out) -> Arc<str> {
    let m = match item {
        Out::Encoded(f) => return Arc::clone(f),
        Out::Raw(Value::String(s)) => return Arc::from(s.as_str()),
        Out::Raw(v) if v.get("name").is_some() => Message::event(v.to_string()),
        Out::Raw(v) => Message::with_data(Kind::Json, v.to_string()),
        Out::ConnectError(v) => {
            Message::event(serde_json::json!({"name": "hive_error", "args": [v]}).to_string())
        }
        Out::Connect => Message::connect(),
        Out::Disconnect => Message::disconnect(),
        Out::Noop => Message::noop(),
        Out::Event(e) => event_message(e),
        Out::Message { data, ack } => {
            Message::with_data(Kind::Message, data.to_string()).with_id(msg_id(*ack))
        }
        Out::Json { data, ack } => {
            Message::with_data(Kind::Json, data.to_string()).with_id(msg_id(*ack))
        }
        Out::Ack { id, args } => {
            let mut data = msg_id(Some(*id)).render();
            if let Some(a) = args {
                data.push_str(&a.to_string());
            }
            Message::with_data(Kind::Ack, data)
        }
    };
    Arc::from(encode_msg(&m))
}

/// The body answering one XHR poll: every item framed, lengths in UTF-16 units.
pub fn poll_body(items: &[Out]) -> String {
    let mut out = String::new();
    for i in items {
        frame_into(&mut out, &encode(i), LengthUnit::Utf16);
    }
    out
}

/// What a 0.9 message from a browser means to the session: type 5 is an event (its data parsed
/// and validated), 0 a disconnect, 2 a heartbeat; anything else is answered with an error.
pub fn incoming(m: Message) -> In {
    match m.kind {
        Kind::Event => match parse_external_event(&m.data) {
            Err(e) => In::Invalid(e.into()),
            Ok(ev) => In::Event(
                Event::with_text(ev.raw, m.data)
                    .with_ack(ack_id(m.id))
                    .in_namespace(m.endpoint),
            ),
        },
        Kind::Disconnect => In::Disconnect,
        Kind::Heartbeat => In::Heartbeat,
        _ => In::Invalid(HiveError::ClientError(format!(
            "Unhandled Hive Hooks Client external event: {}",
            encode_msg(&m)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_encode_as_before() {
        let ack = Some(AckId {
            id: 1,
            with_data: true,
        });
        assert_eq!(&*encode(&Out::Connect), "1:::");
        assert_eq!(&*encode(&Out::Disconnect), "0:::");
        assert_eq!(&*encode(&Out::Noop), "8:::");
        assert_eq!(
            &*encode(&Out::Json {
                data: json!({"a": 1}),
                ack
            }),
            "4:1+::{\"a\":1}"
        );
        assert_eq!(
            &*encode(&Out::Ack {
                id: AckId {
                    id: 3,
                    with_data: true
                },
                args: Some(json!(["x"]))
            }),
            "6:::3+[\"x\"]"
        );
        assert_eq!(&*encode(&Out::Raw(json!("2::"))), "2::");
        assert_eq!(&*encode(&Out::Raw(json!([1]))), "4:::[1]");
        assert_eq!(
            &*encode(&Out::Raw(json!({"name": "n"}))),
            "5:::{\"name\":\"n\"}"
        );
    }

    #[test]
    fn an_event_goes_back_byte_for_byte() {
        let text = "{ \"name\" : \"x\", \"args\": [1.50] }";
        let m = Message::event(text)
            .with_id(MsgId::Client(7))
            .with_endpoint("/chat");
        let want = encode_msg(&m);
        let In::Event(ev) = incoming(m) else {
            panic!("not an event")
        };
        assert_eq!(ev.name(), "x");
        assert_eq!(&*encode(&Out::Event(ev)), want);
    }

    #[test]
    fn poll_lengths_are_utf16_units() {
        let body = poll_body(&[Out::Encoded(Arc::from("5:::😀"))]);
        // "5:::" is 4 units, the emoji 2.
        assert_eq!(body, "\u{FFFD}6\u{FFFD}5:::😀");
    }
}
