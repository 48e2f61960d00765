//! Child and supervisor specifications: strategies, restart types, shutdown policies, start functions.
//!
//! These are plain data, the Rust counterparts of OTP's `child_spec()` and `sup_flags()` maps.
//! A [`ChildSpec`] says how to start a child ([`StartFn`]), when to restart it ([`Restart`]) and
//! how to stop it ([`Shutdown`]); a [`SupervisorSpec`] lists the children of a static supervisor
//! with its [`Strategy`] and [`Intensity`]; a [`DynamicSpec`] configures a dynamic
//! (`simple_one_for_one`) supervisor.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorCell};

/// Which children a static supervisor restarts when one of them must be restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Only the child that exited is restarted.
    OneForOne,
    /// All children are stopped (in reverse start order) and all are restarted (in start order).
    OneForAll,
    /// The child that exited and every child started after it are stopped (reverse order) and
    /// restarted (start order).
    RestForOne,
}

impl Strategy {
    /// `one_for_one`, `one_for_all` or `rest_for_one` (OTP's names).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OneForOne => "one_for_one",
            Self::OneForAll => "one_for_all",
            Self::RestForOne => "rest_for_one",
        }
    }
}

/// When a child is restarted after it exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// Always restarted, whatever the exit reason.
    Permanent,
    /// Restarted only after an abnormal exit (see [`is_normal_exit`]).
    Transient,
    /// Never restarted; removed from the supervisor's child list when it exits.
    Temporary,
}

impl Restart {
    /// `permanent`, `transient` or `temporary`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Permanent => "permanent",
            Self::Transient => "transient",
            Self::Temporary => "temporary",
        }
    }

    /// Whether a child with this restart type is restarted after an exit that was `abnormal`.
    pub fn restarts_after(self, abnormal: bool) -> bool {
        match self {
            Self::Permanent => true,
            Self::Transient => abnormal,
            Self::Temporary => false,
        }
    }
}

/// How a supervisor stops one of its children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// Kill at once (`Signal::Kill`): async work is cancelled, `post_stop` does not run.
    Brutal,
    /// Graceful stop (reason `"shutdown"`, `post_stop` runs); killed if still alive after this long.
    Timeout(Duration),
    /// Graceful stop, waiting as long as it takes. The default for supervisors, whose own
    /// shutdown is bounded by their children's policies.
    Infinity,
}

/// Whether a child is a worker or itself a supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildKind {
    /// A plain actor.
    Worker,
    /// A supervisor speaking [`super::SupervisorMsg`]; asked for its own report.
    Supervisor,
}

impl ChildKind {
    /// `worker` or `supervisor`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Worker => "worker",
            Self::Supervisor => "supervisor",
        }
    }
}

/// Restart intensity: more than `max_restarts` restarts within `max_seconds` seconds makes the
/// supervisor give up: it stops its children and exits with an error (escalation to its parent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intensity {
    /// Restarts allowed within the window (0: the first restart already escalates).
    pub max_restarts: u32,
    /// The sliding window, in seconds.
    pub max_seconds: u64,
}

impl Intensity {
    /// `max_restarts` restarts within `max_seconds` seconds.
    pub fn new(max_restarts: u32, max_seconds: u64) -> Self {
        Self {
            max_restarts,
            max_seconds,
        }
    }
}

impl Default for Intensity {
    /// OTP's default: 1 restart in 5 seconds.
    fn default() -> Self {
        Self::new(1, 5)
    }
}

/// Errors of the supervision layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupervisionError {
    /// A child (or the supervisor itself) could not be started.
    #[error("cannot start {id}: {reason}")]
    StartFailed {
        /// The child's (or supervisor's) id.
        id: String,
        /// Why.
        reason: String,
    },
    /// A dynamic supervisor is at its `max_children` cap.
    #[error("max children reached ({0})")]
    MaxChildren(usize),
    /// The supervisor is not running.
    #[error("supervisor stopped")]
    Stopped,
    /// A call to the supervisor failed (timeout, dropped reply).
    #[error("supervisor call failed: {0}")]
    Call(String),
    /// The supervisor exceeded its restart intensity (the exit reason its parent sees).
    #[error("supervisor {id} reached max restart intensity ({max_restarts} in {max_seconds} s)")]
    Intensity {
        /// The supervisor's id.
        id: String,
        /// Its intensity.
        max_restarts: u32,
        /// Its period.
        max_seconds: u64,
    },
}

/// The future a [`StartFn`] returns: the started child's cell.
pub type StartFuture = Pin<Box<dyn Future<Output = Result<ActorCell, SupervisionError>> + Send>>;

/// Starts one incarnation of a child. The argument is the supervisor's cell: the function must
/// spawn the child *linked* to it (`Actor::spawn_linked(.., sup_cell)`) and resolve once the
/// child is up (`pre_start` done). It is called again for every restart, so it must build fresh
/// arguments each time. The child's `pre_start` must not call its own supervisor (the supervisor
/// is waiting for the start to finish).
pub type StartFn = Arc<dyn Fn(ActorCell) -> StartFuture + Send + Sync>;

