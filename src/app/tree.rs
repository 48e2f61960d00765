//! THE supervision tree of a Hive node, one function per node of `supervisor-trees.md`.
//!
//! ```text
//! root_sup            (was hive_root_sup)            one_for_one 3/10s
//! ├─ env_sup          (was hive_env_sup)             one_for_one 5/10s
//! │  └─ metrics       (was hive_monitor)             worker, permanent
//! └─ hive_sup         (was hive_sup)                 one_for_one 5/10s
//!    ├─ connectors_sup (was hive_connectors_sup)     see crate::connectors
//!    ├─ router_sup    (was hive_router_sup)          one_for_all 5/10s
//!    │  ├─ router     (was hive_router)              worker, permanent
//!    │  └─ clients_sup (was hive_client_sup)         simple_one_for_one, temporary children
//!    ├─ pubsub_sup    (was hive_pubsub_sup)          rest_for_one 5/10s
//!    │  ├─ backplane  (new: the publish path)        worker, permanent
//!    │  └─ registry_sup                              one_for_all 5/10s, see crate::pubsub
//!    └─ web_sup       (was hive_web_sup)             one_for_one 5/10s
//!       ├─ monitor_listener (was hive_monitor_server) worker, permanent
//!       ├─ api_listener     (was hive_api)            worker, permanent
//!       └─ socketio_listener (was hive_web)           worker, permanent
//! ```

use std::sync::Arc;
use std::time::Duration;

use crate::connectors::Connectors;
use crate::env::{MetricsActor, MetricsArgs};
use crate::listener::{ListenerActor, ListenerArgs};
use crate::pubsub::{Inbox, LocalBackplane, Plane, PubSub};
use crate::router::{Router, RouterActor};
use crate::slot::Slot;
use otp::SupervisionError;
use otp::{
    ChildSpec, DynamicHandle, DynamicSpec, Intensity, Restart, Shutdown, Strategy,
    SupervisorHandle, SupervisorSpec, start_actor,
};

/// Everything the tree's start functions need. Every field is cheap to clone; each start function
/// clones what it needs, so a restarted node is built from the same parts.
#[derive(Clone)]
pub struct Parts {
    /// The loaded configuration.
    pub config: Arc<crate::config::Config>,
    /// Metrics registry.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// When the node started.
    pub started: std::time::Instant,
    /// App-level gauge refresh.
    pub refresh: Arc<dyn Fn() + Send + Sync>,
    /// The router.
    pub router: Router,
    /// Where connectors_sup publishes its current [`Connectors`].
    pub connectors: Slot<Connectors>,
    /// Where pubsub_sup publishes its current [`PubSub`].
    pub pubsub: Slot<PubSub>,
    /// The three listeners, in start order: monitor, api, socketio.
    pub listeners: Vec<Arc<dyn Fn() -> ListenerArgs + Send + Sync>>,
    /// The cluster this node belongs to (`cluster` section); `None`: a single node.
    pub cluster: Option<Arc<crate::cluster::Shared>>,
}

const WORKER_SHUTDOWN: Shutdown = Shutdown::Timeout(Duration::from_millis(5000));

/// `root_sup`: env first, then the serving part. one_for_one: the two halves fail independently.
pub fn root_sup(p: &Parts) -> SupervisorSpec {
    SupervisorSpec {
        id: "root_sup".into(),
        strategy: Strategy::OneForOne,
        intensity: Intensity::new(3, 10),
        children: vec![
            ChildSpec::supervisor("env_sup", SupervisorHandle::start_fn(spec_fn(p, env_sup))),
            ChildSpec::supervisor("hive_sup", SupervisorHandle::start_fn(spec_fn(p, hive_sup))),
        ],
    }
}

fn spec_fn(
    p: &Parts,
    f: fn(&Parts) -> SupervisorSpec,
) -> Arc<dyn Fn() -> SupervisorSpec + Send + Sync> {
    let p = p.clone();
    Arc::new(move || f(&p))
}

/// `env_sup`: the metrics refresher (the configuration is an `Arc`, not an actor).
pub fn env_sup(p: &Parts) -> SupervisorSpec {
    let (metrics, started, refresh) = (Arc::clone(&p.metrics), p.started, Arc::clone(&p.refresh));
    let connectors = p.connectors.clone();
    SupervisorSpec {
        id: "env_sup".into(),
        strategy: Strategy::OneForOne,
        intensity: Intensity::new(5, 10),
        children: vec![ChildSpec::worker(
            "metrics",
            Restart::Permanent,
            WORKER_SHUTDOWN,
            start_actor(move || {
                let args = MetricsArgs {
                    metrics: Arc::clone(&metrics),
                    started,
                    refresh: Arc::clone(&refresh),
                    connectors: connectors.clone(),
                };
                (MetricsActor, args)
            }),
        )],
    }
}

