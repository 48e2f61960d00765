//! The sid <-> client table, readable concurrently by every transport.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use ractor::ActorId;

use crate::client::ClientHandle;

#[derive(Default)]
struct Tables {
    by_sid: HashMap<Arc<str>, ClientHandle>,
    by_actor: HashMap<ActorId, Arc<str>>,
}

/// sid -> client and actor -> sid.
#[derive(Default)]
pub struct Registry {
    t: RwLock<Tables>,
}

impl Registry {
    /// Add a session.
    pub fn insert(&self, c: ClientHandle, actor: ActorId) {
        let mut t = self.t.write().unwrap_or_else(|e| e.into_inner());
        t.by_actor.insert(actor, c.sid_arc());
        t.by_sid.insert(c.sid_arc(), c);
    }
    /// Remove the session whose actor exited; returns its sid.
    pub fn remove_actor(&self, actor: &ActorId) -> Option<Arc<str>> {
        let mut t = self.t.write().unwrap_or_else(|e| e.into_inner());
        let sid = t.by_actor.remove(actor)?;
        t.by_sid.remove(&sid);
        Some(sid)
    }
    /// The client of `sid`.
    pub fn get(&self, sid: &str) -> Option<ClientHandle> {
        self.t
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .by_sid
            .get(sid)
            .cloned()
    }
    /// Number of sessions.
    pub fn len(&self) -> usize {
        self.t
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .by_sid
            .len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Every client.
    pub fn all(&self) -> Vec<ClientHandle> {
        self.t
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .by_sid
            .values()
            .cloned()
            .collect()
    }
    /// Drop everything (router restart: its clients died with it).
    pub fn clear(&self) {
        let mut t = self.t.write().unwrap_or_else(|e| e.into_inner());
        t.by_sid.clear();
        t.by_actor.clear();
    }
}
