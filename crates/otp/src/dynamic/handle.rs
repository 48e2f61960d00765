//! `DynamicHandle`: the typed API of a dynamic supervisor (start, nest, add/remove children, count).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ractor::ActorCell;
use tokio::task::JoinHandle;

use super::DynState;
use crate::base::spawn;
use crate::msg::SupRef;
use crate::report::SupervisorReport;
use crate::spec::{ChildSpec, DynamicSpec, StartFn, SupervisionError};

/// Typed handle to a dynamic supervisor.
#[derive(Debug, Clone)]
pub struct DynamicHandle {
    actor: SupRef,
    count: Arc<AtomicUsize>,
}

impl DynamicHandle {
    /// Start an empty dynamic supervisor, linked to `parent` if given.
    ///
    /// # Errors
    /// `StartFailed` if the actor cannot be spawned.
    pub async fn start(
        spec: DynamicSpec,
        parent: Option<ActorCell>,
    ) -> Result<(DynamicHandle, JoinHandle<()>), SupervisionError> {
        let id = spec.id.clone();
        let count = Arc::new(AtomicUsize::new(0));
        let args = (spec, count.clone());
        let (actor, join) = spawn::<DynState>(&id, args, parent).await?;
        Ok((DynamicHandle { actor, count }, join))
    }

    /// A [`StartFn`] nesting a dynamic supervisor under a static one. After every (re)start,
    /// `on_started` receives the new handle (so a router, pubsub manager or pool can switch to it).
    pub fn start_fn(
        spec: DynamicSpec,
        on_started: Arc<dyn Fn(DynamicHandle) + Send + Sync>,
    ) -> StartFn {
        Arc::new(move |sup: ActorCell| {
            let spec = spec.clone();
            let on_started = on_started.clone();
            Box::pin(async move {
                let (handle, _join) = DynamicHandle::start(spec, Some(sup)).await?;
                let cell = handle.cell();
                on_started(handle);
                Ok(cell)
            })
        })
    }

    /// Start a child.
    ///
    /// # Errors
    /// [`SupervisionError::MaxChildren`] at the cap; `StartFailed` (duplicate id, start failed);
    /// `Stopped`.
    pub async fn start_child(&self, spec: ChildSpec) -> Result<ActorCell, SupervisionError> {
        self.actor.start_child(spec).await
    }

    /// Children held (running or pending a restart); 0 once the supervisor has stopped.
    pub fn count(&self) -> usize {
        if self.actor.is_stopping() {
            return 0;
        }
        self.count.load(Ordering::Acquire)
    }

    /// Stop and remove child `id`. Returns whether it was running.
    pub async fn terminate_child(&self, id: &str) -> bool {
        self.actor.terminate_child(id).await
    }

    /// The running incarnation of child `id`, if any.
    pub async fn child(&self, id: &str) -> Option<ActorCell> {
        self.actor.child(id).await
    }

    /// A snapshot: `child_count` always; the children in `page` = `(offset, limit)` (start
    /// order), none by default (`children_truncated` is then true when there are children).
    ///
    /// # Errors
    /// `Stopped`; `Call` on timeout.
    pub async fn report(
        &self,
        page: Option<(usize, usize)>,
    ) -> Result<SupervisorReport, SupervisionError> {
        self.actor.report(page).await
    }

    /// Stop all children in parallel (each per its `Shutdown`), then the supervisor; resolves
    /// once it has stopped. Ok if it had already stopped.
    ///
    /// # Errors
    /// None in practice; kept for symmetry.
    pub async fn shutdown(&self) -> Result<(), SupervisionError> {
        self.actor.shutdown().await
    }

    /// The supervisor's cell.
    pub fn cell(&self) -> ActorCell {
        self.actor.cell()
    }
}
