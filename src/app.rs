//! Starting and stopping a Hive node: bind the listeners, build THE supervision tree
//! ([`crate::app::tree`]), wire the API and monitor to it, and shut down gracefully
//! (HIVE.md 14).

pub mod tree;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};

use crate::slot::Slot;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::admin::{Health, MonitorCtx, Observer, SessionsView, TreeQuery};
use crate::api::{ApiCtx, Control};
use crate::app::tree::{Parts, root_sup};
use crate::config::Config;
use crate::connectors::Connectors;
use crate::error::{HiveError, Mode};
use crate::hooks::{Services, Tables};
use crate::http_edge::Edge;
use crate::listener::{ListenerArgs, Service};
use crate::metrics::Metrics;
use crate::pubsub::PubSub;
use crate::router::Router;
use crate::transport::TransportCtx;
use codec::event::InternalEvent;
use otp::{SupervisorHandle, SupervisorReport};

/// Start options.
#[derive(Debug, Clone, Copy, Default)]
pub struct StartOptions {
    /// Build mode (error masking).
    pub mode: Mode,
    /// Test hook, zero in production: wait this long after the tree is up (every listener
    /// accepting) before the last start-up step (the monitor gets the tree, "Hive started!"), so a
    /// test can connect while start-up is still going on.
    pub ready_delay: Duration,
}

/// A running node.
pub struct RunningHive {
    /// Where the Socket.IO listener listens.
    pub socketio_addr: SocketAddr,
    /// Where the API listens.
    pub api_addr: SocketAddr,
    /// Where the monitor listens.
    pub monitor_addr: SocketAddr,
    root: SupervisorHandle,
    root_join: JoinHandle<()>,
    router: Router,
    metrics: Arc<Metrics>,
    config: Arc<Config>,
    pubsub: Slot<PubSub>,
    connectors: Slot<Connectors>,
    stop: CancellationToken,
}

/// The live tree, entirely from the supervision runtime's own reports (connectors_sup included).
async fn full_tree(
    root: &SupervisorHandle,
    page: Option<(usize, usize)>,
) -> Result<SupervisorReport, HiveError> {
    root.report(page)
        .await
        .map_err(|e| HiveError::InternalError(e.to_string()))
}

fn bind(
    host: &str,
    port: u16,
    what: &str,
) -> Result<(std::net::TcpListener, SocketAddr), HiveError> {
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| HiveError::Startup(format!("cannot resolve {host} for {what}: {e}")))?
        .next()
        .ok_or_else(|| HiveError::Startup(format!("cannot resolve {host} for {what}")))?;
    let l = crate::listener::bind_listener(addr)
        .map_err(|e| HiveError::Startup(format!("cannot listen on {addr} ({what}): {e}")))?;
    let a = l
        .local_addr()
        .map_err(|e| HiveError::Startup(format!("{what}: {e}")))?;
    Ok((l, a))
}

