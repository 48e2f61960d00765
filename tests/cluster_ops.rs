//! Operating a cluster (docs/cluster.md), over a real `redis-server` (started by the test on a free
//! port), in-process nodes A and C and node B as a separate `hive` process (so that it can be
//! paused with SIGSTOP), with real npm `socket.io-client` 0.9 and 4 clients:
//! - issue 16, acceptance 6: B paused for less than `gone_after_ms` catches up (publishes made on A
//!   meanwhile reach its subscriber once, in order); paused past it, B finds it was declared gone,
//!   closes its sessions (0.9 and modern clients disconnected) and rejoins under a new tag, the old
//!   one listed gone and its sids `bad_session_id` on the other nodes;
//! - issue 16, acceptance 9: the cluster view, B's tree and health fetched through A
//!   (`?node=b`, and `hive tree --node b`), `?node=all` metrics summed, an unknown node a 404, and a
//!   partial answer (`{"error":"timeout"}` for B) while B is paused.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
#[path = "support/redis.rs"]
mod redis;

use std::net::SocketAddr;
use std::process::Child;
use std::time::{Duration, Instant};

use common::{JsClient, TestHive, http};
use redis::RedisServer;
use serde_json::{Value, json};

const HASH: &str = "abcde12345";
const MONITOR_HASH: &str = "12345abcde";

fn node_patch(redis: &RedisServer, cluster: &str, node: &str, gone_after_ms: u64) -> Value {
    json!({
        "socketio": {"heartbeat_timeout": 30000, "reconnect_timeout": 60000, "session_timeout": 60000},
        "clients": {
            "hooks": {"join_rooms": [{"hook": "pubsub.subscribe", "args": "public"}]}
        },
        "pubsub": {"channels": {"rooms": {"privilege": "public", "timeout": 0}}},
        "cluster": {
            "name": cluster,
            "redis": format!("redis://127.0.0.1:{}/0", redis.port),
            "node": node,
            "shards": 2,
            "gone_after_ms": gone_after_ms
        }
    })
}

