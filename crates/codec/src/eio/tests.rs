//! Engine.IO codec tests: the spec's vectors (EIO4 1.12, EIO3 2.3/2.7) and property tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use proptest::prelude::*;

fn msg(s: &str) -> Packet {
    Packet::Message(s.to_owned())
}

#[test]
fn eio4_packet_vectors() {
    let d = |s| decode_packet(s, Revision::V4, false);
    assert_eq!(
        d(r#"0{"sid":"a"}"#),
        Ok(Packet::Open(r#"{"sid":"a"}"#.into()))
    );
    assert_eq!(d("1"), Ok(Packet::Close));
    assert_eq!(d("2"), Ok(Packet::Ping(String::new())));
    assert_eq!(d("2probe"), Ok(Packet::Ping("probe".into())));
    assert_eq!(d("3"), Ok(Packet::Pong(String::new())));
    assert_eq!(d("3probe"), Ok(Packet::Pong("probe".into())));
    assert_eq!(d("4hello"), Ok(msg("hello")));
    assert_eq!(d("4"), Ok(msg("")));
    assert_eq!(d("4é€😀"), Ok(msg("é€😀")));
    assert_eq!(d("5"), Ok(Packet::Upgrade));
    assert_eq!(d("6"), Ok(Packet::Noop));
    for bad in ["7", "9", "a", "abc", "", "bAQID"] {
        assert!(d(bad).is_err(), "{bad:?} must fail");
    }
}

#[test]
fn eio4_payload_vectors() {
    let ok = |b: &str, p: Vec<Packet>| {
        assert_eq!(
            decode_payload_v4(b),
            Decoded {
                packets: p,
                error: None
            }
        )
    };
    ok("4hello", vec![msg("hello")]);
    ok(
        "4test1\x1e4test2\x1e4test3",
        vec![msg("test1"), msg("test2"), msg("test3")],
    );
    ok(
        "4hello\x1ebAQIDBA==",
        vec![msg("hello"), Packet::Binary(vec![1, 2, 3, 4])],
    );
    ok(
        "2\x1e42[\"x\"]",
        vec![Packet::Ping(String::new()), msg("2[\"x\"]")],
    );
    ok("3", vec![Packet::Pong(String::new())]);
    ok("6", vec![Packet::Noop]);
    ok("b", vec![Packet::Binary(vec![])]);
    let bad = decode_payload_v4("4a\x1eabc\x1e4b");
    assert_eq!(bad.packets, vec![msg("a")]);
    assert!(bad.error.is_some());
    assert!(decode_payload_v4("").error.is_some());
    let trailing = decode_payload_v4("4a\x1e");
    assert_eq!(trailing.packets, vec![msg("a")]);
    assert!(trailing.error.is_some());

    assert_eq!(
        encode_payload_v4(&[msg("hello"), Packet::Binary(vec![1, 2, 3, 4])]),
        "4hello\x1ebAQIDBA=="
    );
    assert_eq!(encode_payload_v4(&[Packet::Ping(String::new())]), "2");
    assert_eq!(
        encode_payload_v4(&[msg(r#"0{"sid":"x"}"#), msg(r#"2["auth",{}]"#)]),
        "40{\"sid\":\"x\"}\x1e42[\"auth\",{}]"
    );
    assert_eq!(encode_payload_v4(&[Packet::Noop, Packet::Close]), "6\x1e1");
}

#[test]
fn ws_binary_frames() {
    assert_eq!(
        encode_ws_binary(Revision::V4, &[1, 2, 3, 4]),
        vec![1, 2, 3, 4]
    );
    assert_eq!(
        decode_ws_binary(Revision::V4, &[1, 2, 3, 4]),
        Ok(vec![1, 2, 3, 4])
    );
    assert_eq!(
        encode_ws_binary(Revision::V3, &[1, 2, 3, 4]),
        vec![4, 1, 2, 3, 4]
    );
    assert_eq!(
        decode_ws_binary(Revision::V3, &[4, 1, 2, 3, 4]),
        Ok(vec![1, 2, 3, 4])
    );
    assert!(decode_ws_binary(Revision::V3, &[1, 2]).is_err());
    assert!(decode_ws_binary(Revision::V3, &[]).is_err());
}

#[test]
fn eio3_text_payload_vectors() {
    let open = r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
    let cases: Vec<(Vec<Packet>, &str)> = vec![
        (vec![msg("hello")], "6:4hello"),
        (
            vec![msg("test1"), msg("test2"), msg("test3")],
            "6:4test16:4test26:4test3",
        ),
        (vec![msg("€")], "2:4€"),
        (vec![msg("😀")], "3:4😀"),
        (vec![Packet::Ping(String::new())], "1:2"),
        (vec![Packet::Pong(String::new())], "1:3"),
        (vec![Packet::Noop], "1:6"),
        (vec![Packet::Close], "1:1"),
        (vec![Packet::Binary(vec![1, 2, 3, 4])], "10:b4AQIDBA=="),
        (
            vec![msg("hello"), Packet::Binary(vec![1, 2, 3, 4])],
            "6:4hello10:b4AQIDBA==",
        ),
    ];
    for (packets, body) in cases {
        assert_eq!(encode_payload_v3(&packets), body);
        assert_eq!(
            decode_payload_v3(body),
            Decoded {
                packets,
                error: None
            }
        );
    }
    let open_body = encode_payload_v3(&[Packet::Open(open[1..].to_owned())]);
    assert_eq!(open_body, format!("118:{open}"));
    assert_eq!(encode_payload_v3(&[]), "");
    for bad in ["", "5:4😀", "x:4a", ":4a", "6:4hel", "1:7", "6:4hello1"] {
        assert!(decode_payload_v3(bad).error.is_some(), "{bad:?} must fail");
    }
}

#[test]
fn eio3_binary_payload_vectors() {
    let bytes = encode_binary_payload_v3(&[msg("hello"), Packet::Binary(vec![1, 2, 3, 4])]);
    assert_eq!(
        bytes,
        vec![
            0x00, 0x06, 0xFF, 0x34, 0x68, 0x65, 0x6C, 0x6C, 0x6F, 0x01, 0x05, 0xFF, 0x04, 0x01,
            0x02, 0x03, 0x04
        ]
    );
    assert_eq!(
        decode_binary_payload_v3(&bytes).packets,
        vec![msg("hello"), Packet::Binary(vec![1, 2, 3, 4])]
    );
    let text = r#"51-["message-back",{"_placeholder":true,"num":0}]"#;
    assert_eq!(text.len() + 1, 50);
    let bytes = encode_binary_payload_v3(&[
        Packet::Pong(String::new()),
        msg(text),
        Packet::Binary(vec![1, 2, 3]),
    ]);
    let mut want = vec![0x00, 0x01, 0xFF, 0x33, 0x00, 0x05, 0x00, 0xFF, b'4'];
    want.extend_from_slice(text.as_bytes());
    want.extend_from_slice(&[0x01, 0x04, 0xFF, 0x04, 0x01, 0x02, 0x03]);
    assert_eq!(bytes, want);
    for bad in [
        &[][..],
        &[2, 1, 0xFF, b'1'],
        &[0, 9, 0xFF, b'4'],
        &[0, 1, 2],
    ] {
        assert!(decode_binary_payload_v3(bad).error.is_some());
    }
}

#[test]
fn open_packet_json() {
    let o = OpenInfo {
        sid: "S1".into(),
        upgrades: vec!["websocket".into()],
        ping_interval: 300,
        ping_timeout: 200,
        max_payload: 1_000_000,
    };
    assert_eq!(
        o.to_json(),
        r#"{"sid":"S1","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#
    );
    assert_eq!(OpenInfo::parse(&o.to_json()), Some(o));
    assert_eq!(
        error_body(5, "Unsupported protocol version"),
        r#"{"code":5,"message":"Unsupported protocol version"}"#
    );
    assert_eq!(Revision::from_query(Some("4")), Some(Revision::V4));
    assert_eq!(Revision::from_query(Some("3")), Some(Revision::V3));
    for bad in [None, Some(""), Some("abc"), Some("5"), Some("04")] {
        assert_eq!(Revision::from_query(bad), None);
    }
}

fn packet() -> impl Strategy<Value = Packet> {
    prop_oneof![
        ".*".prop_map(Packet::Open),
        Just(Packet::Close),
        ".*".prop_map(Packet::Ping),
        ".*".prop_map(Packet::Pong),
        ".*".prop_map(Packet::Message),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Packet::Binary),
        Just(Packet::Upgrade),
        Just(Packet::Noop),
    ]
}

proptest! {
    #[test]
    fn v3_text_roundtrip(ps in proptest::collection::vec(packet(), 1..6)) {
        let body = encode_payload_v3(&ps);
        prop_assert_eq!(decode_payload_v3(&body), Decoded { packets: ps, error: None });
    }

    #[test]
    fn v3_binary_roundtrip(ps in proptest::collection::vec(packet(), 1..6)) {
        let body = encode_binary_payload_v3(&ps);
        prop_assert_eq!(decode_binary_payload_v3(&body), Decoded { packets: ps, error: None });
    }

    #[test]
    fn v4_roundtrip(ps in proptest::collection::vec(packet(), 1..6)) {
        // `\x1e` inside text data cannot round-trip through a polling payload (it is the separator).
        let ps: Vec<Packet> = ps.into_iter().map(|p| match p {
            Packet::Open(s) => Packet::Open(s.replace('\x1e', "")),
            Packet::Ping(s) => Packet::Ping(s.replace('\x1e', "")),
            Packet::Pong(s) => Packet::Pong(s.replace('\x1e', "")),
            Packet::Message(s) => Packet::Message(s.replace('\x1e', "")),
            other => other,
        }).collect();
        let body = encode_payload_v4(&ps);
        prop_assert_eq!(decode_payload_v4(&body), Decoded { packets: ps, error: None });
    }

    #[test]
    fn never_panics(s in ".*", b in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode_payload_v4(&s);
        let _ = decode_payload_v3(&s);
        let _ = decode_binary_payload_v3(&b);
        let _ = decode_packet(&s, Revision::V3, true);
        let _ = decode_ws_binary(Revision::V3, &b);
    }
}
