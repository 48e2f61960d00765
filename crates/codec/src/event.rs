//! Event JSON: external (client) events `{"name","args"}` (HIVE.md 3.11), internal events
//! `{"action","args","trigger_id"}` (HIVE.md 6.1), and the id/ACK helpers of the send_*
//! dispatchers (HIVE.md 6.3).
//!
//! Deliberate relaxations of the original (HIVE.md 2.3, 16.2 item 11):
//! * an external event's `args` may be missing, `[]` or `{}` (the 0.9 client omits `args` for
//!   `socket.emit("name")`; the original rejected such events);
//! * an internal event's `args` is still required (`null` allowed), but `[]` and `{}` are
//!   accepted too;
//! * a multi-event body keeps array order (the original reversed it, see HIVE.md 6.1).

use serde_json::{Map, Value};

use super::socketio::MsgId;

/// Why event JSON was refused. [`EventError::code`] is Hive's stable error code for each case,
/// and `Display` is the human description (`Bad external event <json>: <details>.`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// A client event that is not `{"name": string, ...}`.
    #[error("{0}")]
    BadExternalEvent(String),
    /// An internal (backend) event that is not `{"action": string, "args": ...}`.
    #[error("{0}")]
    BadInternalEvent(String),
    /// A body that is not JSON at all.
    #[error("{0}")]
    InvalidJson(String),
}

impl EventError {
    /// The stable error code: `bad_external_event`, `bad_internal_event` or `invalid_json`.
    pub fn code(&self) -> &'static str {
        match self {
            EventError::BadExternalEvent(_) => "bad_external_event",
            EventError::BadInternalEvent(_) => "bad_internal_event",
            EventError::InvalidJson(_) => "invalid_json",
        }
    }
}

/// A validated client event.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalEvent {
    /// The event name (selects the hook chain).
    pub name: String,
    /// `args` as sent; `Value::Null` when absent.
    pub args: Value,
    /// The whole event object, extra keys included (the hooks' `trigger`).
    pub raw: Value,
}

fn external_details(v: &Value) -> Option<&'static str> {
    match v {
        Value::Object(o) => match o.get("name") {
            None => Some("required property name is missing"),
            Some(Value::String(_)) => None,
            Some(_) => Some("property name must be a string"),
        },
        _ => Some("expected a JSON object"),
    }
}

/// Parses and validates the data of a type-5 frame.
///
/// # Errors
/// [`EventError::BadExternalEvent`] with `Bad external event <data>: <details>.` when `data` is
/// not JSON, not an object, or has no string `name`.
pub fn parse_external_event(data: &str) -> Result<ExternalEvent, EventError> {
    let bad = |details: &str| {
        EventError::BadExternalEvent(format!("Bad external event {data}: {details}."))
    };
    let raw: Value = serde_json::from_str(data).map_err(|e| bad(&format!("invalid JSON ({e})")))?;
    if let Some(details) = external_details(&raw) {
        return Err(bad(details));
    }
    let (name, args) = match &raw {
        Value::Object(o) => (
            o.get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            o.get("args").cloned().unwrap_or(Value::Null),
        ),
        _ => (String::new(), Value::Null),
    };
    Ok(ExternalEvent { name, args, raw })
}

/// Validates an already-parsed external event (`action.send_event`, `action.dispatch`, API raw
/// publish) with the rules of [`parse_external_event`].
///
/// # Errors
/// [`EventError::BadExternalEvent`] with `Bad external event <json>: <details>.`.
pub fn validate_external_event(v: &Value) -> Result<(), EventError> {
    match external_details(v) {
        None => Ok(()),
        Some(details) => Err(EventError::BadExternalEvent(format!(
            "Bad external event {v}: {details}."
        ))),
    }
}

/// A validated internal event (backend reply, API request).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct InternalEvent {
    /// Action alias (a key of `clients.actions`).
    pub action: String,
    /// Arguments for the dispatcher (any JSON, `null` allowed).
    pub args: Value,
    /// Socket.IO id of the trigger (`"N"`, `"N+"`), `""` when absent; see [`id_from_trigger`].
    pub trigger_id: String,
}

