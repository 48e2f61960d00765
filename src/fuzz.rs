//! Fuzz entry points: every parser Hive runs on bytes it did not write, each behind one
//! `fn(&[u8])` (the Socket.IO 0.9 codec, the modern protocol's `codec::eio`/`codec::sio`, WebSocket
//! frames, the TCP connector framing, the API and the configuration), with valid seed inputs for mutation. The property tests (`tests/fuzz.rs`), the
//! counting-allocator check (`tests/fuzz_alloc.rs`) and the long run (`cargo bench --bench fuzz`)
//! all drive this table, so a new decoder is fuzzed everywhere by adding one row.
//!
//! A target must never panic and must allocate in proportion to its input: it decodes with the
//! limits Hive runs with, and where a decoder is fed from a stream it is fed the input in chunks
//! whose sizes come from the input itself.

use codec::ws::{Decoder, Role};

use crate::api::routes::{parse_cids, parse_external, parse_internal, parse_route};
use crate::connectors::tcp_frame;

/// One fuzz target.
#[derive(Clone, Copy)]
pub struct Target {
    /// Its name in test output.
    pub name: &'static str,
    /// Run the parser on the input; must not panic.
    pub run: fn(&[u8]),
    /// Valid inputs to mutate.
    pub seeds: &'static [&'static [u8]],
}

/// Message limit of the WebSocket targets (the transport's default is 1 MiB; a smaller one makes
/// the "too big" paths reachable).
const WS_MAX: usize = 64 * 1024;

/// Binary attachments a Socket.IO packet may announce (`socketio.max_attachments`' default).
const SIO_ATTACHMENTS: usize = 10;

/// Every target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "sio09_frame",
        run: sio09_frame,
        seeds: &[
            b"5:::{\"name\":\"ping\",\"args\":[1]}",
            b"6:::12+[\"ok\"]",
            b"3:1+:/chat:hello",
            b"0::",
            b"8::",
            b"7:::1+0",
        ],
    },
    Target {
        name: "sio09_batch",
        run: sio09_batch,
        seeds: &[
            "\u{FFFD}3\u{FFFD}0::\u{FFFD}29\u{FFFD}5:::{\"name\":\"x\",\"args\":[]}".as_bytes(),
            "\u{FFFD}4\u{FFFD}3:::é".as_bytes(),
        ],
    },
    Target {
        name: "sio09_event_json",
        run: sio09_event_json,
        seeds: &[
            b"{\"name\":\"msg\",\"args\":[{\"a\":1}]}",
            b"[{\"action\":\"send_event\",\"args\":{\"name\":\"x\",\"args\":[]}}]",
            b"12+[\"a\",2]",
        ],
    },
    Target {
        name: "sio09_handshake",
        run: sio09_handshake,
        seeds: &[b"4d4f185e96a7b:15:25:websocket,flashsocket,xhr-polling"],
    },
    Target {
        name: "ws_server_frames",
        run: ws_server_frames,
        seeds: &[
            // A masked "Hello" (RFC 6455 5.7), a masked ping, and a fragmented text.
            &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58],
            &[0x89, 0x80, 1, 2, 3, 4],
            &[
                0x01, 0x81, 1, 2, 3, 4, b'a' ^ 1, 0x80, 0x81, 1, 2, 3, 4, b'b' ^ 1,
            ],
            &[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8],
        ],
    },
    Target {
        name: "ws_client_frames",
        run: ws_client_frames,
        seeds: &[
            &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
            &[0x82, 0x7E, 0x00, 0x80],
            &[0x88, 0x02, 0x03, 0xE8],
        ],
    },
    Target {
        name: "eio_packets",
        run: eio_packets,
        seeds: &[
            b"4hello",
            b"2probe",
            b"0{\"sid\":\"abc\",\"upgrades\":[\"websocket\"],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}",
            b"bAQID",
            b"4a\x1e4b\x1ebAQID",
            b"6:4hello2:2x",
            b"\x00\x05\xff4abcd\x01\x04\xff\x01\x02\x03",
        ],
    },
    Target {
        name: "sio_packets",
        run: sio_packets,
        seeds: &[
            b"2[\"msg\",{\"a\":1}]",
            b"2/chat,12[\"x\"]",
            b"51-/chat,[\"bin\",{\"_placeholder\":true,\"num\":0}]",
            b"3/chat,7[\"ok\"]",
            b"0/chat,{\"token\":\"t\"}",
            b"4{\"message\":\"nope\"}",
        ],
    },
    Target {
        name: "tcp_connector_frames",
        run: tcp_connector_frames,
        seeds: &[
            "\u{FFFD}16\u{FFFD}3::/reply:{\"a\":1}".as_bytes(),
            "\u{FFFD}4\u{FFFD}3::/\u{FFFD}9\u{FFFD}3::/x:abc".as_bytes(),
        ],
    },
    Target {
        name: "api_body",
        run: api_body,
        seeds: &[
            b"[\"rooms.main\",\"rooms.side\"]",
            b"{\"name\":\"news\",\"args\":[\"hi\"]}",
            b"[{\"action\":\"send_event\",\"args\":{\"name\":\"x\",\"args\":[]}},{\"action\":\"stop\",\"args\":null}]",
            b"/api/abcde12345/pubsub/publish/rooms.main",
        ],
    },
    Target {
        name: "config",
        run: config,
        seeds: &[include_bytes!("../config/test.json")],
    },
];

