//! The dynamic supervisor (OTP's `simple_one_for_one`): children added at run time, an optional
//! `max_children` cap, a cheap atomic live-child count, paged reports and parallel shutdown.
//!
//! * Children are started one at a time by `start_child` (a call: the child is up when it
//!   returns). Ids must be unique among the live children.
//! * Each child's [`Restart`](super::Restart) type applies: a temporary child (e.g. a client
//!   session) is never restarted; a transient one only after an abnormal exit; a permanent one
//!   always. A child that is not restarted is removed, so the count drops.
//! * Restarts are counted against the intensity; exceeding it stops every child and fails the
//!   supervisor, which its parent sees as `ActorFailed`.
//! * Shutdown stops all children in parallel, each per its own [`Shutdown`](super::Shutdown).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};

use super::msg::{SupervisorMsg, ask_report};
use super::names::{self, TreeName};
use super::report::{ChildReport, IntensityReport, SupervisorReport};
use super::restart::{Exit, RestartWindow, exit_of, schedule_retry};
use super::shutdown::{SHUTDOWN_REASON, stop_child, stop_in_parallel};
use super::spec::{ChildKind, ChildSpec, DynamicSpec, SupervisionError};
use super::supervisor::ensure_linked;

mod handle;

pub use handle::DynamicHandle;

struct DynChild {
    spec: ChildSpec,
    /// `None` while a restart is pending.
    cell: Option<ActorCell>,
    restarts: u32,
}

/// The dynamic supervisor's state.
pub(crate) struct DynState {
    spec: DynamicSpec,
    /// The children's tree name (this supervisor's id).
    name: TreeName,
    window: RestartWindow,
    restarts: u32,
    /// Children in start order (key: a sequence number).
    children: BTreeMap<u64, DynChild>,
    next_seq: u64,
    by_actor: HashMap<ActorId, u64>,
    by_id: HashMap<String, u64>,
    count: Arc<AtomicUsize>,
    stopping: bool,
}

impl DynState {
    fn sync_count(&self) {
        self.count.store(self.children.len(), Ordering::Release);
    }

    fn remove(&mut self, seq: u64) -> Option<DynChild> {
        let child = self.children.remove(&seq)?;
        self.by_id.remove(&child.spec.id);
        if let Some(cell) = &child.cell {
            self.by_actor.remove(&cell.get_id());
        }
        self.sync_count();
        Some(child)
    }

    async fn shutdown_children(&mut self) {
        self.stopping = true;
        let cells: Vec<_> = std::mem::take(&mut self.children)
            .into_values()
            .filter_map(|c| c.cell.map(|cell| (cell, c.spec.shutdown)))
            .collect();
        self.by_actor.clear();
        self.by_id.clear();
        self.sync_count();
        stop_in_parallel(cells).await;
    }

    fn report(&self, page: Option<(usize, usize)>) -> (SupervisorReport, Vec<(usize, ActorCell)>) {
        let (offset, limit) = page.unwrap_or((0, 0));
        let mut nested = Vec::new();
        let children: Vec<ChildReport> = self
            .children
            .values()
            .skip(offset)
            .take(limit)
            .enumerate()
            .map(|(i, c)| {
                if let (ChildKind::Supervisor, Some(cell)) = (c.spec.kind, &c.cell) {
                    nested.push((i, cell.clone()));
                }
                ChildReport {
                    id: c.spec.id.clone(),
                    kind: c.spec.kind.as_str().to_owned(),
                    restart: c.spec.restart.as_str().to_owned(),
                    restarts: c.restarts,
                    status: if c.cell.is_some() {
                        "running"
                    } else {
                        "restarting"
                    }
                    .to_owned(),
                    actor_id: c.cell.as_ref().map(|cell| cell.get_id().to_string()),
                    supervisor: None,
                }
            })
            .collect();
        let report = SupervisorReport {
            id: self.spec.id.clone(),
            strategy: "simple_one_for_one".to_owned(),
            intensity: IntensityReport {
                max_restarts: self.spec.intensity.max_restarts,
                max_seconds: self.spec.intensity.max_seconds,
            },
            restarts: self.restarts,
            child_count: self.children.len(),
            max_children: self.spec.max_children,
            children_truncated: children.len() < self.children.len(),
            children,
        };
        (report, nested)
    }
}

async fn start_one(
    sup: &ActorCell,
    spec: &ChildSpec,
    name: &TreeName,
) -> Result<ActorCell, SupervisionError> {
    let cell = names::start_as(name.clone(), (spec.start)(sup.clone())).await?;
    ensure_linked(sup, &cell);
    names::register(&cell.get_id(), name.clone());
    Ok(cell)
}

/// The dynamic supervisor actor. Use [`DynamicHandle`].
pub(crate) struct DynamicSupervisor;

