//! The part both supervisor kinds share: one actor shell around a kind's state, and that state's
//! common core (id, intensity window, restart count, `stopping`).
//!
//! The shell ([`SupervisorActor`]) is the ractor actor of both the static and the dynamic
//! supervisor. It owns everything whose logic does not depend on the kind: exit events (ignored
//! once an ordered shutdown started), the `Report`, `StartChild`, `Child`, `Shutdown` and
//! `RetryRestart` messages, `post_stop` (a graceful stop from the parent is an ordered shutdown),
//! and intensity escalation ([`count_restart`]). What does depend on the kind (how children are
//! kept, found, stopped, restarted and listed) is the [`Kind`] its state implements: the static
//! supervisor's in `supervisor.rs`, the dynamic one's in `dynamic.rs`.

use std::future::Future;
use std::marker::PhantomData;

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::task::JoinHandle;

use super::msg::{SupRef, SupervisorMsg, send_report};
use super::names::{self, TreeName};
use super::report::{ChildReport, IntensityReport, SupervisorReport};
use super::restart::{Exit, RestartWindow, exit_of, schedule_retry};
use super::shutdown::SHUTDOWN_REASON;
use super::spec::{ChildSpec, Intensity, SupervisionError, spawn_error, spawn_under};

/// What every supervisor holds besides its children.
pub(crate) struct Core {
    /// The supervisor's id.
    pub(crate) id: String,
    /// Its restart intensity.
    pub(crate) intensity: Intensity,
    window: RestartWindow,
    /// Restarts performed since it started (as reported).
    pub(crate) restarts: u32,
    /// Set once an ordered shutdown started: exits are no longer acted upon.
    pub(crate) stopping: bool,
}

impl Core {
    pub(crate) fn new(id: String, intensity: Intensity) -> Self {
        Self {
            id,
            intensity,
            window: RestartWindow::new(intensity),
            restarts: 0,
            stopping: false,
        }
    }

    /// Log a restart that failed and schedule a retry (which counts as another restart).
    pub(crate) fn restart_failed(
        &self,
        myself: &ActorRef<SupervisorMsg>,
        child: &str,
        err: &SupervisionError,
    ) {
        tracing::error!(sup = %self.id, child = %child, error = %err, "child restart failed");
        schedule_retry(myself);
    }

    /// This supervisor's report around `children` (the kind decides what it lists and counts).
    pub(crate) fn report(
        &self,
        strategy: &str,
        child_count: usize,
        max_children: Option<usize>,
        children: Vec<ChildReport>,
        children_truncated: bool,
    ) -> SupervisorReport {
        SupervisorReport {
            id: self.id.clone(),
            strategy: strategy.to_owned(),
            intensity: IntensityReport {
                max_restarts: self.intensity.max_restarts,
                max_seconds: self.intensity.max_seconds,
            },
            restarts: self.restarts,
            child_count,
            max_children,
            children,
            children_truncated,
        }
    }
}

/// One child as reported (its nested report, if it is a supervisor, is filled in later).
pub(crate) fn child_report(
    spec: &ChildSpec,
    restarts: u32,
    status: &str,
    cell: Option<&ActorCell>,
) -> ChildReport {
    ChildReport {
        id: spec.id.clone(),
        kind: spec.kind.as_str().to_owned(),
        restart: spec.restart.as_str().to_owned(),
        restarts,
        status: status.to_owned(),
        actor_id: cell.map(|cell| cell.get_id().to_string()),
        supervisor: None,
    }
}

/// Make sure `cell` reports to `sup` even if its start function forgot `spawn_linked`.
fn ensure_linked(sup: &ActorCell, cell: &ActorCell) {
    if cell.try_get_supervisor().map(|s| s.get_id()) != Some(sup.get_id()) {
        cell.link(sup.clone());
    }
}

/// Start one incarnation of `spec` under `sup`, linked to it, known in the log lines as `name`.
pub(crate) async fn start_one(
    sup: &ActorCell,
    spec: &ChildSpec,
    name: TreeName,
) -> Result<ActorCell, SupervisionError> {
    let cell = names::start_as(name.clone(), (spec.start)(sup.clone())).await?;
    ensure_linked(sup, &cell);
    names::register(&cell.get_id(), name);
    Ok(cell)
}

