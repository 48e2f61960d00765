//! Goal evaluation: the JSON Schema draft-03 subset that flood goals use (FLOOD.md 9.1).
//!
//! Supported keywords: `type` (string, array, `any`, schemas inside the array), `disallow`,
//! `properties` with draft-03 `required: true`, `patternProperties`, `additionalProperties`,
//! `items` (schema or tuple), `additionalItems`, `minItems`/`maxItems`, `uniqueItems`,
//! `minimum`/`maximum` with `exclusiveMinimum`/`exclusiveMaximum`, `divisibleBy`,
//! `minLength`/`maxLength`, `pattern`, `enum`, `extends`, `dependencies`. Like jesse in 2013,
//! `$ref` and `format` are not supported (they are ignored). Error texts follow the original's
//! log lines ("value ... is outside of accepted range", "required property ... is missing", ...).

use serde_json::{Map, Value};

/// Validates `doc` against `schema`; returns every failure (empty means the goal passed).
pub fn check(schema: &Value, doc: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    validate(schema, doc, "", &mut errors);
    errors
}

fn is_type(t: &str, v: &Value) -> bool {
    match t {
        "any" => true,
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    }
}

fn matches_type(spec: &Value, v: &Value) -> bool {
    match spec {
        Value::String(t) => is_type(t, v),
        Value::Array(alts) => alts.iter().any(|a| match a {
            Value::String(t) => is_type(t, v),
            schema @ Value::Object(_) => check(schema, v).is_empty(),
            _ => false,
        }),
        Value::Object(_) => check(spec, v).is_empty(),
        _ => true,
    }
}

fn at(path: &str) -> &str {
    if path.is_empty() { "<root>" } else { path }
}

fn validate(schema: &Value, v: &Value, path: &str, errs: &mut Vec<String>) {
    let Value::Object(s) = schema else { return };
    if let Some(t) = s.get("type")
        && !matches_type(t, v)
    {
        errs.push(format!("{}: value {v} is of a wrong type", at(path)));
        return;
    }
    if let Some(d) = s.get("disallow")
        && matches_type(d, v)
    {
        errs.push(format!("{}: value {v} is of a disallowed type", at(path)));
    }
    if let Some(Value::Array(opts)) = s.get("enum")
        && !opts.contains(v)
    {
        errs.push(format!(
            "{}: value {v} is not one of the allowed values",
            at(path)
        ));
    }
    match s.get("extends") {
        Some(e @ Value::Object(_)) => validate(e, v, path, errs),
        Some(Value::Array(es)) => es.iter().for_each(|e| validate(e, v, path, errs)),
        _ => {}
    }
    match v {
        Value::Object(o) => object(s, o, path, errs),
        Value::Array(a) => array(s, a, path, errs),
        Value::Number(n) => number(s, n.as_f64().unwrap_or(f64::NAN), v, path, errs),
        Value::String(st) => string(s, st, path, errs),
        _ => {}
    }
}

fn object(s: &Map<String, Value>, o: &Map<String, Value>, path: &str, errs: &mut Vec<String>) {
    let props = s.get("properties").and_then(Value::as_object);
    if let Some(props) = props {
        for (k, sub) in props {
            let p = format!("{path}.{k}");
            match o.get(k) {
                Some(val) => validate(sub, val, &p, errs),
                None if sub.get("required") == Some(&Value::Bool(true)) => {
                    errs.push(format!("{}: required property {k} is missing", at(path)));
                }
                None => {}
            }
        }
    }
    let patterns: Vec<(regex::Regex, &Value)> = s
        .get("patternProperties")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(re, sub)| regex::Regex::new(re).ok().map(|r| (r, sub)))
                .collect()
        })
        .unwrap_or_default();
    for (k, val) in o {
        let p = format!("{path}.{k}");
        let mut covered = props.is_some_and(|m| m.contains_key(k));
        for (re, sub) in &patterns {
            if re.is_match(k) {
                covered = true;
                validate(sub, val, &p, errs);
            }
        }
        if !covered {
            match s.get("additionalProperties") {
                Some(Value::Bool(false)) => {
                    errs.push(format!("{}: property {k} is not allowed", at(path)));
                }
                Some(sub @ Value::Object(_)) => validate(sub, val, &p, errs),
                _ => {}
            }
        }
    }
    if let Some(Value::Object(deps)) = s.get("dependencies") {
        for (k, dep) in deps {
            if !o.contains_key(k) {
                continue;
            }
            match dep {
                Value::String(d) if !o.contains_key(d) => {
                    errs.push(format!("{}: property {k} requires {d}", at(path)));
                }
                Value::Array(ds) => {
                    for d in ds.iter().filter_map(Value::as_str) {
                        if !o.contains_key(d) {
                            errs.push(format!("{}: property {k} requires {d}", at(path)));
                        }
                    }
                }
                sub @ Value::Object(_) => validate(sub, &Value::Object(o.clone()), path, errs),
                _ => {}
            }
        }
    }
}

