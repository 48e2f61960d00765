//! Scenario actions compiled once at load time (FLOOD.md 4.1, 4.2).
//!
//! An action is a JSON array `[name, args...]`. Short (positional) and long (one object) forms
//! are normalised here into one object of named arguments, which is `$`-substituted when the
//! action runs. Nested action lists (`timed`, `match`, `emit_http`, handler tables) are compiled
//! into shared `Arc<[Act]>` so 15,000 users share one copy of the script.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::error::FloodError;

/// A compiled action list, shared between users.
pub type Acts = Arc<[Act]>;

/// Which counter operation an `inc`/`dec`/`set` performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterOp {
    /// `inc`: add (default 1).
    Inc,
    /// `dec`: subtract (default 1).
    Dec,
    /// `set`: replace.
    Set,
}

/// Which handler table an `on_*` action appends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandlerKind {
    /// `on_event`: keyed by event name.
    Event,
    /// `on_socketio`: keyed by opcode string `"0"`..`"8"`.
    Socketio,
    /// `on_timeout`: keyed by timer name.
    Timeout,
}

/// One compiled action. `args` objects are substituted at run time.
#[derive(Debug, Clone, PartialEq)]
pub enum Act {
    /// `inc` / `dec` / `set` with `{name, value}`.
    Counter(CounterOp, Value),
    /// `start_timer {name, time}`.
    StartTimer(Value),
    /// `stop_timer {name}`.
    StopTimer(Value),
    /// `restart_timer {name, time}`.
    RestartTimer(Value),
    /// `timed {name}` around a nested list.
    Timed(Value, Acts),
    /// `on_event` / `on_socketio` / `on_timeout`: (unsubstituted key, handler) pairs.
    On(HandlerKind, Vec<(String, Acts)>),
    /// `emit_event {name, args, ...}`.
    EmitEvent(Value),
    /// `emit_socketio {opcode, endpoint, data}`.
    EmitSocketio(Value),
    /// `emit_http {url, method, body, headers, timeout}` with `on_reply` / `on_error`.
    EmitHttp(Value, Acts, Acts),
    /// `match {subject, name, re | json}` with `on_match` / `on_nomatch`.
    Match(Value, Acts, Acts),
    /// `case {condition, branches}`; branches are substituted and compiled when it runs.
    Case(Value),
    /// `def {key: value}`.
    Def(Value),
    /// `terminate {reason}`.
    Terminate(Value),
    /// `log {format, values}`.
    Log(Value),
    /// `!log` or any other no-op.
    Nop,
    /// An unknown action name: stops the user when it runs, as in the original.
    Unknown(String),
}

fn empty() -> Acts {
    Arc::from(Vec::new())
}

/// Normalises the arguments of an action into one object: a single object argument is the long
/// form; otherwise positional arguments are named by `names`.
fn named(args: &[Value], names: &[&str]) -> Value {
    if let [Value::Object(m)] = args {
        return Value::Object(m.clone());
    }
    let mut m = Map::new();
    for (n, a) in names.iter().zip(args) {
        m.insert((*n).to_owned(), a.clone());
    }
    Value::Object(m)
}

/// Removes and compiles a nested action list from a named-argument object.
fn take_list(obj: &mut Value, key: &str, path: &str) -> Result<Acts, FloodError> {
    match obj.as_object_mut().and_then(|m| m.shift_remove(key)) {
        Some(v) => compile_list(&v, &format!("{path}.{key}")),
        None => Ok(empty()),
    }
}

/// Compiles a JSON action list (`path` is used in error messages).
///
/// # Errors
/// [`FloodError::Scenario`] when the list or an action is not shaped as an array.
pub fn compile_list(v: &Value, path: &str) -> Result<Acts, FloodError> {
    let Value::Array(items) = v else {
        return Err(FloodError::scenario(
            path,
            "an action list must be an array",
        ));
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        out.push(compile(item, &format!("{path}[{i}]"))?);
    }
    Ok(Arc::from(out))
}

