//! Reading config files, resolving section files (HIVE.md 2.1) and merging documents with figment.
//!
//! Files are parsed with `serde_json` (built with `preserve_order`) rather than figment's `Json`
//! provider because figment's `Dict` is a `BTreeMap`: it would sort pools, hook tables and channel
//! templates alphabetically, and Hive starts pools in file order. A missing file is an explicit
//! error (the `Json::file` pitfall of silently ignoring it cannot happen). figment then merges the
//! documents (later keys override, objects merge recursively, arrays are replaced) and the file
//! order of keys is restored on the result.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::Serialized;
use serde_json::{Map, Value};

use super::names::SECTIONS;
use super::{ConfigError, ConfigErrors};

/// Read every file, resolve its section files, and merge them in order.
pub(crate) fn merge_files(files: &[PathBuf]) -> Result<Value, ConfigErrors> {
    if files.is_empty() {
        return Err(ConfigErrors(vec![ConfigError::new(
            "",
            "no configuration file given",
        )]));
    }
    let mut docs = Vec::with_capacity(files.len());
    let mut errors = Vec::new();
    for f in files {
        match read_document(f) {
            Ok(d) => docs.push(d),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    merge_documents(&docs)
}

/// Merge JSON objects in order with figment; the key order of the sources is kept.
pub(crate) fn merge_documents(docs: &[Value]) -> Result<Value, ConfigErrors> {
    if let [one] = docs {
        return Ok(one.clone());
    }
    let mut fig = Figment::new();
    for d in docs {
        fig = fig.merge(Serialized::globals(d));
    }
    let merged: Value = fig
        .extract()
        .map_err(|e| ConfigErrors(vec![ConfigError::new("", format!("cannot merge: {e}"))]))?;
    let sources: Vec<&Value> = docs.iter().collect();
    Ok(restore_order(merged, &sources))
}

/// Read one config file and replace string-valued sections by the object in the named file.
fn read_document(file: &Path) -> Result<Value, Vec<ConfigError>> {
    let name = file.display().to_string();
    let v = read_json(file).map_err(|m| vec![ConfigError::new(&name, m)])?;
    let Value::Object(map) = v else {
        return Err(vec![ConfigError::new(
            name,
            "expected a JSON object at the top level",
        )]);
    };
    let dir = file.parent().unwrap_or(Path::new(""));
    let mut out = Map::with_capacity(map.len());
    let mut errors = Vec::new();
    for (k, v) in map {
        match v {
            Value::String(rel) if SECTIONS.contains(&k.as_str()) => {
                let path = dir.join(&rel);
                match read_json(&path) {
                    Ok(obj @ Value::Object(_)) => {
                        out.insert(k, obj);
                    }
                    Ok(other) => errors.push(ConfigError::new(
                        &k,
                        format!(
                            "section file \"{}\" must hold an object, got {}",
                            path.display(),
                            kind(&other)
                        ),
                    )),
                    Err(m) => errors.push(ConfigError::new(
                        &k,
                        format!("section file \"{}\" (in {name}): {m}", path.display()),
                    )),
                }
            }
            v => {
                out.insert(k, v);
            }
        }
    }
    if errors.is_empty() {
        Ok(Value::Object(out))
    } else {
        Err(errors)
    }
}

/// Read and parse one JSON file; the message says what went wrong.
fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "file not found".to_string(),
        _ => format!("cannot read file: {e}"),
    })?;
    serde_json::from_str(&text).map_err(|e| format!("invalid JSON: {e}"))
}

/// A JSON type name for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Put the keys of every object of `merged` back in the order they first appear in `sources`
/// (the documents that were merged, earliest first). Array elements follow the last source that
/// holds an array at that place (the one the merge kept).
fn restore_order(merged: Value, sources: &[&Value]) -> Value {
    match merged {
        Value::Object(mut m) => {
            let objs: Vec<&Map<String, Value>> =
                sources.iter().filter_map(|s| s.as_object()).collect();
            let mut out = Map::with_capacity(m.len());
            for o in &objs {
                for k in o.keys() {
                    if let Some(v) = m.remove(k) {
                        let subs: Vec<&Value> = objs.iter().filter_map(|o| o.get(k)).collect();
                        out.insert(k.clone(), restore_order(v, &subs));
                    }
                }
            }
            out.extend(m);
            Value::Object(out)
        }
        Value::Array(a) => {
            let src = sources.iter().rev().find_map(|s| s.as_array());
            let items = a
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    let subs: Vec<&Value> = src.and_then(|s| s.get(i)).into_iter().collect();
                    restore_order(v, &subs)
                })
                .collect();
            Value::Array(items)
        }
        other => other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_keeps_file_order_nulls_and_replaces_arrays() {
        let a = json!({"connectors": {"pools": {"zeta": {"size": 1}, "alpha": {"size": 2}}},
                       "hive": {"allowed_origins": [null, "x"], "port": 1}});
        let b = json!({"connectors": {"pools": {"beta": {"size": 3}, "zeta": {"size": 9}}},
                       "hive": {"allowed_origins": ["y"]}});
        let m = merge_documents(&[a, b]).unwrap();
        let pools: Vec<&String> = m["connectors"]["pools"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(pools, ["zeta", "alpha", "beta"]);
        assert_eq!(m["connectors"]["pools"]["zeta"]["size"], 9);
        assert_eq!(m["hive"], json!({"allowed_origins": ["y"], "port": 1}));
        let m2 = merge_documents(&[json!({"a": [null, 1.5, -3]}), json!({"b": null})]).unwrap();
        assert_eq!(m2, json!({"a": [null, 1.5, -3], "b": null}));
    }
}
