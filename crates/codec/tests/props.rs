//! Property tests of the Socket.IO 0.9 codec: no parser panics on arbitrary input, and
//! encode -> decode / batch -> split round trips in both length units.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use codec::{
    Kind, LengthUnit, Message, MsgId, decode, decode_frame_bytes, decode_payload, encode,
    encode_batch, frame_bytes, internal_event_from_value, parse_ack_data, parse_external_event,
    parse_handshake, parse_internal_events, read_length, split_payload,
};
use proptest::prelude::*;

/// Strings biased towards the codec's special characters (`:`, `+`, digits, U+FFFD, non-ASCII).
fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9:+\u{FFFD}a-cé😀{}\\[\\]\",]{0,40}",
        "(\u{FFFD}[0-9]{0,3}\u{FFFD}[0-9]:[0-9]{0,2}\\+?:[a-z]{0,3}:.{0,8}){0,4}",
    ]
}

fn kind() -> impl Strategy<Value = Kind> {
    (0u8..9).prop_map(|d| Kind::from_digit(d).unwrap())
}

fn msg_id() -> impl Strategy<Value = MsgId> {
    prop_oneof![
        Just(MsgId::None),
        any::<u64>().prop_map(MsgId::Server),
        any::<u64>().prop_map(MsgId::Client),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    let data = prop_oneof![any::<String>(), "[a-z0-9é😀\u{FFFD}:]{0,12}"];
    (kind(), msg_id(), "[^:]{0,12}", data).prop_map(|(kind, id, endpoint, data)| Message {
        kind,
        id,
        endpoint,
        data,
    })
}

fn unit() -> impl Strategy<Value = LengthUnit> {
    prop_oneof![Just(LengthUnit::Utf16), Just(LengthUnit::Bytes)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsers_never_panic(s in tricky_string()) {
        let _ = decode(&s);
        let _ = read_length(&s);
        for u in [None, Some(LengthUnit::Utf16), Some(LengthUnit::Bytes)] {
            let _ = split_payload(&s, u);
            let _ = decode_payload(&s, u);
        }
        let _ = parse_handshake(&s);
        let _ = parse_external_event(&s);
        let _ = parse_internal_events(&s);
        let _ = parse_ack_data(&s);
        let _ = decode_frame_bytes(s.as_bytes());
    }

    #[test]
    fn frame_bytes_decoder_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode_frame_bytes(&b);
        let mut framed = b"\xEF\xBF\xBD".to_vec();
        framed.extend_from_slice(&b);
        if let Ok(Some((_, used))) = decode_frame_bytes(&framed) {
            prop_assert!(used <= framed.len());
        }
    }

    #[test]
    fn json_parsers_never_panic(v in json_value()) {
        let _ = internal_event_from_value(&v);
        let _ = codec::validate_external_event(&v);
        let _ = parse_internal_events(&v.to_string());
    }

    #[test]
    fn encode_decode_round_trip(m in message()) {
        let enc = encode(&m);
        prop_assert_eq!(enc.len(), m.encoded_len());
        prop_assert_eq!(enc.encode_utf16().count(), m.encoded_utf16_len());
        prop_assert_eq!(decode(&enc), Ok(m.clone()));
        // A single message never looks framed (it starts with the type digit).
        prop_assert_eq!(decode_payload(&enc, None), Ok(vec![m]));
    }

    #[test]
    fn batch_round_trip(msgs in proptest::collection::vec(message(), 0..6), u in unit()) {
        let enc = encode_batch(&msgs, u);
        let frames: Vec<String> = msgs.iter().map(encode).collect();
        let split = split_payload(&enc, Some(u)).unwrap();
        prop_assert_eq!(&split, &frames);
        prop_assert_eq!(decode_payload(&enc, Some(u)).unwrap_or_default(), msgs.clone());
        // Auto-detection either finds the same frames or refuses; it never mis-splits.
        if let Ok(auto) = split_payload(&enc, None) {
            prop_assert_eq!(auto, frames);
        }
    }

    #[test]
    fn utf16_lengths_match_std(s in any::<String>()) {
        prop_assert_eq!(
            codec::socketio::utf16_len(&s),
            s.encode_utf16().count()
        );
    }

    /// A frame of any declared length over long non-ASCII text ends exactly where a reference
    /// walk over `encode_utf16` / bytes says, or is refused when that is mid-character.
    #[test]
    fn explicit_unit_frame_end_matches_reference(
        s in "[a-zé€😀 ]{0,300}",
        extra in 0usize..3,
        pick in any::<prop::sample::Index>(),
        u in unit(),
    ) {
        let total = u.len_of(&s);
        let len = pick.index(total + 1) + extra;
        let mut expected = None;
        let mut acc = 0;
        for (i, c) in s.char_indices().chain(std::iter::once((s.len(), ' '))) {
            if acc == len {
                expected = Some(i);
                break;
            }
            acc += match u {
                LengthUnit::Utf16 => c.len_utf16(),
                LengthUnit::Bytes => c.len_utf8(),
            };
        }
        let framed = format!("\u{FFFD}{len}\u{FFFD}{s}");
        let got = split_payload(&framed, Some(u));
        match expected {
            Some(i) => {
                let mut want = vec![&s[..i]];
                if i < s.len() {
                    want.push(&s[i..]);
                }
                prop_assert_eq!(got, Ok(want));
            }
            None => prop_assert!(got.is_err()),
        }
    }

    #[test]
    fn byte_stream_round_trip(msgs in proptest::collection::vec(message(), 1..5), cut in any::<prop::sample::Index>()) {
        let frames: Vec<String> = msgs.iter().map(encode).collect();
        let stream: Vec<u8> = frames.iter().flat_map(|f| frame_bytes(f)).collect();
        let batch = encode_batch(&msgs, LengthUnit::Bytes);
        prop_assert_eq!(&stream, batch.as_bytes());
        // Feed the stream in two chunks split at an arbitrary point.
        let cut = cut.index(stream.len() + 1);
        let mut buf = stream[..cut].to_vec();
        let mut rest = &stream[cut..];
        let mut got = Vec::new();
        loop {
            match decode_frame_bytes(&buf).unwrap() {
                Some((text, used)) => {
                    got.push(text);
                    buf.drain(..used);
                }
                None if rest.is_empty() => break,
                None => {
                    buf.extend_from_slice(rest);
                    rest = &[];
                }
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(got, frames);
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{Value, json};
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z_]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    prop_oneof![
                        Just("action".to_owned()),
                        Just("args".to_owned()),
                        Just("name".to_owned()),
                        Just("trigger_id".to_owned()),
                        "[a-z]{1,4}",
                    ],
                    inner
                ),
                0..4
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}
