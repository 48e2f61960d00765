//! The user pool: a dynamic supervisor whose children (the users) are temporary: a user that
//! ends or crashes is counted and never restarted (FLOOD.md 6.2 step 9). It also enforces the
//! original's `max_clients` cap (FLOOD.md 2).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};

use super::error::FloodError;
use super::user::{UserActor, UserArgs, UserMsg};

/// The original's `max_clients` default.
pub const MAX_CLIENTS: u64 = 100_000;

/// Messages of the pool (it only reacts to supervision events).
#[derive(Debug)]
pub enum PoolMsg {}

/// Pool actor.
pub struct PoolActor;

/// Pool state: live children.
pub struct PoolState {
    live: Arc<AtomicU64>,
}

impl Actor for PoolActor {
    type Msg = PoolMsg;
    type State = PoolState;
    type Arguments = Arc<AtomicU64>;

    async fn pre_start(
        &self,
        _myself: ActorRef<PoolMsg>,
        live: Arc<AtomicU64>,
    ) -> Result<PoolState, ActorProcessingErr> {
        Ok(PoolState { live })
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<PoolMsg>,
        evt: SupervisionEvent,
        st: &mut PoolState,
    ) -> Result<(), ActorProcessingErr> {
        // Temporary children: count the exit, never restart, never escalate.
        if matches!(
            evt,
            SupervisionEvent::ActorTerminated(..) | SupervisionEvent::ActorFailed(..)
        ) {
            st.live.fetch_sub(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// Handle to the pool.
#[derive(Clone)]
pub struct Pool {
    actor: ActorRef<PoolMsg>,
    live: Arc<AtomicU64>,
    max: u64,
}

impl Pool {
    /// Starts the pool.
    ///
    /// # Errors
    /// [`FloodError::Io`] when the actor cannot be spawned.
    pub async fn start(max: u64) -> Result<Self, FloodError> {
        let live = Arc::new(AtomicU64::new(0));
        let (actor, _) = Actor::spawn(None, PoolActor, live.clone())
            .await
            .map_err(|e| FloodError::Io(format!("cannot start the user pool: {e}")))?;
        Ok(Self { actor, live, max })
    }

    /// Starts one user under the pool. `Ok(None)` when the pool is full.
    ///
    /// # Errors
    /// The user's init failure (the original crashed the whole run here; flood counts it).
    pub async fn start_user(
        &self,
        args: UserArgs,
    ) -> Result<Option<ActorRef<UserMsg>>, FloodError> {
        if self.live.load(Ordering::Relaxed) >= self.max {
            return Ok(None);
        }
        self.live.fetch_add(1, Ordering::Relaxed);
        match Actor::spawn_linked(None, UserActor, args, self.actor.get_cell()).await {
            Ok((r, _)) => Ok(Some(r)),
            Err(e) => {
                self.live.fetch_sub(1, Ordering::Relaxed);
                Err(FloodError::Scenario(e.to_string()))
            }
        }
    }

    /// Live users.
    pub fn count(&self) -> u64 {
        self.live.load(Ordering::Relaxed)
    }

    /// Stops the pool actor.
    pub fn stop(&self) {
        self.actor.stop(None);
    }
}
