//! `connectors_sup` (was `hive_connectors_sup` + manager): a static supervisor of the crate's
//! supervision runtime with one `pool:<name>` supervisor child per pool.
//!
//! one_for_one, [`CONNECTORS_INTENSITY`] (5 restarts in 10 s): pools are independent. Pools are
//! appended with `start_child` in config order (and by `action.start_connectors`) and stopped with
//! `terminate_child` by `stop_pool`. A pool child is permanent: a registered pool is always
//! restarted, with the same shared state, so the registry and every [`super::Pool`] handle stay
//! valid (HIVE.md 7.5).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ractor::ActorCell;

use super::pool::lock;
use otp::{
    ChildSpec, Intensity, StartFn, Strategy, SupervisionError, SupervisorHandle, SupervisorSpec,
};

/// Restart intensity of `connectors_sup`.
pub(crate) const CONNECTORS_INTENSITY: Intensity = Intensity {
    max_restarts: 5,
    max_seconds: 10,
};

/// The current definition of each pool name: the start function of its `pool:<name>` supervisor.
/// The child spec of `pool:<name>` looks its definition up on every (re)start, so a pool that was
/// stopped and is started again (same child id, `restart_child`) runs its new descriptor.
pub(crate) type PoolDefs = Arc<Mutex<HashMap<String, StartFn>>>;

/// Start an empty `connectors_sup`, linked to `parent` if given.
///
/// # Errors
/// `StartFailed` if the supervisor cannot be spawned.
pub(crate) async fn start(parent: Option<ActorCell>) -> Result<SupervisorHandle, SupervisionError> {
    let spec = SupervisorSpec {
        id: "connectors_sup".into(),
        strategy: Strategy::OneForOne,
        intensity: CONNECTORS_INTENSITY,
        children: Vec::new(),
    };
    let (h, _join) = SupervisorHandle::start(spec, parent).await?;
    Ok(h)
}

/// The child id of pool `name`.
pub(crate) fn pool_id(name: &str) -> String {
    format!("pool:{name}")
}

/// The child spec of pool `name` (a permanent supervisor child, shutdown `infinity`).
pub(crate) fn pool_child(name: &str, defs: PoolDefs) -> ChildSpec {
    let name = name.to_string();
    let id = pool_id(&name);
    ChildSpec::supervisor(
        id.clone(),
        Arc::new(move |parent: ActorCell| {
            let start = lock(&defs).get(&name).cloned();
            let id = id.clone();
            Box::pin(async move {
                match start {
                    Some(start) => start(parent).await,
                    None => Err(SupervisionError::StartFailed {
                        id,
                        reason: "the pool is no longer registered".into(),
                    }),
                }
            })
        }),
    )
}
