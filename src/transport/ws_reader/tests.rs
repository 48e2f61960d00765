//! Unit tests of the frame reader: masking, extended lengths, fragments with control frames in
//! between, limits, UTF-8, close frames, byte-at-a-time delivery and cancellation. Frames are
//! built with the codec's client encoder (the codec's own tests check it against raw RFC bytes).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::*;
use codec::ws::{Header, RSV1, close_code, encode, encode_masked, opcode};

const MASK: [u8; 4] = [0x37, 0xFA, 0x21, 0x3D];

/// A client frame, masked with [`MASK`].
fn frame(fin: bool, op: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_masked(&mut out, fin, op, MASK, payload);
    out
}

fn reader(bytes: &[u8], max: usize) -> FrameReader<&[u8]> {
    FrameReader::new(bytes, &[], max)
}

/// Every item until the stream ends or fails; the error last.
async fn all(bytes: &[u8], max: usize) -> (Vec<Incoming>, ReadError) {
    let mut r = reader(bytes, max);
    let mut got = Vec::new();
    loop {
        match r.next().await {
            Ok(m) => got.push(m),
            Err(e) => return (got, e),
        }
    }
}

fn text(s: &str) -> Incoming {
    Incoming::Text(s.to_string())
}

#[tokio::test]
async fn masked_text_and_binary() {
    let mut b = frame(true, opcode::TEXT, b"5:::{\"name\":\"x\"}");
    b.extend(frame(true, opcode::BINARY, &[1, 2, 3]));
    b.extend(frame(true, opcode::TEXT, b""));
    let (got, end) = all(&b, 4096).await;
    assert_eq!(
        got,
        vec![
            text("5:::{\"name\":\"x\"}"),
            Incoming::Binary(vec![1, 2, 3]),
            text("")
        ]
    );
    assert!(matches!(end, ReadError::Eof), "{end:?}");
}

#[tokio::test]
async fn unmasked_client_frame_is_a_protocol_error() {
    let mut b = Vec::new();
    encode(&mut b, true, opcode::TEXT, None, b"hello");
    let (got, end) = all(&b, 4096).await;
    assert!(got.is_empty());
    assert!(
        matches!(end, ReadError::Ws(WsError::Protocol(_))),
        "{end:?}"
    );
    assert_eq!(end.close_code(), Some(close_code::PROTOCOL));
}

#[tokio::test]
async fn extended_16_and_64_bit_lengths() {
    // 126..=65535 uses the 16-bit length; over that the 64-bit one. Both are larger than the
    // read buffer, so they also go the direct-read path.
    let mid: String = (0..300)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let big: String = (0..70_000)
        .map(|i| char::from(b'A' + (i % 26) as u8))
        .collect();
    let mut b = frame(true, opcode::TEXT, mid.as_bytes());
    assert_eq!(b.len() - mid.len(), 2 + 2 + 4, "16-bit length");
    let long = frame(true, opcode::TEXT, big.as_bytes());
    assert_eq!(long.len() - big.len(), 2 + 8 + 4, "64-bit length");
    b.extend(long);
    b.extend(frame(true, opcode::TEXT, b"after"));
    let (got, end) = all(&b, 100_000).await;
    assert_eq!(got, vec![text(&mid), text(&big), text("after")]);
    assert!(matches!(end, ReadError::Eof));
}

#[tokio::test]
async fn fragments_with_control_frames_between() {
    let mut b = frame(false, opcode::TEXT, b"5:::{\"na");
    b.extend(frame(true, opcode::PING, b"p1"));
    b.extend(frame(false, opcode::CONTINUATION, b"me\":\"ev"));
    b.extend(frame(true, opcode::PONG, b""));
    b.extend(frame(true, opcode::CONTINUATION, b"ent\"}"));
    b.extend(frame(false, opcode::BINARY, &[9]));
    b.extend(frame(true, opcode::CONTINUATION, &[8]));
    let (got, end) = all(&b, 4096).await;
    assert_eq!(
        got,
        vec![
            Incoming::Ping(b"p1".to_vec()),
            Incoming::Pong(vec![]),
            text("5:::{\"name\":\"event\"}"),
            Incoming::Binary(vec![9, 8]),
        ]
    );
    assert!(matches!(end, ReadError::Eof));
}

#[tokio::test]
async fn utf8_split_across_fragments_is_fine() {
    let s = "é€😀".as_bytes();
    let mut b = frame(false, opcode::TEXT, &s[..1]);
    b.extend(frame(false, opcode::CONTINUATION, &s[1..4]));
    b.extend(frame(true, opcode::CONTINUATION, &s[4..]));
    let (got, _) = all(&b, 4096).await;
    assert_eq!(got, vec![text("é€😀")]);
}

#[tokio::test]
async fn bad_utf8_is_1007() {
    let mut b = frame(true, opcode::TEXT, b"ok");
    b.extend(frame(true, opcode::TEXT, &[b'5', b':', 0xC3, 0x28]));
    let (got, end) = all(&b, 4096).await;
    assert_eq!(got, vec![text("ok")]);
    assert!(matches!(end, ReadError::Ws(WsError::BadUtf8)), "{end:?}");
    assert_eq!(end.close_code(), Some(close_code::INVALID_DATA));
}

