//! Socket.IO 5/4 packet tests: the spec's encoding vectors (3.2), validity (3.3, 3.8),
//! attachments (3.4, 3.11), markers (5.8) and property tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use proptest::prelude::*;
use serde_json::json;

fn p(kind: Kind, nsp: &str, id: Option<u64>, data: Option<Value>) -> Packet {
    Packet {
        kind,
        nsp: nsp.into(),
        id,
        data,
        attachments: vec![],
    }
}

fn ph(n: u64) -> Value {
    json!({"_placeholder": true, "num": n})
}

#[test]
fn encoding_vectors() {
    let cases = vec![
        (p(Kind::Connect, "/", None, None), "0"),
        (
            p(Kind::Connect, "/", None, Some(json!({"token":"123"}))),
            r#"0{"token":"123"}"#,
        ),
        (p(Kind::Connect, "/admin", None, None), "0/admin,"),
        (
            p(Kind::Connect, "/admin", None, Some(json!({"token":"abc"}))),
            r#"0/admin,{"token":"abc"}"#,
        ),
        (
            p(
                Kind::Connect,
                "/",
                None,
                Some(json!({"sid":"wZX3oN0bSVIhsaknAAAI"})),
            ),
            r#"0{"sid":"wZX3oN0bSVIhsaknAAAI"}"#,
        ),
        (
            p(
                Kind::ConnectError,
                "/",
                None,
                Some(json!({"message":"Not authorized"})),
            ),
            r#"4{"message":"Not authorized"}"#,
        ),
        (
            p(
                Kind::ConnectError,
                "/",
                None,
                Some(json!({"message":"Not authorized","data":{"reason":"token expired"}})),
            ),
            r#"4{"message":"Not authorized","data":{"reason":"token expired"}}"#,
        ),
        (
            p(
                Kind::ConnectError,
                "/random",
                None,
                Some(json!({"message":"Invalid namespace"})),
            ),
            r#"4/random,{"message":"Invalid namespace"}"#,
        ),
        (
            p(Kind::Event, "/", None, Some(json!(["foo"]))),
            r#"2["foo"]"#,
        ),
        (
            p(
                Kind::Event,
                "/admin",
                None,
                Some(json!(["bar",1,{"a":[true]}])),
            ),
            r#"2/admin,["bar",1,{"a":[true]}]"#,
        ),
        (
            p(Kind::Event, "/", Some(12), Some(json!(["foo"]))),
            r#"212["foo"]"#,
        ),
        (
            p(Kind::Event, "/admin", Some(13), Some(json!(["foo"]))),
            r#"2/admin,13["foo"]"#,
        ),
        (p(Kind::Ack, "/", Some(12), Some(json!([]))), "312[]"),
        (
            p(Kind::Ack, "/admin", Some(13), Some(json!(["bar"]))),
            r#"3/admin,13["bar"]"#,
        ),
        (p(Kind::Disconnect, "/", None, None), "1"),
        (p(Kind::Disconnect, "/admin", None, None), "1/admin,"),
    ];
    for (packet, text) in cases {
        assert_eq!(encode(&packet), text);
        let d = decode(text, 10).unwrap();
        assert_eq!(d.expect, 0);
        assert_eq!(d.packet, packet, "{text}");
    }
}