impl DynamicSupervisor {
    /// (Re)start every child whose restart is pending; a failure schedules a retry.
    async fn restart_pending(&self, myself: &ActorRef<SupervisorMsg>, state: &mut DynState) {
        let sup = myself.get_cell();
        let name = state.name.clone();
        let pending: Vec<u64> = state
            .children
            .iter()
            .filter(|(_, c)| c.cell.is_none())
            .map(|(seq, _)| *seq)
            .collect();
        for seq in pending {
            let Some(child) = state.children.get_mut(&seq) else {
                continue;
            };
            match start_one(&sup, &child.spec, &name).await {
                Ok(cell) => {
                    state.by_actor.insert(cell.get_id(), seq);
                    child.cell = Some(cell);
                    child.restarts += 1;
                }
                Err(e) => {
                    tracing::error!(sup = %state.spec.id, child = %child.spec.id, error = %e, "child restart failed");
                    schedule_retry(myself);
                    return;
                }
            }
        }
    }

    async fn escalate(&self, state: &mut DynState) -> Result<(), ActorProcessingErr> {
        tracing::error!(sup = %state.spec.id, "max restart intensity reached; giving up");
        state.shutdown_children().await;
        Err(Box::new(SupervisionError::Intensity {
            id: state.spec.id.clone(),
            max_restarts: state.spec.intensity.max_restarts,
            max_seconds: state.spec.intensity.max_seconds,
        }))
    }

    async fn on_exit(
        &self,
        myself: &ActorRef<SupervisorMsg>,
        state: &mut DynState,
        exit: Exit,
    ) -> Result<(), ActorProcessingErr> {
        if state.stopping {
            return Ok(());
        }
        let Some(seq) = state.by_actor.remove(&exit.id) else {
            return Ok(()); // stale: a child we stopped ourselves
        };
        let Some(child) = state.children.get_mut(&seq) else {
            return Ok(());
        };
        child.cell = None;
        if !child.spec.restart.restarts_after(exit.abnormal) {
            state.remove(seq);
            return Ok(());
        }
        tracing::warn!(sup = %state.spec.id, child = %child.spec.id, reason = %exit.reason, "child exited; restarting");
        if !state.window.record() {
            return self.escalate(state).await;
        }
        state.restarts += 1;
        self.restart_pending(myself, state).await;
        Ok(())
    }
}

impl Actor for DynamicSupervisor {
    type Msg = SupervisorMsg;
    type State = DynState;
    type Arguments = (DynamicSpec, Arc<AtomicUsize>);

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        (spec, count): (DynamicSpec, Arc<AtomicUsize>),
    ) -> Result<Self::State, ActorProcessingErr> {
        count.store(0, Ordering::Release);
        let id: Arc<str> = spec.id.as_str().into();
        names::register(&myself.get_id(), TreeName::Child(Arc::clone(&id)));
        Ok(DynState {
            name: TreeName::DynamicChildOf(id),
            window: RestartWindow::new(spec.intensity),
            spec,
            restarts: 0,
            children: BTreeMap::new(),
            next_seq: 0,
            by_actor: HashMap::new(),
            by_id: HashMap::new(),
            count,
            stopping: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SupervisorMsg::Report { page, reply } => {
                let (mut report, nested) = state.report(page);
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
                } else if let Some(max) = state
                    .spec
                    .max_children
                    .filter(|m| state.children.len() >= *m)
                {
                    Err(SupervisionError::MaxChildren(max))
                } else if state.by_id.contains_key(&spec.id) {
                    Err(SupervisionError::StartFailed {
                        id: spec.id.clone(),
                        reason: "a child with this id exists".into(),
                    })
                } else {
                    match start_one(&myself.get_cell(), &spec, &state.name).await {
                        Ok(cell) => {
                            let seq = state.next_seq;
                            state.next_seq += 1;
                            state.by_actor.insert(cell.get_id(), seq);
                            state.by_id.insert(spec.id.clone(), seq);
                            state.children.insert(
                                seq,
                                DynChild {
                                    spec,
                                    cell: Some(cell.clone()),
                                    restarts: 0,
                                },
                            );
                            state.sync_count();
                            Ok(cell)
                        }
                        Err(e) => Err(e),
                    }
                };
                let _ = reply.send(result);
            }
            SupervisorMsg::TerminateChild(id, reply) => {
                let removed = match state.by_id.get(&id).copied() {
                    Some(seq) => state.remove(seq),
                    None => None,
                };
                let found = match removed {
                    Some(DynChild {
                        cell: Some(cell),
                        spec,
                        ..
                    }) => {
                        stop_child(&cell, spec.shutdown).await;
                        true
                    }
                    _ => false,
                };
                let _ = reply.send(found);
            }
            SupervisorMsg::RestartChild(id, reply) => {
                let _ = reply.send(Err(SupervisionError::StartFailed {
                    id,
                    reason: "dynamic supervisors do not keep stopped children".into(),
                }));
            }
            SupervisorMsg::Child(id, reply) => {
                let cell = state
                    .by_id
                    .get(&id)
                    .and_then(|seq| state.children.get(seq))
                    .and_then(|c| c.cell.clone());
                let _ = reply.send(cell);
            }
            SupervisorMsg::Shutdown(reply) => {
                state.shutdown_children().await;
                let _ = reply.send(());
                myself.stop(Some(SHUTDOWN_REASON.to_owned()));
            }
            SupervisorMsg::RetryRestart => {
                if !state.stopping && state.children.values().any(|c| c.cell.is_none()) {
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
        state.shutdown_children().await;
        names::forget(&myself.get_id());
        Ok(())
    }
}