/// Start a node from a validated configuration.
///
/// # Errors
/// `hive_error` with one line saying what failed and where: a port in use, a hook or action that
/// does not resolve, a backend pool that cannot start.
pub async fn start(config: Config, opts: StartOptions) -> Result<RunningHive, HiveError> {
    let config = Arc::new(config);
    // Process-wide (ractor's per-message count is): a process runs one node.
    crate::metrics::set_figures(config.monitor.figures);
    let metrics = Metrics::new();
    let started = Instant::now();
    let tables = Arc::new(Tables::build(&config, &metrics)?);
    let host = config.hive.bind.clone();
    let (sio, socketio_addr) = bind(&host, config.hive.port, "hive.port")?;
    let (api, api_addr) = bind(&host, config.api.port, "api.port")?;
    let (mon, monitor_addr) = bind(&host, config.monitor.port, "monitor.port")?;

    // Everything a listener's handlers need is built here, before the tree starts any listener:
    // the sessions' services (their pools and pub-sub are slots that connectors_sup and
    // pubsub_sup fill before web_sup starts) and the HTTP edge.
    let stop = CancellationToken::new();
    let connectors_slot: Slot<Connectors> = Slot::new();
    let pubsub_slot: Slot<PubSub> = Slot::new();
    let services = Arc::new(Services {
        mode: opts.mode,
        config: Arc::clone(&config),
        metrics: Arc::clone(&metrics),
        tables: Arc::clone(&tables),
        connectors: connectors_slot.clone(),
        pubsub: pubsub_slot.clone(),
        initial_state: Arc::new(crate::state::initial_map(
            &config.clients.state.initial_value,
        )),
    });
    let router = Router::new(
        config.hive.max_client_slots as usize,
        config.hive.name.clone(),
        &metrics,
        services,
    );
    let cluster =
        crate::cluster::ClusterSpec::from_config(&config, socketio_addr.port(), api_addr.port())
            .map(|mut spec| {
                let host = spec.api.rsplit_once(':').map_or("", |(h, _)| h).to_string();
                spec.monitor = format!("{host}:{}", monitor_addr.port());
                crate::cluster::Shared::new(spec, &metrics)
            });
    if let Some(c) = &cluster {
        router.set_sid_tag(c.spec.tag.clone());
        // A rejoin (docs/cluster.md): new sids get the new tag; every session is closed as in a
        // graceful termination (their clients reconnect), then the router accepts again.
        let (r, stop, t) = (
            router.clone(),
            stop.clone(),
            Duration::from_millis(config.hive.graceful_termination_timeout),
        );
        c.set_on_rejoin(Arc::new(move |_old, new| {
            r.set_sid_tag(new);
            let (r, stop) = (r.clone(), stop.clone());
            tokio::spawn(async move {
                r.terminate_all("rejoin".into(), t).await;
                if !stop.is_cancelled() {
                    r.enable();
                }
            });
        }));
        let (r, ps) = (router.clone(), pubsub_slot.clone());
        c.set_stats(Arc::new(move || {
            (r.count(), ps.get().map_or(0, |p| p.channel_count()))
        }));
    }
    let edge = Edge::new(&config);

    let refresh = {
        let (router, ps) = (router.clone(), pubsub_slot.clone());
        let (rm, cluster, psm) = (
            metrics.router().clone(),
            metrics.cluster().clone(),
            metrics.pubsub().clone(),
        );
        Arc::new(move || {
            rm.current_clients.set(router.count() as i64);
            rm.uptime.set(started.elapsed().as_millis() as i64);
            cluster.size.set(1);
            if let Some(p) = ps.get() {
                psm.uptime.set(p.uptime_ms() as i64);
                psm.total_channels.set(p.channel_count() as i64);
            }
        }) as Arc<dyn Fn() + Send + Sync>
    };

    // The listeners' contexts. They are built lazily: web_sup starts after connectors and pub-sub.
    // The tree's root handle exists only once the whole tree is up: a tree query that arrives
    // before waits for it instead of being refused.
    let (root_tx, root_rx) = tokio::sync::watch::channel(None::<SupervisorHandle>);
    let observer = {
        let root_rx = root_rx.clone();
        Observer::new(Arc::new(move || {
            let mut rx = root_rx.clone();
            Box::pin(async move {
                let root = rx.wait_for(Option::is_some).await.ok()?.clone()?;
                Some(root.cell())
            })
        }))
        .with_sessions(SessionsView::new(router.clone(), pubsub_slot.clone()))
    };
    let monitor_ctx = {
        let (router, cslot) = (router.clone(), connectors_slot.clone());
        let health_cluster = cluster.clone();
        MonitorCtx {
            metrics: Arc::clone(&metrics),
            hash: config.monitor.hash.clone(),
            started,
            node_name: config.hive.name.clone(),
            tree: Arc::new(move |q: TreeQuery| {
                let mut rx = root_rx.clone();
                Box::pin(async move {
                    let root = rx
                        .wait_for(Option::is_some)
                        .await
                        .ok()
                        .and_then(|r| r.clone())
                        .ok_or_else(|| {
                            HiveError::InternalError("the supervision tree did not start".into())
                        })?;
                    full_tree(&root, q.children_all.then_some((q.offset, q.limit))).await
                })
            }),
            health: Arc::new(move || {
                let (router, c) = (router.clone(), cslot.get());
                let link = health_cluster.as_ref().map(|c| c.health());
                Box::pin(async move {
                    let pools = match c {
                        Some(c) => c.health().await,
                        None => Vec::new(),
                    };
                    let h = Health::new(router.is_enabled(), pools);
                    match link {
                        Some(l) => h.with_cluster(l),
                        None => h,
                    }
                })
            }),
            refresh: Arc::clone(&refresh),
            observer,
            cluster: cluster.clone(),
        }
    };
    let transport_ctx = TransportCtx::new(Arc::clone(&config), opts.mode, router.clone(), &metrics)
        .with_cluster(cluster.clone());
    let control: Arc<dyn Control> = Arc::new(AppControl {
        router: router.clone(),
        tables: Arc::clone(&tables),
        stop: stop.clone(),
        timeout: Duration::from_millis(config.hive.graceful_termination_timeout),
    });
    let api_ctx = {
        let (metrics, config, ps) = (
            Arc::clone(&metrics),
            Arc::clone(&config),
            pubsub_slot.clone(),
        );
        let control = Arc::clone(&control);
        let cluster = cluster.clone();
        move || -> Option<ApiCtx> {
            Some(ApiCtx {
                hash: config.api.hash.clone(),
                max_body: config.api.max_body_size,
                metrics: Arc::clone(&metrics),
                pubsub: ps.get()?,
                control: Arc::clone(&control),
                cluster: cluster.clone(),
            })
        }
    };
    let listener = |name: &'static str,
                    addr: SocketAddr,
                    l: std::net::TcpListener,
                    svc: Arc<dyn Fn() -> Option<Service> + Send + Sync>| {
        let pre = Arc::new(Mutex::new(Some(l)));
        let edge = Arc::clone(&edge);
        Arc::new(move || ListenerArgs {
            name,
            addr,
            prebound: Arc::clone(&pre),
            service: svc(),
            edge: Arc::clone(&edge),
        }) as Arc<dyn Fn() -> ListenerArgs + Send + Sync>
    };
    let listeners = vec![
        listener(
            "monitor",
            monitor_addr,
            mon,
            Arc::new(move || Some(Service::Monitor(monitor_ctx.clone()))),
        ),
        listener(
            "api",
            api_addr,
            api,
            Arc::new(move || api_ctx().map(Service::Api)),
        ),
        listener(
            "socketio",
            socketio_addr,
            sio,
            Arc::new(move || Some(Service::SocketIo(transport_ctx.clone()))),
        ),
    ];

    let parts = Parts {
        config: Arc::clone(&config),
        metrics: Arc::clone(&metrics),
        started,
        refresh,
        router: router.clone(),
        connectors: connectors_slot.clone(),
        pubsub: pubsub_slot.clone(),
        listeners,
        cluster: cluster.clone(),
    };
    let (root, root_join) = SupervisorHandle::start(root_sup(&parts), None)
        .await
        .map_err(|e| {
            HiveError::Startup(format!(
                "Cannot start Hive Server: {}",
                root_cause(&e.to_string())
            ))
        })?;
    if !opts.ready_delay.is_zero() {
        tokio::time::sleep(opts.ready_delay).await;
    }
    // A cluster node is started once its membership record is written, so that the sids it hands
    // out are found by every node (a forwarded request for an unknown tag is refused as gone).
    // Redis away at start: the node serves locally and says so (/health answers 503 meanwhile).
    if let Some(c) = &cluster
        && !c.until_joined(Duration::from_secs(5)).await
    {
        tracing::warn!(node = %c.spec.node, "cluster: the membership record is not written yet (Redis away?); serving this node's sessions locally meanwhile");
    }
    // The last step: the monitor's tree queries get the root.
    root_tx.send_replace(Some(root.clone()));
    tracing::info!(socketio = %socketio_addr, api = %api_addr, monitor = %monitor_addr, "Hive started!");
    Ok(RunningHive {
        socketio_addr,
        api_addr,
        monitor_addr,
        root,
        root_join,
        router,
        metrics,
        config,
        pubsub: pubsub_slot,
        connectors: connectors_slot,
        stop,
    })
}

