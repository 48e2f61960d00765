//! `HIVE_<SECTION>__<KEY>` environment overrides, turned into a JSON document merged last.
//!
//! `__` separates nesting levels (keys themselves contain single underscores); names match existing
//! keys case-insensitively (new keys are lower-cased). The value is parsed as JSON when it parses,
//! otherwise it is taken as a string; where the merged files hold a string at that place, the raw
//! text is always taken as a string (so `HIVE_API__HASH=12345678` stays a string).

use serde_json::{Map, Value};

use super::ConfigError;

/// Prefix of override variables.
const PREFIX: &str = "HIVE_";

/// Build the override document from `env` against the merged file document `base`; `None` when no
/// variable applies. Variables with the prefix but without `__` are not overrides and are ignored.
pub(crate) fn overrides(
    base: &Value,
    env: &[(String, String)],
) -> Result<Option<Value>, Vec<ConfigError>> {
    let mut vars: Vec<&(String, String)> = env
        .iter()
        .filter(|(k, _)| k.starts_with(PREFIX) && k.contains("__"))
        .collect();
    if vars.is_empty() {
        return Ok(None);
    }
    // Deterministic order whatever order the process environment lists them in.
    vars.sort();
    let mut doc = Map::new();
    let mut errors = Vec::new();
    for (name, raw) in vars {
        let segments: Vec<&str> = name[PREFIX.len()..].split("__").collect();
        if segments.iter().any(|s| s.is_empty()) {
            errors.push(ConfigError::new(
                name.as_str(),
                "empty key segment in override name",
            ));
            continue;
        }
        if let Err(m) = apply(&mut doc, base, &segments, raw) {
            errors.push(ConfigError::new(name.as_str(), m));
        }
    }
    if errors.is_empty() {
        Ok(Some(Value::Object(doc)))
    } else {
        Err(errors)
    }
}

/// Set one override in `doc`, following `base` for key spelling and the string rule.
fn apply(
    doc: &mut Map<String, Value>,
    base: &Value,
    segments: &[&str],
    raw: &str,
) -> Result<(), String> {
    let mut cur_doc = doc;
    let mut cur_base = Some(base);
    let mut path = String::new();
    for (i, seg) in segments.iter().enumerate() {
        let key = match cur_base.and_then(Value::as_object) {
            Some(m) => m
                .keys()
                .find(|k| k.eq_ignore_ascii_case(seg))
                .cloned()
                .unwrap_or_else(|| seg.to_ascii_lowercase()),
            None => seg.to_ascii_lowercase(),
        };
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(&key);
        let base_here = cur_base.and_then(|b| b.get(&key));
        if i + 1 == segments.len() {
            cur_doc.insert(key, parse_value(raw, base_here));
            return Ok(());
        }
        if let Some(b) = base_here
            && !b.is_object()
        {
            return Err(format!(
                "cannot override a key inside \"{path}\": it is not an object"
            ));
        }
        let slot = cur_doc
            .entry(key)
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(next) = slot else {
            return Err(format!(
                "\"{path}\" is also set as a whole by another override"
            ));
        };
        cur_doc = next;
        cur_base = base_here;
    }
    Ok(())
}

/// JSON when it parses (and the file has no string here), else the raw text.
fn parse_value(raw: &str, base_here: Option<&Value>) -> Value {
    if matches!(base_here, Some(Value::String(_))) {
        return Value::String(raw.to_string());
    }
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn builds_nested_overrides_matching_existing_keys() {
        let base = json!({"hive": {"port": 1}, "api": {"hash": "x"},
                          "connectors": {"pools": {"Backend": {"args": {"base_url": "u"}}}}});
        let o = overrides(
            &base,
            &env(&[
                ("HIVE_HIVE__PORT", "9000"),
                ("HIVE_API__HASH", "12345678"),
                ("HIVE_SOCKETIO__TRANSPORTS", r#"["websocket"]"#),
                (
                    "HIVE_CONNECTORS__POOLS__BACKEND__ARGS__BASE_URL",
                    "http://h:1",
                ),
                ("HIVE_LOG", "ignored"),
                ("PATH", "/bin"),
            ]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            o,
            json!({"api": {"hash": "12345678"},
                   "connectors": {"pools": {"Backend": {"args": {"base_url": "http://h:1"}}}},
                   "hive": {"port": 9000},
                   "socketio": {"transports": ["websocket"]}})
        );
    }

    #[test]
    fn rejects_paths_through_non_objects() {
        let base = json!({"hive": {"port": 1}});
        let e = overrides(&base, &env(&[("HIVE_HIVE__PORT__X", "1")])).unwrap_err();
        assert_eq!(e[0].path, "HIVE_HIVE__PORT__X");
        assert!(overrides(&base, &env(&[("HOME", "/")])).unwrap().is_none());
    }
}
