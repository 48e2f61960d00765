//! The static supervisor: a fixed, ordered child list restarted per `one_for_one`,
//! `one_for_all` or `rest_for_one`, with restart intensity and ordered shutdown.
//!
//! Lifecycle (see the module docs of [the crate](crate) for the full contract):
//! * **Start**: `pre_start` starts the children in order, each once the previous is up. If one
//!   fails, the ones already started are stopped in reverse order and the start fails.
//! * **Exit of a child**: the exit event is matched against the *current* incarnation of each
//!   child by `ActorId`; anything else (an incarnation the supervisor stopped itself) is stale and
//!   ignored, so self-inflicted exits never count as crashes. The child's [`Restart`] type decides
//!   whether to restart; if so the restart is recorded against the intensity window, then the
//!   [`Strategy`] picks the children to stop (reverse order) and start again (start order).
//! * **Too many restarts**: children are shut down in reverse order and the supervisor fails
//!   with [`SupervisionError::Intensity`]: its parent sees `ActorFailed` (escalation).
//! * **Shutdown** (`Shutdown` message, or a graceful `stop` from the parent, through
//!   `post_stop`): children are stopped in reverse start order, each per its [`Shutdown`](super::Shutdown).
//!   A kill of the supervisor kills its children at once (ractor unlinks and kills them).

use ractor::{ActorCell, ActorProcessingErr, ActorRef};

use super::base::{Core, Kind, child_report, count_restart, start_one};
use super::msg::SupervisorMsg;
use super::names::TreeName;
use super::report::SupervisorReport;
use super::restart::Exit;
use super::shutdown::{stop_child, stop_in_order};
use super::spec::{ChildKind, ChildSpec, Restart, Strategy, SupervisionError, SupervisorSpec};

mod handle;

pub use handle::SupervisorHandle;

/// Child status as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Running,
    Restarting,
    Stopped,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Restarting => "restarting",
            Self::Stopped => "stopped",
        }
    }
}

struct Child {
    spec: ChildSpec,
    cell: Option<ActorCell>,
    restarts: u32,
    status: Status,
}

impl Child {
    fn running(spec: ChildSpec, cell: ActorCell) -> Self {
        Self {
            spec,
            cell: Some(cell),
            restarts: 0,
            status: Status::Running,
        }
    }
}

/// The static supervisor's state (its actor is [`super::base::SupervisorActor`]).
pub(crate) struct SupState {
    core: Core,
    strategy: Strategy,
    children: Vec<Child>,
}

impl SupState {
    fn index_of_incarnation(&self, exit: &Exit) -> Option<usize> {
        self.children
            .iter()
            .position(|c| c.cell.as_ref().is_some_and(|cell| cell.get_id() == exit.id))
    }

    fn index_of(&self, id: &str) -> Option<usize> {
        self.children.iter().position(|c| c.spec.id == id)
    }

    /// Running children in reverse start order, their cells taken (their exits become stale).
    fn take_running_reversed(
        &mut self,
        range: std::ops::Range<usize>,
    ) -> Vec<(ActorCell, super::Shutdown)> {
        let mut out = Vec::new();
        for child in self.children[range].iter_mut().rev() {
            if let Some(cell) = child.cell.take() {
                out.push((cell, child.spec.shutdown));
            }
        }
        out
    }
}

impl Kind for SupState {
    type Arguments = SupervisorSpec;

    async fn init(
        myself: &ActorRef<SupervisorMsg>,
        spec: SupervisorSpec,
    ) -> Result<Self, ActorProcessingErr> {
        let mut state = SupState {
            core: Core::new(spec.id, spec.intensity),
            strategy: spec.strategy,
            children: Vec::with_capacity(spec.children.len()),
        };
        let sup = myself.get_cell();
        for child in spec.children {
            match start_one(&sup, &child, TreeName::Child(child.id.as_str().into())).await {
                Ok(cell) => state.children.push(Child::running(child, cell)),
                Err(e) => {
                    // The failure travels up as this supervisor's start error; whoever started the tree logs it once.
                    tracing::debug!(sup = %state.core.id, child = %child.id, error = %e, "child failed to start");
                    state.shutdown_children().await;
                    return Err(Box::new(SupervisionError::StartFailed {
                        id: state.core.id,
                        reason: format!("child {} failed: {e}", child.id),
                    }));
                }
            }
        }
        Ok(state)
    }

    fn child_name(&self, spec: &ChildSpec) -> TreeName {
        TreeName::Child(spec.id.as_str().into())
    }

    fn core(&mut self) -> &mut Core {
        &mut self.core
    }

    async fn shutdown_children(&mut self) {
        self.core.stopping = true;
        let len = self.children.len();
        let cells = self.take_running_reversed(0..len);
        for child in &mut self.children {
            child.status = Status::Stopped;
        }
        stop_in_order(cells).await;
    }

