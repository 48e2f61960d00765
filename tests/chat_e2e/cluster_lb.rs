//! Issue 16, acceptance 7: three Hive nodes of one cluster (one real `redis-server`, the seed's
//! chat config plus a `cluster` section, one real chat backend on port 0) behind HAProxy from
//! Debian in `balance roundrobin` with no stickiness. Every request of a session may reach any
//! node: the node that does not own the session forwards it (docs/cluster.md). The seed chat
//! runs end to end through HAProxy with a 0.9 user on WebSocket and a socket.io-client 4 user on
//! polling upgraded to WebSocket, then with a 0.9 user on xhr-polling and a socket.io-client 4 user
//! on polling only; sessions are created on all three nodes and requests were forwarded.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use super::demo::{cluster, server, setup};
use super::harness::free_port;
use super::redis::RedisServer;
use super::seed_mixed::{converse_over, node_clients_available, seed_config};

const HAPROXY: &str = "/usr/sbin/haproxy";

/// HAProxy from Debian; its absence fails under `CI=true` (scripts/test.sh installs it).
fn haproxy_available() -> bool {
    if std::path::Path::new(HAPROXY).exists() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{HAPROXY} is required under CI=true (apt-get install -y haproxy; scripts/test.sh does)"
    );
    eprintln!("skipping the load-balancer test: {HAPROXY} is missing");
    false
}

/// A running HAProxy, killed on drop.
struct Haproxy {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Haproxy {
    /// Round robin over `nodes`, no stickiness, long tunnels for WebSockets.
    fn start(nodes: &[SocketAddr]) -> Haproxy {
        let port = free_port();
        let servers: String = nodes
            .iter()
            .enumerate()
            .map(|(i, a)| format!("    server n{i} {a}\n"))
            .collect();
        let cfg = format!(
            "global\n    maxconn 4096\n\
             defaults\n    mode http\n    timeout connect 5s\n    timeout client 120s\n    \
             timeout server 120s\n    timeout tunnel 1h\n\
             frontend chat\n    bind 127.0.0.1:{port}\n    default_backend hive\n\
             backend hive\n    balance roundrobin\n{servers}"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("haproxy.cfg");
        std::fs::write(&file, cfg).unwrap();
        let check = Command::new(HAPROXY)
            .arg("-c")
            .arg("-f")
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "haproxy -c: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let child = Command::new(HAPROXY)
            .arg("-db")
            .arg("-f")
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let end = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < end, "haproxy did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Haproxy {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One blocking 0.9 handshake through the balancer (its session is never used: it ends at
/// `init_timeout`).
fn handshake(port: u16) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into();
    let mut r = agent
        .get(format!("http://127.0.0.1:{port}/socket.io/1/"))
        .header("Origin", "null")
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body = r.body_mut().read_to_string().unwrap();
    assert_eq!(body.split(':').next().map(str::len), Some(40), "{body}");
}

#[test]
fn the_seed_chat_through_haproxy_round_robin_on_three_nodes() {
    if !node_clients_available() || !haproxy_available() {
        return;
    }
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let localhost = |port| SocketAddr::from(([127, 0, 0, 1], port));
    // The backend talks to node A's API (publishes reach every node through Redis).
    let api_a = free_port();
    let (nodes, backend) = rt.block_on(async {
        let probe = seed_config(api_a, localhost(1), redis.port);
        let backend = server::start(localhost(0), &setup::api_url(localhost(api_a), &probe))
            .await
            .expect("the chat backend starts");
        let mut nodes = Vec::new();
        for (i, name) in ["a", "b", "c"].into_iter().enumerate() {
            let mut config =
                seed_config(if i == 0 { api_a } else { 0 }, backend.addr(), redis.port);
            config["cluster"] = json!({
                "name": "chat_lb",
                "redis": format!("redis://127.0.0.1:{}/0", redis.port),
                "node": name,
            });
            let loaded = hive::config::from_value(config).expect("the seed config loads");
            let hive = hive::app::start(
                loaded.config,
                hive::app::StartOptions {
                    mode: hive::Mode::Dev,
                    ..Default::default()
                },
            )
            .await
            .expect("a node starts on the seed config");
            nodes.push(hive);
        }
        (nodes, backend)
    });
    let lb = Haproxy::start(&nodes.iter().map(|n| n.socketio_addr).collect::<Vec<_>>());
    let url = format!("http://127.0.0.1:{}", lb.port);
    let metric = |i: usize, name: &str| nodes[i].metrics().get(name);

    // Round robin: three handshakes in a row create one session on each node.
    for _ in 0..3 {
        handshake(lb.port);
    }
    for i in 0..3 {
        assert!(
            metric(i, "hive.router.spawned_clients") >= 1,
            "node {i} created a session"
        );
    }

    converse_over(&url, &redis, "websocket", "polling,websocket");
    converse_over(&url, &redis, "xhr-polling", "polling");

    let forwarded: Vec<i64> = (0..3).map(|i| metric(i, "cluster.forwarded")).collect();
    let errors: Vec<i64> = (0..3)
        .map(|i| metric(i, "cluster.forward_errors"))
        .collect();
    let spawned: Vec<i64> = (0..3)
        .map(|i| metric(i, "hive.router.spawned_clients"))
        .collect();
    eprintln!("forwarded per node {forwarded:?}, errors {errors:?}, sessions {spawned:?}");
    assert!(
        forwarded.iter().sum::<i64>() > 0,
        "requests were forwarded: {forwarded:?}"
    );
    assert_eq!(errors, [0, 0, 0], "no forward failed");
    drop(lb);
    rt.block_on(async {
        for n in nodes {
            n.shutdown().await.expect("a node stops");
        }
        backend.shutdown().await;
    });
}

/// The one-command cluster demo (`cargo run -p chat -- --cluster 3 --lb embedded`): three nodes,
/// Redis, the backend and the embedded round-robin TCP proxy; the seed chat runs through the
/// proxy and requests were forwarded between the nodes.
#[test]
fn the_cluster_demo_runs_the_chat_through_its_embedded_balancer() {
    if !node_clients_available() {
        return;
    }
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let demo = rt
        .block_on(cluster::start(cluster::ClusterOptions {
            nodes: 3,
            ports: setup::Ports {
                hive: 0,
                api: free_port(),
                monitor: 0,
                backend: 0,
                web: 0,
                redis: redis.port,
            },
            balancer: cluster::Balancer::Embedded,
            socketio_js: setup::socketio_js(&setup::repo_root()),
        }))
        .expect("the cluster demo starts");
    assert!(!demo.started_redis(), "it uses the Redis that answers");
    assert_eq!(demo.nodes.len(), 3);
    let url = format!("http://127.0.0.1:{}", demo.balancer_addr.port());
    converse_over(&url, &redis, "websocket", "polling,websocket");
    converse_over(&url, &redis, "xhr-polling", "polling");
    let forwarded: i64 = demo
        .nodes
        .iter()
        .map(|n| n.metrics().get("cluster.forwarded"))
        .sum();
    assert!(forwarded > 0, "requests were forwarded between the nodes");
    rt.block_on(demo.shutdown()).expect("the demo stops");
}
