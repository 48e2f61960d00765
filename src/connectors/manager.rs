//! `connectors_sup`: the supervisor of every pool actor (was `hive_connectors_sup` + manager).
//!
//! One-for-one over the pools: a pool actor that exits while registered is restarted with the
//! same shared state (so the registry and every [`super::Pool`] handle stay valid, HIVE.md 7.5);
//! more than [`POOL_MAX_RESTARTS`] restarts in [`POOL_MAX_SECONDS`] seconds make the supervisor
//! fail too, escalating to its parent.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

use super::pool::{PoolCore, RestartWindow};
use crate::error::HiveError;

/// Pool restarts allowed ...
pub(crate) const POOL_MAX_RESTARTS: u32 = 5;
/// ... within this many seconds.
pub(crate) const POOL_MAX_SECONDS: u64 = 10;

/// Starts (or restarts) one pool actor linked to the given supervisor cell.
pub(crate) type PoolStart = Arc<
    dyn Fn(ActorCell) -> Pin<Box<dyn Future<Output = Result<ActorCell, HiveError>> + Send>>
        + Send
        + Sync,
>;

/// The supervisor actor.
pub(crate) struct ConnectorsSup;

/// Messages of [`ConnectorsSup`].
pub(crate) enum ConnectorsSupMsg {
    /// Start a pool actor and supervise it.
    StartChild {
        /// The pool's core (cell and restart count are updated here).
        core: Arc<PoolCore>,
        /// How to (re)start it.
        start: PoolStart,
        /// Start result.
        reply: RpcReplyPort<Result<(), HiveError>>,
    },
    /// Stop a pool actor and forget it (it will not be restarted).
    StopChild {
        /// Pool name.
        name: String,
        /// Done.
        reply: RpcReplyPort<()>,
    },
}

struct Child {
    core: Arc<PoolCore>,
    start: PoolStart,
    cell: ActorCell,
}

/// State: the children in start order.
pub(crate) struct ConnectorsSupState {
    children: Vec<Child>,
    window: RestartWindow,
}

impl Actor for ConnectorsSup {
    type Msg = ConnectorsSupMsg;
    type State = ConnectorsSupState;
    type Arguments = ();

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        _: (),
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(ConnectorsSupState {
            children: Vec::new(),
            window: RestartWindow::new(POOL_MAX_RESTARTS, Duration::from_secs(POOL_MAX_SECONDS)),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ConnectorsSupMsg::StartChild { core, start, reply } => {
                let r = start(myself.get_cell()).await;
                let r = r.map(|cell| {
                    state.children.push(Child { core, start, cell });
                });
                let _ = reply.send(r);
            }
            ConnectorsSupMsg::StopChild { name, reply } => {
                if let Some(i) = state.children.iter().position(|c| c.core.name == name) {
                    let child = state.children.remove(i);
                    let _ = child
                        .cell
                        .stop_and_wait(Some("shutdown".into()), Some(Duration::from_secs(5)))
                        .await;
                    if child.cell.get_status() != ractor::ActorStatus::Stopped {
                        child.cell.kill();
                    }
                }
                let _ = reply.send(());
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
        let (cell, reason) = match &evt {
            SupervisionEvent::ActorFailed(c, e) => (c, Some(e.to_string())),
            SupervisionEvent::ActorTerminated(c, _, _) => (c, None),
            _ => return Ok(()),
        };
        let Some(i) = state
            .children
            .iter()
            .position(|c| c.cell.get_id() == cell.get_id())
        else {
            return Ok(());
        };
        // A registered pool never stops by itself: any exit of a child still in the list (crash,
        // kill, unexpected stop) is abnormal and the pool is restarted. Requested stops remove the
        // child from the list first.
        let reason = reason.unwrap_or_else(|| format!("{evt:?}"));
        let name = state.children[i].core.name.clone();
        tracing::error!(pool = %name, %reason, "connector pool crashed; restarting");
        if !state.window.allow() {
            return Err(format!("connectors_sup: restart intensity exceeded (pool {name})").into());
        }
        let start = state.children[i].start.clone();
        let cell = start(myself.get_cell())
            .await
            .map_err(|e| format!("connectors_sup: cannot restart pool {name}: {e}"))?;
        let child = &mut state.children[i];
        child.cell = cell;
        child.core.restarts.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
