//! Unit tests of the U+FFFD framing: HIVE.md 3.8 vectors, units, auto-detection, streaming.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::socketio::{Kind, MsgId, encode};

/// `◊` of HIVE.md 3.8.
fn f(s: &str) -> String {
    s.replace('◊', "\u{FFFD}")
}

fn msgs(kinds: &[Kind]) -> Vec<Message> {
    kinds.iter().map(|&k| Message::new(k)).collect()
}

/// HIVE.md 3.8 "Encoding batches".
#[test]
fn encode_batch_vectors() {
    for unit in [LengthUnit::Bytes, LengthUnit::Utf16] {
        assert_eq!(encode_batch(&[], unit), "");
        assert_eq!(
            encode_batch(&msgs(&[Kind::Noop, Kind::Noop]), unit),
            f("◊4◊8:::◊4◊8:::")
        );
        assert_eq!(
            encode_batch(
                &msgs(&[Kind::Disconnect, Kind::Connect, Kind::Heartbeat]),
                unit
            ),
            f("◊4◊0:::◊4◊1:::◊4◊2:::")
        );
        assert_eq!(encode_frames(&["8:::", "1:::"], unit), f("◊4◊8:::◊4◊1:::"));
        assert_eq!(encode_frames::<&str>(&[], unit), "");
    }
}

/// HIVE.md 3.8 "Reading a length header".
#[test]
fn read_length_vectors() {
    assert_eq!(read_length(&f("◊4◊0:::")), Ok(4));
    assert_eq!(read_length(&f("◊4◊")), Ok(4));
    assert_eq!(read_length(&f("◊4◊toooo long")), Ok(4));
    assert_eq!(read_length(&f("◊123◊")), Ok(123));
    assert_eq!(read_length(&f("◊12")), Err(DecodeError::Incomplete));
    assert_eq!(read_length(&f("◊")), Err(DecodeError::Incomplete));
    for bad in [
        "4◊0:::",
        "◊◊0:::",
        "◊x◊",
        "◊4x◊",
        "◊99999999999999999999999◊",
    ] {
        assert!(
            matches!(read_length(&f(bad)), Err(DecodeError::BadLength(_))),
            "{bad}"
        );
    }
}

/// HIVE.md 3.8 "Splitting a payload into raw messages", in both units and auto mode.
#[test]
fn split_vectors() {
    for unit in [None, Some(LengthUnit::Bytes), Some(LengthUnit::Utf16)] {
        assert_eq!(split_payload("", unit), Ok(vec![]));
        assert_eq!(split_payload("foobar", unit), Ok(vec!["foobar"]));
        assert_eq!(split_payload(&f("◊3◊foobar"), unit), Ok(vec!["foo", "bar"]));
        let two = encode_batch(&msgs(&[Kind::Noop, Kind::Noop]), LengthUnit::Bytes);
        assert_eq!(split_payload(&two, unit), Ok(vec!["8:::", "8:::"]));
    }
    // The length counts bytes: 1 + 3 + 1 = 5.
    let ab = f("◊5◊a◊b");
    assert_eq!(
        split_payload(&ab, Some(LengthUnit::Bytes)),
        Ok(vec![f("a◊b").as_str()])
    );
    assert_eq!(split_payload(&ab, None), Ok(vec![f("a◊b").as_str()]));
    // In UTF-16 units "a◊b" is 3 long, so 5 runs past the end.
    assert!(matches!(
        split_payload(&ab, Some(LengthUnit::Utf16)),
        Err(DecodeError::BadLength(_))
    ));
    assert_eq!(
        split_payload(&f("◊3◊a◊b"), Some(LengthUnit::Utf16)),
        Ok(vec![f("a◊b").as_str()])
    );
}

