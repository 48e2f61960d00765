//! The router (Hive's `hive_router`, HIVE.md 13.3): sid -> client registry, slot limit,
//! enable/disable of new sessions, routing, and the graceful terminate-all.
//!
//! Reads (transports routing a frame by sid) go straight to the shared [`registry::Registry`];
//! only the [`actor::RouterActor`] removes entries, when it sees a monitored client actor exit, so
//! a client that crashes or is killed never leaks its slot.

pub mod actor;
pub mod registry;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use ractor::{Actor, ActorRef};
use rand::RngCore;

use crate::client::{ClientActor, ClientArgs, ClientHandle, CloseReason};
use crate::error::HiveError;
use crate::events::In;
use crate::hooks::Services;
use crate::metrics::{Counter, Metrics, RouterMetrics};
use codec::event::InternalEvent;
use otp::{ChildSpec, DynamicHandle, Restart, Shutdown};

pub use actor::{RouterActor, RouterMsg};
pub use registry::Registry;

/// How often [`Router::terminate_all`] checks whether every session has ended.
const POLL: Duration = Duration::from_millis(10);
/// How often [`Router::terminate_all`] looks for sessions registered after it started.
const RESCAN: Duration = Duration::from_millis(100);
/// How long [`Router::terminate_all`] waits for the sessions it killed to be gone.
const KILL_WAIT: Duration = Duration::from_secs(1);

/// The router's shared part. Cheap to clone.
#[derive(Clone)]
pub struct Router {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    enabled: AtomicBool,
    max_slots: usize,
    node: String,
    metrics: RouterMetrics,
    /// `clients.transports.websocket.ok`, handed to each session (its shortcut counts in it).
    ws_ok: Counter,
    services: Arc<Services>,
    clients_sup: std::sync::RwLock<Option<DynamicHandle>>,
    actor: std::sync::RwLock<Option<ActorRef<RouterMsg>>>,
    spawning: AtomicUsize,
    /// The cluster's node tag, the first hex digits of every sid (none: a single node).
    sid_tag: std::sync::RwLock<Option<String>>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("clients", &self.count())
            .finish_non_exhaustive()
    }
}

impl Router {
    /// A router allowing `max_slots` sessions, salting sids with `node`, starting clients with
    /// `services` (built before any listener accepts, so a session is never refused for them).
    pub fn new(max_slots: usize, node: String, metrics: &Metrics, services: Arc<Services>) -> Self {
        Self {
            inner: Arc::new(Inner {
                registry: Registry::default(),
                enabled: AtomicBool::new(true),
                max_slots,
                node,
                metrics: metrics.router().clone(),
                ws_ok: metrics.websocket().ok.clone(),
                services,
                clients_sup: std::sync::RwLock::new(None),
                actor: std::sync::RwLock::new(None),
                spawning: AtomicUsize::new(0),
                sid_tag: std::sync::RwLock::new(None),
            }),
        }
    }

    /// Install the (re)started clients supervisor.
    pub fn set_clients_sup(&self, sup: DynamicHandle) {
        *self
            .inner
            .clients_sup
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(sup);
    }

    /// Install the (re)started router actor.
    pub fn set_actor(&self, a: ActorRef<RouterMsg>) {
        *self.inner.actor.write().unwrap_or_else(|e| e.into_inner()) = Some(a);
    }

    /// The shared registry.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Live sessions.
    pub fn count(&self) -> usize {
        self.inner.registry.len()
    }

    /// Accept new sessions again.
    pub fn enable(&self) {
        tracing::info!("Hive Router is accepting connections");
        self.inner.enabled.store(true, Ordering::SeqCst);
    }

    /// Refuse new sessions.
    pub fn disable(&self) {
        tracing::info!("Hive Router is not accepting connections");
        self.inner.enabled.store(false, Ordering::SeqCst);
    }

    /// Whether new sessions are accepted.
    pub fn is_enabled(&self) -> bool {
        self.inner.enabled.load(Ordering::SeqCst)
    }

    /// Start every sid with `tag` (hex; a cluster node's tag, so any node finds a sid's owner).
    /// Set again when the node rejoins its cluster under a new tag.
    pub fn set_sid_tag(&self, tag: String) {
        *self
            .inner
            .sid_tag
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(tag);
    }

    /// False for a sid of an old tag of this node (it rejoined its cluster since): such a session
    /// is being closed so that its client reconnects.
    pub fn is_current(&self, sid: &str) -> bool {
        match &*self.inner.sid_tag.read().unwrap_or_else(|e| e.into_inner()) {
            Some(tag) => sid.starts_with(tag.as_str()),
            None => true,
        }
    }

