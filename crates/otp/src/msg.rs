//! `SupervisorMsg`: the one message enum both supervisor kinds speak.
//!
//! Because static and dynamic supervisors share it, any child of kind
//! [`ChildKind::Supervisor`](super::ChildKind) can be addressed as `ActorRef<SupervisorMsg>`,
//! which is how a report walks the tree. Callers normally use the typed handles
//! ([`super::SupervisorHandle`], [`super::DynamicHandle`]) instead of building these by hand.

use ractor::{ActorCell, ActorRef, ActorStatus, RpcReplyPort};

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
const REPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a supervisor building a report waits for each nested supervisor's report; a
/// nested supervisor that is busy longer (e.g. in a slow restart) is reported without its
/// subtree (`supervisor: None`).
const NESTED_REPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Call a supervisor and map ractor's failures to [`SupervisionError`].
async fn call<R, F>(
    actor: &ActorRef<SupervisorMsg>,
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
async fn ask_report(cell: ActorCell, page: Option<(usize, usize)>) -> Option<SupervisorReport> {
    if cell.is_message_type_of::<SupervisorMsg>() != Some(true) {
        return None;
    }
    let actor = ActorRef::<SupervisorMsg>::from(cell);
    call(
        &actor,
        |reply| SupervisorMsg::Report { page, reply },
        Some(NESTED_REPORT_TIMEOUT),
    )
    .await
    .ok()
}

/// Complete `report` with the reports of its supervisor children `nested` (index into
/// `report.children`, cell) and send it. The nested supervisors are asked off the calling
/// actor, in parallel, so a busy child never blocks the supervisor's mailbox.
pub(crate) fn send_report(
    mut report: SupervisorReport,
    nested: Vec<(usize, ActorCell)>,
    page: Option<(usize, usize)>,
    reply: RpcReplyPort<SupervisorReport>,
) {
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

/// A supervisor of either kind, addressed by its actor: the calls both typed handles make
/// ([`super::SupervisorHandle`], [`super::DynamicHandle`]), mapped to [`SupervisionError`].
#[derive(Clone)]
pub(crate) struct SupRef(ActorRef<SupervisorMsg>);

impl From<ActorRef<SupervisorMsg>> for SupRef {
    fn from(actor: ActorRef<SupervisorMsg>) -> Self {
        Self(actor)
    }
}

impl std::fmt::Debug for SupRef {
    // As the `ActorRef` it wraps, so the handles debug-print as they did holding one.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl SupRef {
    /// The supervisor's cell.
    pub(crate) fn cell(&self) -> ActorCell {
        self.0.get_cell()
    }

    /// Whether the supervisor is stopping or stopped.
    pub(crate) fn is_stopping(&self) -> bool {
        self.0.get_status() >= ActorStatus::Stopping
    }

    /// `Report`, waiting up to [`REPORT_TIMEOUT`].
    pub(crate) async fn report(
        &self,
        page: Option<(usize, usize)>,
    ) -> Result<SupervisorReport, SupervisionError> {
        call(
            &self.0,
            |reply| SupervisorMsg::Report { page, reply },
            Some(REPORT_TIMEOUT),
        )
        .await
    }

    /// `Child`, waiting up to [`REPORT_TIMEOUT`]; `None` on any failure.
    pub(crate) async fn child(&self, id: &str) -> Option<ActorCell> {
        let id = id.to_owned();
        call(
            &self.0,
            |reply| SupervisorMsg::Child(id, reply),
            Some(REPORT_TIMEOUT),
        )
        .await
        .ok()
        .flatten()
    }

    /// `StartChild`.
    pub(crate) async fn start_child(&self, spec: ChildSpec) -> Result<ActorCell, SupervisionError> {
        call(
            &self.0,
            |reply| SupervisorMsg::StartChild(spec, reply),
            None,
        )
        .await?
    }

    /// `TerminateChild`; false on any failure.
    pub(crate) async fn terminate_child(&self, id: &str) -> bool {
        let id = id.to_owned();
        call(
            &self.0,
            |reply| SupervisorMsg::TerminateChild(id, reply),
            None,
        )
        .await
        .unwrap_or(false)
    }

    /// `RestartChild`.
    pub(crate) async fn restart_child(&self, id: &str) -> Result<ActorCell, SupervisionError> {
        let id = id.to_owned();
        call(
            &self.0,
            |reply| SupervisorMsg::RestartChild(id, reply),
            None,
        )
        .await?
    }

    /// `Shutdown`, then wait until the supervisor has stopped; Ok if it had already stopped.
    pub(crate) async fn shutdown(&self) -> Result<(), SupervisionError> {
        match call(&self.0, SupervisorMsg::Shutdown, None).await {
            Ok(()) | Err(SupervisionError::Stopped) => {}
            Err(e) => return Err(e),
        }
        let _ = self.0.wait(None).await;
        Ok(())
    }
}
