//! Stopping children per their [`Shutdown`] policy: one at a time, in reverse order, or all at once.
//!
//! Waiting here never depends on the supervisor's own mailbox: `ActorCell::wait` resolves when
//! the child has finished stopping, while the child's exit event merely queues up in the
//! supervisor's supervision port (and is later recognised as stale, because the child's
//! `ActorId` is no longer a current incarnation). So a supervisor may await these from inside
//! its handlers.

use std::time::Duration;

use ractor::{ActorCell, ActorStatus};

use super::spec::Shutdown;

/// The exit reason supervisors give children they stop.
pub const SHUTDOWN_REASON: &str = "shutdown";

/// After a kill, how long to wait for the actor to finish before giving up on it (a kill only
/// takes effect at the actor's next `.await`; an actor stuck in blocking code never dies).
const KILL_GRACE: Duration = Duration::from_secs(5);

/// Stop one child per `shutdown` and wait until it has stopped.
///
/// * `Brutal`: kill.
/// * `Timeout(t)`: stop with reason `"shutdown"`; if it is still alive after `t`, kill.
/// * `Infinity`: stop with reason `"shutdown"` and wait.
pub async fn stop_child(cell: &ActorCell, shutdown: Shutdown) {
    stop(cell, shutdown).await;
    // Its exit event may never be handled (the supervisor may be stopping too).
    super::names::forget(&cell.get_id());
}

async fn stop(cell: &ActorCell, shutdown: Shutdown) {
    if cell.get_status() == ActorStatus::Stopped {
        return;
    }
    match shutdown {
        Shutdown::Brutal => kill(cell).await,
        Shutdown::Timeout(t) => {
            cell.stop(Some(SHUTDOWN_REASON.to_owned()));
            if cell.wait(Some(t)).await.is_err() {
                tracing::warn!(actor = %cell.get_id(), "child ignored stop; killing it");
                kill(cell).await;
            }
        }
        Shutdown::Infinity => {
            cell.stop(Some(SHUTDOWN_REASON.to_owned()));
            let _ = cell.wait(None).await;
        }
    }
}

async fn kill(cell: &ActorCell) {
    cell.kill();
    if cell.wait(Some(KILL_GRACE)).await.is_err() {
        tracing::error!(actor = %cell.get_id(), "child still running after kill");
    }
}

/// Stop children one after another, in the order given (callers pass reverse start order).
pub async fn stop_in_order(children: Vec<(ActorCell, Shutdown)>) {
    for (cell, shutdown) in children {
        stop_child(&cell, shutdown).await;
    }
}

/// Stop children all at once and wait for all of them.
pub async fn stop_in_parallel(children: Vec<(ActorCell, Shutdown)>) {
    let stops = children
        .iter()
        .map(|(cell, shutdown)| stop_child(cell, *shutdown));
    futures::future::join_all(stops).await;
}