/// Node B: a `hive` process on free ports.
struct Proc {
    child: Child,
    stderr: Option<std::thread::JoinHandle<String>>,
    socketio: u16,
    monitor: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Proc {
    async fn start(patch: Value) -> Proc {
        let dir = tempfile::tempdir().unwrap();
        let ports: Vec<u16> = (0..3).map(|_| redis::free_port()).collect();
        let mut cfg = common::test_config(patch);
        common::merge(
            &mut cfg,
            &json!({"hive": {"port": ports[0]}, "api": {"port": ports[1]}, "monitor": {"port": ports[2]},
                    "log": {"dir": dir.path().join("log").to_str().unwrap()}}),
        );
        let path = dir.path().join("hive.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
        let (child, stderr) =
            common::spawn_hive_binary(env!("CARGO_BIN_EXE_hive"), &path, dir.path());
        let end = Instant::now() + Duration::from_secs(30);
        while !redis::port_open(ports[0]) || !redis::port_open(ports[2]) {
            assert!(Instant::now() < end, "node b did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Proc {
            child,
            stderr: Some(stderr),
            socketio: ports[0],
            monitor: SocketAddr::from(([127, 0, 0, 1], ports[2])),
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.socketio)
    }

    /// Kill the process: its whole stderr (the log).
    fn log(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr.take().unwrap().join().unwrap()
    }

    fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
        if sig == "-STOP" {
            // The stop is asynchronous: wait until every thread is stopped.
            let pid = self.child.id();
            let end = Instant::now() + Duration::from_secs(10);
            while !std::fs::read_dir(format!("/proc/{pid}/task"))
                .unwrap()
                .filter_map(Result::ok)
                .all(|t| {
                    let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
                    let state = stat.rsplit_once(") ").map(|(_, r)| &r[..1]);
                    matches!(state, Some("T" | "t"))
                })
            {
                assert!(Instant::now() < end, "pid {pid} did not stop");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .stderr(std::process::Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn monitor_at(addr: SocketAddr, path: &str) -> (u16, Value) {
    let (s, _, b) = http(
        addr,
        "GET",
        &format!("/monitor/{MONITOR_HASH}{path}"),
        &[],
        b"",
    )
    .await;
    (s, serde_json::from_str(&b).unwrap_or(Value::String(b)))
}

/// The cluster view's (name, tag, status) of every node, from `addr`.
async fn view(addr: SocketAddr) -> Vec<(String, String, String)> {
    let (s, v) = monitor_at(addr, "/cluster").await;
    assert_eq!(s, 200, "{v}");
    v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let s = |k: &str| n[k].as_str().unwrap().to_string();
            (s("name"), s("tag"), s("status"))
        })
        .collect()
}

async fn until_view(
    addr: SocketAddr,
    what: &str,
    f: impl Fn(&[(String, String, String)]) -> bool,
) -> Vec<(String, String, String)> {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let v = view(addr).await;
        if f(&v) {
            return v;
        }
        assert!(Instant::now() < end, "{what}: {v:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn up(v: &[(String, String, String)], name: &str) -> Option<String> {
    v.iter()
        .find(|(n, _, s)| n == name && s == "up")
        .map(|(_, t, _)| t.clone())
}

async fn publish(h: &TestHive, body: &str) {
    let (s, _, t) = http(
        h.api,
        "POST",
        &format!("/api/{HASH}/pubsub/publish/rooms.main"),
        &[],
        body.as_bytes(),
    )
    .await;
    assert_eq!(s, 200, "{t}");
}

async fn subscribed_at(monitor: SocketAddr) -> i64 {
    let (_, v) = monitor_at(monitor, "/channels").await;
    v.to_string().matches("rooms.main").count() as i64
}

fn is_seq(v: &Value) -> bool {
    v["ev"] == "event" && v["name"] == "seq"
}

/// Every 40-hex sid starting with `tag` in `text`.
fn sids_with(text: &str, tag: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_hexdigit())
        .filter(|w| w.len() == 40 && w.starts_with(tag))
        .map(str::to_string)
        .collect()
}

/// The `child_count` of supervisor `id` in a tree report.
fn child_count(tree: &Value, id: &str) -> Option<u64> {
    if tree["id"] == id {
        return tree["child_count"].as_u64();
    }
    tree["children"]
        .as_array()?
        .iter()
        .find_map(|c| child_count(&c["supervisor"], id))
}

/// Issue 16, acceptance 6.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_node_catches_up_or_rejoins_as_a_new_node() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    // Long enough that the short pause (20 publishes, then GONE_MS / 10) stays well under it on
    // a loaded machine.
    const GONE_MS: u64 = 5000;
    const CLUSTER: &str = "ops_rejoin";
    let a = TestHive::start(node_patch(&redis, CLUSTER, "a", GONE_MS)).await;
    let b = Proc::start(node_patch(&redis, CLUSTER, "b", GONE_MS)).await;
    let v = until_view(a.monitor, "a and b up", |v| {
        up(v, "a").is_some() && up(v, "b").is_some()
    })
    .await;
    let old_tag = up(&v, "b").unwrap();

    let mut old09 = JsClient::connect(&b.url(), "websocket");
    old09.wait_ev("connect");
    old09.emit("join_rooms", json!([{"rooms": ["main"]}]));
    let mut old4 = JsClient::spawn(
        "tests/js/sio4_client.js",
        &[&b.url(), "websocket", "{}", "4"],
        &[],
    );
    old4.wait_ev("connect");
    let end = Instant::now() + Duration::from_secs(10);
    while subscribed_at(b.monitor).await == 0 {
        assert!(Instant::now() < end, "b's client never subscribed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Under gone_after_ms: B catches up from its stream position.
    b.signal("-STOP");
    for i in 0..20 {
        publish(&a, &format!(r#"{{"name":"seq","args":[{i}]}}"#)).await;
    }
    tokio::time::sleep(Duration::from_millis(GONE_MS / 10)).await;
    b.signal("-CONT");
    for i in 0..20 {
        let e = old09.wait_for(Duration::from_secs(20), is_seq);
        assert_eq!(e["args"], json!([i]), "once each, in order");
    }
    assert!(old09.quiet_for(Duration::from_millis(300), is_seq));
    let (_, m) = monitor_at(b.monitor, "").await;
    assert_eq!(m["cluster"]["rejoins"], json!(0), "{m}");
    assert_eq!(
        up(&view(a.monitor).await, "b").as_deref(),
        Some(old_tag.as_str()),
        "same tag after a short pause"
    );
    let (_, tree) = monitor_at(b.monitor, "/tree?children=all").await;
    let old_sids = sids_with(&tree.to_string(), &old_tag);
    assert_eq!(old_sids.len(), 2, "{tree}");

    // Over gone_after_ms: A declares B gone (and marks it so); B, resumed, rejoins.
    b.signal("-STOP");
    until_view(a.monitor, "b gone", |v| {
        v.iter()
            .any(|(n, t, s)| n == "b" && *t == old_tag && s == "gone")
    })
    .await;
    let marker = format!("{CLUSTER}:gone:{old_tag}");
    let end = Instant::now() + Duration::from_secs(30);
    while redis.cli(&["EXISTS", &marker]).trim() != "1" {
        assert!(Instant::now() < end, "a never marked b gone");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The old sid is refused by A at once, without trying to reach B.
    let action = format!("/api/{HASH}/pubsub/subscribe/{}", old_sids[0]);
    let (s, _, t) = http(a.api, "POST", &action, &[], br#"["rooms.side"]"#).await;
    assert_eq!(
        (
            s,
            serde_json::from_str::<Value>(&t).unwrap()["error"].clone()
        ),
        (500, json!("bad_session_id")),
        "{t}"
    );
    b.signal("-CONT");

    let e = old09.wait_for(Duration::from_secs(30), |v| v["ev"] == "disconnect");
    assert_eq!(e["ev"], "disconnect");
    let e = old4.wait_for(Duration::from_secs(30), |v| v["ev"] == "disconnect");
    assert_eq!(
        e["reason"], "transport close",
        "a clean close the client reconnects after, not a namespace DISCONNECT"
    );
    let v = until_view(a.monitor, "b rejoined under a new tag", |v| {
        up(v, "b").is_some_and(|t| t != old_tag)
    })
    .await;
    let new_tag = up(&v, "b").unwrap();
    assert!(
        v.iter()
            .any(|(n, t, s)| n == "b" && *t == old_tag && s == "gone"),
        "{v:?}"
    );
    let (_, metrics) = monitor_at(b.monitor, "").await;
    assert_eq!(metrics["cluster"]["rejoins"], json!(1), "{metrics}");
    // A new session on B carries the new tag; the old sids stay refused everywhere.
    let mut new09 = JsClient::connect(&b.url(), "websocket");
    new09.wait_ev("connect");
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, tree) = monitor_at(b.monitor, "/tree?children=all").await;
        let text = tree.to_string();
        if sids_with(&text, &new_tag).len() == 1 {
            assert!(sids_with(&text, &old_tag).is_empty(), "{text}");
            break;
        }
        assert!(Instant::now() < end, "{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (s, _, t) = http(a.api, "POST", &action, &[], br#"["rooms.side"]"#).await;
    assert_eq!(s, 500, "{t}");
    assert!(a.metric("cluster.nodes_declared_gone") >= 1);
    drop((new09, old09, old4));
    let log = b.log();
    assert!(
        log.contains("this node was declared gone") && log.contains(&new_tag),
        "{log}"
    );
    a.stop().await;
}

/// Issue 16, acceptance 9.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_monitor_route_answers_for_any_node() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    // Long enough that a paused B stays listed (not gone) while the partial answer is checked.
    const GONE_MS: u64 = 60_000;
    const CLUSTER: &str = "ops_monitor";
    let a = TestHive::start(node_patch(&redis, CLUSTER, "a", GONE_MS)).await;
    let c = TestHive::start(node_patch(&redis, CLUSTER, "c", GONE_MS)).await;
    let b = Proc::start(node_patch(&redis, CLUSTER, "b", GONE_MS)).await;
    until_view(a.monitor, "three nodes up", |v| {
        ["a", "b", "c"].iter().all(|n| up(v, n).is_some())
    })
    .await;
    let (_, cl) = monitor_at(a.monitor, "/cluster").await;
    for n in cl["nodes"].as_array().unwrap() {
        assert!(n["monitor"].as_str().unwrap().contains(':'), "{cl}");
    }
    let on_b: Vec<JsClient> = (0..2)
        .map(|_| {
            let mut c = JsClient::connect(&b.url(), "websocket");
            c.wait_ev("connect");
            c
        })
        .collect();
    let mut on_c = JsClient::connect(&c.url(), "websocket");
    on_c.wait_ev("connect");

    // B's answers through A (and through C), relayed as is.
    let (s, health) = monitor_at(a.monitor, "/health?node=b").await;
    assert_eq!(
        (s, &health["cluster"]["node"]),
        (200, &json!("b")),
        "{health}"
    );
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let (s, tree) = monitor_at(c.monitor, "/tree?node=b&children=all").await;
        assert_eq!(s, 200, "{tree}");
        if child_count(&tree, "clients_sup") == Some(2) {
            break;
        }
        assert!(Instant::now() < end, "{tree}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (s, own) = monitor_at(a.monitor, "/health?node=a").await;
    assert_eq!((s, &own["cluster"]["node"]), (200, &json!("a")));
    let (s, _, text) = http(
        a.monitor,
        "GET",
        &format!("/monitor/{MONITOR_HASH}/metrics?node=b"),
        &[],
        b"",
    )
    .await;
    assert!(s == 200 && text.contains("# TYPE"), "{text}");
    let (s, _, text) = http(
        a.monitor,
        "GET",
        &format!("/monitor/{MONITOR_HASH}/metrics?node=all"),
        &[],
        b"",
    )
    .await;
    assert!(
        s == 200
            && ["a", "b", "c"]
                .iter()
                .all(|n| text.contains(&format!("hive_monitor_node_up{{hive_node=\"{n}\"}} 1"))),
        "{text}"
    );
    assert_eq!(
        text.matches("# TYPE hive_router_current_clients ").count(),
        1,
        "{text}"
    );

    // `hive tree --node b` and `--node all` through A.
    let run = |node: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_hive"))
            .args([
                "tree",
                "--monitor",
                &format!("http://{}", a.monitor),
                "--hash",
                MONITOR_HASH,
                "--node",
                node,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let text = run("b");
    assert!(text.contains("clients_sup") && text.contains("2"), "{text}");
    let text = run("all");
    for n in ["== a", "== b", "== c"] {
        assert!(text.contains(n), "{text}");
    }

    // `?node=all`: the sum of every node's metrics, and each node's own.
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let (s, all) = monitor_at(a.monitor, "?node=all").await;
        assert_eq!(s, 200, "{all}");
        let per: Vec<i64> = ["a", "b", "c"]
            .iter()
            .map(|n| {
                all["nodes"][n]["hive"]["router"]["current_clients"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        let sum = all["sum"]["hive"]["router"]["current_clients"].as_i64();
        if per == [0, 2, 1] {
            assert_eq!(sum, Some(3), "{all}");
            break;
        }
        assert!(Instant::now() < end, "{all}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // An unknown node is a 404 with Hive's error body.
    let (s, e) = monitor_at(a.monitor, "/tree?node=zz").await;
    assert_eq!(
        (s, &e["error"]),
        (404, &json!("bad_monitor_request")),
        "{e}"
    );
    // A wrong hash is refused before anything is relayed.
    let (s, _, _) = http(a.monitor, "GET", "/monitor/nope/tree?node=b", &[], b"").await;
    assert_eq!(s, 401);

    // B paused: a partial answer, B marked as not answering in time.
    b.signal("-STOP");
    let (s, all) = monitor_at(a.monitor, "/health?node=all").await;
    assert_eq!(s, 200, "{all}");
    let (_, cl) = monitor_at(a.monitor, "/cluster").await;
    assert_eq!(
        all["nodes"]["b"]["error"],
        "timeout",
        "{all} {cl} b's pid {} ports {} {}; ps: {}; ss: {}",
        b.child.id(),
        b.socketio,
        b.monitor,
        String::from_utf8_lossy(
            &std::process::Command::new("ps")
                .args(["-o", "pid,stat,args", "-p", &b.child.id().to_string()])
                .output()
                .map(|o| o.stdout)
                .unwrap_or_default()
        ),
        String::from_utf8_lossy(
            &std::process::Command::new("ss")
                .args(["-ltnp", &format!("sport = :{}", b.monitor.port())])
                .output()
                .map(|o| o.stdout)
                .unwrap_or_default()
        )
    );
    assert_eq!(all["nodes"]["a"]["cluster"]["node"], "a", "{all}");
    assert_eq!(all["nodes"]["c"]["cluster"]["node"], "c", "{all}");
    let (s, all) = monitor_at(a.monitor, "?node=all").await;
    assert_eq!(s, 200, "{all}");
    assert_eq!(all["nodes"]["b"]["error"], "timeout", "{all}");
    assert_eq!(
        all["sum"]["hive"]["router"]["current_clients"],
        json!(1),
        "{all}"
    );
    let (s, e) = monitor_at(a.monitor, "/tree?node=b").await;
    assert_eq!(
        (s, &e["error"]),
        (504, &json!("backplane_unavailable")),
        "{e}"
    );
    let (_, text) = monitor_at(a.monitor, "/metrics?node=all").await;
    let text = text.as_str().unwrap();
    assert!(
        text.contains("hive_monitor_node_up{hive_node=\"b\"} 0")
            && text.contains("# node b: timeout")
            && text.contains("hive_router_current_clients{hive_node=\"c\"} 1"),
        "{text}"
    );
    b.signal("-CONT");

    drop((on_b, on_c));
    drop(b);
    a.stop().await;
    c.stop().await;
}
