//! The `match` action's two matchers (FLOOD.md 4.3): regex with capture-group bindings and
//! JSON patterns with `$name` binders.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use regex::Regex;
use serde_json::Value;

/// Compiled regexes shared by all users (scenarios use a handful of patterns).
static REGEXES: LazyLock<Mutex<HashMap<String, Regex>>> = LazyLock::new(Mutex::default);

fn compiled(re: &str) -> Result<Regex, String> {
    let mut cache = REGEXES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(r) = cache.get(re) {
        return Ok(r.clone());
    }
    let r = Regex::new(re).map_err(|e| format!("bad regex {re:?}: {e}"))?;
    cache.insert(re.to_owned(), r.clone());
    Ok(r)
}

/// Regex match of `subject` (a string, or an array of strings taken as their concatenation).
/// On a match returns the bindings `<name>_0`, `<name>_1`, ... for capture groups 1, 2, ...
/// (`""` for a group that did not take part).
///
/// # Errors
/// A subject of another type or an invalid regex: the original crashes the user here.
pub fn regex_match(
    subject: &Value,
    re: &str,
    name: &str,
) -> Result<Option<Vec<(String, Value)>>, String> {
    let text = match subject {
        Value::String(s) => s.clone(),
        Value::Array(a) if a.iter().all(Value::is_string) => {
            a.iter().filter_map(Value::as_str).collect()
        }
        other => return Err(format!("match subject is not a string: {other}")),
    };
    let r = compiled(re)?;
    Ok(r.captures(&text).map(|caps| {
        (1..caps.len())
            .map(|i| {
                let g = caps.get(i).map_or("", |m| m.as_str());
                (format!("{name}_{}", i - 1), Value::String(g.to_owned()))
            })
            .collect()
    }))
}

/// JSON pattern match: objects match key by key (extra subject keys allowed), arrays element by
/// element with equal length, `"$name"` binds anything but `[]`, other values must be equal.
/// The first binding of a repeated name wins. An object pattern against a non-object subject
/// is a plain mismatch (the original crashed the user).
pub fn json_match(subject: &Value, pattern: &Value) -> Option<Vec<(String, Value)>> {
    let mut binds = Vec::new();
    walk(subject, pattern, &mut binds).then_some(binds)
}

fn walk(subject: &Value, pattern: &Value, binds: &mut Vec<(String, Value)>) -> bool {
    match (pattern, subject) {
        (Value::Object(p), Value::Object(s)) => p
            .iter()
            .all(|(k, pv)| s.get(k).is_some_and(|sv| walk(sv, pv, binds))),
        (Value::Object(_), _) => false,
        (Value::Array(p), Value::Array(s)) => {
            p.len() == s.len() && p.iter().zip(s).all(|(pv, sv)| walk(sv, pv, binds))
        }
        _ if pattern == subject => true,
        (Value::String(p), _) if p.starts_with('$') => {
            if subject.as_array().is_some_and(Vec::is_empty) {
                return false;
            }
            let name = &p[1..];
            if !binds.iter().any(|(n, _)| n == name) {
                binds.push((name.to_owned(), subject.clone()));
            }
            true
        }
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn regex_binds_groups_only() {
        let b = regex_match(&json!("comet_error: 42"), "(\\w+)_error: (\\d+)(x)?", "m")
            .unwrap()
            .unwrap();
        assert_eq!(
            b,
            vec![
                ("m_0".to_owned(), json!("comet")),
                ("m_1".to_owned(), json!("42")),
                ("m_2".to_owned(), json!(""))
            ]
        );
        assert_eq!(
            regex_match(&json!(["ab", "c"]), "bc", "m").unwrap(),
            Some(vec![])
        );
        assert_eq!(regex_match(&json!("x"), "y", "m").unwrap(), None);
        assert!(regex_match(&json!(5), "y", "m").is_err());
    }

    /// The bots' patterns (FLOOD.md 11.2).
    #[test]
    fn json_patterns_from_the_bots() {
        let args = json!([{"channel": "rooms.main", "nick": "alice", "text": "ping"}]);
        let b = json_match(
            &args,
            &json!([{"channel": "$channel", "text": "$operation"}]),
        )
        .unwrap();
        assert_eq!(
            b,
            vec![
                ("channel".to_owned(), json!("rooms.main")),
                ("operation".to_owned(), json!("ping"))
            ]
        );
        let granted = json!([{"permission": "granted"}]);
        assert_eq!(
            json_match(&json!([{"permission": "granted"}]), &granted),
            Some(vec![])
        );
        assert_eq!(json_match(&json!(null), &granted), None);
        assert_eq!(json_match(&json!([{"permission": null}]), &granted), None);
    }

    #[test]
    fn json_pattern_edge_cases() {
        assert_eq!(json_match(&json!([]), &json!("$x")), None);
        assert_eq!(json_match(&json!([1, 2]), &json!(["$x"])), None);
        assert_eq!(
            json_match(&json!([1, 2]), &json!(["$x", "$x"])),
            Some(vec![("x".to_owned(), json!(1))])
        );
        assert_eq!(json_match(&json!("s"), &json!({"a": 1})), None);
    }
}
