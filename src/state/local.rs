//! `sm.local`: client state kept in the client actor's memory, lost when the session ends.

use super::StateMap;
use crate::error::HiveError;

/// In-memory state of one session.
#[derive(Debug, Default)]
pub struct LocalState {
    map: StateMap,
}

impl LocalState {
    /// Empty state.
    pub fn new() -> Self {
        Self::default()
    }
    pub(super) fn init(&mut self, initial: StateMap) -> Result<(), HiveError> {
        self.map = initial;
        Ok(())
    }
    pub(super) fn get_all(&self) -> StateMap {
        self.map.clone()
    }
    pub(super) fn set_all(&mut self, update: StateMap) -> Result<(), HiveError> {
        for (k, v) in update {
            self.map.insert(k, v);
        }
        Ok(())
    }
    pub(super) fn cleanup(&mut self) -> Result<(), HiveError> {
        self.map.clear();
        Ok(())
    }
}
