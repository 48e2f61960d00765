//! Per-user metadata and whole-string `$` substitution (FLOOD.md 3.5, 3.6).
//!
//! A user's metadata is a shared, precomputed base (session, phase and server layers, first match
//! wins) plus a small stack of run-time entries in front of it. Scoped runs (handlers, branches)
//! take a [`Meta::mark`] and [`Meta::reset`] back to it, so `def` lasts until the end of the
//! enclosing handler or branch, as in the original.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

/// The value a missing variable substitutes to (the original's `undefined` atom).
pub const UNDEFINED: &str = "undefined";

/// Something variables can be looked up in.
pub trait Lookup {
    /// The value bound to `key`, if any.
    fn lookup(&self, key: &str) -> Option<&Value>;
}

/// Ordered layers of key/value pairs; the first layer holding a key wins.
#[derive(Debug, Default, Clone)]
pub struct Layers {
    map: HashMap<String, Value>,
}

impl Layers {
    /// Empty layers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `key` unless an earlier layer already holds it.
    pub fn add(&mut self, key: impl Into<String>, value: Value) {
        self.map.entry(key.into()).or_insert(value);
    }

    /// Adds every member of a JSON object (non-objects are ignored).
    pub fn add_object(&mut self, obj: &Value) {
        if let Value::Object(m) = obj {
            for (k, v) in m {
                self.add(k.clone(), v.clone());
            }
        }
    }

    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no key is bound.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl Lookup for Layers {
    fn lookup(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }
}

/// A user's metadata: run-time entries in front of a shared base.
#[derive(Debug, Clone)]
pub struct Meta {
    base: Arc<Layers>,
    front: Vec<(Box<str>, Value)>,
}

impl Meta {
    /// Metadata over a shared base with no run-time entries.
    pub fn new(base: Arc<Layers>) -> Self {
        Self {
            base,
            front: Vec::new(),
        }
    }

    /// Puts `key` in front of everything else.
    pub fn put(&mut self, key: &str, value: Value) {
        self.front.push((key.into(), value));
    }

    /// A scope mark for [`Meta::reset`].
    pub fn mark(&self) -> usize {
        self.front.len()
    }

    /// Drops every run-time entry put since `mark`.
    pub fn reset(&mut self, mark: usize) {
        self.front.truncate(mark);
    }

    /// The string value of `key`, or `undefined` (for logs and names).
    pub fn string(&self, key: &str) -> String {
        self.lookup(key)
            .map_or_else(|| UNDEFINED.to_owned(), to_text)
    }
}

impl Lookup for Meta {
    fn lookup(&self, key: &str) -> Option<&Value> {
        self.front
            .iter()
            .rev()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| v)
            .or_else(|| self.base.lookup(key))
    }
}

/// Renders a value as text: strings as they are, anything else as compact JSON.
pub fn to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Substitutes every whole-string `$name` in `v` (object keys included) with its value, keeping
/// the value's JSON type. Missing names become the string `"undefined"`.
pub fn substitute(v: &Value, meta: &dyn Lookup) -> Value {
    substitute_with(v, meta, &[])
}

/// Like [`substitute`], but object keys listed in `keep_keys` are left alone (used for goal
/// schemas, whose `$schema`/`$ref` keywords the original mangled; FLOOD.md 14.18).
pub fn substitute_with(v: &Value, meta: &dyn Lookup, keep_keys: &[&str]) -> Value {
    match v {
        Value::String(s) => match s.strip_prefix('$') {
            Some(name) => meta
                .lookup(name)
                .cloned()
                .unwrap_or_else(|| Value::String(UNDEFINED.to_owned())),
            None => v.clone(),
        },
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| substitute_with(i, meta, keep_keys))
                .collect(),
        ),
        Value::Object(m) => {
            let mut out = Map::with_capacity(m.len());
            for (k, val) in m {
                let key = if keep_keys.contains(&k.as_str()) {
                    k.clone()
                } else {
                    substitute_key(k, meta)
                };
                out.insert(key, substitute_with(val, meta, keep_keys));
            }
            Value::Object(out)
        }
        _ => v.clone(),
    }
}

/// Substitutes one object key or name: `$name` becomes the text of its value.
pub fn substitute_key(k: &str, meta: &dyn Lookup) -> String {
    match k.strip_prefix('$') {
        Some(name) => meta
            .lookup(name)
            .map_or_else(|| UNDEFINED.to_owned(), to_text),
        None => k.to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Arc<Layers> {
        let mut l = Layers::new();
        l.add("n", json!(5));
        l.add("arr", json!([1, 2]));
        l.add("k", json!("key"));
        l.add("n", json!(6)); // shadowed: first layer wins
        Arc::new(l)
    }

    #[test]
    fn whole_string_variables_keep_their_type() {
        let m = Meta::new(base());
        let v = substitute(
            &json!({"a": "$n", "b": ["$arr", "x $n", "$missing"], "$k": {"$k": "$k"}}),
            &m,
        );
        assert_eq!(
            v,
            json!({"a": 5, "b": [[1, 2], "x $n", "undefined"], "key": {"key": "key"}})
        );
    }

    #[test]
    fn runtime_entries_shadow_and_scope() {
        let mut m = Meta::new(base());
        m.put("n", json!("front"));
        let mark = m.mark();
        m.put("n", json!("inner"));
        assert_eq!(m.lookup("n"), Some(&json!("inner")));
        m.reset(mark);
        assert_eq!(m.lookup("n"), Some(&json!("front")));
        assert_eq!(m.string("nope"), "undefined");
    }

    #[test]
    fn kept_keys_are_not_substituted() {
        let m = Meta::new(base());
        let v = substitute_with(&json!({"$schema": "x", "$k": 1}), &m, &["$schema"]);
        assert_eq!(v, json!({"$schema": "x", "key": 1}));
    }
}
