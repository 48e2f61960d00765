//! Channel ids and the "cid spec" grammar shared by pub-sub hooks and dispatchers (HIVE.md 5.6, 8.1).
//!
//! The grammar is the original's `hive_pubsub_utils` exactly; the shapes that crashed the original's
//! client process (numbers or objects in a top-level array, `null`/booleans/floats anywhere,
//! non-integer `subjects`/`grades`) are [`HiveError::BadRequest`] here.

use crate::HiveError;
use serde_json::Value;

/// The prefix (first dot-segment) of a channel id: the key of its template.
pub fn prefix_of(cid: &str) -> &str {
    cid.split('.').next().unwrap_or(cid)
}

/// True when `cid` equals `scope` or lies below it at a segment boundary (`a.b` is under `a`,
/// `a.bc` is not).
pub fn is_at_or_below(cid: &str, scope: &str) -> bool {
    cid == scope
        || (cid.len() > scope.len()
            && cid.starts_with(scope)
            && cid.as_bytes().get(scope.len()) == Some(&b'.'))
}

fn bad(spec: &Value) -> HiveError {
    HiveError::BadRequest(format!(
        "Invalid Hive Pub-Sub Channel specification: {spec}"
    ))
}

fn integer_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// Expand a cid spec into a flat, ordered list of channel ids (HIVE.md 5.6).
///
/// # Errors
/// [`HiveError::BadRequest`] for shapes outside the grammar.
pub fn expand_cid_spec(spec: &Value) -> Result<Vec<String>, HiveError> {
    match spec {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Number(_) => integer_text(spec).map(|s| vec![s]).ok_or_else(|| bad(spec)),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string).ok_or_else(|| bad(spec)))
            .collect(),
        Value::Object(map) => {
            let mut out = Vec::new();
            for (p, v) in map {
                expand_under(p, v, spec, &mut out)?;
            }
            Ok(out)
        }
        _ => Err(bad(spec)),
    }
}

fn expand_under(p: &str, v: &Value, whole: &Value, out: &mut Vec<String>) -> Result<(), HiveError> {
    match v {
        Value::String(x) => out.push(format!("{p}.{x}")),
        Value::Number(_) => {
            let n = integer_text(v).ok_or_else(|| bad(whole))?;
            out.push(format!("{p}.{n}"));
        }
        Value::Array(items) => {
            for item in items {
                expand_under(p, item, whole, out)?;
            }
        }
        Value::Object(map) if map.is_empty() => {}
        Value::Object(map) => {
            // Brainly-specific: subjects x grades; every other key is ignored.
            let ints = |key: &str| -> Result<Vec<String>, HiveError> {
                match map.get(key) {
                    None => Ok(Vec::new()),
                    Some(Value::Array(a)) => a
                        .iter()
                        .map(|x| integer_text(x).ok_or_else(|| bad(whole)))
                        .collect(),
                    Some(_) => Err(bad(whole)),
                }
            };
            let subjects = ints("subjects")?;
            let grades = ints("grades")?;
            for s in &subjects {
                for g in &grades {
                    out.push(format!("{p}.{s}.{g}"));
                }
            }
        }
        _ => return Err(bad(whole)),
    }
    Ok(())
}

/// Expand a `pubsub.resubscribe` argument `{prefix: ids, ...}` into the prefixes to leave (the
/// object's keys, in order) and the cids to join afterwards.
///
/// # Errors
/// [`HiveError::BadRequest`] when `spec` is not an object or an entry is outside the grammar.
pub fn expand_resubscribe(spec: &Value) -> Result<(Vec<String>, Vec<String>), HiveError> {
    let Value::Object(map) = spec else {
        return Err(bad(spec));
    };
    let leave = map.keys().cloned().collect();
    Ok((leave, expand_cid_spec(spec)?))
}

/// Remove repeated cids, keeping the first occurrence (fix for HIVE.md 16.5 #1).
pub(crate) fn dedupe(cids: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::with_capacity(cids.len());
    cids.iter()
        .filter(|c| seen.insert(c.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(v: Value) -> Vec<String> {
        expand_cid_spec(&v).unwrap_or_else(|e| panic!("{v}: {e}"))
    }

    #[test]
    fn spec_examples_from_hive_md() {
        assert_eq!(ok(json!("ping.all")), ["ping.all"]);
        assert_eq!(ok(json!(5)), ["5"]);
        assert_eq!(ok(json!([])), Vec::<String>::new());
        assert_eq!(ok(json!(["a", "b.c"])), ["a", "b.c"]);
        assert_eq!(
            ok(json!({"rooms": ["main", "bot_1"]})),
            ["rooms.main", "rooms.bot_1"]
        );
        assert_eq!(
            ok(json!({"rooms": "main", "ping": 5})),
            ["rooms.main", "ping.5"]
        );
        assert_eq!(
            ok(json!({"q": {"subjects": [1, 2], "grades": [7]}})),
            ["q.1.7", "q.2.7"]
        );
        assert_eq!(ok(json!({"foo": {"bar": ["baz"]}})), Vec::<String>::new());
        assert_eq!(ok(json!({"a": [], "b": {}})), Vec::<String>::new());
        assert_eq!(
            ok(json!({"a": ["x", 1, ["y"], {"subjects": [3], "grades": [4, 5]}]})),
            ["a.x", "a.1", "a.y", "a.3.4", "a.3.5"]
        );
    }

    #[test]
    fn unsupported_shapes_are_bad_request() {
        for v in [
            json!(null),
            json!(true),
            json!(1.5),
            json!([1]),
            json!([{"a": 1}]),
            json!({"a": null}),
            json!({"a": [true]}),
            json!({"a": 2.5}),
            json!({"q": {"subjects": ["x"], "grades": [1]}}),
            json!({"q": {"subjects": 1}}),
        ] {
            assert_eq!(
                expand_cid_spec(&v).map_err(|e| e.code()),
                Err("bad_request"),
                "{v}"
            );
        }
    }

    #[test]
    fn resubscribe_and_helpers() {
        let (leave, join) =
            expand_resubscribe(&json!({"rooms": ["a", "b"], "ping": 1})).unwrap_or_default();
        assert_eq!(leave, ["rooms", "ping"]);
        assert_eq!(join, ["rooms.a", "rooms.b", "ping.1"]);
        assert!(expand_resubscribe(&json!(["rooms"])).is_err());
        assert_eq!(prefix_of("a.b.c"), "a");
        assert_eq!(prefix_of("a"), "a");
        assert!(is_at_or_below("a.b", "a"));
        assert!(is_at_or_below("a", "a"));
        assert!(!is_at_or_below("a.bc", "a.b"));
        assert!(!is_at_or_below("ab", "a"));
        let d = dedupe(&["x".into(), "y".into(), "x".into()]);
        assert_eq!(d, ["x", "y"]);
    }
}
