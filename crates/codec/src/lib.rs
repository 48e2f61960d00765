//! `codec`: Hive's pure wire codecs: no tokio, no sockets, no actors.
//!
//! This crate owns every byte format Hive speaks and nothing else: the Socket.IO 0.9 frames,
//! batches and handshake, the event JSON carried inside them, and one RFC 6455 WebSocket frame
//! codec for both roles ([`ws`]), used by the server's transport, by the `flood` load tester and by
//! the tests. It depends on serde, serde_json and thiserror only. "Need more bytes" is a value,
//! never an error, and every decoder returns an error instead of panicking on any input.
//!
//! # Layers
//! Each layer only depends on the ones above it, and none does IO:
//! - [`socketio`]: one frame, `type:id:endpoint:data` ([`Message`], [`encode`], [`decode`],
//!   [`DecodeError`]).
//! - [`batch`]: the U+FFFD multi-frame framing of XHR-polling bodies and the TCP connector,
//!   with explicit length units on output and auto-detection on input; [`batch::decode_frame_bytes`]
//!   is the streaming (need-more-bytes-is-a-value) reader for byte streams.
//! - [`handshake`]: the `sid:heartbeat:close:transports` body.
//! - [`event`]: the JSON carried inside frames: external events, internal events, ACK data.
//! - [`eio`]: Engine.IO revisions 4 and 3 (the modern protocol's transport layer): packets,
//!   `\x1e` and length-prefixed polling payloads, EIO3 binary payloads, WebSocket binary frames,
//!   the open packet and the request error bodies.
//! - [`sio`]: Socket.IO protocols 5 and 4 packets on top of [`eio`] messages: namespaces, ack
//!   ids, CONNECT/CONNECT_ERROR, binary attachments ([`sio::Assembler`]) and Hive's
//!   `{"_hive_binary":…}` JSON form of binaries.
//! - [`ws`]: RFC 6455 WebSocket frames in both roles: header checks, masking, fragment
//!   reassembly, close payloads and encoding; every error maps to a close code. Independent of
//!   the layers above (a 0.9 frame is one text message).
//!
//! Everything wire-format specific lives in `socketio`, `batch` and `handshake`; `event` is
//! wire-independent; [`eio`] and [`sio`] are the modern protocol's codecs beside them, and the
//! transports pick a codec per connection.
//!
//! # Example
//! ```
//! use codec::{LengthUnit, Message, decode, decode_payload, encode, encode_batch};
//!
//! let ev = Message::event(r#"{"name":"ping","args":[]}"#);
//! assert_eq!(encode(&ev), r#"5:::{"name":"ping","args":[]}"#);
//! assert_eq!(decode("8:::").unwrap(), Message::noop());
//! let body = encode_batch(&[ev.clone(), Message::noop()], LengthUnit::Utf16);
//! assert_eq!(decode_payload(&body, None).unwrap(), vec![ev, Message::noop()]);
//! ```

pub mod batch;
pub mod eio;
pub mod event;
pub mod handshake;
pub mod sio;
pub mod socketio;
pub mod ws;

pub use batch::{
    LengthUnit, decode_frame_bytes, decode_payload, encode_batch, encode_frames, frame_bytes,
    frame_into, read_length, split_payload,
};
pub use event::{
    EventError, ExternalEvent, InternalEvent, ack_data, id_from_trigger, internal_event_from_value,
    parse_ack_data, parse_external_event, parse_internal_events, validate_external_event,
};
pub use handshake::{Handshake, handshake_body, parse_handshake};
pub use socketio::{DecodeError, Kind, Message, MsgId, decode, encode, encode_into};
