//! The chat demo as a cluster (`cargo run --release -p chat -- --cluster 3`): N Hive nodes of one
//! cluster (docs/cluster.md) sharing one Redis, the chat backend, and a load balancer in front of
//! them without stickiness, so that every request of a session may reach any node and the nodes
//! forward it to the session's owner. The page connects to the balancer.
//!
//! - **Redis**: the one answering on `localhost:<redis port>`, else a `redis-server` started here
//!   (a child process, no persistence, stopped with the demo).
//! - **Load balancer**: HAProxy when installed (`balance roundrobin`, per request, no
//!   stickiness), else the embedded equivalent: a small round-robin TCP proxy in this process (each
//!   new connection goes to the next node; a browser's requests spread over several
//!   connections, so a session's requests still reach several nodes).
//! - **Nodes**: the chat configuration (`config.json`, `sm.redis`) plus a `cluster` section; node
//!   1 has the configured API and monitor ports (the backend publishes through node 1's API),
//!   the others any free port; every node's Socket.IO listener is on a free port, advertised to
//!   the others.

// Shared through `#[path]` by the runner and the tests; each uses a different subset.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::server;
use super::setup::{self, Ports, StateChoice};
use super::web;

/// Which load balancer to put in front of the nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balancer {
    /// HAProxy when installed, the embedded proxy otherwise.
    Auto,
    /// HAProxy (fails when it is not installed).
    Haproxy,
    /// The embedded round-robin TCP proxy.
    Embedded,
}

/// How to start the cluster demo.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Number of Hive nodes (at least 1).
    pub nodes: usize,
    /// `hive`: the balancer's port (the page connects there); `api`, `monitor`: node 1's;
    /// `backend`, `web`, `redis` as for the single-node demo. `hive` and `web` may be 0.
    pub ports: Ports,
    /// The load balancer.
    pub balancer: Balancer,
    /// The Socket.IO 0.9 browser bundle to serve as `/socket.io.js`.
    pub socketio_js: PathBuf,
}

/// A child process killed (and reaped) when dropped, so that no redis-server or HAProxy outlives
/// the demo, whatever way it ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The load balancer in use.
enum Lb {
    Haproxy { _child: Reaped, config: PathBuf },
    Embedded { stop: CancellationToken },
}

impl Drop for Lb {
    fn drop(&mut self) {
        match self {
            Lb::Haproxy { config, .. } => {
                let _ = std::fs::remove_file(config);
            }
            Lb::Embedded { stop } => stop.cancel(),
        }
    }
}

/// The running cluster demo.
pub struct ClusterDemo {
    /// The nodes, node 1 first.
    pub nodes: Vec<hive::app::RunningHive>,
    /// The in-process backend.
    pub backend: server::Backend,
    /// The page's web server.
    pub web: web::WebServer,
    /// Where the balancer listens.
    pub balancer_addr: SocketAddr,
    /// "HAProxy" or "embedded round-robin TCP proxy".
    pub balancer_name: &'static str,
    /// `Some`: the redis-server started by the demo.
    redis: Option<Reaped>,
    lb: Option<Lb>,
}

impl ClusterDemo {
    /// The URL of the page.
    pub fn page_url(&self) -> String {
        format!("http://localhost:{}/", self.web.addr().port())
    }

    /// Whether the demo started its own redis-server.
    pub fn started_redis(&self) -> bool {
        self.redis.is_some()
    }

    /// Stop the page, the balancer, the nodes (gracefully), the backend and the demo's Redis.
    ///
    /// # Errors
    /// The first node's shutdown error, as text.
    pub async fn shutdown(mut self) -> Result<(), String> {
        self.web.shutdown().await;
        drop(self.lb.take());
        let mut result = Ok(());
        for node in self.nodes.drain(..) {
            if let Err(e) = node.shutdown().await
                && result.is_ok()
            {
                result = Err(format!("Hive shutdown: {e}"));
            }
        }
        self.backend.shutdown().await;
        drop(self.redis.take());
        result
    }
}