#[tokio::test]
async fn oversize_frame_and_message_are_1009() {
    // One frame over the limit fails at its header, before its payload is read.
    let b = frame(true, opcode::TEXT, &[b'x'; 5000])[..20].to_vec();
    let (_, end) = all(&b, 4096).await;
    assert!(
        matches!(end, ReadError::Ws(WsError::TooBig(4096))),
        "{end:?}"
    );
    assert_eq!(end.close_code(), Some(close_code::TOO_BIG));
    // Fragments each under the limit, together over it.
    let mut b = frame(false, opcode::TEXT, &[b'x'; 3000]);
    b.extend(frame(true, opcode::CONTINUATION, &[b'x'; 3000]));
    let (got, end) = all(&b, 4096).await;
    assert!(got.is_empty());
    assert!(matches!(end, ReadError::Ws(WsError::TooBig(_))), "{end:?}");
    // Exactly the limit is fine.
    let b = frame(true, opcode::TEXT, &[b'x'; 4096]);
    let (got, _) = all(&b, 4096).await;
    assert_eq!(got, vec![text(&"x".repeat(4096))]);
}

#[tokio::test]
async fn protocol_errors() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("rsv bit", {
            let mut b = frame(true, opcode::TEXT, b"x");
            b[0] |= RSV1;
            b
        }),
        ("unknown opcode", frame(true, 0x3, b"x")),
        ("fragmented ping", frame(false, opcode::PING, b"")),
        ("long ping", frame(true, opcode::PING, &[0; 126])),
        (
            "continuation first",
            frame(true, opcode::CONTINUATION, b"x"),
        ),
        ("new message inside a fragmented one", {
            let mut b = frame(false, opcode::TEXT, b"a");
            b.extend(frame(true, opcode::TEXT, b"b"));
            b
        }),
        ("64-bit length with the top bit", {
            let mut b = Vec::new();
            let h = Header {
                fin: true,
                opcode: opcode::TEXT,
                mask: Some(MASK),
                len: u64::MAX,
            };
            h.write(&mut b);
            b
        }),
        ("1-byte close", frame(true, opcode::CLOSE, &[3])),
        (
            "close code 1005",
            frame(true, opcode::CLOSE, &1005u16.to_be_bytes()),
        ),
        (
            "close code 999",
            frame(true, opcode::CLOSE, &999u16.to_be_bytes()),
        ),
    ];
    for (name, b) in cases {
        let (got, end) = all(&b, 1 << 20).await;
        assert!(got.is_empty(), "{name}: {got:?}");
        assert!(
            matches!(end, ReadError::Ws(WsError::Protocol(_))),
            "{name}: {end:?}"
        );
    }
}

#[tokio::test]
async fn close_frames() {
    let (got, _) = all(&frame(true, opcode::CLOSE, b""), 4096).await;
    assert_eq!(got, vec![Incoming::Close(None)]);
    let mut p = 1001u16.to_be_bytes().to_vec();
    p.extend_from_slice(b"going away");
    let (got, _) = all(&frame(true, opcode::CLOSE, &p), 4096).await;
    assert_eq!(got, vec![Incoming::Close(Some(1001))]);
    let (got, _) = all(&frame(true, opcode::CLOSE, &4000u16.to_be_bytes()), 4096).await;
    assert_eq!(got, vec![Incoming::Close(Some(4000))]);
    let mut p = 1000u16.to_be_bytes().to_vec();
    p.extend_from_slice(&[0xFF, 0xFE]);
    let (_, end) = all(&frame(true, opcode::CLOSE, &p), 4096).await;
    assert!(matches!(end, ReadError::Ws(WsError::BadUtf8)), "{end:?}");
}

#[tokio::test]
async fn pre_read_bytes_come_first() {
    let first = frame(true, opcode::TEXT, b"first");
    let second = frame(true, opcode::TEXT, b"second");
    let mut r = FrameReader::new(&second[..], &first, 4096);
    assert_eq!(r.next().await.unwrap(), text("first"));
    assert_eq!(r.next().await.unwrap(), text("second"));
}

/// Frames fed one byte at a time, with the reader cancelled (a timeout) again and again while
/// it waits: nothing is lost or repeated.
#[tokio::test]
async fn byte_at_a_time_and_cancelled_in_between() {
    let mut b = frame(false, opcode::TEXT, "héllo ".as_bytes());
    b.extend(frame(true, opcode::PING, b"hb"));
    b.extend(frame(true, opcode::CONTINUATION, b"world"));
    b.extend(frame(true, opcode::TEXT, &[b'y'; 1500]));
    let (client, server) = tokio::io::duplex(64);
    let feeder = tokio::spawn(async move {
        let mut client = client;
        for byte in b {
            client.write_all(&[byte]).await.unwrap();
            tokio::task::yield_now().await;
        }
        client
    });
    let mut r = FrameReader::new(server, &[], 4096);
    let mut got = Vec::new();
    let mut cancelled = 0;
    while got.len() < 3 {
        match tokio::time::timeout(Duration::from_micros(50), r.next()).await {
            Ok(m) => got.push(m.unwrap()),
            Err(_) => cancelled += 1,
        }
    }
    assert_eq!(
        got,
        vec![
            Incoming::Ping(b"hb".to_vec()),
            text("héllo world"),
            text(&"y".repeat(1500))
        ]
    );
    assert!(cancelled > 0, "the reader was never cancelled mid-frame");
    drop(feeder.await.unwrap());
    assert!(matches!(r.next().await, Err(ReadError::Eof)));
}
