//! The tree name of every live actor a supervisor started, for log lines.
//!
//! A child of a static supervisor is named by its child id (`router`, `pool:backend`); a child of
//! a dynamic supervisor by that supervisor's id (every session of `clients_sup` shares one name).
//! Supervisors name themselves when they start, so the root is named too.
//!
//! Two ways to find a name, both cheap enough for every log line:
//! * [`tree_name`]: by the actor's pid, once its start has finished (the table is updated when a
//!   supervisor starts a child, and cleared when it sees or causes the child's exit);
//! * [`starting`]: while a supervisor is starting a child (the child's `pre_start`), the name of
//!   that child, from a task-local set around the child's start function.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use ractor::ActorId;

/// An actor's place in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeName {
    /// A child of a static supervisor, or a supervisor: its id.
    Child(Arc<str>),
    /// A child of the dynamic supervisor with this id.
    DynamicChildOf(Arc<str>),
}

static NAMES: LazyLock<RwLock<HashMap<u64, TreeName>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));

tokio::task_local! {
    static STARTING: TreeName;
}

/// The tree name of the live actor with this pid (`ActorId::pid`), once it has started.
pub fn tree_name(pid: u64) -> Option<TreeName> {
    NAMES
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(&pid)
        .cloned()
}

/// The name of the child whose start is running on this task (its `pre_start`), if any.
pub fn starting() -> Option<TreeName> {
    STARTING.try_with(TreeName::clone).ok()
}

/// Run a child's start under its name (see [`starting`]).
pub(crate) async fn start_as<F: std::future::Future>(name: TreeName, start: F) -> F::Output {
    STARTING.scope(name, start).await
}

/// Record the name of a started actor.
pub(crate) fn register(id: &ActorId, name: TreeName) {
    if id.is_local() {
        NAMES
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.pid(), name);
    }
}

/// Forget an actor that has exited (or is being stopped for good).
pub(crate) fn forget(id: &ActorId) {
    if id.is_local() {
        NAMES
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id.pid());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_starting_name_is_scoped_to_the_start() {
        assert_eq!(starting(), None);
        let name = TreeName::Child(Arc::from("router"));
        let seen = start_as(name.clone(), async { starting() }).await;
        assert_eq!(seen, Some(name));
        assert_eq!(starting(), None);
    }
}
