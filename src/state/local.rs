//! `sm.local`: client state kept in the client actor's memory, lost when the session ends.

use std::sync::Arc;

use super::StateMap;
use crate::error::HiveError;

/// In-memory state of one session: the node's shared initial map until the first write, which
/// copies it (sessions that never write their state share one map).
#[derive(Debug, Default)]
pub struct LocalState {
    map: Arc<StateMap>,
}

impl LocalState {
    /// Empty state.
    pub fn new() -> Self {
        Self::default()
    }
    pub(super) fn init(&mut self, initial: Arc<StateMap>) -> Result<(), HiveError> {
        self.map = initial;
        Ok(())
    }
    pub(super) fn get_all(&self) -> StateMap {
        (*self.map).clone()
    }
    pub(super) fn set_all(&mut self, update: StateMap) -> Result<(), HiveError> {
        let map = Arc::make_mut(&mut self.map);
        for (k, v) in update {
            map.insert(k, v);
        }
        Ok(())
    }
    pub(super) fn cleanup(&mut self) -> Result<(), HiveError> {
        self.map = Arc::default();
        Ok(())
    }
}
