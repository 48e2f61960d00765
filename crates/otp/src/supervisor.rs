//! The static supervisor: a fixed, ordered child list restarted per `one_for_one`,
//! `one_for_all` or `rest_for_one`, with restart intensity and ordered shutdown.
//!
//! Lifecycle (see the module docs of [`crate::supervision`] for the full contract):
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

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, SupervisionEvent};

use super::msg::{SupervisorMsg, ask_report};
use super::names::{self, TreeName};
use super::report::{ChildReport, IntensityReport, SupervisorReport};
use super::restart::{Exit, RestartWindow, exit_of, schedule_retry};
use super::shutdown::{SHUTDOWN_REASON, stop_child, stop_in_order};
use super::spec::{
    ChildKind, ChildSpec, Intensity, Restart, Strategy, SupervisionError, SupervisorSpec,
};

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

/// The static supervisor's state.
pub(crate) struct SupState {
    id: String,
    strategy: Strategy,
    intensity: Intensity,
    window: RestartWindow,
    restarts: u32,
    children: Vec<Child>,
    /// Set once an ordered shutdown started: exits are no longer acted upon.
    stopping: bool,
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

    async fn shutdown_children(&mut self) {
        self.stopping = true;
        let len = self.children.len();
        let cells = self.take_running_reversed(0..len);
        for child in &mut self.children {
            child.status = Status::Stopped;
        }
        stop_in_order(cells).await;
    }

    fn base_report(&self) -> SupervisorReport {
        let children: Vec<ChildReport> = self
            .children
            .iter()
            .map(|c| ChildReport {
                id: c.spec.id.clone(),
                kind: c.spec.kind.as_str().to_owned(),
                restart: c.spec.restart.as_str().to_owned(),
                restarts: c.restarts,
                status: c.status.as_str().to_owned(),
                actor_id: c.cell.as_ref().map(|cell| cell.get_id().to_string()),
                supervisor: None,
            })
            .collect();
        SupervisorReport {
            id: self.id.clone(),
            strategy: self.strategy.as_str().to_owned(),
            intensity: IntensityReport {
                max_restarts: self.intensity.max_restarts,
                max_seconds: self.intensity.max_seconds,
            },
            restarts: self.restarts,
            child_count: self.children.iter().filter(|c| c.cell.is_some()).count(),
            max_children: None,
            children,
            children_truncated: false,
        }
    }
}

/// Make sure `cell` reports to `sup` even if its start function forgot `spawn_linked`.
pub(crate) fn ensure_linked(sup: &ActorCell, cell: &ActorCell) {
    if cell.try_get_supervisor().map(|s| s.get_id()) != Some(sup.get_id()) {
        cell.link(sup.clone());
    }
}

async fn start_one(sup: &ActorCell, spec: &ChildSpec) -> Result<ActorCell, SupervisionError> {
    let name = TreeName::Child(spec.id.as_str().into());
    let cell = names::start_as(name.clone(), (spec.start)(sup.clone())).await?;
    ensure_linked(sup, &cell);
    names::register(&cell.get_id(), name);
    Ok(cell)
}

/// The static supervisor actor. Use [`SupervisorHandle`].
pub(crate) struct Supervisor;

impl Supervisor {
    /// Start every child marked `Restarting`, in order. A failed start leaves it (and the ones
    /// after it) pending and schedules a retry, which counts against the intensity.
    async fn restart_pending(&self, myself: &ActorRef<SupervisorMsg>, state: &mut SupState) {
        let sup = myself.get_cell();
        for child in state.children.iter_mut() {
            if child.status != Status::Restarting {
                continue;
            }
            match start_one(&sup, &child.spec).await {
                Ok(cell) => {
                    tracing::debug!(sup = %state.id, child = %child.spec.id, actor = %cell.get_id(), "child restarted");
                    child.cell = Some(cell);
                    child.status = Status::Running;
                    child.restarts += 1;
                }
                Err(e) => {
                    tracing::error!(sup = %state.id, child = %child.spec.id, error = %e, "child restart failed");
                    schedule_retry(myself);
                    return;
                }
            }
        }
    }

