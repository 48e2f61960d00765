//! `SupervisorHandle`: the typed API of a static supervisor (start, nest, query, shutdown).

use std::sync::Arc;

use ractor::{ActorCell, ActorRef};
use tokio::task::JoinHandle;

use super::SupState;
use crate::base::spawn;
use crate::msg::SupRef;
use crate::report::{ChildReport, SupervisorReport};
use crate::spec::{ChildSpec, StartFn, SupervisionError, SupervisorSpec};

/// Typed handle to a static supervisor.
#[derive(Debug, Clone)]
pub struct SupervisorHandle {
    actor: SupRef,
}

impl SupervisorHandle {
    /// Start a supervisor and its children (in order), linked to `parent` if given.
    ///
    /// # Errors
    /// [`SupervisionError::StartFailed`] if a child fails to start (the children already started
    /// are stopped in reverse order first).
    pub async fn start(
        spec: SupervisorSpec,
        parent: Option<ActorCell>,
    ) -> Result<(SupervisorHandle, JoinHandle<()>), SupervisionError> {
        let id = spec.id.clone();
        let (actor, join) = spawn::<SupState>(&id, spec, parent).await?;
        Ok((SupervisorHandle { actor }, join))
    }

    /// A [`StartFn`] that starts this kind of supervisor as the child of another; the spec is
    /// re-created by `spec_factory` on every (re)start.
    pub fn start_fn(spec_factory: Arc<dyn Fn() -> SupervisorSpec + Send + Sync>) -> StartFn {
        Arc::new(move |sup: ActorCell| {
            let spec = spec_factory();
            Box::pin(async move {
                let (handle, _join) = SupervisorHandle::start(spec, Some(sup)).await?;
                Ok(handle.cell())
            })
        })
    }

    /// Address an existing supervisor (static or dynamic) by its cell, e.g. a nested one.
    pub fn from_cell(cell: ActorCell) -> Self {
        Self {
            actor: SupRef::from(ActorRef::from(cell)),
        }
    }

    /// The supervisor's cell.
    pub fn cell(&self) -> ActorCell {
        self.actor.cell()
    }

    /// A snapshot of this supervisor and, recursively, of its supervisor children; `page` is
    /// passed down to dynamic supervisors.
    ///
    /// # Errors
    /// [`SupervisionError::Stopped`] if it is not running, `Call` on timeout.
    pub async fn report(
        &self,
        page: Option<(usize, usize)>,
    ) -> Result<SupervisorReport, SupervisionError> {
        self.actor.report(page).await
    }

    /// The children as reported (without waiting for nested reports' details to matter).
    ///
    /// # Errors
    /// As [`Self::report`].
    pub async fn which_children(&self) -> Result<Vec<ChildReport>, SupervisionError> {
        Ok(self.report(None).await?.children)
    }

    /// The running incarnation of child `id`, if any.
    pub async fn child(&self, id: &str) -> Option<ActorCell> {
        self.actor.child(id).await
    }

    /// Add a child at the end of the start order and start it.
    ///
    /// # Errors
    /// `StartFailed` if the id exists or the start fails; `Stopped`.
    pub async fn start_child(&self, spec: ChildSpec) -> Result<ActorCell, SupervisionError> {
        self.actor.start_child(spec).await
    }

    /// Stop child `id` per its shutdown policy; it stays down until [`Self::restart_child`].
    /// Returns whether it was running.
    pub async fn terminate_child(&self, id: &str) -> bool {
        self.actor.terminate_child(id).await
    }

    /// Start a child that was terminated.
    ///
    /// # Errors
    /// `StartFailed` (unknown id, already running, start failed); `Stopped`.
    pub async fn restart_child(&self, id: &str) -> Result<ActorCell, SupervisionError> {
        self.actor.restart_child(id).await
    }

    /// Ordered shutdown: children in reverse start order, each per its `Shutdown`, then the
    /// supervisor; resolves once the supervisor has stopped. Ok if it had already stopped.
    ///
    /// # Errors
    /// None in practice; kept for symmetry with the other calls.
    pub async fn shutdown(&self) -> Result<(), SupervisionError> {
        self.actor.shutdown().await
    }
}