/// The innermost "child X failed: why" of a nested start failure, as "X: why".
fn root_cause(msg: &str) -> String {
    let Some(i) = msg.rfind(" failed: ") else {
        return msg.to_string();
    };
    let why = &msg[i + " failed: ".len()..];
    let child = msg[..i].rsplit(' ').next().unwrap_or_default();
    format!("{child}: {why}")
}

impl RunningHive {
    /// The router.
    pub fn router(&self) -> &Router {
        &self.router
    }
    /// The metrics registry.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }
    /// A token cancelled when the node was asked to stop (API `/hive/stop`); cancel it to stop.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }
    /// The live supervision tree.
    ///
    /// # Errors
    /// When the tree does not answer.
    pub async fn tree(&self, page: Option<(usize, usize)>) -> Result<SupervisorReport, HiveError> {
        full_tree(&self.root, page).await
    }

    /// Run until asked to stop (API `/hive/stop`, or the stop token), then shut down gracefully.
    /// Returns an error when the tree died on its own (restart intensity exceeded at the root).
    ///
    /// # Errors
    /// `hive_error` when the root supervisor failed.
    pub async fn wait(mut self) -> Result<(), HiveError> {
        tokio::select! {
            _ = self.stop.cancelled() => self.shutdown().await,
            _ = &mut self.root_join => Err(HiveError::Startup("the root supervisor stopped: restart intensity exceeded".into())),
        }
    }