    fn new_sid(&self) -> String {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let mut h = sha1_smol::Sha1::new();
        h.update(self.inner.node.as_bytes());
        h.update(&salt);
        let sid = h.digest().to_string();
        match &*self.inner.sid_tag.read().unwrap_or_else(|e| e.into_inner()) {
            // Still 40 lowercase hex digits (HIVE.md 3.5).
            Some(tag) if tag.len() < sid.len() => format!("{tag}{}", &sid[tag.len()..]),
            _ => sid,
        }
    }

    /// Create a session: slot check, sid, client actor under the clients supervisor.
    ///
    /// # Errors
    /// `router_error` when disabled or the client cannot start; `no_slots` when full.
    pub async fn new_client(&self) -> Result<String, HiveError> {
        let m = &self.inner.metrics;
        m.requests.inc();
        if !self.is_enabled() {
            m.errors.inc();
            return Err(HiveError::RouterError(
                "Unable to spawn new client process: Hive Router is not accepting connections!"
                    .into(),
            ));
        }
        let taken = self.count() + self.inner.spawning.fetch_add(1, Ordering::SeqCst);
        let _guard = SpawnGuard(&self.inner.spawning);
        if taken >= self.inner.max_slots {
            m.errors.inc();
            return Err(HiveError::NoSlots(format!(
                "Unable to spawn new client process: all {} client slots are taken.",
                self.inner.max_slots
            )));
        }
        // Both are installed when router_sup starts, which is before web_sup starts any listener
        // (supervisor-trees.md): a listener never sees them missing.
        let (Some(sup), Some(router)) = (
            self.inner
                .clients_sup
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            self.inner
                .actor
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        ) else {
            m.errors.inc();
            return Err(HiveError::RouterError(
                "Unable to spawn new client process: Hive Router is not running.".into(),
            ));
        };
        let services = Arc::clone(&self.inner.services);
        let sid: Arc<str> = Arc::from(self.new_sid());
        let made = Arc::new(std::sync::OnceLock::new());
        let args = std::sync::Mutex::new(Some(ClientArgs {
            sid: Arc::clone(&sid),
            services: Arc::clone(&services),
            ws_ok: self.inner.ws_ok.clone(),
            made: Arc::clone(&made),
        }));
        let args = Arc::new(args);
        // One runtime per core: the client actor lives on the core of the connection asking for
        // it (this task's), not on the clients supervisor's, so a session never crosses cores.
        let home = crate::cores::here();
        let spec = ChildSpec::worker(
            sid.to_string(),
            Restart::Temporary,
            Shutdown::Timeout(Duration::from_millis(5000)),
            Arc::new(move |sup_cell| {
                let args = Arc::clone(&args);
                let home = home.clone();
                Box::pin(async move {
                    let a = args
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .take()
                        .ok_or_else(|| otp::SupervisionError::StartFailed {
                            id: "client".into(),
                            reason: "a temporary client cannot be restarted".into(),
                        })?;
                    let id = a.sid.to_string();
                    let start = Actor::spawn_linked(None, ClientActor, a, sup_cell);
                    let started = match home {
                        // The actor's loop is spawned on the runtime `start` runs on.
                        Some(core) => core.spawn(start).await.map_err(|e| {
                            otp::SupervisionError::StartFailed {
                                id: id.clone(),
                                reason: e.to_string(),
                            }
                        })?,
                        None => start.await,
                    };
                    let (r, _) = started.map_err(|e| otp::SupervisionError::StartFailed {
                        id,
                        reason: e.to_string(),
                    })?;
                    Ok(r.get_cell())
                })
            }),
        );
        let cell = sup.start_child(spec).await.map_err(|e| {
            m.errors.inc();
            HiveError::RouterError(format!("Unable to spawn new client process: {e}"))
        })?;
        let actor: ActorRef<crate::client::ClientMsg> = cell.clone().into();
        // The actor made its shortcut before it started (pre_start).
        let Some(shortcut) = made.get().cloned() else {
            m.errors.inc();
            cell.stop(None);
            return Err(HiveError::RouterError(
                "Unable to spawn new client process: it started without its shortcut.".into(),
            ));
        };
        let handle = ClientHandle::new(Arc::clone(&sid), actor, shortcut);
        self.inner.registry.insert(handle, cell.get_id());
        router.get_cell().monitor(cell.clone());
        if matches!(
            cell.get_status(),
            ractor::ActorStatus::Stopped | ractor::ActorStatus::Stopping
        ) {
            self.inner.registry.remove_actor(&cell.get_id());
        }
        m.spawned_clients.inc();
        m.current_clients.set(self.count() as i64);
        Ok(sid.to_string())
    }

