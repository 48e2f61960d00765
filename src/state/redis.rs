//! `sm.redis`: client state in a Redis hash at the sid (HIVE.md 4.7).
//!
//! Init writes the initial map (HMSET) and sets the expiry (EXPIRE `expiration_timeout / 1000`
//! seconds, at least 1; never refreshed) in one pipelined round trip. Reads are served from a
//! cache that every write empties. Values: integers and strings as-is, everything else as JSON
//! text; read back as JSON when the text parses, else as the raw string (the original's type
//! confusion is kept: the string `"123"` comes back as the number 123).

use serde_json::Value;

use super::StateMap;
use crate::connectors::RedisPool;
use crate::error::HiveError;

/// Redis-backed state of one session.
pub struct RedisState {
    pool: RedisPool,
    key: String,
    expire_secs: i64,
    cache: Option<StateMap>,
}

impl std::fmt::Debug for RedisState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisState")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// Parse `clients.state.args` of `sm.redis`: `connector` (required), `expiration_timeout` (ms,
/// required, > 0) and `key_prefix` (optional, default `""`; new in this implementation).
///
/// # Errors
/// `invalid_config` naming the field.
pub fn redis_state_args(args: &Value) -> Result<(String, u64, String), HiveError> {
    let bad = |m: &str| HiveError::InvalidConfig(format!("field \"clients.state.args.{m}"));
    let connector = args
        .get("connector")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("connector\": must be the name of a connector.redis pool"))?;
    let expiration = args
        .get("expiration_timeout")
        .and_then(Value::as_u64)
        .filter(|n| *n > 0)
        .ok_or_else(|| bad("expiration_timeout\": must be an integer > 0 (ms)"))?;
    let prefix = match args.get("key_prefix") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(bad("key_prefix\": must be a string")),
    };
    Ok((connector.to_string(), expiration, prefix))
}

/// Encode one value for the hash (HIVE.md 4.7).
pub(crate) fn encode(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        other => other.to_string(),
    }
}

/// Decode one field: JSON if it parses, else the raw string.
pub(crate) fn decode(s: String) -> Value {
    serde_json::from_str(&s).unwrap_or(Value::String(s))
}

fn fields(map: StateMap) -> Vec<(String, String)> {
    map.into_iter()
        .map(|(k, v)| {
            let e = encode(&v);
            (k, e)
        })
        .collect()
}

impl RedisState {
    /// State of session `sid` in the hash `<key_prefix><sid>` of `pool`.
    pub fn new(
        pool: RedisPool,
        sid: String,
        expiration_timeout_ms: u64,
        key_prefix: String,
    ) -> RedisState {
        let expire_secs = i64::try_from(expiration_timeout_ms / 1000)
            .unwrap_or(i64::MAX)
            .max(1);
        RedisState {
            pool,
            key: format!("{key_prefix}{sid}"),
            expire_secs,
            cache: None,
        }
    }

    /// The Redis key of this session.
    pub fn key(&self) -> &str {
        &self.key
    }

    pub(super) async fn init(&mut self, initial: StateMap) -> Result<(), HiveError> {
        self.cache = None;
        self.pool
            .hmset_expire(&self.key, fields(initial), self.expire_secs)
            .await
    }

    pub(super) async fn get_all(&mut self) -> Result<StateMap, HiveError> {
        if let Some(c) = &self.cache {
            return Ok(c.clone());
        }
        let map: StateMap = self
            .pool
            .hgetall(&self.key)
            .await?
            .into_iter()
            .map(|(k, v)| (k, decode(v)))
            .collect();
        self.cache = Some(map.clone());
        Ok(map)
    }

    pub(super) async fn set_all(&mut self, update: StateMap) -> Result<(), HiveError> {
        self.cache = None;
        self.pool.hmset(&self.key, fields(update)).await
    }

    pub(super) async fn cleanup(&mut self) -> Result<(), HiveError> {
        self.cache = None;
        self.pool.del(&self.key).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn encoding_follows_the_spec() {
        assert_eq!(encode(&json!("bob")), "bob");
        assert_eq!(encode(&json!(12)), "12");
        assert_eq!(encode(&json!(1.5)), "1.5");
        assert_eq!(encode(&json!(null)), "null");
        assert_eq!(encode(&json!(true)), "true");
        assert_eq!(encode(&json!([1, "a"])), r#"[1,"a"]"#);
        assert_eq!(encode(&json!({"a": 1})), r#"{"a":1}"#);
    }

    #[test]
    fn decoding_parses_json_else_keeps_text() {
        assert_eq!(decode("bob".into()), json!("bob"));
        assert_eq!(decode("12".into()), json!(12));
        assert_eq!(decode("[1,\"a\"]".into()), json!([1, "a"]));
        // The documented type confusion.
        assert_eq!(decode("null".into()), json!(null));
    }

    #[test]
    fn args_are_checked() {
        let ok =
            redis_state_args(&json!({"connector": "db", "expiration_timeout": 1000})).expect("ok");
        assert_eq!(ok, ("db".to_string(), 1000, String::new()));
        assert!(redis_state_args(&json!({"connector": "db", "expiration_timeout": 0})).is_err());
        assert!(redis_state_args(&json!({"expiration_timeout": 5})).is_err());
        let p = redis_state_args(
            &json!({"connector": "db", "expiration_timeout": 5, "key_prefix": "h:"}),
        );
        assert_eq!(p.expect("ok").2, "h:");
    }
}