    /// Give up: shut the children down in order and fail (the parent sees `ActorFailed`).
    async fn escalate(&self, state: &mut SupState) -> Result<(), ActorProcessingErr> {
        tracing::error!(sup = %state.id, "max restart intensity reached; giving up");
        state.shutdown_children().await;
        Err(Box::new(SupervisionError::Intensity {
            id: state.id.clone(),
            max_restarts: state.intensity.max_restarts,
            max_seconds: state.intensity.max_seconds,
        }))
    }

    async fn on_exit(
        &self,
        myself: &ActorRef<SupervisorMsg>,
        state: &mut SupState,
        exit: Exit,
    ) -> Result<(), ActorProcessingErr> {
        if state.stopping {
            return Ok(());
        }
        let Some(idx) = state.index_of_incarnation(&exit) else {
            return Ok(()); // stale: an incarnation we stopped ourselves
        };
        let child = &mut state.children[idx];
        child.cell = None;
        tracing::debug!(sup = %state.id, child = %child.spec.id, reason = %exit.reason, "child exited");
        if !child.spec.restart.restarts_after(exit.abnormal) {
            if child.spec.restart == Restart::Temporary {
                state.children.remove(idx);
            } else {
                child.status = Status::Stopped;
            }
            return Ok(());
        }
        if exit.abnormal {
            tracing::warn!(sup = %state.id, child = %child.spec.id, reason = %exit.reason, "child crashed");
        }
        if !state.window.record() {
            return self.escalate(state).await;
        }
        state.restarts += 1;
        let len = state.children.len();
        let range = match state.strategy {
            Strategy::OneForOne => idx..idx + 1,
            Strategy::OneForAll => 0..len,
            Strategy::RestForOne => idx..len,
        };
        // Which siblings were running: only they come back (deliberately stopped ones stay down).
        let mut revive: Vec<bool> = state.children.iter().map(|c| c.cell.is_some()).collect();
        revive[idx] = true;
        let siblings = state.take_running_reversed(range.clone());
        stop_in_order(siblings).await;
        for (i, child) in state.children.iter_mut().enumerate() {
            if range.contains(&i) && revive[i] {
                child.status = Status::Restarting;
            }
        }
        // Temporary siblings stopped for the restart are never restarted: drop them.
        let mut i = 0;
        state.children.retain(|c| {
            let keep = !(range.contains(&i) && i != idx && c.spec.restart == Restart::Temporary);
            i += 1;
            keep
        });
        self.restart_pending(myself, state).await;
        Ok(())
    }
}

