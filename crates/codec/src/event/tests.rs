//! Unit tests of event JSON parsing and the id/ACK helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use super::*;

fn code_and_text(e: EventError) -> (&'static str, String) {
    (e.code(), e.to_string())
}

#[test]
fn external_events_valid() {
    let e = parse_external_event(r#"{"name":"ping","args":[1,{"a":2}]}"#).unwrap();
    assert_eq!(e.name, "ping");
    assert_eq!(e.args, json!([1, {"a": 2}]));
    assert_eq!(e.raw, json!({"name": "ping", "args": [1, {"a": 2}]}));
    // No args, empty args, null args: valid (the original rejected the first three).
    for data in [
        r#"{"name":"x"}"#,
        r#"{"name":"x","args":[]}"#,
        r#"{"name":"x","args":{}}"#,
        r#"{"name":"x","args":null}"#,
    ] {
        let e = parse_external_event(data).unwrap();
        assert_eq!(e.name, "x", "{data}");
        assert!(validate_external_event(&e.raw).is_ok());
    }
    assert_eq!(
        parse_external_event(r#"{"name":"x"}"#).unwrap().args,
        Value::Null
    );
    // Extra keys are kept in raw, in order (serde_json preserve_order).
    let e = parse_external_event(r#"{"z":1,"name":"x","args":"s","a":[2]}"#).unwrap();
    assert_eq!(
        e.raw.to_string(),
        r#"{"z":1,"name":"x","args":"s","a":[2]}"#
    );
    assert_eq!(e.args, json!("s"));
    let e = parse_external_event(r#"{"name":"zażółć","args":["😀"]}"#).unwrap();
    assert_eq!(
        (e.name.as_str(), e.args[0].as_str()),
        ("zażółć", Some("😀"))
    );
}

#[test]
fn external_events_invalid() {
    let cases = [
        (r#"{"args":[1]}"#, "required property name is missing"),
        (r#"{"name":1,"args":[1]}"#, "property name must be a string"),
        (r#"["name","x"]"#, "expected a JSON object"),
        (r#""x""#, "expected a JSON object"),
    ];
    for (data, details) in cases {
        let (code, text) = code_and_text(parse_external_event(data).unwrap_err());
        assert_eq!(code, "bad_external_event");
        assert_eq!(text, format!("Bad external event {data}: {details}."));
        let v: Value = serde_json::from_str(data).unwrap();
        let (code, text) = code_and_text(validate_external_event(&v).unwrap_err());
        assert_eq!(code, "bad_external_event");
        assert_eq!(text, format!("Bad external event {v}: {details}."));
    }
    for data in ["", "{", "{\"name\":\"x\"} trailing", "nope"] {
        let (code, text) = code_and_text(parse_external_event(data).unwrap_err());
        assert_eq!(code, "bad_external_event", "{data}");
        assert!(
            text.starts_with(&format!("Bad external event {data}: invalid JSON (")),
            "{text}"
        );
        assert!(text.ends_with(")."), "{text}");
    }
}

#[test]
fn internal_events_single_and_array() {
    let one =
        parse_internal_events(r#"{"action":"reply","args":{"name":"x","args":[1]}}"#).unwrap();
    assert_eq!(
        one,
        vec![InternalEvent::new(
            "reply",
            json!({"name": "x", "args": [1]})
        )]
    );
    let body = r#"[{"action":"reply","args":null,"trigger_id":"1+"},
                   {"action":"store","args":{"nick":"bob"},"extra":true},
                   {"action":"stop","args":[]},{"action":"e","args":{}}]"#;
    let evs = parse_internal_events(body).unwrap();
    let actions: Vec<&str> = evs.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["reply", "store", "stop", "e"], "array order kept");
    assert_eq!(evs[0].trigger_id, "1+");
    assert_eq!(evs[0].args, Value::Null);
    assert_eq!(evs[1].trigger_id, "");
    assert_eq!(evs[2].args, json!([]));
    assert_eq!(
        serde_json::to_string(&evs[1]).unwrap(),
        r#"{"action":"store","args":{"nick":"bob"},"trigger_id":""}"#
    );
}

#[test]
fn internal_events_invalid() {
    let (code, text) = code_and_text(parse_internal_events("{nope").unwrap_err());
    assert_eq!(
        (code, text.as_str()),
        ("invalid_json", "Bad internal event: {nope.")
    );
    let (code, _) = code_and_text(parse_internal_events("").unwrap_err());
    assert_eq!(code, "invalid_json");
    let cases = [
        ("[]", "[]", "expected a JSON object"),
        ("[1]", "[1]", "expected a JSON object"),
        (r#""x""#, r#""x""#, "expected a JSON object"),
        (
            r#"{"args":1}"#,
            r#"{"args":1}"#,
            "required property action is missing",
        ),
        (
            r#"{"action":2,"args":1}"#,
            r#"{"action":2,"args":1}"#,
            "property action must be a string",
        ),
        (
            r#"{"action":"a"}"#,
            r#"{"action":"a"}"#,
            "required property args is missing",
        ),
        (
            r#"{"action":"a","args":1,"trigger_id":5}"#,
            r#"{"action":"a","args":1,"trigger_id":5}"#,
            "property trigger_id must be a string",
        ),
        // First invalid element of an array aborts the batch.
        (
            r#"[{"action":"a","args":1},{"action":"b"},{"x":1}]"#,
            r#"{"action":"b"}"#,
            "required property args is missing",
        ),
        (
            r#"[{"action":"a","args":1}, 7]"#,
            "7",
            "expected a JSON object",
        ),
    ];
    for (body, shown, details) in cases {
        let (code, text) = code_and_text(parse_internal_events(body).unwrap_err());
        assert_eq!(code, "bad_internal_event", "{body}");
        assert_eq!(
            text,
            format!("Bad internal event {shown}: {details}."),
            "{body}"
        );
    }
    assert!(internal_event_from_value(&json!({"action":"a","args":null})).is_ok());
    assert!(internal_event_from_value(&json!(null)).is_err());
}

/// HIVE.md 6.3: ids of the send_* dispatchers.
#[test]
fn trigger_ids() {
    assert_eq!(id_from_trigger(""), MsgId::None);
    assert_eq!(id_from_trigger("12"), MsgId::Server(12));
    assert_eq!(id_from_trigger("12+"), MsgId::Client(12));
    for junk in ["x", "1x", "+", "+1", "1 ", "-3"] {
        assert_eq!(id_from_trigger(junk), MsgId::None, "{junk}");
    }
}

#[test]
fn ack_helpers() {
    assert_eq!(ack_data("1+", None), "1+");
    assert_eq!(ack_data("1+", Some("[\"pong\"]")), "1+[\"pong\"]");
    assert_eq!(ack_data("", Some("[1]")), "[1]");
    assert_eq!(
        parse_ack_data("1+[\"x\"]"),
        (MsgId::Client(1), Some("[\"x\"]"))
    );
    assert_eq!(parse_ack_data("12"), (MsgId::Server(12), None));
    assert_eq!(parse_ack_data("1+"), (MsgId::Client(1), None));
    assert_eq!(parse_ack_data("3[1]"), (MsgId::Server(3), Some("[1]")));
    assert_eq!(parse_ack_data(""), (MsgId::None, None));
    assert_eq!(parse_ack_data("[1]"), (MsgId::None, Some("[1]")));
    assert_eq!(parse_ack_data("+[1]"), (MsgId::None, Some("+[1]")));
}