/// `hive_sup`: connectors, router, pub-sub, then the listeners (nothing accepts traffic before
/// what it depends on is up). rest_for_one: each subsystem holds handles to the ones started
/// before it (the API listener holds pub-sub, sessions hold pools), so a restarted subsystem
/// takes everything after it along.
pub fn hive_sup(p: &Parts) -> SupervisorSpec {
    SupervisorSpec {
        id: "hive_sup".into(),
        strategy: Strategy::RestForOne,
        intensity: Intensity::new(5, 10),
        children: vec![
            connectors_sup(p),
            ChildSpec::supervisor(
                "router_sup",
                SupervisorHandle::start_fn(spec_fn(p, router_sup)),
            ),
            ChildSpec::supervisor(
                "pubsub_sup",
                SupervisorHandle::start_fn(spec_fn(p, pubsub_sup)),
            ),
            ChildSpec::supervisor("web_sup", SupervisorHandle::start_fn(spec_fn(p, web_sup))),
        ],
    }
}

/// `connectors_sup`: the pools, started in config order (see [`crate::connectors`]); the new
/// [`Connectors`] is published in the slot after every (re)start.
pub fn connectors_sup(p: &Parts) -> ChildSpec {
    let (config, metrics, slot) = (
        Arc::clone(&p.config),
        Arc::clone(&p.metrics),
        p.connectors.clone(),
    );
    ChildSpec::supervisor(
        "connectors_sup",
        Arc::new(move |sup| {
            let (config, metrics, slot) = (Arc::clone(&config), Arc::clone(&metrics), slot.clone());
            Box::pin(async move {
                let c = Connectors::start(&config.connectors, metrics, Some(sup))
                    .await
                    .map_err(|e| SupervisionError::StartFailed {
                        id: "connectors_sup".into(),
                        reason: e.to_string(),
                    })?;
                slot.set(c.clone());
                Ok(c.supervisor_cell())
            })
        }),
    )
}

/// `pubsub_sup`: the backplane first, then the registry (channels and manager). rest_for_one: a
/// crash of the registry's half restarts it alone and the backplane keeps running (a cluster
/// backplane keeps its stream positions, and publishes in flight are not lost with it); a crash of
/// the backplane restarts the registry too, so that no manager keeps publishing to a dead one.
pub fn pubsub_sup(p: &Parts) -> SupervisorSpec {
    let plane: Slot<Plane> = Slot::new();
    let set = plane.clone();
    SupervisorSpec {
        id: "pubsub_sup".into(),
        strategy: Strategy::RestForOne,
        intensity: Intensity::new(5, 10),
        children: vec![
            match &p.cluster {
                None => local_backplane(set),
                Some(shared) => ChildSpec::supervisor(
                    "backplane",
                    SupervisorHandle::start_fn({
                        let shared = Arc::clone(shared);
                        Arc::new(move || cluster_backplane(&shared, &set))
                    }),
                ),
            },
            ChildSpec::supervisor(
                "registry_sup",
                SupervisorHandle::start_fn({
                    let p = p.clone();
                    Arc::new(move || registry_sup(&p, plane.clone()))
                }),
            ),
        ],
    }
}

/// The local `backplane` worker (no `cluster` section): delivers publishes on this node.
fn local_backplane(set: Slot<Plane>) -> ChildSpec {
    ChildSpec::worker(
        "backplane",
        Restart::Permanent,
        WORKER_SHUTDOWN,
        Arc::new(move |sup| {
            let set = set.clone();
            Box::pin(async move {
                let started = LocalBackplane::start(Inbox::new(), Some(sup)).await;
                let plane = started.map_err(|e| SupervisionError::StartFailed {
                    id: "backplane".into(),
                    reason: e.to_string(),
                })?;
                let cell = plane.actor.get().map(|a| a.get_cell());
                set.set(plane);
                cell.ok_or_else(|| SupervisionError::StartFailed {
                    id: "backplane".into(),
                    reason: "no actor".into(),
                })
            })
        }),
    )
}

/// The cluster's `backplane` supervisor: the stream writer (what pub-sub publishes through), the
/// stream reader and the membership heartbeat, each owning one Redis connection. one_for_one: they share nothing but the
/// positions kept outside them; a restarted writer is found through the plane's late-bound
/// slot, a restarted reader resumes from the last position.
pub fn cluster_backplane(
    shared: &Arc<crate::cluster::Shared>,
    set: &Slot<Plane>,
) -> SupervisorSpec {
    use crate::cluster::{StreamReader, StreamReaderArgs, StreamWriter, StreamWriterArgs};
    let plane = Plane {
        actor: Slot::new(),
        inbox: Inbox::new(),
    };
    set.set(plane.clone());
    let (w_shared, r_shared, m_shared) =
        (Arc::clone(shared), Arc::clone(shared), Arc::clone(shared));
    let (writer_slot, inbox) = (plane.actor.clone(), plane.inbox.clone());
    SupervisorSpec {
        id: "backplane".into(),
        strategy: Strategy::OneForOne,
        intensity: Intensity::new(5, 10),
        children: vec![
            ChildSpec::worker(
                "stream_writer",
                Restart::Permanent,
                WORKER_SHUTDOWN,
                Arc::new(move |sup| {
                    let (shared, slot) = (Arc::clone(&w_shared), writer_slot.clone());
                    Box::pin(async move {
                        let args = StreamWriterArgs { shared };
                        let (actor, _) = otp::spec::spawn_under(StreamWriter, args, Some(sup))
                            .await
                            .map_err(|e| SupervisionError::StartFailed {
                                id: "stream_writer".into(),
                                reason: e.to_string(),
                            })?;
                        let cell = actor.get_cell();
                        slot.set(actor);
                        Ok(cell)
                    })
                }),
            ),
            ChildSpec::worker(
                "stream_reader",
                Restart::Permanent,
                WORKER_SHUTDOWN,
                start_actor(move || {
                    let args = StreamReaderArgs {
                        shared: Arc::clone(&r_shared),
                        inbox: inbox.clone(),
                    };
                    (StreamReader, args)
                }),
            ),
            ChildSpec::worker(
                "membership",
                Restart::Permanent,
                WORKER_SHUTDOWN,
                start_actor(move || (crate::cluster::Membership, Arc::clone(&m_shared))),
            ),
        ],
    }
}

