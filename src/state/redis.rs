//! `sm.redis`: client state in a Redis hash at the sid (HIVE.md 4.7). Filled in by the connectors work.

use super::StateMap;
use crate::error::HiveError;

/// Redis-backed state of one session.
#[derive(Debug)]
pub struct RedisState {
    _private: (),
}

impl RedisState {
    pub(super) async fn init(&mut self, _initial: StateMap) -> Result<(), HiveError> {
        Err(HiveError::RedisError("sm.redis is not available in this build".into()))
    }
    pub(super) async fn get_all(&mut self) -> Result<StateMap, HiveError> {
        Err(HiveError::RedisError("sm.redis is not available in this build".into()))
    }
    pub(super) async fn set_all(&mut self, _update: StateMap) -> Result<(), HiveError> {
        Err(HiveError::RedisError("sm.redis is not available in this build".into()))
    }
    pub(super) async fn cleanup(&mut self) -> Result<(), HiveError> {
        Err(HiveError::RedisError("sm.redis is not available in this build".into()))
    }
}