    /// Graceful shutdown (HIVE.md 14.1; supervisor-trees.md, "Graceful shutdown"): stop accepting
    /// sessions; every session runs `on_terminate`, then ends with `on_disconnect`; the survivors
    /// of `hive.graceful_termination_timeout` are killed. Then the requests those hooks handed to
    /// the pools finish (within the same timeout), and only then does the tree stop, in reverse
    /// start order, pools last.
    ///
    /// # Errors
    /// When the tree does not stop cleanly.
    pub async fn shutdown(self) -> Result<(), HiveError> {
        let t = Duration::from_millis(self.config.hive.graceful_termination_timeout);
        tracing::info!("Hive will shutdown in {} ms...", t.as_millis());
        let deadline = Instant::now() + t;
        self.router.terminate_all("shutdown".into(), t).await;
        // An `hp.put` returns once a worker has the request: the last sessions may be gone while
        // their requests are still on the way to the backend.
        if let Some(c) = self.connectors.get() {
            let left = c.wait_idle(deadline).await;
            if left > 0 {
                tracing::warn!(
                    "graceful termination: {left} backend requests still in hand after {} ms are \
                     abandoned",
                    t.as_millis()
                );
            }
        }
        if let Some(p) = self.pubsub.get() {
            p.stop();
        }
        let r = self
            .root
            .shutdown()
            .await
            .map_err(|e| HiveError::Startup(e.to_string()));
        let _ = tokio::time::timeout(Duration::from_secs(10), self.root_join).await;
        tracing::info!("Hive stopped");
        r
    }
}

/// What the API may do to the node.
struct AppControl {
    router: Router,
    tables: Arc<Tables>,
    stop: CancellationToken,
    timeout: Duration,
}

impl Control for AppControl {
    fn version(&self) -> String {
        format!("v{}", env!("CARGO_PKG_VERSION"))
    }
    fn stop(&self) {
        self.stop.cancel();
    }
    fn router_enable(&self) {
        self.router.enable();
    }
    fn router_disable(&self) {
        self.router.disable();
    }
    fn router_terminate(&self, reason: String) {
        let (r, t) = (self.router.clone(), self.timeout);
        tokio::spawn(async move { r.terminate_all(reason, t).await });
    }
    fn route_events(&self, sid: &str, events: Vec<InternalEvent>) -> Result<(), HiveError> {
        self.router.route_events(sid, events)
    }
    fn subscribe(&self, sid: &str, cids: Vec<String>, join: bool) -> Result<(), HiveError> {
        let c = self.router.lookup(sid).ok_or_else(|| {
            HiveError::BadSessionId(format!("Tried routing events to an unknown sid: {sid}"))
        })?;
        c.subscribe(cids, join)
    }
    fn plain_events(&self, events: &[InternalEvent]) -> Option<Vec<crate::events::Out>> {
        crate::hooks::pubsub_hooks::plain_events(&self.tables, events)
    }
}
