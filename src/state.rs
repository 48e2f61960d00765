//! Client state managers (HIVE.md 4.7): a flat key -> JSON value map per session.
//!
//! The manager is chosen once from `clients.state`; every client actor owns one [`StateStore`].
//! Dispatch is an enum rather than a trait object: the set of managers is closed and known at
//! config load, and `async fn` stays simple.

pub mod local;
pub mod redis;

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::HiveError;

/// The flat state map.
pub type StateMap = Map<String, Value>;

/// Map `initial_value` to the initial key/value map (HIVE.md 4.7): a non-empty object becomes its
/// keys; anything else is stored under the single key `initial_value`.
pub fn initial_map(initial: &Value) -> StateMap {
    match initial {
        Value::Object(m) if !m.is_empty() => m.clone(),
        other => {
            let mut m = Map::new();
            m.insert("initial_value".into(), other.clone());
            m
        }
    }
}

/// One session's state store.
#[derive(Debug)]
pub enum StateStore {
    /// `sm.local`: in the client actor's memory.
    Local(local::LocalState),
    /// `sm.redis`: a Redis hash at the sid (boxed: every client actor's state holds this enum).
    Redis(Box<redis::RedisState>),
}

impl StateStore {
    /// Write the initial map (`sm.redis`: HMSET + EXPIRE; `sm.local` keeps a shared map until its
    /// first write).
    ///
    /// # Errors
    /// `redis_error` / `no_connection` from the Redis manager.
    pub async fn init(&mut self, initial: impl Into<Arc<StateMap>>) -> Result<(), HiveError> {
        match self {
            StateStore::Local(s) => s.init(initial.into()),
            StateStore::Redis(s) => s.init(Arc::unwrap_or_clone(initial.into())).await,
        }
    }

    /// Every key/value pair.
    ///
    /// # Errors
    /// As [`StateStore::init`].
    pub async fn get_all(&mut self) -> Result<StateMap, HiveError> {
        match self {
            StateStore::Local(s) => Ok(s.get_all()),
            StateStore::Redis(s) => s.get_all().await,
        }
    }

    /// Write each key of `update` (other keys untouched). A non-object value is stored under the
    /// key `all` (the original's `sm.local` quirk, applied to both managers; docs/compat.md).
    ///
    /// # Errors
    /// As [`StateStore::init`].
    pub async fn set_all(&mut self, update: Value) -> Result<(), HiveError> {
        let map = match update {
            Value::Object(m) if !m.is_empty() => m,
            other => {
                let mut m = Map::new();
                m.insert("all".into(), other);
                m
            }
        };
        match self {
            StateStore::Local(s) => s.set_all(map),
            StateStore::Redis(s) => s.set_all(map).await,
        }
    }

    /// Drop the state (`sm.redis`: DEL).
    ///
    /// # Errors
    /// As [`StateStore::init`].
    pub async fn cleanup(&mut self) -> Result<(), HiveError> {
        match self {
            StateStore::Local(s) => s.cleanup(),
            StateStore::Redis(s) => s.cleanup().await,
        }
    }
}
