//! `SupervisorMsg`: the one message enum both supervisor kinds speak.
//!
//! Because static and dynamic supervisors share it, any child of kind
//! [`ChildKind::Supervisor`](super::ChildKind) can be addressed as `ActorRef<SupervisorMsg>`,
//! which is how a report walks the tree. Callers normally use the typed handles
//! ([`super::SupervisorHandle`], [`super::DynamicHandle`]) instead of building these by hand.

use ractor::{ActorCell, RpcReplyPort};

use super::report::SupervisorReport;
use super::spec::{ChildSpec, SupervisionError};

/// Messages understood by static and dynamic supervisors.
pub enum SupervisorMsg {
    /// A snapshot of this supervisor and (recursively) its supervisor children. `page` is
    /// `(offset, limit)` into a dynamic supervisor's children (start order); `None` lists none
    /// for dynamic supervisors and all for static ones.
    Report {
        /// Page of dynamic children to list.
        page: Option<(usize, usize)>,
        /// Where the report goes.
        reply: RpcReplyPort<SupervisorReport>,
    },
    /// Add and start a child. Static: appended to the start order (error if the id exists).
    /// Dynamic: refused with [`SupervisionError::MaxChildren`] at the cap.
    StartChild(ChildSpec, RpcReplyPort<Result<ActorCell, SupervisionError>>),
    /// Stop a child (per its `Shutdown`). Static: the spec stays (status `stopped`, restartable
    /// with `RestartChild`) unless it is temporary. Dynamic: the child is removed. Replies
    /// whether a running child with that id existed.
    TerminateChild(String, RpcReplyPort<bool>),
    /// Static only: start a child that was terminated (or is pending a restart).
    RestartChild(String, RpcReplyPort<Result<ActorCell, SupervisionError>>),
    /// The current incarnation of a child, if it is running.
    Child(String, RpcReplyPort<Option<ActorCell>>),
    /// Ordered shutdown: stop the children (static: reverse start order; dynamic: in parallel),
    /// each per its `Shutdown`, reply, then stop the supervisor.
    Shutdown(RpcReplyPort<()>),
    /// Internal: retry restarting children whose restart failed.
    RetryRestart,
}

/// How long the handles wait for a supervisor's answer to a query (report, child lookup).
pub(crate) const REPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a supervisor building a report waits for each nested supervisor's report; a
/// nested supervisor that is busy longer (e.g. in a slow restart) is reported without its
/// subtree (`supervisor: None`).
pub(crate) const NESTED_REPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Call a supervisor and map ractor's failures to [`SupervisionError`].
pub(crate) async fn call<R, F>(
    actor: &ractor::ActorRef<SupervisorMsg>,
    build: F,
    timeout: Option<std::time::Duration>,
) -> Result<R, SupervisionError>
where
    R: Send + 'static,
    F: FnOnce(RpcReplyPort<R>) -> SupervisorMsg,
{
    match actor.call(build, timeout).await {
        Ok(ractor::rpc::CallResult::Success(r)) => Ok(r),
        Ok(ractor::rpc::CallResult::Timeout) => Err(SupervisionError::Call("timeout".into())),
        Ok(ractor::rpc::CallResult::SenderError) => Err(SupervisionError::Stopped),
        Err(_) => Err(SupervisionError::Stopped),
    }
}

/// Ask a supervisor child for its report (used while building a parent's report).
pub(crate) async fn ask_report(
    cell: ActorCell,
    page: Option<(usize, usize)>,
) -> Option<SupervisorReport> {
    if cell.is_message_type_of::<SupervisorMsg>() != Some(true) {
        return None;
    }
    let actor = ractor::ActorRef::<SupervisorMsg>::from(cell);
    call(
        &actor,
        |reply| SupervisorMsg::Report { page, reply },
        Some(NESTED_REPORT_TIMEOUT),
    )
    .await
    .ok()
}
