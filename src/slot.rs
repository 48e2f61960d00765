//! [`Slot`]: a late-bound, replaceable handle. Subsystems that a supervisor may restart (pub-sub,
//! connectors) publish their current handle here, and users read it at the time of use, so no one
//! keeps a handle to a dead incarnation.

use std::sync::{Arc, RwLock};

/// A shared, replaceable `Option<T>`.
#[derive(Debug)]
pub struct Slot<T>(Arc<RwLock<Option<T>>>);

impl<T> Clone for Slot<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self(Arc::new(RwLock::new(None)))
    }
}

impl<T: Clone> Slot<T> {
    /// An empty slot.
    pub fn new() -> Self {
        Self::default()
    }
    /// Publish the current incarnation.
    pub fn set(&self, t: T) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Some(t);
    }
    /// The current incarnation, if one is running.
    pub fn get(&self) -> Option<T> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
