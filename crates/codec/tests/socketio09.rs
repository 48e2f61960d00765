//! Wire-level tests of the Socket.IO 0.9 codec: HIVE.md 3.8 vectors as raw bytes (so a symmetric
//! encode/decode bug cannot hide), the TCP framing of HIVE.md 6.6, and cross-checks against the
//! real Socket.IO 0.9.16 JavaScript client parser (npm `socket.io-client`, run with node).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::process::{Command, Stdio};

use codec::batch::decode_frame_bytes_max;
use codec::{
    DecodeError, Kind, LengthUnit, Message, MsgId, decode, decode_frame_bytes, decode_payload,
    encode, encode_batch, encode_frames, frame_bytes, handshake_body, parse_ack_data,
    parse_handshake, read_length, split_payload,
};
use serde_json::{Value, json};

/// U+FFFD as raw UTF-8 bytes.
const M: &[u8] = b"\xEF\xBF\xBD";

/// Builds a payload from pieces where `None` stands for the marker bytes.
fn raw(pieces: &[Option<&str>]) -> String {
    let mut b = Vec::new();
    for p in pieces {
        match p {
            None => b.extend_from_slice(M),
            Some(s) => b.extend_from_slice(s.as_bytes()),
        }
    }
    String::from_utf8(b).unwrap()
}

/// HIVE.md 3.8 "Encoding batches", compared with hand-built bytes.
#[test]
fn batch_vectors_raw_bytes() {
    let noop2 = raw(&[
        None,
        Some("4"),
        None,
        Some("8:::"),
        None,
        Some("4"),
        None,
        Some("8:::"),
    ]);
    let l = [Message::noop(), Message::noop()];
    assert_eq!(encode_batch(&l, LengthUnit::Bytes), noop2);
    assert_eq!(encode_batch(&l, LengthUnit::Utf16), noop2);
    let three = [
        Message::disconnect(),
        Message::connect(),
        Message::new(Kind::Heartbeat),
    ];
    let want = raw(&[
        None,
        Some("4"),
        None,
        Some("0:::"),
        None,
        Some("4"),
        None,
        Some("1:::"),
        None,
        Some("4"),
        None,
        Some("2:::"),
    ]);
    assert_eq!(encode_batch(&three, LengthUnit::Bytes), want);
    assert_eq!(split_payload(&noop2, None).unwrap(), ["8:::", "8:::"]);
    assert_eq!(
        read_length(&raw(&[None, Some("4"), None, Some("toooo long")])),
        Ok(4)
    );
    // `◊5◊a◊b`: the length counts bytes, 1 + 3 + 1 = 5.
    let ab = raw(&[None, Some("5"), None, Some("a"), None, Some("b")]);
    let inner = raw(&[Some("a"), None, Some("b")]);
    assert_eq!(split_payload(&ab, None).unwrap(), [inner.as_str()]);
    let foobar = raw(&[None, Some("3"), None, Some("foobar")]);
    assert_eq!(split_payload(&foobar, None).unwrap(), ["foo", "bar"]);
}

/// HIVE.md 3.8 "Decoding" through the "maybe batch" decoder, plus malformed frames.
#[test]
fn decode_vectors_and_errors() {
    let conn = |id| Message {
        kind: Kind::Connect,
        id,
        endpoint: "3".into(),
        data: "4".into(),
    };
    let cases = [
        ("8:::", Message::noop()),
        ("8::", Message::noop()),
        ("7:::herped-derped", Message::error("herped-derped")),
        ("1:2:3:4", conn(MsgId::Server(2))),
        ("1:2+:3:4", conn(MsgId::Client(2))),
    ];
    for (input, want) in cases {
        assert_eq!(decode(input).as_ref(), Ok(&want), "{input}");
        assert_eq!(decode_payload(input, None), Ok(vec![want]), "{input}");
    }
    assert_eq!(decode(""), Err(DecodeError::EmptyFrame));
    assert!(matches!(decode("hello"), Err(DecodeError::NoSeparator(_))));
    assert!(matches!(decode("9:::"), Err(DecodeError::BadType(_))));
    assert!(matches!(decode("x:::"), Err(DecodeError::BadType(_))));
}

/// HIVE.md 6.6: `3::/x:{}` is 8 bytes, so the frame is `◊8◊3::/x:{}`; streaming reads.
#[test]
fn tcp_framing_byte_lengths() {
    let msg = encode(&Message::with_data(Kind::Message, "{}").with_endpoint("/x"));
    assert_eq!(msg, "3::/x:{}");
    let frame = frame_bytes(&msg);
    assert_eq!(frame, [M, b"8", M, b"3::/x:{}"].concat());
    let emoji = frame_bytes("3::/e:\"😀\"");
    // `3::/e:` 6 bytes, two quotes, and 4 for the emoji.
    assert_eq!(&emoji[3..5], b"12");
    let stream = [frame.clone(), emoji.clone()].concat();
    let (first, used) = decode_frame_bytes(&stream).unwrap().unwrap();
    assert_eq!((first.as_str(), used), ("3::/x:{}", frame.len()));
    let (second, used2) = decode_frame_bytes(&stream[used..]).unwrap().unwrap();
    assert_eq!(
        (second.as_str(), used + used2),
        ("3::/e:\"😀\"", stream.len())
    );
    assert_eq!(decode(&second).unwrap().endpoint, "/e");
    // Byte by byte: incomplete until the last byte of the emoji arrives.
    for n in 0..emoji.len() {
        assert_eq!(decode_frame_bytes(&emoji[..n]), Ok(None));
    }
    assert_eq!(
        decode_frame_bytes_max(&emoji, 11),
        Err(DecodeError::TooLarge { limit: 11 })
    );
    assert!(decode_frame_bytes(b"3::/x:{}").is_err());
}

