//! The chat backend's logic, free of IO: one Hive Protocol request in, the events to publish
//! through Hive's API and the reply body out. Mirrors `examples/chat/backend/backend.py`.
//!
//! Endpoints (the seed's): `/authorize`, `/join`, `/publish`, `/leave`, `/cleanup`. The seed's bugs
//! are fixed: a multi-room join announces every room, rooms are de-duplicated, an empty join is
//! answered, `/leave` keeps the rooms not left, `/cleanup` of a null/unknown nick is fine,
//! re-authorizing releases the previous nick, only members of a room publish to it.

// Shared by several example and test crates through `#[path]`; each uses a different subset.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashSet;
use std::sync::Mutex;

use serde_json::{Map, Value, json};

/// Prefix of the chat rooms' Pub-Sub channels (`rooms.<room>`).
pub const CHANNEL_PREFIX: &str = "rooms";
const MAX_NICK: usize = 24;
const MAX_ROOM: usize = 32;
const MAX_TEXT: usize = 2000;
/// Nicks that Hive's `sm.redis` would read back as something else than a string (values are
/// parsed as JSON on read: docs/hooks.md, "State managers and connectors").
const JSON_WORDS: [&str; 5] = ["null", "true", "false", "nan", "infinity"];

/// What one request asks the server to do.
#[derive(Debug, Default, PartialEq)]
pub struct Outcome {
    /// `(channel, internal events)` to POST to `<api>/pubsub/action/<channel>`, in order,
    /// before replying.
    pub publish: Vec<(String, Value)>,
    /// The reply body: internal events, or `None` for an empty body.
    pub reply: Option<Value>,
}

/// The backend's whole state: the reserved nicknames.
#[derive(Debug, Default)]
pub struct Chat {
    users: Mutex<HashSet<String>>,
}

/// A nick is 1-24 letters, digits, `_` or `-`, starting with a letter.
pub fn valid_nick(nick: &str) -> bool {
    let count = nick.chars().count();
    count > 0
        && count <= MAX_NICK
        && nick.chars().next().is_some_and(char::is_alphabetic)
        && nick
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        && !JSON_WORDS.contains(&nick.to_lowercase().as_str())
}

/// A room is 1-32 letters, digits, `_` or `-` (one segment of a channel id).
pub fn valid_room(room: &str) -> bool {
    let count = room.chars().count();
    count > 0
        && count <= MAX_ROOM
        && room
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

fn room_list(value: Option<&Value>) -> Vec<String> {
    let items: Vec<&Value> = match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v @ Value::String(_)) => vec![v],
        _ => Vec::new(),
    };
    let mut out: Vec<String> = Vec::new();
    for room in items.into_iter().filter_map(Value::as_str) {
        if valid_room(room) && !out.iter().any(|r| r == room) {
            out.push(room.to_owned());
        }
    }
    out
}

