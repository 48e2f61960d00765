//! `connector.redis` (HIVE.md 7.4): a pool supervisor `pool:<name>` of `size` permanent workers
//! `worker:<name>:0..size`, each owning one fred client (one connection; fred pipelines the
//! commands of concurrent callers on it). Commands go round-robin over the live clients.
//!
//! Each client has a reconnect policy (a retry every `reconnect_timeout` ms; fred never
//! reconnects without one) and a command timeout of `max_reconnect_timeout + reconnect_timeout`,
//! so a command issued while Redis is away waits for the reconnection at most that long and then
//! fails with `no_connection`. `restart_timeout` > 0 makes each worker ask its supervisor to replace
//! it after that long (periodic reconnection): `terminate_child` then `restart_child`, a deliberate
//! replacement that neither counts against the pool's restart intensity nor as a restart in the
//! tree. The old client stays in its slot until the new one takes it, so commands see no gap.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use fred::prelude::{ClientLike, Config, Error as FredError, ErrorKind, KeysInterface};
use fred::types::config::{ReconnectPolicy, ServerConfig};
use fred::types::{ClusterHash, CustomCommand, Value as FredValue};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use serde_json::Value;

use super::pool::{PoolCore, WORKER_SHUTDOWN, WorkerGuard};
use crate::error::HiveError;
use crate::metrics::RedisPoolMetrics;
use otp::{ChildSpec, Restart, StartFn, SupervisorHandle, start_actor};

/// Parsed `connector.redis` args (HIVE.md 2.11).
#[derive(Debug, Clone)]
pub(crate) struct RedisArgs {
    pub(crate) host: String,
    pub(crate) port: u16,
    database: u8,
    password: Option<String>,
    restart_timeout: Option<Duration>,
    reconnect: Duration,
    max_reconnect: Duration,
    size: usize,
}

impl RedisArgs {
    /// Parse the args; `size` clients (at least one).
    ///
    /// # Errors
    /// A reason text.
    pub(crate) fn parse(args: &Value, size: u32) -> Result<RedisArgs, String> {
        let int = |k: &str| {
            args.get(k)
                .and_then(Value::as_u64)
                .ok_or(format!("args.{k} must be an integer >= 0"))
        };
        let host = args
            .get("host")
            .and_then(Value::as_str)
            .ok_or("args.host must be a string")?
            .to_string();
        let port = u16::try_from(int("port")?).map_err(|_| "args.port must be 0-65535")?;
        let database = u8::try_from(int("database")?).map_err(|_| "args.database must be 0-255")?;
        let password = args
            .get("password")
            .and_then(Value::as_str)
            .ok_or("args.password must be a string")?;
        let restart = int("restart_timeout")?;
        let reconnect = int("reconnect_timeout")?;
        let max_reconnect = args
            .get("max_reconnect_timeout")
            .and_then(Value::as_u64)
            .unwrap_or(5000);
        Ok(RedisArgs {
            host,
            port,
            database,
            password: (!password.is_empty()).then(|| password.to_string()),
            restart_timeout: (restart > 0).then(|| Duration::from_millis(restart)),
            reconnect: Duration::from_millis(reconnect.max(10)),
            max_reconnect: Duration::from_millis(max_reconnect),
            size: (size as usize).max(1),
        })
    }

    fn client(&self) -> Result<fred::prelude::Client, FredError> {
        let config = Config {
            fail_fast: false,
            password: self.password.clone(),
            database: Some(self.database),
            server: ServerConfig::new_centralized(self.host.as_str(), self.port),
            ..Config::default()
        };
        let budget = self.max_reconnect + self.reconnect;
        fred::types::Builder::from_config(config)
            .set_policy(ReconnectPolicy::new_constant(
                0,
                self.reconnect.as_millis() as u32,
            ))
            .with_performance_config(|p| p.default_command_timeout = budget)
            .with_connection_config(|c| {
                c.connection_timeout = budget;
                c.internal_command_timeout = budget;
            })
            .build()
    }
}

/// The `no_connection` error.
fn no_connection() -> HiveError {
    HiveError::NoConnection(
        "Hive Redis Connector could not establish a connection to the Redis database!".into(),
    )
}

/// Map a fred error: connection trouble past the budget is `no_connection`, the rest `redis_error`.
fn map_err(e: FredError) -> HiveError {
    match e.kind() {
        ErrorKind::IO | ErrorKind::Timeout | ErrorKind::Canceled | ErrorKind::Routing => {
            no_connection()
        }
        _ => HiveError::RedisError(format!("Hive Redis Connectors request failed: {e}")),
    }
}

pub(crate) struct RedisShared {
    core: Arc<PoolCore>,
    args: RedisArgs,
    clients: RwLock<Vec<Option<fred::prelude::Client>>>,
    next: AtomicUsize,
    /// `connectors.redis.<pool>.*` besides the core's.
    counters: RedisPoolMetrics,
}

