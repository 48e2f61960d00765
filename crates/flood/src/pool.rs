//! The user pool: `users_sup`, a dynamic supervisor of the crate's OTP runtime
//! ([`otp::DynamicHandle`]) whose children, the users, are *temporary*: a user that
//! ends or crashes is removed and never restarted (FLOOD.md 6.2 step 9). Its `max_children` is
//! the original's `max_clients` cap (FLOOD.md 2).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ractor::{Actor, ActorRef};

use super::error::FloodError;
use super::user::{UserActor, UserArgs, UserMsg};
use otp::{ChildSpec, DynamicHandle, DynamicSpec, Intensity, Restart, Shutdown, SupervisionError};

/// The original's `max_clients` default.
pub const MAX_CLIENTS: u64 = 100_000;

/// How long a user may take to stop when the supervisor shuts down (it has already been asked to
/// disconnect cleanly by then); killed after.
const USER_SHUTDOWN: Duration = Duration::from_secs(1);

/// Handle to `users_sup`.
#[derive(Clone)]
pub struct Pool {
    sup: DynamicHandle,
}

impl Pool {
    /// Starts `users_sup` (unlinked: the run owns it): intensity 0 in 5 s (temporary children
    /// are never restarted, so any restart would be a bug), at most `max` children.
    ///
    /// # Errors
    /// [`FloodError::Io`] when the supervisor cannot be spawned.
    pub async fn start(max: u64) -> Result<Self, FloodError> {
        let spec = DynamicSpec {
            id: "users_sup".into(),
            intensity: Intensity::new(0, 5),
            max_children: Some(usize::try_from(max).unwrap_or(usize::MAX)),
        };
        let (sup, _join) = DynamicHandle::start(spec, None)
            .await
            .map_err(|e| FloodError::Io(format!("cannot start the user pool: {e}")))?;
        Ok(Self { sup })
    }

    /// Starts one user under `users_sup` (its child id: `user-<id>`). `Ok(None)` when the pool
    /// is full (`max_clients`).
    ///
    /// # Errors
    /// The user's init failure (the original crashed the whole run here; flood counts it).
    pub async fn start_user(
        &self,
        args: UserArgs,
    ) -> Result<Option<ActorRef<UserMsg>>, FloodError> {
        let id = format!("user-{}", args.id);
        // A temporary child is started once: the start function takes its arguments out.
        let args = Arc::new(Mutex::new(Some(args)));
        let start = Arc::new(move |sup: ractor::ActorCell| {
            let args = args.lock().unwrap_or_else(PoisonError::into_inner).take();
            let core = super::cores::next();
            Box::pin(async move {
                let args = args.ok_or_else(|| SupervisionError::StartFailed {
                    id: "user".into(),
                    reason: "a temporary user cannot be restarted".into(),
                })?;
                let start = Actor::spawn_linked(None, UserActor, args, sup);
                let started = match core {
                    // One runtime per core: the actor's loop (and the reader task it spawns)
                    // run on the runtime `start` runs on.
                    Some(core) => {
                        core.spawn(start)
                            .await
                            .map_err(|e| SupervisionError::StartFailed {
                                id: "user".into(),
                                reason: e.to_string(),
                            })?
                    }
                    None => start.await,
                };
                let (r, _) = started.map_err(|e| SupervisionError::StartFailed {
                    id: "user".into(),
                    reason: e.to_string(),
                })?;
                Ok(r.get_cell())
            }) as otp::StartFuture
        });
        let spec = ChildSpec::worker(
            id,
            Restart::Temporary,
            Shutdown::Timeout(USER_SHUTDOWN),
            start,
        );
        match self.sup.start_child(spec).await {
            Ok(cell) => Ok(Some(cell.into())),
            Err(SupervisionError::MaxChildren(_)) => Ok(None),
            Err(e) => Err(FloodError::Scenario(e.to_string())),
        }
    }

    /// Live users.
    pub fn count(&self) -> u64 {
        self.sup.count() as u64
    }

    /// Stops the remaining users (in parallel, each within `USER_SHUTDOWN`) and `users_sup`.
    pub async fn stop(&self) {
        let _ = self.sup.shutdown().await;
    }

    /// The supervisor's handle (reports, the live child count).
    pub fn supervisor(&self) -> &DynamicHandle {
        &self.sup
    }
}