    async fn on_exit(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        exit: Exit,
    ) -> Result<(), ActorProcessingErr> {
        let Some(idx) = self.index_of_incarnation(&exit) else {
            return Ok(()); // stale: an incarnation we stopped ourselves
        };
        let child = &mut self.children[idx];
        child.cell = None;
        tracing::debug!(sup = %self.core.id, child = %child.spec.id, reason = %exit.reason, "child exited");
        if !child.spec.restart.restarts_after(exit.abnormal) {
            if child.spec.restart == Restart::Temporary {
                self.children.remove(idx);
            } else {
                child.status = Status::Stopped;
            }
            return Ok(());
        }
        if exit.abnormal {
            tracing::warn!(sup = %self.core.id, child = %child.spec.id, reason = %exit.reason, "child crashed");
        }
        count_restart(self).await?;
        let len = self.children.len();
        let range = match self.strategy {
            Strategy::OneForOne => idx..idx + 1,
            Strategy::OneForAll => 0..len,
            Strategy::RestForOne => idx..len,
        };
        // Which siblings were running: only they come back (deliberately stopped ones stay down).
        let mut revive: Vec<bool> = self.children.iter().map(|c| c.cell.is_some()).collect();
        revive[idx] = true;
        let siblings = self.take_running_reversed(range.clone());
        stop_in_order(siblings).await;
        for (i, child) in self.children.iter_mut().enumerate() {
            if range.contains(&i) && revive[i] {
                child.status = Status::Restarting;
            }
        }
        // Temporary siblings stopped for the restart are never restarted: drop them.
        let mut i = 0;
        self.children.retain(|c| {
            let keep = !(range.contains(&i) && i != idx && c.spec.restart == Restart::Temporary);
            i += 1;
            keep
        });
        self.restart_pending(myself).await;
        Ok(())
    }

    fn has_pending(&self) -> bool {
        self.children.iter().any(|c| c.status == Status::Restarting)
    }

    /// Start every child marked `Restarting`, in order. A failed start leaves it (and the ones
    /// after it) pending and schedules a retry, which counts against the intensity.
    async fn restart_pending(&mut self, myself: &ActorRef<SupervisorMsg>) {
        let sup = myself.get_cell();
        for child in self.children.iter_mut() {
            if child.status != Status::Restarting {
                continue;
            }
            match start_one(
                &sup,
                &child.spec,
                TreeName::Child(child.spec.id.as_str().into()),
            )
            .await
            {
                Ok(cell) => {
                    tracing::debug!(sup = %self.core.id, child = %child.spec.id, actor = %cell.get_id(), "child restarted");
                    child.cell = Some(cell);
                    child.status = Status::Running;
                    child.restarts += 1;
                }
                Err(e) => {
                    self.core.restart_failed(myself, &child.spec.id, &e);
                    return;
                }
            }
        }
    }

    /// Every child, in start order.
    fn report(&self, _page: Option<(usize, usize)>) -> (SupervisorReport, Vec<(usize, ActorCell)>) {
        let children = self
            .children
            .iter()
            .map(|c| child_report(&c.spec, c.restarts, c.status.as_str(), c.cell.as_ref()))
            .collect();
        let running = self.children.iter().filter(|c| c.cell.is_some()).count();
        let report = self
            .core
            .report(self.strategy.as_str(), running, None, children, false);
        let nested = self
            .children
            .iter()
            .enumerate()
            .filter(|(_, c)| c.spec.kind == ChildKind::Supervisor)
            .filter_map(|(i, c)| c.cell.clone().map(|cell| (i, cell)))
            .collect();
        (report, nested)
    }

    fn has_child(&self, id: &str) -> bool {
        self.index_of(id).is_some()
    }

    fn insert(&mut self, spec: ChildSpec, cell: ActorCell) {
        self.children.push(Child::running(spec, cell));
    }

    async fn terminate(&mut self, id: &str) -> bool {
        let mut found = false;
        if let Some(idx) = self.index_of(id) {
            let child = &mut self.children[idx];
            child.status = Status::Stopped;
            if let Some(cell) = child.cell.take() {
                found = true;
                stop_child(&cell, child.spec.shutdown).await;
            }
            if child.spec.restart == Restart::Temporary {
                self.children.remove(idx);
            }
        }
        found
    }

    async fn restart_child(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        id: String,
    ) -> Result<ActorCell, SupervisionError> {
        match self.index_of(&id) {
            None => Err(SupervisionError::StartFailed {
                id,
                reason: "no such child".into(),
            }),
            Some(idx) if self.children[idx].cell.is_some() => Err(SupervisionError::StartFailed {
                id,
                reason: "already running".into(),
            }),
            Some(idx) => {
                let child = &mut self.children[idx];
                let name = TreeName::Child(child.spec.id.as_str().into());
                let started = start_one(&myself.get_cell(), &child.spec, name).await;
                if let Ok(cell) = &started {
                    child.cell = Some(cell.clone());
                    child.status = Status::Running;
                }
                started
            }
        }
    }

    fn child(&self, id: &str) -> Option<ActorCell> {
        self.index_of(id)
            .and_then(|i| self.children[i].cell.clone())
    }
}