/// Compiles one action.
///
/// # Errors
/// [`FloodError::Scenario`] when the action is not `[name, args...]` or a handler table or nested
/// list is malformed.
pub fn compile(v: &Value, path: &str) -> Result<Act, FloodError> {
    let Some((Value::String(name), args)) = v.as_array().and_then(|a| a.split_first()) else {
        return Err(FloodError::scenario(
            path,
            "an action must be an array starting with its name",
        ));
    };
    let act = match name.as_str() {
        "inc" => Act::Counter(CounterOp::Inc, named(args, &["name", "value"])),
        "dec" => Act::Counter(CounterOp::Dec, named(args, &["name", "value"])),
        "set" => Act::Counter(CounterOp::Set, named(args, &["name", "value"])),
        "start_timer" => Act::StartTimer(named(args, &["name", "time"])),
        "stop_timer" => Act::StopTimer(named(args, &["name"])),
        "restart_timer" => Act::RestartTimer(named(args, &["name", "time"])),
        "timed" => {
            let mut a = named(args, &["name", "do"]);
            let body = take_list(&mut a, "do", path)?;
            Act::Timed(a, body)
        }
        "on_timeout" => Act::On(HandlerKind::Timeout, table(args, path)?),
        "on_event" => Act::On(HandlerKind::Event, table(args, path)?),
        "on_socketio" => Act::On(HandlerKind::Socketio, table(args, path)?),
        "emit_event" => Act::EmitEvent(named(args, &["name", "args"])),
        "emit_socketio" => Act::EmitSocketio(named(args, &["opcode", "endpoint", "data"])),
        "emit_http" => {
            let mut a = named(args, &["url", "method", "body"]);
            let on_reply = take_list(&mut a, "on_reply", path)?;
            let on_error = take_list(&mut a, "on_error", path)?;
            Act::EmitHttp(a, on_reply, on_error)
        }
        "match" => {
            let mut a = named(args, &["subject", "re"]);
            let on_match = take_list(&mut a, "on_match", path)?;
            let on_nomatch = take_list(&mut a, "on_nomatch", path)?;
            Act::Match(a, on_match, on_nomatch)
        }
        "case" => Act::Case(named(args, &["condition", "branches"])),
        "def" => Act::Def(args.first().cloned().unwrap_or(Value::Null)),
        "terminate" => Act::Terminate(named(args, &["reason"])),
        "log" => Act::Log(named(args, &["format", "values"])),
        "!log" => Act::Nop,
        other => Act::Unknown(other.to_owned()),
    };
    Ok(act)
}

/// Compiles a handler table `{key: [actions], ...}` (keys stay unsubstituted until it runs).
fn table(args: &[Value], path: &str) -> Result<Vec<(String, Acts)>, FloodError> {
    let Some(Value::Object(m)) = args.first() else {
        return Err(FloodError::scenario(
            path,
            "a handler table must be an object",
        ));
    };
    m.iter()
        .map(|(k, v)| Ok((k.clone(), compile_list(v, &format!("{path}.{k}"))?)))
        .collect()
}

/// Names of unknown actions anywhere in a list (for a load-time warning).
pub fn unknown_names(list: &[Act], out: &mut Vec<String>) {
    for a in list {
        match a {
            Act::Unknown(n) => out.push(n.clone()),
            Act::Timed(_, l) => unknown_names(l, out),
            Act::On(_, t) => t.iter().for_each(|(_, l)| unknown_names(l, out)),
            Act::EmitHttp(_, a, b) | Act::Match(_, a, b) => {
                unknown_names(a, out);
                unknown_names(b, out);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_and_long_forms_normalise_alike() {
        let short = compile(&json!(["inc", "x", 2]), "t").unwrap();
        let long = compile(&json!(["inc", {"name": "x", "value": 2}]), "t").unwrap();
        assert_eq!(short, long);
        let st = compile(&json!(["start_timer", "t", 5]), "t").unwrap();
        assert_eq!(st, Act::StartTimer(json!({"name": "t", "time": 5})));
    }

    #[test]
    fn nested_lists_are_compiled_and_removed_from_args() {
        let a = compile(
            &json!(["match", {"subject": "$x", "re": "a(.)", "on_match": [["inc", "m"]]}]),
            "t",
        )
        .unwrap();
        let Act::Match(args, on_match, on_nomatch) = a else {
            panic!("not a match")
        };
        assert_eq!(args, json!({"subject": "$x", "re": "a(.)"}));
        assert_eq!(on_match.len(), 1);
        assert!(on_nomatch.is_empty());
    }

    #[test]
    fn unknown_actions_compile_and_are_reported() {
        let l = compile_list(
            &json!([["frobnicate"], ["on_event", {"e": [["zap"]]}]]),
            "t",
        )
        .unwrap();
        let mut names = Vec::new();
        unknown_names(&l, &mut names);
        assert_eq!(names, vec!["frobnicate", "zap"]);
    }

    #[test]
    fn malformed_actions_are_scenario_errors() {
        assert!(compile(&json!({"inc": 1}), "do[0]").is_err());
        assert!(compile(&json!(["on_event", []]), "do[0]").is_err());
    }
}