/// How a kind of supervisor keeps its children: implemented by its state.
pub(crate) trait Kind: Sized + Send + 'static {
    /// What the supervisor is started with.
    type Arguments: Send + 'static;

    /// The initial state; starts the children a supervisor starts with (failing if one fails).
    fn init(
        myself: &ActorRef<SupervisorMsg>,
        args: Self::Arguments,
    ) -> impl Future<Output = Result<Self, ActorProcessingErr>> + Send;

    /// The common core.
    fn core(&mut self) -> &mut Core;

    /// The tree name of a child started from `spec` (see [`names`]).
    fn child_name(&self, spec: &ChildSpec) -> TreeName;

    /// Ordered shutdown: set `stopping`, forget every incarnation and stop them (kind's order).
    fn shutdown_children(&mut self) -> impl Future<Output = ()> + Send;

    /// Act on a child's exit (not called once `stopping`); stale incarnations are ignored.
    fn on_exit(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        exit: Exit,
    ) -> impl Future<Output = Result<(), ActorProcessingErr>> + Send;

    /// Whether some child's restart is pending.
    fn has_pending(&self) -> bool;

    /// Start the children whose restart is pending; a failure leaves them pending and
    /// schedules a retry ([`Core::restart_failed`]).
    fn restart_pending(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
    ) -> impl Future<Output = ()> + Send;

    /// The report (nested reports still empty) and the supervisor children to ask for theirs,
    /// by index into the report's children.
    fn report(&self, page: Option<(usize, usize)>) -> (SupervisorReport, Vec<(usize, ActorCell)>);

    /// Room for one more child (dynamic: `max_children`).
    fn check_capacity(&self) -> Result<(), SupervisionError> {
        Ok(())
    }

    /// Whether a child with this id is held (running or not).
    fn has_child(&self, id: &str) -> bool;

    /// Keep a child that `StartChild` just started.
    fn insert(&mut self, spec: ChildSpec, cell: ActorCell);

    /// `TerminateChild`: whether a running child with that id existed.
    fn terminate(&mut self, id: &str) -> impl Future<Output = bool> + Send;

    /// `RestartChild`.
    fn restart_child(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        id: String,
    ) -> impl Future<Output = Result<ActorCell, SupervisionError>> + Send;

    /// The current incarnation of child `id`, if running.
    fn child(&self, id: &str) -> Option<ActorCell>;
}

/// Record one restart decision against the intensity window. Within it: counted, `Ok`. Beyond
/// it: give up: stop the children (kind's order) and fail with [`SupervisionError::Intensity`]
/// (the parent sees `ActorFailed`).
pub(crate) async fn count_restart<K: Kind>(state: &mut K) -> Result<(), ActorProcessingErr> {
    let core = state.core();
    if core.window.record() {
        core.restarts += 1;
        return Ok(());
    }
    tracing::error!(sup = %core.id, "max restart intensity reached; giving up");
    state.shutdown_children().await;
    let core = state.core();
    Err(Box::new(SupervisionError::Intensity {
        id: core.id.clone(),
        max_restarts: core.intensity.max_restarts,
        max_seconds: core.intensity.max_seconds,
    }))
}

/// `StartChild`: refused while stopping, at the cap, or for an id that is held.
async fn start_child<K: Kind>(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut K,
    spec: ChildSpec,
) -> Result<ActorCell, SupervisionError> {
    if state.core().stopping {
        return Err(SupervisionError::Stopped);
    }
    state.check_capacity()?;
    if state.has_child(&spec.id) {
        return Err(SupervisionError::StartFailed {
            id: spec.id.clone(),
            reason: "a child with this id exists".into(),
        });
    }
    let cell = start_one(&myself.get_cell(), &spec, state.child_name(&spec)).await?;
    state.insert(spec, cell.clone());
    Ok(cell)
}

/// The supervisor actor of kind `K` (its state). Use the typed handles.
pub(crate) struct SupervisorActor<K>(PhantomData<fn() -> K>);

/// Spawn a supervisor of kind `K` with id `id`, linked to `parent` if given.
pub(crate) async fn spawn<K: Kind>(
    id: &str,
    args: K::Arguments,
    parent: Option<ActorCell>,
) -> Result<(SupRef, JoinHandle<()>), SupervisionError> {
    let spawned = spawn_under(SupervisorActor::<K>(PhantomData), args, parent).await;
    let (actor, join) = spawned.map_err(|e| spawn_error(id, e))?;
    Ok((SupRef::from(actor), join))
}

impl<K: Kind> Actor for SupervisorActor<K> {
    type Msg = SupervisorMsg;
    type State = K;
    type Arguments = K::Arguments;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: K::Arguments,
    ) -> Result<K, ActorProcessingErr> {
        let mut state = K::init(&myself, args).await?;
        let name = TreeName::Child(state.core().id.as_str().into());
        names::register(&myself.get_id(), name);
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut K,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SupervisorMsg::Report { page, reply } => {
                let (report, nested) = state.report(page);
                send_report(report, nested, page, reply);
            }
            SupervisorMsg::StartChild(spec, reply) => {
                let _ = reply.send(start_child(&myself, state, spec).await);
            }
            SupervisorMsg::TerminateChild(id, reply) => {
                let _ = reply.send(state.terminate(&id).await);
            }
            SupervisorMsg::RestartChild(id, reply) => {
                let _ = reply.send(state.restart_child(&myself, id).await);
            }
            SupervisorMsg::Child(id, reply) => {
                let _ = reply.send(state.child(&id));
            }
            SupervisorMsg::Shutdown(reply) => {
                state.shutdown_children().await;
                let _ = reply.send(());
                myself.stop(Some(SHUTDOWN_REASON.to_owned()));
            }
            SupervisorMsg::RetryRestart => {
                if !state.core().stopping && state.has_pending() {
                    count_restart(state).await?;
                    state.restart_pending(&myself).await;
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        evt: SupervisionEvent,
        state: &mut K,
    ) -> Result<(), ActorProcessingErr> {
        let exit = exit_of(&evt);
        if let Some(exit) = &exit {
            names::forget(&exit.id);
        }
        match exit {
            Some(exit) if !state.core().stopping => state.on_exit(&myself, exit).await,
            _ => Ok(()),
        }
    }

    async fn post_stop(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut K,
    ) -> Result<(), ActorProcessingErr> {
        // A graceful stop from the parent: ordered shutdown (no-op after `Shutdown`).
        state.shutdown_children().await;
        names::forget(&myself.get_id());
        Ok(())
    }
}