#[test]
fn handshake_body_for_the_simple_chat_config() {
    let sid = "3c9f".repeat(10);
    let transports: Vec<String> = ["websocket", "flashsocket", "xhr-polling"]
        .map(String::from)
        .to_vec();
    let body = handshake_body(&sid, 15000, 120000, &transports);
    assert_eq!(
        body,
        format!("{sid}:17:120:websocket,flashsocket,xhr-polling")
    );
    let h = parse_handshake(&body).unwrap();
    assert_eq!((h.heartbeat_secs, h.close_secs), (17, 120));
    assert_eq!(h.sid, sid);
}

/// Runs `script` with node; `P` is the real socket.io-client 0.9.16 parser. `input` is written
/// to stdin as one JSON value, the script prints one JSON value.
fn node(script: &str, input: &Value) -> Value {
    let dist = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../node_modules/socket.io-client/dist/socket.io.js"
    );
    let prelude = format!(
        "const P = require({dist:?}).parser; let s = ''; process.stdin.on('data', d => s += d);\
         process.stdin.on('end', () => {{ const input = JSON.parse(s); {script} }});"
    );
    let mut child = Command::new("node")
        .arg("-e")
        .arg(prelude)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node must be installed (socket.io-client cross-checks)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn sample_batch() -> Vec<Message> {
    vec![
        Message::event(r#"{"name":"x","args":["zażółć 😀"]}"#),
        Message::with_data(Kind::Ack, "1+[\"pong ✓\"]"),
        Message::with_data(Kind::Message, "\"😀😀\"").with_id(MsgId::Server(3)),
        Message::noop(),
    ]
}

/// The real 0.9 JS client splits our UTF-16 batches correctly (HIVE.md 3.7 recommendation) and
/// mis-splits byte-length batches with non-ASCII text (the original's bug, HIVE.md 16.2 item 1).
#[test]
fn js_client_decodes_utf16_batches() {
    let script = "console.log(JSON.stringify(P.decodePayload(input)));";
    let utf16 = node(
        script,
        &json!(encode_batch(&sample_batch(), LengthUnit::Utf16)),
    );
    assert_eq!(
        utf16,
        json!([
            {"type": "event", "endpoint": "", "name": "x", "args": ["zażółć 😀"]},
            {"type": "ack", "endpoint": "", "ackId": "1", "args": ["pong ✓"]},
            {"type": "message", "endpoint": "", "id": "3", "ack": true, "data": "\"😀😀\""},
            {"type": "noop", "endpoint": ""}
        ])
    );
    let bytes = node(
        script,
        &json!(encode_batch(&sample_batch(), LengthUnit::Bytes)),
    );
    assert_ne!(bytes, utf16, "byte lengths must confuse the JS client");
}

/// Payloads the JS client builds (UTF-16 lengths, a single packet unframed) decode in auto mode.
#[test]
fn js_client_payloads_decode_in_auto_mode() {
    let script = "console.log(JSON.stringify(P.encodePayload(input.map(P.encodePacket))));";
    let packets = json!([
        {"type": "event", "name": "say", "args": ["zażółć 😀"], "id": "7", "ack": "data"},
        {"type": "event", "name": "noargs"},
        {"type": "disconnect"}
    ]);
    let payload = node(script, &packets);
    let payload = payload.as_str().unwrap();
    let msgs = decode_payload(payload, None).unwrap();
    assert_eq!(
        msgs,
        decode_payload(payload, Some(LengthUnit::Utf16)).unwrap()
    );
    assert_eq!(msgs.len(), 3);
    assert_eq!((msgs[0].kind, msgs[0].id), (Kind::Event, MsgId::Client(7)));
    let ev = codec::parse_external_event(&msgs[0].data).unwrap();
    assert_eq!((ev.name.as_str(), &ev.args), ("say", &json!(["zażółć 😀"])));
    // `socket.emit("noargs")` has no args: accepted (HIVE.md 16.2 item 11 fixed).
    let ev = codec::parse_external_event(&msgs[1].data).unwrap();
    assert_eq!((ev.name.as_str(), &ev.args), ("noargs", &Value::Null));
    assert_eq!(msgs[2].kind, Kind::Disconnect);
    // A single packet is sent unframed.
    let one = node(
        script,
        &json!([{"type": "event", "name": "a", "args": [1]}]),
    );
    assert_eq!(
        decode_payload(one.as_str().unwrap(), None).unwrap(),
        [Message::event(r#"{"name":"a","args":[1]}"#)]
    );
    // An ACK as the client sends it: `6:::<id>+<args>`.
    let ack = node(
        "console.log(JSON.stringify(P.encodePacket(input)));",
        &json!({"type": "ack", "ackId": "4", "args": ["ok"]}),
    );
    let ack = decode(ack.as_str().unwrap()).unwrap();
    assert_eq!(ack.kind, Kind::Ack);
    assert_eq!(
        parse_ack_data(&ack.data),
        (MsgId::Client(4), Some("[\"ok\"]"))
    );
}

/// Already-encoded frames (pub-sub broadcasts) framed for browsers equal encode_batch.
#[test]
fn encode_frames_matches_encode_batch() {
    let batch = sample_batch();
    let encoded: Vec<String> = batch.iter().map(encode).collect();
    for unit in [LengthUnit::Utf16, LengthUnit::Bytes] {
        assert_eq!(encode_frames(&encoded, unit), encode_batch(&batch, unit));
        assert_eq!(
            decode_payload(&encode_batch(&batch, unit), None).unwrap(),
            batch
        );
    }
}