/// A [`StartFn`] for an actor: `make()` builds the handler and its arguments for each
/// incarnation, which is spawned unnamed and linked to the supervisor.
pub fn start_actor<A, F>(make: F) -> StartFn
where
    A: Actor,
    F: Fn() -> (A, A::Arguments) + Send + Sync + 'static,
{
    start_named_actor(None, make)
}

/// Like [`start_actor`], registering every incarnation under `name` (ractor's registry). The old
/// incarnation's name is released when it stops, before its supervisor sees the exit, so a
/// restart can take the name again.
pub fn start_named_actor<A, F>(name: Option<String>, make: F) -> StartFn
where
    A: Actor,
    F: Fn() -> (A, A::Arguments) + Send + Sync + 'static,
{
    let make = Arc::new(make);
    Arc::new(move |sup: ActorCell| {
        let make = make.clone();
        let name = name.clone();
        Box::pin(async move {
            let (handler, args) = make();
            let label = name
                .clone()
                .unwrap_or_else(|| std::any::type_name::<A>().to_owned());
            match A::spawn_linked(name, handler, args, sup).await {
                Ok((actor, _join)) => Ok(actor.get_cell()),
                Err(e) => Err(spawn_error(&label, e)),
            }
        })
    })
}

/// Spawn an unnamed actor, linked to `parent` when there is one (a supervisor in the tree), free
/// standing otherwise (tests, tools).
///
/// # Errors
/// ractor's spawn error.
pub async fn spawn_under<A: Actor>(
    handler: A,
    args: A::Arguments,
    parent: Option<ActorCell>,
) -> Result<(ractor::ActorRef<A::Msg>, tokio::task::JoinHandle<()>), ractor::SpawnErr> {
    match parent {
        Some(p) => A::spawn_linked(None, handler, args, p).await,
        None => A::spawn(None, handler, args).await,
    }
}

/// One child of a supervisor.
#[derive(Clone)]
pub struct ChildSpec {
    /// Unique among the supervisor's children (static: its name in the tree; dynamic: e.g. a sid).
    pub id: String,
    /// Worker or supervisor.
    pub kind: ChildKind,
    /// When it is restarted.
    pub restart: Restart,
    /// How it is stopped.
    pub shutdown: Shutdown,
    /// How it is started.
    pub start: StartFn,
}

impl ChildSpec {
    /// A worker child.
    pub fn worker(
        id: impl Into<String>,
        restart: Restart,
        shutdown: Shutdown,
        start: StartFn,
    ) -> Self {
        Self {
            id: id.into(),
            kind: ChildKind::Worker,
            restart,
            shutdown,
            start,
        }
    }

    /// A supervisor child: permanent, [`Shutdown::Infinity`]. `start` usually comes from
    /// `SupervisorHandle::start_fn` or `DynamicHandle::start_fn`.
    pub fn supervisor(id: impl Into<String>, start: StartFn) -> Self {
        Self {
            id: id.into(),
            kind: ChildKind::Supervisor,
            restart: Restart::Permanent,
            shutdown: Shutdown::Infinity,
            start,
        }
    }

    /// The same spec with another restart type.
    pub fn with_restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// The same spec with another shutdown policy.
    pub fn with_shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .finish_non_exhaustive()
    }
}

/// A static supervisor: its children are started in order at boot.
#[derive(Debug, Clone)]
pub struct SupervisorSpec {
    /// The supervisor's id (its node name in `supervisor-trees.md`).
    pub id: String,
    /// Restart strategy.
    pub strategy: Strategy,
    /// Restart intensity.
    pub intensity: Intensity,
    /// Children, in start order.
    pub children: Vec<ChildSpec>,
}

/// A dynamic (`simple_one_for_one`) supervisor: children are added at run time.
#[derive(Debug, Clone)]
pub struct DynamicSpec {
    /// The supervisor's id.
    pub id: String,
    /// Restart intensity (for children whose restart type asks for restarts).
    pub intensity: Intensity,
    /// Refuse new children beyond this many.
    pub max_children: Option<usize>,
}

/// Exit reasons that count as a *normal* exit: no reason, `"normal"`, `"shutdown"` (what
/// supervisors use to stop children), `"Drained"` (ractor's drain) and anything starting with
/// `"shutdown:"`. Everything else is abnormal: a handler that returned `Err`, a panic, a kill
/// (`"killed"`), a cancelled task, or a stop with any other reason.
pub fn is_normal_exit(reason: Option<&str>) -> bool {
    match reason {
        None => true,
        Some(r) => matches!(r, "normal" | "shutdown" | "Drained") || r.starts_with("shutdown:"),
    }
}

/// Map a ractor spawn failure to [`SupervisionError`], keeping a [`SupervisionError`] that a
/// supervisor's own `pre_start` returned.
pub(crate) fn spawn_error(id: &str, err: ractor::SpawnErr) -> SupervisionError {
    match err {
        ractor::SpawnErr::StartupFailed(inner) => match inner.downcast_ref::<SupervisionError>() {
            Some(e) => e.clone(),
            None => SupervisionError::StartFailed {
                id: id.to_owned(),
                reason: inner.to_string(),
            },
        },
        other => SupervisionError::StartFailed {
            id: id.to_owned(),
            reason: other.to_string(),
        },
    }
}