impl InternalEvent {
    /// An event with no `trigger_id`.
    pub fn new(action: impl Into<String>, args: Value) -> Self {
        InternalEvent {
            action: action.into(),
            args,
            trigger_id: String::new(),
        }
    }
}

fn internal_from_map(o: &Map<String, Value>) -> Result<InternalEvent, &'static str> {
    let action = match o.get("action") {
        None => return Err("required property action is missing"),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err("property action must be a string"),
    };
    let Some(args) = o.get("args") else {
        return Err("required property args is missing");
    };
    let trigger_id = match o.get("trigger_id") {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err("property trigger_id must be a string"),
    };
    Ok(InternalEvent {
        action,
        args: args.clone(),
        trigger_id,
    })
}

/// Validates one internal event value. Extra keys are ignored.
///
/// # Errors
/// [`EventError::BadInternalEvent`] with `Bad internal event <json>: <details>.` when `v` is not an
/// object, `action` is missing or not a string, `args` is missing, or `trigger_id` is not a string.
pub fn internal_event_from_value(v: &Value) -> Result<InternalEvent, EventError> {
    let res = match v {
        Value::Object(o) => internal_from_map(o),
        _ => Err("expected a JSON object"),
    };
    res.map_err(|details| {
        EventError::BadInternalEvent(format!("Bad internal event {v}: {details}."))
    })
}

/// Parses a body carrying internal events (HIVE.md 6.1): one event, or a non-empty array of
/// events whose first element is an object. The result keeps array order.
///
/// # Errors
/// [`EventError::InvalidJson`] (`Bad internal event: <body>.`) when `body` is not JSON;
/// [`EventError::BadInternalEvent`] for the first invalid event (`[]`, `[1]` and `"x"` fail).
pub fn parse_internal_events(body: &str) -> Result<Vec<InternalEvent>, EventError> {
    let v: Value = serde_json::from_str(body)
        .map_err(|_| EventError::InvalidJson(format!("Bad internal event: {body}.")))?;
    match &v {
        Value::Array(items) if items.first().is_some_and(Value::is_object) => {
            items.iter().map(internal_event_from_value).collect()
        }
        _ => internal_event_from_value(&v).map(|e| vec![e]),
    }
}

/// The Socket.IO id a send_* dispatcher derives from `trigger_id` (HIVE.md 6.3): `""` -> none,
/// digits -> `N`, digits + `+` -> `N+`, anything else -> none.
pub fn id_from_trigger(trigger_id: &str) -> MsgId {
    MsgId::parse(trigger_id)
}

/// The data of an ACK frame as `action.send_ack` builds it: `trigger_id` copied verbatim, then
/// the args JSON (`ack_data("1+", Some("[\"pong\"]"))` = `1+["pong"]`).
pub fn ack_data(trigger_id: &str, args_json: Option<&str>) -> String {
    let args = args_json.unwrap_or_default();
    let mut out = String::with_capacity(trigger_id.len() + args.len());
    out.push_str(trigger_id);
    out.push_str(args);
    out
}

/// Splits ACK data for clients, like the 0.9 JS client (`^([0-9]+)(\+)?(.*)`):
/// `1+["x"]` -> `(Client(1), Some("[\"x\"]"))`, `12` -> `(Server(12), None)`, `1+` ->
/// `(Client(1), None)`. Data without a leading id is `(MsgId::None, Some(data))` (`None` if empty).
pub fn parse_ack_data(data: &str) -> (MsgId, Option<&str>) {
    let digits = data.bytes().take_while(u8::is_ascii_digit).count();
    let (num, rest) = data.split_at(digits);
    let (plus, rest) = match rest.strip_prefix('+') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let rest = (!rest.is_empty()).then_some(rest);
    match super::socketio::parse_digits(num) {
        Some(n) if plus => (MsgId::Client(n), rest),
        Some(n) => (MsgId::Server(n), rest),
        None => (MsgId::None, (!data.is_empty()).then_some(data)),
    }
}

#[cfg(test)]
mod tests;
