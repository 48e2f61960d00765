//! Unit tests of the frame codec: raw RFC 6455 byte vectors (so a bug shared by the encoder and
//! the decoder cannot hide), every header and message rule in both roles, close payloads,
//! masking phases and direct reads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
const MASKED_HELLO: [u8; 11] = [
    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];
const HELLO: [u8; 7] = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];

fn decode_all(role: Role, bytes: &[u8], max: usize) -> Result<Vec<Incoming>, WsError> {
    Decoder::new(role, max).feed(bytes)
}

/// A masked client frame.
fn client(fin: bool, op: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_masked(&mut out, fin, op, KEY, payload);
    out
}

/// An unmasked server frame (FIN given).
fn server(fin: bool, op: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode(&mut out, fin, op, None, payload);
    out
}

fn text(s: &str) -> Incoming {
    Incoming::Text(s.to_string())
}

#[test]
fn rfc6455_section_5_7_examples() {
    // Encoding, both roles.
    assert_eq!(client(true, opcode::TEXT, b"Hello"), MASKED_HELLO);
    assert_eq!(server(true, opcode::TEXT, b"Hello"), HELLO);
    let mut out = Vec::new();
    encode_frame(&mut out, opcode::TEXT, b"Hello");
    assert_eq!(out, HELLO);
    // Decoding, each by the role that reads it.
    assert_eq!(
        decode_all(Role::Server, &MASKED_HELLO, 100),
        Ok(vec![text("Hello")])
    );
    assert_eq!(
        decode_all(Role::Client, &HELLO, 100),
        Ok(vec![text("Hello")])
    );
    // A fragmented unmasked text message: "Hel" then "lo".
    let frags = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
    assert_eq!(
        decode_all(Role::Client, &frags, 100),
        Ok(vec![text("Hello")])
    );
    let mut enc = server(false, opcode::TEXT, b"Hel");
    enc.extend(server(true, opcode::CONTINUATION, b"lo"));
    assert_eq!(enc, frags);
    // Unmasked ping, masked pong.
    let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    assert_eq!(server(true, opcode::PING, b"Hello"), ping);
    let pong = [
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    assert_eq!(client(true, opcode::PONG, b"Hello"), pong);
    assert_eq!(
        decode_all(Role::Server, &pong, 100),
        Ok(vec![Incoming::Pong(b"Hello".to_vec())])
    );
    // 256 bytes and 64 KiB of binary: 16- and 64-bit lengths.
    let b256 = server(true, opcode::BINARY, &[7; 256]);
    assert_eq!(b256[..4], [0x82, 0x7E, 0x01, 0x00]);
    let b64k = server(true, opcode::BINARY, &[7; 65536]);
    assert_eq!(b64k[..10], [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
    assert_eq!(
        decode_all(Role::Client, &b64k, 1 << 20),
        Ok(vec![Incoming::Binary(vec![7; 65536])])
    );
    // A server close with 1009.
    let mut out = Vec::new();
    encode_close(&mut out, 1009, b"");
    assert_eq!(out, [0x88, 0x02, 0x03, 0xF1]);
}

#[test]
fn frame_len_and_header_size_match_the_encoding() {
    for n in [0, 5, 125, 126, 65535, 65536, 70_000] {
        let mut out = Vec::new();
        encode_frame(&mut out, opcode::TEXT, &vec![b'z'; n]);
        assert_eq!(out.len(), frame_len(n), "{n}");
        let masked = client(true, opcode::TEXT, &vec![b'z'; n]);
        for (role, bytes) in [(Role::Client, &out), (Role::Server, &masked)] {
            let (h, used) = Header::parse(bytes, role).unwrap().unwrap();
            assert_eq!((h.len, used, h.size()), (n as u64, bytes.len() - n, used));
            // Every shorter prefix of the header needs more bytes.
            for cut in 0..used {
                assert_eq!(Header::parse(&bytes[..cut], role), Ok(None), "{n} {cut}");
            }
        }
    }
}

#[test]
fn header_rules_in_both_roles() {
    let top_bit = |mask| {
        let mut b = Vec::new();
        let h = Header {
            fin: true,
            opcode: opcode::TEXT,
            mask,
            len: u64::MAX,
        };
        h.write(&mut b);
        b
    };
    for role in [Role::Server, Role::Client] {
        let f = |fin, op, p: &[u8]| match role {
            Role::Server => client(fin, op, p),
            Role::Client => server(fin, op, p),
        };
        let mut rsv = f(true, opcode::TEXT, b"x");
        rsv[0] |= RSV1;
        let mut cases = vec![
            ("rsv bit", rsv),
            ("fragmented ping", f(false, opcode::PING, b"")),
            ("long ping", f(true, opcode::PING, &[0; 126])),
            ("long close", f(true, opcode::CLOSE, &[3; 126])),
            ("continuation first", f(true, opcode::CONTINUATION, b"x")),
            ("new message inside a fragmented one", {
                let mut b = f(false, opcode::TEXT, b"a");
                b.extend(f(true, opcode::BINARY, b"b"));
                b
            }),
            ("top bit", top_bit((role == Role::Server).then_some(KEY))),
            ("1-byte close", f(true, opcode::CLOSE, &[3])),
            (
                "wrong mask for the role",
                match role {
                    Role::Server => server(true, opcode::TEXT, b"x"),
                    Role::Client => client(true, opcode::TEXT, b"x"),
                },
            ),
        ];
        for op in (3..=7).chain(0xB..=0xF) {
            cases.push(("unknown opcode", f(true, op, b"")));
        }
        for code in [
            0u16,
            999,
            1004,
            1005,
            1006,
            1015,
            1016,
            2999,
            5000,
            u16::MAX,
        ] {
            cases.push((
                "bad close code",
                f(true, opcode::CLOSE, &code.to_be_bytes()),
            ));
        }
        for (name, b) in cases {
            let e = decode_all(role, &b, 1 << 20).unwrap_err();
            assert!(matches!(e, WsError::Protocol(_)), "{role:?} {name}: {e:?}");
            assert_eq!(e.close_code(), close_code::PROTOCOL);
        }
        // 125-byte control frames are fine; a ping between fragments too.
        let mut b = f(false, opcode::TEXT, b"he");
        b.extend(f(true, opcode::PING, &[1; 125]));
        b.extend(f(false, opcode::CONTINUATION, b"l"));
        b.extend(f(true, opcode::PONG, b""));
        b.extend(f(true, opcode::CONTINUATION, b"lo"));
        b.extend(f(false, opcode::BINARY, &[9]));
        b.extend(f(true, opcode::CONTINUATION, &[8]));
        assert_eq!(
            decode_all(role, &b, 100),
            Ok(vec![
                Incoming::Ping(vec![1; 125]),
                Incoming::Pong(vec![]),
                text("hello"),
                Incoming::Binary(vec![9, 8]),
            ])
        );
    }
}

#[test]
fn a_bad_header_fails_before_its_mask_or_payload() {
    // An unmasked client frame: two bytes are enough.
    let e = decode_all(Role::Server, &[0x81, 0x05], 100).unwrap_err();
    assert_eq!(e, WsError::Protocol("client frame is not masked"));
    // A frame over the limit fails at its header, before the payload.
    let b = client(true, opcode::TEXT, &[b'x'; 5000]);
    assert_eq!(
        decode_all(Role::Server, &b[..8], 4096),
        Err(WsError::TooBig(4096))
    );
}

#[test]
fn sizes_and_utf8() {
    let s = "é€😀".as_bytes();
    let mut b = client(false, opcode::TEXT, &s[..1]);
    b.extend(client(false, opcode::CONTINUATION, &s[1..4]));
    b.extend(client(true, opcode::CONTINUATION, &s[4..]));
    assert_eq!(decode_all(Role::Server, &b, 100), Ok(vec![text("é€😀")]));
    let bad = client(true, opcode::TEXT, &[b'5', b':', 0xC3, 0x28]);
    let e = decode_all(Role::Server, &bad, 100).unwrap_err();
    assert_eq!((e.clone(), e.close_code()), (WsError::BadUtf8, 1007));
    // Fragments each under the limit, together over it.
    let mut b = client(false, opcode::TEXT, &[b'x'; 3000]);
    b.extend(client(true, opcode::CONTINUATION, &[b'x'; 3000]));
    let e = decode_all(Role::Server, &b, 4096).unwrap_err();
    assert_eq!((e.clone(), e.close_code()), (WsError::TooBig(4096), 1009));
    // Exactly the limit is fine; binary is not UTF-8 checked.
    let b = client(true, opcode::TEXT, &[b'x'; 4096]);
    assert_eq!(
        decode_all(Role::Server, &b, 4096),
        Ok(vec![text(&"x".repeat(4096))])
    );
    let b = server(true, opcode::BINARY, &[0xFF; 3]);
    assert_eq!(
        decode_all(Role::Client, &b, 3),
        Ok(vec![Incoming::Binary(vec![0xFF; 3])])
    );
}

#[test]
fn close_payloads() {
    assert_eq!(parse_close(b""), Ok(None));
    assert_eq!(
        parse_close(&close_payload(1001, b"going away")),
        Ok(Some(1001))
    );
    assert_eq!(parse_close(&close_payload(4999, b"")), Ok(Some(4999)));
    assert_eq!(
        parse_close(&close_payload(1000, &[0xFF, 0xFE])),
        Err(WsError::BadUtf8)
    );
    let valid: Vec<u16> = (0..=u16::MAX)
        .filter(|c| close_code::is_valid(*c))
        .collect();
    let want: Vec<u16> = (1000..=1003)
        .chain(1007..=1014)
        .chain(3000..=4999)
        .collect();
    assert_eq!(valid, want);
    let b = client(true, opcode::CLOSE, &close_payload(1000, &[0xC3]));
    assert_eq!(decode_all(Role::Server, &b, 100), Err(WsError::BadUtf8));
    let b = server(true, opcode::CLOSE, &close_payload(3000, "ok ✓".as_bytes()));
    assert_eq!(
        decode_all(Role::Client, &b, 0),
        Ok(vec![Incoming::Close(Some(3000))])
    );
}

#[test]
fn unmasking_in_pieces_keeps_the_phase() {
    let plain: Vec<u8> = (0..23).collect();
    let mut whole = plain.clone();
    unmask(&mut whole, KEY, 0);
    for cut in 0..plain.len() {
        let mut parts = plain.clone();
        let (a, b) = parts.split_at_mut(cut);
        unmask(a, KEY, 0);
        unmask(b, KEY, cut);
        assert_eq!(parts, whole, "{cut}");
    }
}

#[test]
fn direct_reads_go_into_the_message() {
    let payload: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    let wire = client(true, opcode::BINARY, &payload);
    let mut d = StreamDecoder::new(Role::Server, 4096);
    // The header and 10 payload bytes through the buffer.
    let (used, m) = d.decode(&wire[..18]).unwrap();
    assert_eq!((used, m), (18, None));
    assert!(d.direct_read(1000, 300).is_none(), "only 990 bytes are due");
    let mut at = 18;
    while let Some(mut r) = d.direct_read(256, 300) {
        let n = r.want().min(wire.len() - at);
        r.buf().extend_from_slice(&wire[at..at + n]);
        assert_eq!(r.commit(), n);
        at += n;
    }
    // The rest (under 256 bytes) through the buffer again.
    let (used, m) = d.decode(&wire[at..]).unwrap();
    assert_eq!(
        (at + used, m),
        (wire.len(), Some(Incoming::Binary(payload)))
    );
    // Control frames are never read directly; an abandoned read changes nothing.
    let mut d = StreamDecoder::new(Role::Server, 4096);
    let ping = client(true, opcode::PING, &[5; 100]);
    assert_eq!(d.decode(&ping[..6]).unwrap(), (6, None));
    assert!(d.direct_read(0, 100).is_none());
    let big = client(true, opcode::TEXT, &[b'a'; 300]);
    let mut d = StreamDecoder::new(Role::Server, 4096);
    assert_eq!(d.decode(&big[..8]).unwrap(), (8, None));
    assert!(d.direct_read(0, 100).is_some());
    // Too many bytes appended: only the payload's are taken.
    let mut r = d.direct_read(0, 1000).unwrap();
    r.buf().extend_from_slice(&big[8..]);
    r.buf().extend_from_slice(b"extra");
    assert_eq!(r.commit(), 300);
    assert_eq!(d.decode(&[]).unwrap(), (0, Some(text(&"a".repeat(300)))));
}

#[test]
fn the_decoder_keeps_partial_headers_only() {
    let mut d = Decoder::new(Role::Server, 100);
    let mut b = MASKED_HELLO.to_vec();
    b.extend(MASKED_HELLO);
    assert_eq!(d.feed(&b[..5]), Ok(vec![]));
    assert_eq!(d.buffered(), 5);
    assert_eq!(d.feed(&b[5..13]), Ok(vec![text("Hello")]));
    assert_eq!(d.buffered(), 2);
    assert_eq!(d.feed(&b[13..]), Ok(vec![text("Hello")]));
    assert_eq!(d.buffered(), 0);
    assert_eq!(d.next_item(), Ok(None));
}

/// Invalid UTF-8 fails as soon as its bytes are in (Autobahn 6.4.*), not at the message's end: in
/// a first fragment, and in part of one frame's payload; a code point split across fragments or
/// reads is fine until the message ends.
#[test]
fn invalid_utf8_fails_fast() {
    // A first fragment with an invalid sequence: no need to wait for the rest of the message.
    let b = client(false, opcode::TEXT, &[b'a', 0xF4, 0x90, 0x80]);
    let mut d = StreamDecoder::new(Role::Server, 1 << 20);
    assert_eq!(d.decode(&b), Err(WsError::BadUtf8));
    // Half a frame's payload with an invalid sequence: fails before the other half arrives.
    let b = client(
        true,
        opcode::TEXT,
        &[b'a', b'b', 0xCE, 0xBA, 0xED, 0xA0, 0x80, b'c', b'd'],
    );
    let mut d = StreamDecoder::new(Role::Server, 1 << 20);
    assert_eq!(d.decode(&b[..b.len() - 2]), Err(WsError::BadUtf8));
    // A code point split across fragments and reads is fine.
    let s = "κόσμε".as_bytes();
    let mut b = client(false, opcode::TEXT, &s[..3]);
    b.extend(client(true, opcode::CONTINUATION, &s[3..]));
    let mut d = StreamDecoder::new(Role::Server, 1 << 20);
    let mut got = None;
    let mut at = 0;
    for end in 1..=b.len() {
        let (used, m) = d.decode(&b[at..end]).unwrap();
        at += used;
        if m.is_some() {
            got = m;
        }
    }
    assert_eq!(got, Some(text("κόσμε")));
    // An incomplete code point at the very end of the message is still an error.
    let b = client(true, opcode::TEXT, &s[..3]);
    assert_eq!(decode_all(Role::Server, &b, 100), Err(WsError::BadUtf8));
}