/// Handle of a `connector.redis` pool (cheap clone).
#[derive(Clone)]
pub struct RedisPool {
    shared: Arc<RedisShared>,
}

impl RedisPool {
    /// A pool handle over fresh shared state (no supervisor yet).
    pub(crate) fn new(core: Arc<PoolCore>, args: RedisArgs) -> RedisPool {
        core.reserve_workers(args.size);
        let counters = core.metrics.redis_pool(&core.name);
        let shared = RedisShared {
            clients: RwLock::new(vec![None; args.size]),
            next: AtomicUsize::new(0),
            counters,
            core,
            args,
        };
        RedisPool {
            shared: Arc::new(shared),
        }
    }

    /// The pool's shared core.
    pub(crate) fn core(&self) -> &Arc<PoolCore> {
        &self.shared.core
    }

    /// How to (re)start `pool:<name>`: a supervisor with one permanent worker per client slot.
    pub(crate) fn sup_start_fn(&self) -> StartFn {
        let shared = self.shared.clone();
        self.shared.core.sup_start_fn(Arc::new(move || {
            (0..shared.args.size)
                .map(|slot| {
                    let shared = shared.clone();
                    ChildSpec::worker(
                        shared.core.worker_id(slot),
                        Restart::Permanent,
                        WORKER_SHUTDOWN,
                        start_actor(move || (RedisWorkerActor, (shared.clone(), slot))),
                    )
                })
                .collect()
        }))
    }

    fn client(&self) -> Result<fred::prelude::Client, HiveError> {
        let clients = self
            .shared
            .clients
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let n = clients.len().max(1);
        let start = self.shared.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .filter_map(|i| clients.get((start + i) % n).and_then(Option::clone))
            .next()
            .ok_or_else(no_connection)
    }

    async fn run<T, F, Fut>(&self, f: F) -> Result<T, HiveError>
    where
        F: FnOnce(fred::prelude::Client) -> Fut,
        Fut: Future<Output = Result<T, FredError>>,
    {
        let c = &self.shared.core.counters;
        c.request();
        self.shared.counters.queries.inc();
        let r = match self.client() {
            Ok(client) => f(client).await.map_err(map_err),
            Err(e) => Err(e),
        };
        if let Err(e) = &r {
            c.error();
            tracing::warn!(pool = %self.shared.core.name, error = %e, "Redis command failed");
        }
        r
    }

    /// `HMSET key f1 v1 ...` (nothing is sent for an empty list).
    ///
    /// # Errors
    /// `redis_error`, or `no_connection` when Redis stays away past the reconnect budget.
    pub async fn hmset(&self, key: &str, fields: Vec<(String, String)>) -> Result<(), HiveError> {
        if fields.is_empty() {
            return Ok(());
        }
        self.run(|c| async move {
            c.custom::<(), _>(hmset_cmd(), hmset_args(key, fields))
                .await
        })
        .await
    }

    /// `HMSET` then `EXPIRE key secs`, pipelined (one round trip).
    ///
    /// # Errors
    /// As [`RedisPool::hmset`].
    pub async fn hmset_expire(
        &self,
        key: &str,
        fields: Vec<(String, String)>,
        secs: i64,
    ) -> Result<(), HiveError> {
        self.run(|c| async move {
            let p = c.pipeline();
            if !fields.is_empty() {
                p.custom::<(), _>(hmset_cmd(), hmset_args(key, fields))
                    .await?;
            }
            p.expire::<(), _>(key, secs, None).await?;
            p.all::<FredValue>().await.map(|_| ())
        })
        .await
    }

    /// `HGETALL key` as field/value pairs in Redis's order.
    ///
    /// # Errors
    /// As [`RedisPool::hmset`].
    pub async fn hgetall(&self, key: &str) -> Result<Vec<(String, String)>, HiveError> {
        // A custom command keeps Redis's field order (fred's `hgetall` goes through a HashMap).
        let cmd = CustomCommand::new("HGETALL", ClusterHash::FirstKey, false);
        let v = self
            .run(|c| async move { c.custom::<FredValue, _>(cmd, vec![key]).await })
            .await?;
        Ok(pairs(v))
    }

    /// `EXPIRE key secs`.
    ///
    /// # Errors
    /// As [`RedisPool::hmset`].
    pub async fn expire(&self, key: &str, secs: i64) -> Result<(), HiveError> {
        self.run(|c| async move { c.expire::<(), _>(key, secs, None).await })
            .await
    }

    /// `DEL key`.
    ///
    /// # Errors
    /// As [`RedisPool::hmset`].
    pub async fn del(&self, key: &str) -> Result<(), HiveError> {
        self.run(|c| async move { c.del::<(), _>(key).await }).await
    }

