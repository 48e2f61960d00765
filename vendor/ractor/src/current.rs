//! Hive patch: which actor's message loop is running on the current task.
//!
//! Set for the whole processing loop of every actor (its `post_start`, message handlers and
//! `post_stop`), so a log layer can name the actor a line comes from without a tracing span per
//! live actor (a span costs a registry slot and an extensions map for as long as the actor lives).

use crate::ActorId;

tokio::task_local! {
    static CURRENT_ACTOR: ActorId;
}

/// The id of the actor whose processing loop runs on the current task, if any.
pub fn current_actor() -> Option<ActorId> {
    CURRENT_ACTOR.try_with(|id| *id).ok()
}

/// Run `fut` (an actor's processing loop) as actor `id`.
///
/// A plain function returning the task-local's future: as an `async fn` it kept `fut` twice (its
/// argument slot and the awaited scope), ~450 bytes more in every actor's task.
pub(crate) fn run_as<F: std::future::Future>(
    id: ActorId,
    fut: F,
) -> impl std::future::Future<Output = F::Output> {
    CURRENT_ACTOR.scope(id, fut)
}