/// `registry_sup`: one_for_all, because the manager's registry indexes the channel actors of
/// channels_sup: neither is meaningful without the other. The manager publishes through `plane`,
/// the backplane started before it, and points the backplane's inbox at its new registry.
pub fn registry_sup(p: &Parts, plane: Slot<Plane>) -> SupervisorSpec {
    let channels: Slot<DynamicHandle> = Slot::new();
    let ch = channels.clone();
    let (config, metrics, slot) = (
        Arc::clone(&p.config),
        Arc::clone(&p.metrics),
        p.pubsub.clone(),
    );
    SupervisorSpec {
        id: "registry_sup".into(),
        strategy: Strategy::OneForAll,
        intensity: Intensity::new(5, 10),
        children: vec![
            ChildSpec::supervisor(
                "channels_sup",
                DynamicHandle::start_fn(
                    DynamicSpec {
                        id: "channels_sup".into(),
                        intensity: Intensity::new(0, 5),
                        max_children: None,
                    },
                    Arc::new(move |h| ch.set(h)),
                ),
            ),
            ChildSpec::worker(
                "pubsub",
                Restart::Permanent,
                WORKER_SHUTDOWN,
                Arc::new(move |sup| {
                    let (config, metrics, slot, channels, plane) = (
                        Arc::clone(&config),
                        Arc::clone(&metrics),
                        slot.clone(),
                        channels.get(),
                        plane.get(),
                    );
                    Box::pin(async move {
                        let fail = |reason: String| SupervisionError::StartFailed {
                            id: "pubsub".into(),
                            reason,
                        };
                        let plane = plane.ok_or_else(|| fail("no backplane".into()))?;
                        let ps = PubSub::start_linked(
                            &config.pubsub,
                            metrics,
                            channels,
                            Some(sup),
                            plane,
                        )
                        .await
                        .map_err(|e| fail(e.to_string()))?;
                        slot.set(ps.clone());
                        Ok(ps.manager_cell())
                    })
                }),
            ),
        ],
    }
}

/// `router_sup`: one_for_all, because the clients are meaningless without the router's sid table
/// and a new router starts from an empty table.
pub fn router_sup(p: &Parts) -> SupervisorSpec {
    let router = p.router.clone();
    let r2 = p.router.clone();
    let slots = p.config.hive.max_client_slots as usize;
    SupervisorSpec {
        id: "router_sup".into(),
        strategy: Strategy::OneForAll,
        intensity: Intensity::new(5, 10),
        children: vec![
            ChildSpec::worker(
                "router",
                Restart::Permanent,
                WORKER_SHUTDOWN,
                start_actor(move || (RouterActor, router.clone())),
            ),
            ChildSpec::supervisor(
                "clients_sup",
                DynamicHandle::start_fn(
                    DynamicSpec {
                        id: "clients_sup".into(),
                        intensity: Intensity::new(0, 5),
                        max_children: Some(slots + 16),
                    },
                    Arc::new(move |h| r2.set_clients_sup(h)),
                ),
            ),
        ],
    }
}

/// `web_sup`: the monitor, API and Socket.IO listeners, each a worker owning its socket. A
/// listener's stop drains it for up to `http.drain_timeout`, so its shutdown allows that plus a
/// margin.
pub fn web_sup(p: &Parts) -> SupervisorSpec {
    let names = ["monitor_listener", "api_listener", "socketio_listener"];
    let drain = Duration::from_millis(p.config.http.drain_timeout);
    let shutdown = Shutdown::Timeout(drain + Duration::from_secs(2));
    let children = p
        .listeners
        .iter()
        .zip(names)
        .map(|(make, name)| {
            let make = Arc::clone(make);
            ChildSpec::worker(
                name,
                Restart::Permanent,
                shutdown,
                start_actor(move || (ListenerActor, make())),
            )
        })
        .collect();
    SupervisorSpec {
        id: "web_sup".into(),
        strategy: Strategy::OneForOne,
        intensity: Intensity::new(5, 10),
        children,
    }
}