#[test]
fn binary_vectors() {
    let mut ev = p(Kind::Event, "/", None, Some(json!(["baz", ph(0)])));
    ev.attachments = vec![vec![1, 2, 3, 4]];
    assert_eq!(encode(&ev), r#"51-["baz",{"_placeholder":true,"num":0}]"#);
    let mut ev2 = p(
        Kind::Event,
        "/admin",
        None,
        Some(json!(["baz", ph(0), ph(1)])),
    );
    ev2.attachments = vec![vec![1, 2], vec![3, 4]];
    assert_eq!(
        encode(&ev2),
        r#"52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
    );
    let mut ack = p(Kind::Ack, "/", Some(15), Some(json!(["bar", ph(0)])));
    ack.attachments = vec![vec![1, 2, 3, 4]];
    assert_eq!(
        encode(&ack),
        r#"61-15["bar",{"_placeholder":true,"num":0}]"#
    );

    // Reassembly of 3.11 #13.
    let mut a = Assembler::new(10);
    let text =
        r#"52-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
    assert_eq!(a.push_text(text), Ok(None));
    assert!(a.waiting());
    assert_eq!(a.push_binary(vec![1, 2, 3]), Ok(None));
    let done = a.push_binary(vec![4, 5, 6]).unwrap().unwrap();
    assert_eq!(done.id, Some(789));
    assert_eq!(done.attachments, vec![vec![1, 2, 3], vec![4, 5, 6]]);
    let markers = to_markers(done.data.clone().unwrap(), &done.attachments);
    assert_eq!(
        markers,
        json!(["message-with-ack", {"_hive_binary":"AQID"}, {"_hive_binary":"BAUG"}])
    );
    let mut bins = vec![];
    let back = from_markers(markers, &mut bins);
    assert_eq!(back, done.data.unwrap());
    assert_eq!(bins, done.attachments);

    // Nested binaries.
    let d = decode(
        r#"51-7["message-with-ack",{"a":{"b":{"_placeholder":true,"num":0}}}]"#,
        10,
    )
    .unwrap();
    assert_eq!(d.expect, 1);
    assert_eq!(d.packet.id, Some(7));
}

#[test]
fn assembler_errors() {
    let mut a = Assembler::new(10);
    assert_eq!(a.push_binary(vec![1]), Err(SioError::Attachment));
    let mut a = Assembler::new(10);
    a.push_text(r#"51-["x",{"_placeholder":true,"num":0}]"#)
        .unwrap();
    assert_eq!(a.push_text(r#"2["x"]"#), Err(SioError::Attachment));
    let mut a = Assembler::new(10);
    a.push_text(r#"51-["x",{"_placeholder":true,"num":1}]"#)
        .unwrap();
    assert_eq!(a.push_binary(vec![1]), Err(SioError::Placeholder));
    let mut a = Assembler::new(10);
    a.push_text(r#"51-["x",{"_placeholder":true,"num":"0"}]"#)
        .unwrap();
    assert_eq!(a.push_binary(vec![1]), Err(SioError::Placeholder));
}

#[test]
fn decode_rules() {
    // Namespaces without comma, leading-zero ids, payload-less ack.
    assert_eq!(
        decode("0/custom", 10).unwrap().packet,
        p(Kind::Connect, "/custom", None, None)
    );
    assert_eq!(
        decode("1/custom", 10).unwrap().packet,
        p(Kind::Disconnect, "/custom", None, None)
    );
    assert_eq!(decode(r#"207["x"]"#, 10).unwrap().packet.id, Some(7));
    assert_eq!(
        decode("312", 10).unwrap().packet,
        p(Kind::Ack, "/", Some(12), Some(json!([])))
    );
    assert_eq!(
        decode(r#"2[1,"a"]"#, 10).unwrap().packet.data,
        Some(json!([1, "a"]))
    );
    assert_eq!(
        decode(r#"29007199254740991["x"]"#, 10).unwrap().packet.id,
        Some(MAX_ACK_ID)
    );
    assert_eq!(
        decode(r#"29007199254740992["x"]"#, 10),
        Err(SioError::AckId)
    );
    assert_eq!(
        decode(r#"212345678901234567890["x"]"#, 10),
        Err(SioError::AckId)
    );
    // 3.8 malformed inputs.
    for bad in [
        "abc",
        "7",
        "8",
        "9",
        "",
        "2{}",
        "2[]",
        "2",
        r#"2abc["message-with-ack",1]"#,
        r#"2["disconnect"]"#,
        r#"2["connect"]"#,
        "2[true]",
        "2[null]",
        r#"0"str""#,
        "0[1]",
        "1{}",
        r#"50-["x"]"#,
        r#"511-["x"]"#,
        r#"5x-["x"]"#,
        r#"51["x"]"#,
        r#"3{}"#,
    ] {
        assert!(decode(bad, 10).is_err(), "{bad:?} must be malformed");
    }
    // CONNECT_ERROR decodes (a client reads it); the server rejects the type itself.
    assert_eq!(
        decode(r#"4"Not authorized""#, 10).unwrap().packet.kind,
        Kind::ConnectError
    );
}

#[test]
fn sio4_namespace_query() {
    let d = decode("0/custom?token=abc,", 10).unwrap().packet;
    let (nsp, q) = split_nsp_query(&d.nsp);
    assert_eq!(nsp, "/custom");
    assert_eq!(Value::Object(q), json!({"token":"abc"}));
    let (_, q) = split_nsp_query("/x?a=1%202&b=c+d&e");
    assert_eq!(Value::Object(q), json!({"a":"1 2","b":"c d","e":""}));
    assert_eq!(percent_decode("%zz%4"), "%zz%4");
}

#[test]
fn markers() {
    assert_eq!(marker(&[1, 2, 3]), json!({"_hive_binary":"AQID"}));
    assert!(has_markers(&json!([1, {"a": {"_hive_binary":"AQID"}}])));
    // Extra keys or bad base64: ordinary JSON.
    assert!(!has_markers(&json!({"_hive_binary":"AQID","x":1})));
    assert!(!has_markers(&json!({"_hive_binary":"!!"})));
    let mut bins = vec![];
    let v = from_markers(
        json!(["m", {"_hive_binary":"AQID"}, {"n":{"_hive_binary":"BAUG"}}]),
        &mut bins,
    );
    assert_eq!(v, json!(["m", ph(0), {"n": ph(1)}]));
    assert_eq!(bins, vec![vec![1, 2, 3], vec![4, 5, 6]]);
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        ".*".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec(("[a-z]{1,4}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn event_roundtrip(
        nsp in "(/|/[a-z]{1,6})",
        id in proptest::option::of(0u64..=MAX_ACK_ID),
        name in "[a-z]{1,8}",
        args in proptest::collection::vec(json_value(), 0..4),
        bins in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..8), 0..3),
    ) {
        prop_assume!(!RESERVED_EVENTS.contains(&name.as_str()));
        let mut args = args;
        args.extend(bins.iter().map(|b| marker(b)));
        let mut out = vec![];
        let data = from_markers(Value::Array(args), &mut out);
        let packet = Packet { attachments: out, ..Packet::event(&nsp, &name, vec![], id) };
        let mut arr = vec![Value::String(name.clone())];
        if let Value::Array(a) = data { arr.extend(a); }
        let packet = Packet { data: Some(Value::Array(arr)), ..packet };
        let text = encode(&packet);
        let mut asm = Assembler::new(10);
        let mut got = asm.push_text(&text).unwrap();
        for b in &packet.attachments {
            prop_assert!(got.is_none());
            got = asm.push_binary(b.clone()).unwrap();
        }
        prop_assert_eq!(got, Some(packet));
    }

    #[test]
    fn event_into_matches_encode(
        nsp in "(|/|/[a-z]{1,6})",
        id in proptest::option::of(0u64..=MAX_ACK_ID),
        name in ".{0,8}",
        args in proptest::collection::vec(json_value(), 0..4),
    ) {
        let mut out = b"4".to_vec();
        encode_event_into(&mut out, &nsp, id, &name, &args);
        let packet = Packet::event(&nsp, &name, args, id);
        prop_assert_eq!(String::from_utf8(out).unwrap(), format!("4{}", encode(&packet)));
    }

    #[test]
    fn never_panics(s in ".*", b in proptest::collection::vec(any::<u8>(), 0..8)) {
        let _ = decode(&s, 10);
        let mut a = Assembler::new(3);
        let _ = a.push_text(&s);
        let _ = a.push_binary(b);
        let _ = split_nsp_query(&s);
    }

    #[test]
    fn never_panics_structured(s in "[0-6][0-9-]{0,3}(/[a-z,?=%]{0,5})?[0-9]{0,3}(\\[.{0,10}\\]|\\{.{0,10}\\})?") {
        let _ = decode(&s, 10);
    }
}