impl Actor for Supervisor {
    type Msg = SupervisorMsg;
    type State = SupState;
    type Arguments = SupervisorSpec;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        spec: SupervisorSpec,
    ) -> Result<Self::State, ActorProcessingErr> {
        names::register(&myself.get_id(), TreeName::Child(spec.id.as_str().into()));
        let mut state = SupState {
            id: spec.id,
            strategy: spec.strategy,
            intensity: spec.intensity,
            window: RestartWindow::new(spec.intensity),
            restarts: 0,
            children: Vec::with_capacity(spec.children.len()),
            stopping: false,
        };
        let sup = myself.get_cell();
        for child in spec.children {
            match start_one(&sup, &child).await {
                Ok(cell) => state.children.push(Child {
                    spec: child,
                    cell: Some(cell),
                    restarts: 0,
                    status: Status::Running,
                }),
                Err(e) => {
                    // The failure travels up as this supervisor's start error; whoever started the tree logs it once.
                    tracing::debug!(sup = %state.id, child = %child.id, error = %e, "child failed to start");
                    state.shutdown_children().await;
                    return Err(Box::new(SupervisionError::StartFailed {
                        id: state.id,
                        reason: format!("child {} failed: {e}", child.id),
                    }));
                }
            }
        }
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SupervisorMsg::Report { page, reply } => {
                let mut report = state.base_report();
                let nested: Vec<(usize, ActorCell)> = state
                    .children
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.spec.kind == ChildKind::Supervisor)
                    .filter_map(|(i, c)| c.cell.clone().map(|cell| (i, cell)))
                    .collect();
                // Ask nested supervisors off this actor, so a busy child never blocks us.
                tokio::spawn(async move {
                    let asks = nested
                        .into_iter()
                        .map(|(i, cell)| async move { (i, ask_report(cell, page).await) });
                    for (i, sub) in futures::future::join_all(asks).await {
                        report.children[i].supervisor = sub.map(Box::new);
                    }
                    let _ = reply.send(report);
                });
            }
            SupervisorMsg::StartChild(spec, reply) => {
                let result = if state.stopping {
                    Err(SupervisionError::Stopped)
                } else if state.index_of(&spec.id).is_some() {
                    Err(SupervisionError::StartFailed {
                        id: spec.id.clone(),
                        reason: "a child with this id exists".into(),
                    })
                } else {
                    match start_one(&myself.get_cell(), &spec).await {
                        Ok(cell) => {
                            state.children.push(Child {
                                spec,
                                cell: Some(cell.clone()),
                                restarts: 0,
                                status: Status::Running,
                            });
                            Ok(cell)
                        }
                        Err(e) => Err(e),
                    }
                };
                let _ = reply.send(result);
            }
            SupervisorMsg::TerminateChild(id, reply) => {
                let mut found = false;
                if let Some(idx) = state.index_of(&id) {
                    let child = &mut state.children[idx];
                    child.status = Status::Stopped;
                    if let Some(cell) = child.cell.take() {
                        found = true;
                        stop_child(&cell, child.spec.shutdown).await;
                    }
                    if child.spec.restart == Restart::Temporary {
                        state.children.remove(idx);
                    }
                }
                let _ = reply.send(found);
            }
            SupervisorMsg::RestartChild(id, reply) => {
                let result = match state.index_of(&id) {
                    None => Err(SupervisionError::StartFailed {
                        id,
                        reason: "no such child".into(),
                    }),
                    Some(idx) if state.children[idx].cell.is_some() => {
                        Err(SupervisionError::StartFailed {
                            id,
                            reason: "already running".into(),
                        })
                    }
                    Some(idx) => {
                        let child = &mut state.children[idx];
                        let started = start_one(&myself.get_cell(), &child.spec).await;
                        if let Ok(cell) = &started {
                            child.cell = Some(cell.clone());
                            child.status = Status::Running;
                        }
                        started
                    }
                };
                let _ = reply.send(result);
            }
            SupervisorMsg::Child(id, reply) => {
                let cell = state
                    .index_of(&id)
                    .and_then(|i| state.children[i].cell.clone());
                let _ = reply.send(cell);
            }
            SupervisorMsg::Shutdown(reply) => {
                state.shutdown_children().await;
                let _ = reply.send(());
                myself.stop(Some(SHUTDOWN_REASON.to_owned()));
            }
            SupervisorMsg::RetryRestart => {
                if !state.stopping
                    && state
                        .children
                        .iter()
                        .any(|c| c.status == Status::Restarting)
                {
                    if !state.window.record() {
                        return self.escalate(state).await;
                    }
                    state.restarts += 1;
                    self.restart_pending(&myself, state).await;
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        evt: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match exit_of(&evt) {
            Some(exit) => {
                names::forget(&exit.id);
                self.on_exit(&myself, state, exit).await
            }
            None => Ok(()),
        }
    }

    async fn post_stop(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // A graceful stop from the parent: ordered shutdown (no-op after `Shutdown`).
        state.shutdown_children().await;
        names::forget(&myself.get_id());
        Ok(())
    }
}