#[test]
fn split_errors() {
    let bad_len =
        |s: &str, unit| matches!(split_payload(&f(s), unit), Err(DecodeError::BadLength(_)));
    for unit in [None, Some(LengthUnit::Bytes), Some(LengthUnit::Utf16)] {
        assert!(bad_len("◊9◊8:::", unit), "past the end");
        assert!(bad_len("◊x◊8:::", unit), "non-digit");
        assert!(bad_len("◊◊8:::", unit), "no digits");
        assert!(bad_len("◊4", unit), "truncated header");
        assert!(bad_len("◊4◊8:::◊", unit), "truncated second header");
        assert!(bad_len("◊-1◊8:::", unit), "sign");
    }
    // "ażb": 'a' is 1 byte and 'ż' 2, so a length of 2 ends inside 'ż'.
    assert!(bad_len("◊2◊ażb", Some(LengthUnit::Bytes)), "splits a char");
    // 1 UTF-16 unit ends inside the surrogate pair of the emoji.
    assert!(bad_len("◊1◊😀", Some(LengthUnit::Utf16)), "splits a pair");
}

/// A payload with an emoji and Polish letters, framed both ways.
#[test]
fn non_ascii_units_and_auto_detection() {
    let ev = Message::event(r#"{"name":"x","args":["zażółć 😀"]}"#);
    let enc = encode(&ev);
    let bytes = encode_batch(&[ev.clone(), Message::noop()], LengthUnit::Bytes);
    let utf16 = encode_batch(&[ev.clone(), Message::noop()], LengthUnit::Utf16);
    assert_eq!(read_length(&bytes), Ok(enc.len()));
    assert_eq!(read_length(&utf16), Ok(enc.encode_utf16().count()));
    assert_ne!(bytes, utf16);
    let want = vec![ev.clone(), Message::noop()];
    assert_eq!(
        decode_payload(&bytes, Some(LengthUnit::Bytes)),
        Ok(want.clone())
    );
    assert_eq!(
        decode_payload(&utf16, Some(LengthUnit::Utf16)),
        Ok(want.clone())
    );
    assert_eq!(decode_payload(&bytes, None), Ok(want.clone()));
    assert_eq!(decode_payload(&utf16, None), Ok(want.clone()));
    // Single frame at the end of input, either unit.
    for unit in [LengthUnit::Bytes, LengthUnit::Utf16] {
        let one = encode_batch(std::slice::from_ref(&ev), unit);
        assert_eq!(split_payload(&one, None), Ok(vec![enc.as_str()]));
    }
    // The wrong explicit unit mis-splits (or fails): that is what auto mode is for.
    let right = Ok(vec![enc.as_str(), "8:::"]);
    assert_ne!(split_payload(&utf16, Some(LengthUnit::Bytes)), right);
    assert_ne!(split_payload(&bytes, Some(LengthUnit::Utf16)), right);
}

#[test]
fn auto_detection_rejects_ambiguous_and_inconsistent() {
    // Body "é◊2◊ab": 2 bytes = "é", then "◊2◊ab" (a frame); 2 UTF-16 units = "é◊", then "2◊ab"
    // (no marker). Only the byte reading lands on a boundary, so it wins.
    assert_eq!(split_payload(&f("◊2◊é◊2◊ab"), None), Ok(vec!["é", "ab"]));
    // Body "éé◊2◊ab": 4 bytes = "éé" and 4 units = "éé◊2" are both followed by a marker.
    let amb = f("◊4◊éé◊2◊ab");
    assert!(matches!(
        split_payload(&amb, None),
        Err(DecodeError::BadLength(s)) if s.contains("ambiguous")
    ));
    // Inconsistent: first frame proves UTF-16, second only fits bytes.
    let ev = encode(&Message::event("ż"));
    let mut mixed = encode_frames(&[ev.as_str()], LengthUnit::Utf16);
    frame_into(&mut mixed, &ev, LengthUnit::Bytes);
    assert!(matches!(
        split_payload(&mixed, None),
        Err(DecodeError::BadLength(s)) if s.contains("inconsistent")
    ));
}

/// HIVE.md 3.8 "Batch round trips" and the "maybe batch" decoder.
#[test]
fn batch_round_trips_and_maybe_batch() {
    let lists = [
        msgs(&[Kind::Noop]),
        msgs(&[Kind::Noop, Kind::Noop]),
        msgs(&[Kind::Ack, Kind::Json]),
        msgs(&[Kind::Ack, Kind::Json, Kind::Noop]),
    ];
    for l in &lists {
        for unit in [LengthUnit::Bytes, LengthUnit::Utf16] {
            let enc = encode_batch(l, unit);
            assert_eq!(decode_payload(&enc, Some(unit)).as_ref(), Ok(l));
            assert_eq!(decode_payload(&enc, None).as_ref(), Ok(l));
        }
    }
    for k in Kind::ALL {
        assert_eq!(
            decode_payload(&encode(&Message::new(k)), None),
            Ok(vec![Message::new(k)])
        );
    }
    let one = |s| decode_payload(s, None).map(|mut v| (v.len(), v.pop()));
    assert_eq!(one("8:::"), Ok((1, Some(Message::noop()))));
    assert_eq!(one("8::"), Ok((1, Some(Message::noop()))));
    assert_eq!(
        one("7:::herped-derped"),
        Ok((1, Some(Message::error("herped-derped"))))
    );
    let conn = |id| Message::new(Kind::Connect).with_id(id).with_endpoint("3");
    let mut c2 = conn(MsgId::Server(2));
    c2.data = "4".into();
    assert_eq!(one("1:2:3:4"), Ok((1, Some(c2))));
    let mut c2p = conn(MsgId::Client(2));
    c2p.data = "4".into();
    assert_eq!(one("1:2+:3:4"), Ok((1, Some(c2p))));
    assert_eq!(decode_payload("", None), Err(DecodeError::EmptyFrame));
    assert!(matches!(
        decode_payload(&f("◊4◊9:::"), None),
        Err(DecodeError::BadType(_))
    ));
}

#[test]
fn streaming_byte_frames() {
    let frame = frame_bytes("3::/x:{}");
    assert_eq!(frame, f("◊8◊3::/x:{}").into_bytes());
    // Every strict prefix needs more bytes.
    for n in 0..frame.len() {
        assert_eq!(decode_frame_bytes(&frame[..n]), Ok(None), "prefix {n}");
    }
    let mut two = frame.clone();
    two.extend_from_slice(&frame_bytes("ż"));
    assert_eq!(
        decode_frame_bytes(&two),
        Ok(Some(("3::/x:{}".to_owned(), frame.len())))
    );
    assert_eq!(
        decode_frame_bytes(&two[frame.len()..]),
        Ok(Some(("ż".to_owned(), two.len() - frame.len())))
    );
    let err = |b: &[u8]| decode_frame_bytes(b).err();
    assert!(matches!(err(b"x"), Some(DecodeError::BadLength(_))));
    assert!(err(b"\xEF\xBF").is_none());
    assert!(matches!(err(b"\xEF\x00"), Some(DecodeError::BadLength(_))));
    assert!(matches!(
        err(&f("◊x◊").into_bytes()),
        Some(DecodeError::BadLength(_))
    ));
    assert!(matches!(
        err(&f("◊◊").into_bytes()),
        Some(DecodeError::BadLength(_))
    ));
    assert!(matches!(
        err(&f("◊4x").into_bytes()),
        Some(DecodeError::BadLength(_))
    ));
    // "ż" is 2 bytes; a length of 1 splits it.
    assert!(matches!(
        err(&f("◊1◊ż").into_bytes()),
        Some(DecodeError::BadLength(_))
    ));
    assert!(matches!(
        err(b"\xEF\xBF\xBD1\xEF\xBF\xBD\xFF"),
        Some(DecodeError::Invalid(_))
    ));
    assert_eq!(
        decode_frame_bytes_max(&f("◊11◊").into_bytes(), 10),
        Err(DecodeError::TooLarge { limit: 10 })
    );
    assert_eq!(
        decode_frame_bytes(&f("◊99999999999999999999◊").into_bytes()),
        Err(DecodeError::TooLarge {
            limit: DEFAULT_MAX_FRAME_BYTES
        })
    );
    let long = format!("\u{FFFD}{}", "1".repeat(30));
    assert!(matches!(
        err(long.as_bytes()),
        Some(DecodeError::BadLength(_))
    ));
}