fn array(s: &Map<String, Value>, a: &[Value], path: &str, errs: &mut Vec<String>) {
    let len = a.len() as f64;
    let min = s.get("minItems").and_then(Value::as_f64);
    let max = s.get("maxItems").and_then(Value::as_f64);
    if min.is_some_and(|m| len < m) || max.is_some_and(|m| len > m) {
        errs.push(format!("{}: array is of a wrong length", at(path)));
    }
    if s.get("uniqueItems") == Some(&Value::Bool(true)) {
        for (i, x) in a.iter().enumerate() {
            if a[..i].contains(x) {
                errs.push(format!("{}: value {x} is not unique in array", at(path)));
            }
        }
    }
    match s.get("items") {
        Some(sub @ Value::Object(_)) => {
            for (i, x) in a.iter().enumerate() {
                validate(sub, x, &format!("{path}[{i}]"), errs);
            }
        }
        Some(Value::Array(tuple)) => {
            for (i, x) in a.iter().enumerate() {
                let p = format!("{path}[{i}]");
                match (tuple.get(i), s.get("additionalItems")) {
                    (Some(sub), _) => validate(sub, x, &p, errs),
                    (None, Some(Value::Bool(false))) => {
                        errs.push(format!("{}: item {i} is not allowed", at(path)));
                    }
                    (None, Some(sub @ Value::Object(_))) => validate(sub, x, &p, errs),
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

fn number(s: &Map<String, Value>, n: f64, v: &Value, path: &str, errs: &mut Vec<String>) {
    let excl = |k: &str| s.get(k) == Some(&Value::Bool(true));
    let low = s.get("minimum").and_then(Value::as_f64).is_some_and(|m| {
        if excl("exclusiveMinimum") {
            n <= m
        } else {
            n < m
        }
    });
    let high = s.get("maximum").and_then(Value::as_f64).is_some_and(|m| {
        if excl("exclusiveMaximum") {
            n >= m
        } else {
            n > m
        }
    });
    if low || high {
        errs.push(format!(
            "{}: value {v} is outside of accepted range",
            at(path)
        ));
    }
    if let Some(d) = s.get("divisibleBy").and_then(Value::as_f64)
        && d != 0.0
        && (n / d).fract().abs() > 1e-9
    {
        errs.push(format!("{}: value {v} is not divisible by {d}", at(path)));
    }
}

fn string(s: &Map<String, Value>, st: &str, path: &str, errs: &mut Vec<String>) {
    let len = st.chars().count() as f64;
    let min = s.get("minLength").and_then(Value::as_f64);
    let max = s.get("maxLength").and_then(Value::as_f64);
    if min.is_some_and(|m| len < m) || max.is_some_and(|m| len > m) {
        errs.push(format!("{}: value {st:?} is of a wrong length", at(path)));
    }
    if let Some(p) = s.get("pattern").and_then(Value::as_str)
        && let Ok(re) = regex::Regex::new(p)
        && !re.is_match(st)
    {
        errs.push(format!(
            "{}: value {st:?} does not match pattern {p}",
            at(path)
        ));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    /// FLOOD.md 9.1 example goal.
    fn goal() -> Value {
        json!({
          "type": "object",
          "properties": {
            "counters": {"type": "object", "properties": {
                "pongs":  {"type": "integer", "minimum": 900, "required": true},
                "errors": {"type": "integer", "maximum": 0}}},
            "timers": {"type": "object", "properties": {
                "rtt": {"type": "object", "required": true, "properties": {
                    "percentile": {"type": "object",
                                   "properties": {"95": {"type": "number", "maximum": 250}}}}}}}
          }
        })
    }

    #[test]
    fn example_goal_passes_and_fails() {
        let ok =
            json!({"counters": {"pongs": 950}, "timers": {"rtt": {"percentile": {"95": 120.5}}}});
        assert!(check(&goal(), &ok).is_empty());
        let bad = json!({"counters": {"pongs": 10, "errors": 2}, "timers": {}});
        let e = check(&goal(), &bad);
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[0].contains("outside of accepted range"));
        assert!(
            e.iter()
                .any(|x| x.contains("required property rtt is missing"))
        );
    }

    #[test]
    fn empty_schema_always_passes() {
        assert!(check(&json!({}), &json!({"counters": {}, "timers": {}})).is_empty());
    }

    #[test]
    fn misc_keywords() {
        let s = json!({"type": ["integer", "null"], "minimum": 1, "exclusiveMinimum": true});
        assert!(!check(&s, &json!(1)).is_empty());
        assert!(check(&s, &json!(2)).is_empty());
        assert!(check(&s, &json!(null)).is_empty());
        assert!(!check(&s, &json!("x")).is_empty());
        let a = json!({"type": "array", "uniqueItems": true, "maxItems": 2, "items": {"enum": [1, 2, 3]}});
        assert!(check(&a, &json!([1, 2])).is_empty());
        assert_eq!(check(&a, &json!([1, 1, 4])).len(), 3);
        let o = json!({"additionalProperties": false, "properties": {"a": {}},
                       "patternProperties": {"^x_": {"type": "string", "pattern": "^y", "maxLength": 3}}});
        assert!(check(&o, &json!({"a": 1, "x_1": "yes"})).is_empty());
        assert_eq!(check(&o, &json!({"b": 1, "x_1": "nope"})).len(), 3);
        let d = json!({"divisibleBy": 5, "disallow": "string", "dependencies": {"a": "b"}});
        assert!(!check(&d, &json!(7)).is_empty());
        assert!(!check(&d, &json!("s")).is_empty());
        assert!(!check(&d, &json!({"a": 1})).is_empty());
    }
}
