//! Monitor acceptance tests against a whole node (`hive::app::start`): real sessions from the npm
//! `socket.io-client@0.9.16`, the real supervision tree, the page in headless Chromium.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{JsClient, TestHive, http};
use crate::{find_sup, tree_e2e};

const HASH: &str = "12345abcde";

/// GET a monitor route; (status, body).
async fn mon(addr: SocketAddr, route: &str) -> (u16, String) {
    let path = if route.is_empty() {
        format!("/monitor/{HASH}")
    } else {
        format!("/monitor/{HASH}/{route}")
    };
    let (status, _, body) = http(addr, "GET", &path, &[], b"").await;
    (status, body)
}

async fn mon_json(addr: SocketAddr, route: &str) -> Value {
    let (status, body) = mon(addr, route).await;
    assert_eq!(status, 200, "GET {route}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// The value of a dotted metric read through the monitor (0 when absent).
async fn metric(addr: SocketAddr, name: &str) -> i64 {
    let (status, body) = mon(addr, name).await;
    if status == 404 {
        return 0;
    }
    let v: Value = serde_json::from_str(&body).unwrap();
    name.split('.')
        .try_fold(&v, |cur, seg| cur.get(seg))
        .and_then(Value::as_i64)
        .unwrap()
}

async fn clients_sup_count(addr: SocketAddr) -> u64 {
    let tree = mon_json(addr, "tree").await;
    find_sup(&tree, "clients_sup").expect("clients_sup in the tree")["child_count"]
        .as_u64()
        .unwrap()
}

/// Poll `f` until it returns `want` (bounded).
async fn eventually<F, Fut>(what: &str, want: i64, f: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = i64>,
{
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let got = f().await;
        if got == want {
            return;
        }
        assert!(Instant::now() < end, "{what}: still {got}, want {want}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Long heartbeats so no heartbeat frame lands among the counted events.
fn quiet_patch() -> Value {
    json!({"socketio": {"heartbeat_timeout": 30000, "reconnect_timeout": 60000, "session_timeout": 60000}})
}

/// HIVE.md 10.3 `hive.router.current_clients` and the tree's dynamic `clients_sup`: 0 -> 3 -> 0 as
/// three real clients connect and leave; Prometheus agrees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn current_clients_and_clients_sup_follow_sessions() {
    let h = TestHive::start(quiet_patch()).await;
    let m = h.monitor;
    assert_eq!(metric(m, "hive.router.current_clients").await, 0);
    assert_eq!(clients_sup_count(m).await, 0);
    let mut clients = JsClient::connect_all(&h.url(), &["websocket", "xhr-polling", "websocket"]);
    assert_eq!(metric(m, "hive.router.current_clients").await, 3);
    eventually("clients_sup children", 3, || async {
        clients_sup_count(m).await as i64
    })
    .await;
    let all = mon_json(m, "tree?children=all&offset=0&limit=10").await;
    let listed = find_sup(&all, "clients_sup").unwrap()["children"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(listed, 3);
    let (_, prom) = mon(m, "metrics").await;
    assert!(
        prom.lines().any(|l| l == "hive_router_current_clients 3"),
        "{prom}"
    );
    assert!(
        prom.lines()
            .any(|l| l == "hive_supervisor_children{supervisor=\"clients_sup\"} 3"),
        "{prom}"
    );

    for c in &mut clients {
        c.disconnect();
    }
    eventually("current_clients", 0, || {
        metric(m, "hive.router.current_clients")
    })
    .await;
    eventually("clients_sup children", 0, || async {
        clients_sup_count(m).await as i64
    })
    .await;
    assert_eq!(metric(m, "hive.router.spawned_clients").await, 3);
    h.stop().await;
}

/// HIVE.md 10.3 `clients.events.*` and `clients.hooks.*`: counters move by exactly what was sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_and_hook_counters_move_by_exact_counts() {
    let h = TestHive::start(quiet_patch()).await;
    let m = h.monitor;
    let mut c = JsClient::connect(&h.url(), "websocket");
    c.wait_ev("connect");
    let external0 = metric(m, "clients.events.external").await;
    let total0 = metric(m, "clients.events.total").await;
    let hooks0 = metric(m, "clients.hooks.calls").await;
    assert_eq!(metric(m, "clients.hooks.echo.calls").await, 0);
    const N: i64 = 7;
    for i in 0..N {
        c.emit("echo", json!([i]));
        c.wait_event("echo");
    }
    assert_eq!(metric(m, "clients.hooks.echo.calls").await, N);
    assert_eq!(metric(m, "clients.hooks.calls").await - hooks0, N);
    assert_eq!(metric(m, "clients.events.external").await - external0, N);
    assert_eq!(metric(m, "clients.events.total").await - total0, N);
    assert_eq!(metric(m, "clients.hooks.echo.errors").await, 0);
    let (_, prom) = mon(m, "metrics").await;
    assert!(
        prom.lines()
            .any(|l| l == format!("clients_hooks_event_calls{{event=\"echo\"}} {N}")),
        "{prom}"
    );
    c.disconnect();
    h.stop().await;
}

/// HIVE.md 10.1: a wrong hash gets the documented 401 from the real node; the real tree has the
/// root supervisor with its subtrees; health reports the router accepting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_node_auth_tree_and_health() {
    let h = TestHive::start(json!({})).await;
    let (status, _, body) = http(h.monitor, "GET", "/monitor/not-the-hash/hive", &[], b"").await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        r#"{"error":"bad_monitor_request","description":"Unauthorized Hive Monitor access attempt!"}"#
    );
    let tree = mon_json(h.monitor, "tree").await;
    assert_eq!(tree["id"], "root_sup");
    for id in [
        "env_sup",
        "hive_sup",
        "router_sup",
        "clients_sup",
        "web_sup",
    ] {
        assert!(find_sup(&tree, id).is_some(), "{id} missing from {tree}");
    }
    let text = hive::admin::fetch_and_print_tree(&format!("http://{}", h.monitor), HASH, false)
        .await
        .unwrap();
    assert!(text.starts_with("root_sup ("), "{text}");
    assert!(text.contains("clients_sup (simple_one_for_one"), "{text}");
    let health = mon_json(h.monitor, "health").await;
    assert_eq!(health["router_accepting"], true);
    h.stop().await;
}

/// tree.html served by a real node loads in headless Chromium and shows `root_sup`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_tree_page_in_headless_chromium() {
    let h = TestHive::start(json!({})).await;
    let url = format!("http://{}/monitor/{HASH}/tree.html", h.monitor);
    let out = tree_e2e(&[url.as_str(), "root_sup"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "e2e failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ok: root_sup"), "{stdout}");
    h.stop().await;
}
