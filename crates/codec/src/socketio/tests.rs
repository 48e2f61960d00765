//! Unit tests of single-frame encoding/decoding: HIVE.md 3.8 vectors, ids, errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn m(kind: Kind, id: MsgId, endpoint: &str, data: &str) -> Message {
    Message {
        kind,
        id,
        endpoint: endpoint.into(),
        data: data.into(),
    }
}

/// HIVE.md 3.8 "Encoding a single message".
#[test]
fn encode_vectors() {
    for (i, k) in Kind::ALL.into_iter().enumerate() {
        assert_eq!(encode(&Message::new(k)), format!("{i}:::"));
    }
    assert_eq!(encode(&Message::default()), "8:::");
    assert_eq!(encode(&Message::new(Kind::Ack)), "6:::");
    let noop = |id, ep: &str, data: &str| encode(&m(Kind::Noop, id, ep, data));
    assert_eq!(noop(MsgId::Server(23), "", ""), "8:23::");
    assert_eq!(noop(MsgId::Client(23), "", ""), "8:23+::");
    assert_eq!(noop(MsgId::None, "foo", ""), "8::foo:");
    assert_eq!(noop(MsgId::None, "", "foo"), "8:::foo");
    let ev = m(Kind::Event, MsgId::Server(5), "foo", "bar");
    assert_eq!(encode(&ev), "5:5:foo:bar");
    assert_eq!(ev.encoded_len(), 11);
}

/// HIVE.md 3.8 "Ids".
#[test]
fn id_vectors() {
    assert_eq!(MsgId::Client(1).render(), "1+");
    assert_eq!(MsgId::Server(23).render(), "23");
    assert_eq!(MsgId::None.render(), "");
    assert_eq!(MsgId::parse("1+"), MsgId::Client(1));
    assert_eq!(MsgId::parse("23"), MsgId::Server(23));
    assert_eq!(MsgId::parse(""), MsgId::None);
    for junk in ["+", "+1", "-1", "1a", " 1", "1++", "99999999999999999999"] {
        assert_eq!(MsgId::parse(junk), MsgId::None, "{junk}");
    }
    assert_eq!(MsgId::Server(0).rendered_len(), 1);
    assert_eq!(MsgId::Client(u64::MAX).rendered_len(), 21);
}

/// HIVE.md 3.8 "Decoding".
#[test]
fn decode_vectors() {
    for k in Kind::ALL {
        assert_eq!(decode(&encode(&Message::new(k))), Ok(Message::new(k)));
    }
    assert_eq!(decode("8:::"), Ok(Message::noop()));
    assert_eq!(decode("8::"), Ok(Message::noop()));
    assert_eq!(decode("8:"), Ok(Message::noop()));
    assert_eq!(
        decode("7:::herped-derped"),
        Ok(Message::error("herped-derped"))
    );
    assert_eq!(
        decode("1:2:3:4"),
        Ok(m(Kind::Connect, MsgId::Server(2), "3", "4"))
    );
    assert_eq!(
        decode("1:2+:3:4"),
        Ok(m(Kind::Connect, MsgId::Client(2), "3", "4"))
    );
    assert_eq!(
        decode("5:::a:b::c"),
        Ok(m(Kind::Event, MsgId::None, "", "a:b::c"))
    );
    assert_eq!(decode("5:x::"), Ok(Message::new(Kind::Event)));
}

#[test]
fn decode_errors() {
    assert_eq!(decode(""), Err(DecodeError::EmptyFrame));
    assert_eq!(decode("5"), Err(DecodeError::NoSeparator("5".into())));
    assert_eq!(decode("9:::"), Err(DecodeError::BadType("9:::".into())));
    assert_eq!(decode(":::"), Err(DecodeError::BadType(":::".into())));
    assert_eq!(decode("55:::"), Err(DecodeError::BadType("55:::".into())));
    assert!(matches!(decode("é:::"), Err(DecodeError::BadType(_))));
    let long = "x".repeat(1000);
    match decode(&long) {
        Err(DecodeError::NoSeparator(s)) => assert_eq!(s.len(), SNIPPET_CHARS + 3),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        DecodeError::BadType("9:::".into()).to_string(),
        "invalid message type in \"9:::\" (expected a digit 0-8 followed by ':')"
    );
}

#[test]
fn kind_digits() {
    for (i, k) in Kind::ALL.into_iter().enumerate() {
        assert_eq!(usize::from(k.digit()), i);
        assert_eq!(Kind::from_digit(k.digit()), Some(k));
        assert_eq!(Kind::from_digit(k.ascii()), Some(k));
    }
    assert_eq!(Kind::from_digit(9), None);
    assert_eq!(Kind::from_digit(b'9'), None);
}

#[test]
fn utf16_lengths() {
    assert_eq!(utf16_len(""), 0);
    assert_eq!(utf16_len("abc"), 3);
    assert_eq!(utf16_len("zażółć"), 6);
    assert_eq!(utf16_len("😀"), 2);
    assert_eq!(utf16_len("\u{FFFD}"), 1);
    let s = "5:::{\"args\":[\"zażółć 😀\"]}";
    assert_eq!(utf16_len(s), s.encode_utf16().count());
    let msg = m(Kind::Event, MsgId::Client(7), "né", "😀x");
    assert_eq!(msg.encoded_utf16_len(), encode(&msg).encode_utf16().count());
    assert_eq!(msg.encoded_len(), encode(&msg).len());
}