/// The HAProxy binary, if installed.
pub fn haproxy() -> Option<PathBuf> {
    let candidates = [PathBuf::from("/usr/sbin/haproxy")];
    let from_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("haproxy"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    candidates
        .into_iter()
        .chain(from_path)
        .find(|p| p.is_file())
}

/// Start `redis-server` on `port` (no persistence) and wait for its PONG.
fn spawn_redis(port: u16) -> Result<Reaped, String> {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            format!(
                "the cluster demo needs Redis: none answers on localhost:{port} and \
                 redis-server cannot be started ({e}); install redis-server or start one"
            )
        })?;
    let end = Instant::now() + Duration::from_secs(10);
    while !setup::redis_alive("127.0.0.1", port, Duration::from_millis(200)) {
        if Instant::now() > end {
            drop(Reaped(child));
            return Err(format!("redis-server did not answer on port {port}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Reaped(child))
}

/// Start HAProxy on `addr`, round robin over `nodes`.
fn start_haproxy(bin: &Path, addr: SocketAddr, nodes: &[SocketAddr]) -> Result<Lb, String> {
    let servers: String = nodes
        .iter()
        .enumerate()
        .map(|(i, a)| format!("    server node-{} {a}\n", i + 1))
        .collect();
    let text = format!(
        "# The Hive chat cluster demo's balancer: round robin per request, no stickiness.\n\
         global\n    maxconn 4096\n\
         defaults\n    mode http\n    timeout connect 5s\n    timeout client 120s\n    \
         timeout server 120s\n    timeout tunnel 1h\n\
         frontend chat\n    bind {addr}\n    default_backend hive\n\
         backend hive\n    balance roundrobin\n{servers}"
    );
    let config = std::env::temp_dir().join(format!("hive-chat-haproxy-{}.cfg", std::process::id()));
    std::fs::write(&config, text).map_err(|e| format!("{}: {e}", config.display()))?;
    let child = Command::new(bin)
        .arg("-db")
        .arg("-f")
        .arg(&config)
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let lb = Lb::Haproxy {
        _child: Reaped(child),
        config,
    };
    let end = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(addr).is_err() {
        if Instant::now() > end {
            return Err(format!("HAProxy did not listen on {addr}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(lb)
}

/// The embedded balancer: each accepted connection is spliced to the next node in turn.
fn start_embedded(listener: TcpListener, nodes: Vec<SocketAddr>) -> Lb {
    let stop = CancellationToken::new();
    let token = stop.clone();
    tokio::spawn(async move {
        let mut next = 0usize;
        loop {
            let (mut client, _) = tokio::select! {
                () = token.cancelled() => break,
                r = listener.accept() => match r {
                    Ok(c) => c,
                    Err(_) => continue,
                },
            };
            let node = nodes[next % nodes.len()];
            next = next.wrapping_add(1);
            let token = token.clone();
            tokio::spawn(async move {
                let Ok(mut upstream) = TcpStream::connect(node).await else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = upstream.set_nodelay(true);
                tokio::select! {
                    () = token.cancelled() => {}
                    _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
                }
            });
        }
    });
    Lb::Embedded { stop }
}

/// Start Redis (unless one answers), the backend, the nodes, the balancer and the page.
///
/// # Errors
/// What failed, as a message for the user.
pub async fn start(opts: ClusterOptions) -> Result<ClusterDemo, String> {
    let localhost = |port| SocketAddr::from(([127, 0, 0, 1], port));
    let mut ports = opts.ports;
    let n = opts.nodes.max(1);
    let redis = if setup::redis_alive("127.0.0.1", ports.redis, Duration::from_millis(300)) {
        None
    } else {
        let port = ports.redis;
        Some(
            tokio::task::spawn_blocking(move || spawn_redis(port))
                .await
                .map_err(|e| e.to_string())??,
        )
    };
    // The balancer's and the page's ports are needed before the nodes start (allowed origins).
    let lb_listener = TcpListener::bind(localhost(ports.hive))
        .await
        .map_err(|e| {
            format!(
                "cannot listen on 127.0.0.1:{} for the balancer: {e}",
                ports.hive
            )
        })?;
    let balancer_addr = lb_listener.local_addr().map_err(|e| e.to_string())?;
    let web_probe = std::net::TcpListener::bind(localhost(ports.web))
        .map_err(|e| format!("cannot listen on 127.0.0.1:{} for the page: {e}", ports.web))?;
    ports.web = web_probe.local_addr().map_err(|e| e.to_string())?.port();
    drop(web_probe);

    let first = setup::chat_config(StateChoice::Redis, &ports)?;
    let backend = server::start(
        localhost(ports.backend),
        &setup::api_url(localhost(ports.api), &first),
    )
    .await
    .map_err(|e| {
        format!(
            "cannot start the chat backend on 127.0.0.1:{}: {e}",
            ports.backend
        )
    })?;
    let mut nodes = Vec::new();
    for i in 0..n {
        let node_ports = Ports {
            hive: 0,
            api: if i == 0 { ports.api } else { 0 },
            monitor: if i == 0 { ports.monitor } else { 0 },
            backend: backend.addr().port(),
            ..ports
        };
        let mut config = setup::chat_config(StateChoice::Redis, &node_ports)?;
        config["cluster"] = json!({
            "name": "chat",
            "redis": format!("redis://127.0.0.1:{}/0", ports.redis),
            "node": format!("node-{}", i + 1),
        });
        let loaded = hive::config::from_value(config).map_err(|e| format!("chat config: {e}"))?;
        let started = hive::app::start(
            loaded.config,
            hive::app::StartOptions {
                mode: hive::Mode::Dev,
                ..Default::default()
            },
        )
        .await;
        match started {
            Ok(h) => nodes.push(h),
            Err(err) => {
                for h in nodes {
                    let _ = h.shutdown().await;
                }
                backend.shutdown().await;
                return Err(format!("Hive node {} did not start: {err}", i + 1));
            }
        }
    }
    let addrs: Vec<SocketAddr> = nodes.iter().map(|h| h.socketio_addr).collect();
    let bin = match opts.balancer {
        Balancer::Embedded => None,
        Balancer::Auto => haproxy(),
        Balancer::Haproxy => Some(haproxy().ok_or("--lb haproxy: HAProxy is not installed")?),
    };
    let (lb, balancer_name) = match bin {
        Some(bin) => {
            drop(lb_listener);
            let lb =
                tokio::task::spawn_blocking(move || start_haproxy(&bin, balancer_addr, &addrs))
                    .await
                    .map_err(|e| e.to_string())??;
            (lb, "HAProxy")
        }
        None => (
            start_embedded(lb_listener, addrs),
            "embedded round-robin TCP proxy",
        ),
    };
    let site = web::Site {
        frontend_dir: setup::frontend_dir(),
        socketio_js: opts.socketio_js.clone(),
        hive_port: balancer_addr.port(),
    };
    let web = web::start(localhost(ports.web), site)
        .await
        .map_err(|e| format!("cannot serve the page on 127.0.0.1:{}: {e}", ports.web))?;
    Ok(ClusterDemo {
        nodes,
        backend,
        web,
        balancer_addr,
        balancer_name,
        redis,
        lb: Some(lb),
    })
}