/// The input as text (lossy), as a transport that checked nothing yet would see it.
fn text(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// Chunk sizes for streaming targets, taken from the input: 1 to 256 bytes, cycling.
fn chunks(b: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = b;
    let mut i = 0usize;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = (usize::from(b.get(i % b.len()).copied().unwrap_or(0)) + 1).min(rest.len());
        i += 1;
        let (now, later) = rest.split_at(n);
        rest = later;
        Some(now)
    })
}

fn sio09_frame(b: &[u8]) {
    let _ = codec::decode(&text(b));
}

fn sio09_batch(b: &[u8]) {
    let t = text(b);
    let _ = codec::decode_payload(&t, None);
    let _ = codec::split_payload(&t, Some(codec::LengthUnit::Bytes));
    let _ = codec::read_length(&t);
    // The streaming reader, over the raw bytes.
    let mut at = 0;
    while let Ok(Some((_, used))) = codec::decode_frame_bytes(b.get(at..).unwrap_or_default()) {
        if used == 0 {
            break;
        }
        at += used;
    }
}

fn sio09_event_json(b: &[u8]) {
    let t = text(b);
    let _ = codec::parse_external_event(&t);
    let _ = codec::parse_internal_events(&t);
    let _ = codec::parse_ack_data(&t);
}

fn sio09_handshake(b: &[u8]) {
    let _ = codec::parse_handshake(&text(b));
}

fn ws_frames(role: Role, b: &[u8]) {
    let mut d = Decoder::new(role, WS_MAX);
    for c in chunks(b) {
        if d.feed(c).is_err() {
            return;
        }
    }
}

fn ws_server_frames(b: &[u8]) {
    ws_frames(Role::Server, b);
}

fn ws_client_frames(b: &[u8]) {
    ws_frames(Role::Client, b);
}

/// Engine.IO 4 and 3: one packet (WebSocket and polling), the open packet, polling payloads
/// (text in both revisions, EIO3's binary payload) and WebSocket binary frames.
fn eio_packets(b: &[u8]) {
    use codec::eio::{self, Revision};
    let t = text(b);
    for rev in [Revision::V3, Revision::V4] {
        let _ = eio::decode_packet(&t, rev, false);
        let _ = eio::decode_packet(&t, rev, true);
        let _ = eio::decode_ws_binary(rev, b);
    }
    let _ = eio::OpenInfo::parse(&t);
    let _ = eio::decode_payload_v4(&t);
    let _ = eio::decode_payload_v3(&t);
    let _ = eio::decode_binary_payload_v3(b);
}

/// Socket.IO 5/4 packets, and the assembler of binary packets fed text then binary messages
/// (their split taken from the input).
fn sio_packets(b: &[u8]) {
    use codec::sio;
    let t = text(b);
    let _ = sio::decode(&t, SIO_ATTACHMENTS);
    let mut a = sio::Assembler::new(SIO_ATTACHMENTS);
    let mut parts = chunks(b);
    if let Some(first) = parts.next()
        && a.push_text(&text(first)).is_ok()
    {
        for p in parts {
            if a.push_binary(p.to_vec()).is_err() {
                return;
            }
        }
    }
}

fn tcp_connector_frames(b: &[u8]) {
    // The worker's loop: a buffer filled read by read, decoded until it needs more bytes.
    let mut buf = Vec::new();
    for c in chunks(b) {
        buf.extend_from_slice(c);
        loop {
            match tcp_frame::decode(&buf) {
                Ok(Some((_, used))) if used > 0 => {
                    buf.drain(..used);
                }
                Ok(_) => break,
                Err(_) => return,
            }
        }
    }
}

fn api_body(b: &[u8]) {
    let _ = parse_route(&text(b));
    let _ = parse_internal(b);
    let _ = parse_external(b);
    let _ = parse_cids(b);
}

fn config(b: &[u8]) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(b) else {
        return;
    };
    let _ = crate::config::from_value(v);
}