fn first_arg(doc: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    doc.get("trigger")
        .and_then(|t| t.get("args"))
        .and_then(|a| a.get(0))
        .and_then(Value::as_object)
        .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

fn state_nick(doc: &Value) -> Option<String> {
    doc.pointer("/state/nick")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
}

fn state_rooms(doc: &Value) -> Vec<String> {
    match doc.pointer("/state/rooms") {
        Some(Value::Array(rooms)) => rooms
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn reply(name: &str, arg: Value) -> Value {
    json!({"action": "reply", "args": {"name": name, "args": [arg]}})
}

fn store(values: Value) -> Value {
    json!({"action": "store", "args": values})
}

fn channel(room: &str) -> String {
    format!("{CHANNEL_PREFIX}.{room}")
}

fn announce(name: &str, nick: &str, rooms: &[String]) -> Vec<(String, Value)> {
    rooms
        .iter()
        .map(|room| {
            let cid = channel(room);
            let events = json!([reply(name, json!({"channel": cid, "nick": nick}))]);
            (cid, events)
        })
        .collect()
}

impl Chat {
    /// A backend with no reserved nicks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Handle one Hive Protocol request; `None` for an unknown endpoint.
    pub fn handle(&self, path: &str, doc: &Value) -> Option<Outcome> {
        Some(match path {
            "/authorize" => self.authorize(doc),
            "/join" => join(doc),
            "/publish" => publish(doc),
            "/leave" => leave(doc),
            "/cleanup" => self.cleanup(doc),
            _ => return None,
        })
    }

    /// Whether `nick` is reserved now.
    pub fn is_reserved(&self, nick: &str) -> bool {
        self.users.lock().is_ok_and(|u| u.contains(nick))
    }

    fn authorize(&self, doc: &Value) -> Outcome {
        let nick = first_arg(doc)
            .get("nick")
            .and_then(Value::as_str)
            .unwrap_or("");
        let current = state_nick(doc);
        let valid = valid_nick(nick);
        let granted = valid
            && self.users.lock().is_ok_and(|mut users| {
                let free = !users.contains(nick) || current.as_deref() == Some(nick);
                if free {
                    if let Some(old) = current.as_deref().filter(|old| *old != nick) {
                        users.remove(old);
                    }
                    users.insert(nick.to_owned());
                }
                free
            });
        let reply_body = if granted {
            json!([
                reply("authorize", json!({"permission": "granted"})),
                store(json!({"nick": nick}))
            ])
        } else {
            let reason = if valid { "taken" } else { "invalid" };
            json!([reply(
                "authorize",
                json!({"permission": null, "reason": reason})
            )])
        };
        Outcome {
            publish: Vec::new(),
            reply: Some(reply_body),
        }
    }

    fn cleanup(&self, doc: &Value) -> Outcome {
        if let (Some(nick), Ok(mut users)) = (state_nick(doc), self.users.lock()) {
            users.remove(&nick);
        }
        Outcome::default()
    }
}

fn join(doc: &Value) -> Outcome {
    let mut rooms = state_rooms(doc);
    let new: Vec<String> = room_list(first_arg(doc).get("rooms"))
        .into_iter()
        .filter(|r| !rooms.contains(r))
        .collect();
    let publish = state_nick(doc)
        .map(|nick| announce("dude_joins", &nick, &new))
        .unwrap_or_default();
    rooms.extend(new);
    Outcome {
        publish,
        reply: Some(json!([store(json!({"rooms": rooms}))])),
    }
}

fn publish(doc: &Value) -> Outcome {
    let arg = first_arg(doc);
    let (Some(nick), Some(cid), Some(text)) = (
        state_nick(doc),
        arg.get("channel").and_then(Value::as_str),
        arg.get("text").and_then(Value::as_str),
    ) else {
        return Outcome::default();
    };
    let member = cid
        .strip_prefix(CHANNEL_PREFIX)
        .and_then(|r| r.strip_prefix('.'))
        .is_some_and(|room| state_rooms(doc).iter().any(|r| r == room));
    if !member || text.trim().is_empty() {
        return Outcome::default();
    }
    let text: String = text.chars().take(MAX_TEXT).collect();
    let event = json!({"channel": cid, "nick": nick, "text": text});
    Outcome {
        publish: vec![(cid.to_owned(), json!([reply("msg_published", event)]))],
        reply: None,
    }
}

fn leave(doc: &Value) -> Outcome {
    let nick = state_nick(doc);
    let current = state_rooms(doc);
    if doc.get("trigger").is_some_and(|t| !t.is_null()) {
        // The user asked to leave some rooms: announce those he was in, keep the others.
        let rooms = room_list(first_arg(doc).get("rooms"));
        let left: Vec<String> = rooms
            .iter()
            .filter(|r| current.contains(r))
            .cloned()
            .collect();
        let kept: Vec<String> = current.into_iter().filter(|r| !rooms.contains(r)).collect();
        let publish = nick
            .map(|n| announce("dude_leaves", &n, &left))
            .unwrap_or_default();
        Outcome {
            publish,
            reply: Some(json!([store(json!({"rooms": kept}))])),
        }
    } else {
        // The user disconnected: he leaves every room he was in.
        let publish = nick
            .map(|n| announce("dude_leaves", &n, &current))
            .unwrap_or_default();
        Outcome {
            publish,
            reply: None,
        }
    }
}