    /// Reachable when any client is connected; live workers; busy is 0 (clients multiplex).
    pub(crate) fn health(&self) -> (bool, usize, usize) {
        let clients = self
            .shared
            .clients
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let up = clients.iter().flatten().any(|c| c.is_connected());
        (up, self.shared.core.worker_count(), 0)
    }

    /// Nothing to release beyond what the actors' exit already did.
    pub(crate) async fn after_stop(&self) {}
}

/// `HMSET` as a custom command: fred's `hmset` goes through a HashMap and would scramble the
/// field order (which Redis keeps for small hashes and HGETALL returns).
fn hmset_cmd() -> CustomCommand {
    CustomCommand::new("HMSET", ClusterHash::FirstKey, false)
}

fn hmset_args(key: &str, fields: Vec<(String, String)>) -> Vec<String> {
    let mut args = Vec::with_capacity(1 + 2 * fields.len());
    args.push(key.to_string());
    for (k, v) in fields {
        args.push(k);
        args.push(v);
    }
    args
}

fn text(v: FredValue) -> String {
    v.into_string().unwrap_or_default()
}

/// HGETALL reply (RESP2 flat array or RESP3 map) as pairs.
fn pairs(v: FredValue) -> Vec<(String, String)> {
    match v {
        FredValue::Array(items) => {
            let mut it = items.into_iter();
            let mut out = Vec::new();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((text(k), text(v)));
            }
            out
        }
        FredValue::Map(m) => m
            .inner()
            .into_iter()
            .map(|(k, v)| (k.into_string().unwrap_or_default(), text(v)))
            .collect(),
        _ => Vec::new(),
    }
}

/// A worker: owns one fred client in its slot.
pub(crate) struct RedisWorkerActor;

/// State: the client; dropping it (stop, crash or kill) clears the slot (unless the worker is
/// being replaced, see [`RedisWorkerMsg::Restart`]) and quits the client.
pub(crate) struct RedisWorkerState {
    shared: Arc<RedisShared>,
    slot: usize,
    client: fred::prelude::Client,
    /// A periodic replacement is under way: leave the client in its slot for the successor.
    handover: bool,
    _guard: WorkerGuard,
}

impl Drop for RedisWorkerState {
    fn drop(&mut self) {
        if !self.handover {
            clear_slot(&self.shared, self.slot, self.client.id());
        }
        let client = self.client.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                // Grace period: a caller that picked this client just before the slot was cleared
                // still gets its command through.
                tokio::time::sleep(Duration::from_secs(1)).await;
                let _ = client.quit().await;
            });
        }
    }
}

/// Empty `slot` if it still holds the client `id` (a successor's client is left alone).
fn clear_slot(shared: &RedisShared, slot: usize, id: &str) {
    let mut clients = shared.clients.write().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = clients.get_mut(slot)
        && s.as_ref().is_some_and(|c| c.id() == id)
    {
        *s = None;
    }
}

/// Messages of [`RedisWorkerActor`].
pub(crate) enum RedisWorkerMsg {
    /// `restart_timeout` elapsed: ask the supervisor to replace this worker.
    Restart,
}

impl Actor for RedisWorkerActor {
    type Msg = RedisWorkerMsg;
    type State = RedisWorkerState;
    type Arguments = (Arc<RedisShared>, usize);

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        (shared, slot): (Arc<RedisShared>, usize),
    ) -> Result<Self::State, ActorProcessingErr> {
        let client = shared.args.client()?;
        // Runs the connection task; with `fail_fast: false` it keeps retrying until Redis answers.
        let _task = client.connect();
        if let Some(slot_ref) = shared
            .clients
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(slot)
        {
            *slot_ref = Some(client.clone());
        }
        if let Some(after) = shared.args.restart_timeout {
            ractor::time::send_after(after, myself.get_cell(), || RedisWorkerMsg::Restart);
        }
        Ok(RedisWorkerState {
            _guard: WorkerGuard::new(shared.core.clone(), None),
            shared,
            slot,
            client,
            handover: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RedisWorkerMsg::Restart => {
                let Some(sup) = myself.try_get_supervisor() else {
                    return Ok(());
                };
                state.handover = true;
                let sup = SupervisorHandle::from_cell(sup);
                let id = state.shared.core.worker_id(state.slot);
                let (shared, slot) = (state.shared.clone(), state.slot);
                let client = state.client.id().to_string();
                // From a task: the supervisor stops this actor before it answers.
                tokio::spawn(async move {
                    // Not terminated: the pool is stopping (or the worker already went).
                    let replaced = sup.terminate_child(&id).await
                        && match sup.restart_child(&id).await {
                            Ok(_) => true,
                            Err(e) => {
                                let pool = &shared.core.name;
                                tracing::error!(%pool, worker = %id, error = %e, "Redis worker not replaced");
                                false
                            }
                        };
                    if !replaced {
                        // No successor takes the slot.
                        clear_slot(&shared, slot, &client);
                    }
                });
            }
        }
        Ok(())
    }
}
