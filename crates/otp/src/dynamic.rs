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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use ractor::{ActorCell, ActorId, ActorProcessingErr, ActorRef};

use super::base::{Core, Kind, child_report, count_restart, start_one};
use super::msg::SupervisorMsg;
use super::names::TreeName;
use super::report::SupervisorReport;
use super::restart::Exit;
use super::shutdown::{stop_child, stop_in_parallel};
use super::spec::{ChildKind, ChildSpec, DynamicSpec, Restart, StartFn, SupervisionError};

mod handle;

pub use handle::DynamicHandle;

struct DynChild {
    spec: ChildSpec,
    /// `None` while a restart is pending.
    cell: Option<ActorCell>,
    restarts: u32,
}

/// The dynamic supervisor's state (its actor is [`super::base::SupervisorActor`]).
pub(crate) struct DynState {
    core: Core,
    max_children: Option<usize>,
    /// Children in start order (key: a sequence number).
    children: BTreeMap<u64, DynChild>,
    next_seq: u64,
    by_actor: HashMap<ActorId, u64>,
    by_id: HashMap<String, u64>,
    count: Arc<AtomicUsize>,
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
}

/// The start function a temporary child keeps once started (see [`DynState::insert`]); never
/// called, since a temporary child is not restarted.
fn never_restarted() -> StartFn {
    static STUB: OnceLock<StartFn> = OnceLock::new();
    Arc::clone(STUB.get_or_init(|| {
        Arc::new(|_| {
            Box::pin(async {
                Err(SupervisionError::StartFailed {
                    id: "temporary".into(),
                    reason: "a temporary child is not restarted".into(),
                })
            })
        })
    }))
}

impl Kind for DynState {
    type Arguments = (DynamicSpec, Arc<AtomicUsize>);

    async fn init(
        _myself: &ActorRef<SupervisorMsg>,
        (spec, count): (DynamicSpec, Arc<AtomicUsize>),
    ) -> Result<Self, ActorProcessingErr> {
        count.store(0, Ordering::Release);
        Ok(DynState {
            core: Core::new(spec.id, spec.intensity),
            max_children: spec.max_children,
            children: BTreeMap::new(),
            next_seq: 0,
            by_actor: HashMap::new(),
            by_id: HashMap::new(),
            count,
        })
    }

    fn child_name(&self, _spec: &ChildSpec) -> TreeName {
        TreeName::DynamicChildOf(self.core.id.as_str().into())
    }

    fn core(&mut self) -> &mut Core {
        &mut self.core
    }

    async fn shutdown_children(&mut self) {
        self.core.stopping = true;
        let cells: Vec<_> = std::mem::take(&mut self.children)
            .into_values()
            .filter_map(|c| c.cell.map(|cell| (cell, c.spec.shutdown)))
            .collect();
        self.by_actor.clear();
        self.by_id.clear();
        self.sync_count();
        stop_in_parallel(cells).await;
    }

    async fn on_exit(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        exit: Exit,
    ) -> Result<(), ActorProcessingErr> {
        let Some(seq) = self.by_actor.remove(&exit.id) else {
            return Ok(()); // stale: a child we stopped ourselves
        };
        let Some(child) = self.children.get_mut(&seq) else {
            return Ok(());
        };
        child.cell = None;
        if !child.spec.restart.restarts_after(exit.abnormal) {
            self.remove(seq);
            return Ok(());
        }
        tracing::warn!(sup = %self.core.id, child = %child.spec.id, reason = %exit.reason, "child exited; restarting");
        count_restart(self).await?;
        self.restart_pending(myself).await;
        Ok(())
    }

    fn has_pending(&self) -> bool {
        self.children.values().any(|c| c.cell.is_none())
    }

    /// (Re)start every child whose restart is pending; a failure schedules a retry.
    async fn restart_pending(&mut self, myself: &ActorRef<SupervisorMsg>) {
        let sup = myself.get_cell();
        let pending: Vec<u64> = self
            .children
            .iter()
            .filter(|(_, c)| c.cell.is_none())
            .map(|(seq, _)| *seq)
            .collect();
        let name = TreeName::DynamicChildOf(self.core.id.as_str().into());
        for seq in pending {
            let Some(child) = self.children.get_mut(&seq) else {
                continue;
            };
            match start_one(&sup, &child.spec, name.clone()).await {
                Ok(cell) => {
                    self.by_actor.insert(cell.get_id(), seq);
                    child.cell = Some(cell);
                    child.restarts += 1;
                }
                Err(e) => {
                    self.core.restart_failed(myself, &child.spec.id, &e);
                    return;
                }
            }
        }
    }

    /// `child_count` always; the children in `page` = `(offset, limit)` only (none by default).
    fn report(&self, page: Option<(usize, usize)>) -> (SupervisorReport, Vec<(usize, ActorCell)>) {
        let (offset, limit) = page.unwrap_or((0, 0));
        let mut nested = Vec::new();
        let children: Vec<_> = self
            .children
            .values()
            .skip(offset)
            .take(limit)
            .enumerate()
            .map(|(i, c)| {
                if let (ChildKind::Supervisor, Some(cell)) = (c.spec.kind, &c.cell) {
                    nested.push((i, cell.clone()));
                }
                let status = if c.cell.is_some() {
                    "running"
                } else {
                    "restarting"
                };
                child_report(&c.spec, c.restarts, status, c.cell.as_ref())
            })
            .collect();
        let truncated = children.len() < self.children.len();
        let report = self.core.report(
            "simple_one_for_one",
            self.children.len(),
            self.max_children,
            children,
            truncated,
        );
        (report, nested)
    }

    fn check_capacity(&self) -> Result<(), SupervisionError> {
        match self.max_children {
            Some(max) if self.children.len() >= max => Err(SupervisionError::MaxChildren(max)),
            _ => Ok(()),
        }
    }

    fn has_child(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    fn insert(&mut self, mut spec: ChildSpec, cell: ActorCell) {
        // A temporary child is never started again: its start function (and what it captured,
        // e.g. a client session's arguments) is dropped for one shared stub, so each of the
        // thousands of sessions under a clients supervisor costs only its entry.
        if spec.restart == Restart::Temporary {
            spec.start = never_restarted();
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_actor.insert(cell.get_id(), seq);
        self.by_id.insert(spec.id.clone(), seq);
        self.children.insert(
            seq,
            DynChild {
                spec,
                cell: Some(cell),
                restarts: 0,
            },
        );
        self.sync_count();
    }

    async fn terminate(&mut self, id: &str) -> bool {
        let removed = match self.by_id.get(id).copied() {
            Some(seq) => self.remove(seq),
            None => None,
        };
        match removed {
            Some(DynChild {
                cell: Some(cell),
                spec,
                ..
            }) => {
                stop_child(&cell, spec.shutdown).await;
                true
            }
            _ => false,
        }
    }

    async fn restart_child(
        &mut self,
        _myself: &ActorRef<SupervisorMsg>,
        id: String,
    ) -> Result<ActorCell, SupervisionError> {
        Err(SupervisionError::StartFailed {
            id,
            reason: "dynamic supervisors do not keep stopped children".into(),
        })
    }

    fn child(&self, id: &str) -> Option<ActorCell> {
        self.by_id
            .get(id)
            .and_then(|seq| self.children.get(seq))
            .and_then(|c| c.cell.clone())
    }
}