    /// The client of `sid`.
    pub fn lookup(&self, sid: &str) -> Option<ClientHandle> {
        self.inner.registry.get(sid)
    }

    /// Route what a client sent, decoded by its wire, to `sid` (counts
    /// `hive.router.routed_msgs`). Only neutral items cross this boundary.
    ///
    /// # Errors
    /// `bad_session_id` for an unknown sid.
    pub fn route_input(&self, sid: &str, msgs: Vec<In>) -> Result<(), HiveError> {
        let m = &self.inner.metrics;
        m.requests.add(2);
        let unknown =
            || HiveError::BadSessionId(format!("Tried routing messages to an unknown sid: {sid}"));
        let c = self.lookup(sid).ok_or_else(|| {
            m.errors.inc();
            unknown()
        })?;
        m.routed_msgs.add(msgs.len() as i64);
        c.input(msgs).map_err(|_| unknown())
    }

    /// Route internal events to `sid` (API `/clients/action`).
    ///
    /// # Errors
    /// `bad_session_id` for an unknown sid.
    pub fn route_events(&self, sid: &str, events: Vec<InternalEvent>) -> Result<(), HiveError> {
        let m = &self.inner.metrics;
        m.requests.inc();
        let unknown =
            || HiveError::BadSessionId(format!("Tried routing events to an unknown sid: {sid}"));
        let c = self.lookup(sid).ok_or_else(|| {
            m.errors.inc();
            unknown()
        })?;
        m.routed_events.add(events.len() as i64);
        c.events(events).map_err(|_| unknown())
    }

    /// End the session of `sid` (`?disconnect`).
    pub fn kill(&self, sid: &str) {
        self.inner.metrics.requests.inc();
        if let Some(c) = self.lookup(sid) {
            c.terminate(CloseReason::ClientGone);
        }
    }

    /// Graceful termination of every session (HIVE.md 14): disable, then each session runs
    /// `on_terminate` and ends (`on_disconnect`, state cleanup, `0:::`); wait until every session
    /// has ended, or until `timeout`, and then kill the survivors without their hooks. Returns how
    /// many were killed (also counted in `hive.router.killed_sessions` and logged on one line).
    /// The router stays disabled.
    ///
    /// Until the timeout the pools' graceful-termination window is open
    /// ([`crate::connectors::Connectors::drain_until`]): the hooks of thousands of sessions
    /// ending at once wait their turn for a backend connection instead of failing after
    /// `connectors.rent_timeout`.
    pub async fn terminate_all(&self, reason: String, timeout: Duration) -> usize {
        self.disable();
        let start = tokio::time::Instant::now();
        let deadline = start + timeout;
        let connectors = self.inner.services.connectors.get();
        if let Some(c) = &connectors {
            c.drain_until(Some(deadline.into_std()));
        }
        // Each session is told once. Sessions whose start was under way when the router was
        // disabled register later: the registry is scanned again until none is left.
        let mut told: HashSet<Arc<str>> = HashSet::new();
        let mut scan_at = start;
        loop {
            let now = tokio::time::Instant::now();
            if now >= scan_at {
                for c in self.inner.registry.all() {
                    if told.insert(c.sid_arc()) {
                        c.graceful(reason.clone());
                    }
                }
                scan_at = now + RESCAN;
            }
            let idle = self.count() == 0 && self.inner.spawning.load(Ordering::SeqCst) == 0;
            if idle || now >= deadline {
                break;
            }
            tokio::time::sleep_until((now + POLL).min(deadline)).await;
        }
        let survivors = self.inner.registry.all();
        let killed = survivors.len();
        if killed > 0 {
            self.inner.metrics.killed_sessions.add(killed as i64);
            tracing::warn!(
                "graceful termination: {killed} sessions still alive after {} ms were killed \
                 without their hooks",
                timeout.as_millis()
            );
            for c in &survivors {
                c.actor().get_cell().kill();
            }
            let cells: Vec<ractor::ActorCell> =
                survivors.iter().map(|c| c.actor().get_cell()).collect();
            futures::future::join_all(cells.iter().map(|c| c.wait(Some(KILL_WAIT)))).await;
        }
        if let Some(c) = &connectors {
            c.drain_until(None);
        }
        tracing::info!(
            "graceful termination of {} sessions took {} ms ({killed} killed)",
            told.len(),
            start.elapsed().as_millis()
        );
        killed
    }

    /// The router's counters.
    pub(crate) fn metrics(&self) -> &RouterMetrics {
        &self.inner.metrics
    }
}

struct SpawnGuard<'a>(&'a AtomicUsize);

impl Drop for SpawnGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
