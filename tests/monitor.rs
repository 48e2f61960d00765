//! Monitor listener (HIVE.md section 10, errors 11.1): every route over real HTTP on 127.0.0.1,
//! with a real metrics registry and a hand-made supervision tree; the page in headless Chromium.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/backend.rs"]
mod backend;
mod common;
#[path = "monitor/full_stack.rs"]
mod full_stack;
#[path = "monitor/pool_restarts.rs"]
mod pool_restarts;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hive::HiveError;
use hive::admin::{BoxFut, Health, MonitorCtx, PoolHealth, TreeQuery, fetch_and_print_tree, serve};
use hive::metrics::{INIT_METRICS, Metrics};
use otp::{ChildReport, IntensityReport, SupervisorReport};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

const HASH: &str = "12345abcde";

/// What the test controls behind the monitor's closures.
struct World {
    /// Live children of the dynamic `clients_sup`.
    clients: AtomicUsize,
    /// Restarts reported by `pool_sup`.
    pool_restarts: AtomicUsize,
    /// When set, every tree fetch adds one client (for the page's refresh check).
    grow_on_fetch: std::sync::atomic::AtomicBool,
    /// Last query the tree closure received.
    last_query: Mutex<Option<TreeQuery>>,
    health: Mutex<Health>,
    refreshes: AtomicUsize,
}

struct Mon {
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    world: Arc<World>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn worker(id: &str, restart: &str) -> ChildReport {
    ChildReport {
        id: id.into(),
        kind: "worker".into(),
        restart: restart.into(),
        restarts: 0,
        status: "running".into(),
        actor_id: Some("0.1".into()),
        supervisor: None,
    }
}

fn sup_child(r: SupervisorReport) -> ChildReport {
    ChildReport {
        id: r.id.clone(),
        kind: "supervisor".into(),
        restart: "permanent".into(),
        restarts: 0,
        status: "running".into(),
        actor_id: None,
        supervisor: Some(Box::new(r)),
    }
}

fn sup(id: &str, strategy: &str, max: (u32, u64), children: Vec<ChildReport>) -> SupervisorReport {
    SupervisorReport {
        id: id.into(),
        strategy: strategy.into(),
        intensity: IntensityReport {
            max_restarts: max.0,
            max_seconds: max.1,
        },
        restarts: 0,
        child_count: children.len(),
        max_children: None,
        children,
        children_truncated: false,
    }
}

/// The hand-made tree: root_sup -> {router_sup -> {router, clients_sup[N]}, pool_sup -> {w1, w2}}.
fn tree(world: &World, q: TreeQuery) -> SupervisorReport {
    let n = world.clients.load(Ordering::SeqCst);
    let mut clients = sup("clients_sup", "simple_one_for_one", (0, 5), vec![]);
    clients.child_count = n;
    clients.max_children = Some(1000);
    if q.children_all {
        clients.children = (q.offset..n.min(q.offset.saturating_add(q.limit)))
            .map(|i| worker(&format!("sid{i}"), "temporary"))
            .collect();
    }
    clients.children_truncated = clients.children.len() < n;
    let router_sup = sup(
        "router_sup",
        "one_for_all",
        (5, 30),
        vec![worker("router", "permanent"), sup_child(clients)],
    );
    let mut pool = sup(
        "pool_sup",
        "one_for_one",
        (5, 10),
        vec![worker("w1", "permanent"), worker("w2", "permanent")],
    );
    pool.restarts = u32::try_from(world.pool_restarts.load(Ordering::SeqCst)).unwrap();
    sup(
        "root_sup",
        "one_for_one",
        (3, 10),
        vec![sup_child(router_sup), sup_child(pool)],
    )
}

async fn start() -> Mon {
    let metrics = Metrics::new();
    let world = Arc::new(World {
        clients: AtomicUsize::new(0),
        pool_restarts: AtomicUsize::new(0),
        grow_on_fetch: false.into(),
        last_query: Mutex::new(None),
        health: Mutex::new(Health::new(true, vec![])),
        refreshes: AtomicUsize::new(0),
    });
    let (w1, w2, w3) = (world.clone(), world.clone(), world.clone());
    let m3 = metrics.clone();
    let ctx = MonitorCtx {
        metrics: metrics.clone(),
        hash: HASH.into(),
        started: Instant::now(),
        node_name: "hive@test".into(),
        tree: Arc::new(move |q| -> BoxFut<Result<SupervisorReport, HiveError>> {
            let w = w1.clone();
            Box::pin(async move {
                *w.last_query.lock().unwrap() = Some(q);
                if w.grow_on_fetch.load(Ordering::SeqCst) {
                    w.clients.fetch_add(1, Ordering::SeqCst);
                }
                Ok(tree(&w, q))
            })
        }),
        health: Arc::new(move || -> BoxFut<Health> {
            let h = w2.health.lock().unwrap().clone();
            Box::pin(async move { h })
        }),
        refresh: Arc::new(move || {
            w3.refreshes.fetch_add(1, Ordering::SeqCst);
            m3.counter("hive.router.uptime").set(42);
        }),
        observer: hive::admin::Observer::none(),
        cluster: None,
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(serve(listener, ctx, stop.clone()));
    Mon {
        addr,
        metrics,
        world,
        stop,
        task,
    }
}

/// A response read off the wire.
struct Resp {
    status: u16,
    headers: String,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// One raw HTTP/1.1 request with `Connection: close`; reads to EOF.
async fn req(addr: SocketAddr, method: &str, path: &str) -> Resp {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (headers, body) = text.split_once("\r\n\r\n").unwrap();
    let status = headers.split(' ').nth(1).unwrap().parse().unwrap();
    let resp = Resp {
        status,
        headers: headers.to_string(),
        body: body.to_string(),
    };
    if let Some(len) = resp.header("content-length") {
        assert_eq!(
            len.parse::<usize>().unwrap(),
            resp.body.len(),
            "content-length"
        );
    }
    resp
}

async fn get(addr: SocketAddr, path: &str) -> Resp {
    req(addr, "GET", path).await
}

fn at<'v>(v: &'v Value, dotted: &str) -> Option<&'v Value> {
    dotted.split('.').try_fold(v, |cur, seg| cur.get(seg))
}

const UNAUTHORIZED: &str =
    r#"{"error":"bad_monitor_request","description":"Unauthorized Hive Monitor access attempt!"}"#;

/// HIVE.md 10.1/10.2: GET /monitor/<hash> is every metric nested on dots; derived gauges refreshed.
#[tokio::test]
async fn all_metrics_as_nested_json() {
    let m = start().await;
    for _ in 0..3 {
        m.metrics.inc("clients.events.total");
    }
    m.metrics.counter("hive.router.current_clients").set(3);
    let r = get(m.addr, &format!("/monitor/{HASH}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    let v = r.json();
    for name in INIT_METRICS {
        assert!(
            at(&v, name).is_some_and(Value::is_i64),
            "{name} missing or not an integer"
        );
    }
    assert_eq!(at(&v, "clients.events.total"), Some(&json!(3)));
    assert_eq!(at(&v, "hive.router.current_clients"), Some(&json!(3)));
    assert_eq!(at(&v, "hive.cluster.nodes"), Some(&json!(["hive@test"])));
    assert_eq!(at(&v, "hive.cluster.size"), Some(&json!(1)));
    assert_eq!(
        at(&v, "hive.router.uptime"),
        Some(&json!(42)),
        "app refresh hook ran"
    );
    assert!(
        at(&v, "hive.memory.total").unwrap().as_i64().unwrap() > 1024 * 1024,
        "RSS bytes"
    );
    assert!(
        at(&v, "hive.total_processes").unwrap().as_i64().unwrap() >= 1,
        "alive tasks"
    );
    assert!(m.world.refreshes.load(Ordering::SeqCst) >= 1);
    // Trailing slash ignored; uptime only grows.
    let up1 = at(&v, "hive.uptime").unwrap().as_i64().unwrap();
    let r2 = get(m.addr, &format!("/monitor/{HASH}/")).await;
    assert_eq!(r2.status, 200);
    assert!(at(&r2.json(), "hive.uptime").unwrap().as_i64().unwrap() >= up1);
}

/// HIVE.md 10.1: a prefix selects a subtree at segment boundaries; unknown prefix is 404.
#[tokio::test]
async fn prefix_subtrees_and_unknown_metric() {
    let m = start().await;
    m.metrics.inc("clients.hooks.on_connect.calls");
    m.metrics.inc("clients.transports.http.???");
    let v = get(m.addr, &format!("/monitor/{HASH}/hive.memory"))
        .await
        .json();
    let mem = v.as_object().unwrap();
    assert_eq!(mem.len(), 1);
    assert_eq!(v["hive"].as_object().unwrap().len(), 1);
    assert_eq!(
        v["hive"]["memory"].as_object().unwrap().len(),
        7,
        "total processes system atom binary code ets"
    );
    let r = get(
        m.addr,
        &format!("/monitor/{HASH}/clients.hooks.on_connect.calls/"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"clients":{"hooks":{"on_connect":{"calls":1}}}})
    );
    let r = get(
        m.addr,
        &format!("/monitor/{HASH}/clients.transports.http.%3F%3F%3F"),
    )
    .await;
    assert_eq!(
        r.json(),
        json!({"clients":{"transports":{"http":{"???":1}}}})
    );
    let r = get(m.addr, &format!("/monitor/{HASH}/hive.cluster.nodes")).await;
    assert_eq!(
        r.json(),
        json!({"hive":{"cluster":{"nodes":["hive@test"]}}})
    );
    let r = get(m.addr, &format!("/monitor/{HASH}/hive.mem")).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        r#"{"error":"bad_monitor_request","description":"Requested metric \"hive.mem\" does not exist."}"#
    );
}

/// HIVE.md 10.1 with the 16.7 #5 fix: DELETE resets an existing metric; unknown names are 404 and
/// are not created.
#[tokio::test]
async fn delete_resets_existing_metrics_only() {
    let m = start().await;
    m.metrics.counter("api.requests").set(17);
    let r = req(m.addr, "DELETE", &format!("/monitor/{HASH}/api.requests")).await;
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    assert_eq!(m.metrics.get("api.requests"), 0);
    for bogus in ["no.such.metric", "hive.memory", ""] {
        let r = req(m.addr, "DELETE", &format!("/monitor/{HASH}/{bogus}")).await;
        assert_eq!(r.status, 404, "DELETE {bogus:?}");
        assert_eq!(r.json()["error"], "bad_monitor_request");
    }
    assert_eq!(
        get(m.addr, &format!("/monitor/{HASH}/no.such.metric"))
            .await
            .status,
        404
    );
    assert!(
        !m.metrics
            .snapshot()
            .iter()
            .any(|(n, _)| n.is_empty() || n == "no.such.metric")
    );
}

/// HIVE.md 10.1: wrong or missing hash is 401 (before the method check); other methods 405.
#[tokio::test]
async fn auth_and_method_errors() {
    let m = start().await;
    for path in [
        "/monitor",
        "/monitor/",
        "/monitor/12345abcdf",
        "/monitor/12345abcde0/hive",
        "/monitor/x",
        "/",
    ] {
        let r = get(m.addr, path).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (401, UNAUTHORIZED),
            "GET {path}"
        );
    }
    let r = req(m.addr, "POST", "/monitor/wrong/hive").await;
    assert_eq!((r.status, r.body.as_str()), (401, UNAUTHORIZED));
    for method in ["POST", "PUT", "PATCH"] {
        let r = req(m.addr, method, &format!("/monitor/{HASH}/hive")).await;
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(
            r.body,
            format!(
                r#"{{"error":"bad_monitor_request","description":"Unsupported Hive Monitor access method: {method}."}}"#
            )
        );
    }
}

/// Prometheus text format 0.0.4: names, types, labels, supervision restarts; every line parses.
#[tokio::test]
async fn prometheus_exposition() {
    let m = start().await;
    m.metrics.counter("hive.router.current_clients").set(3);
    m.metrics.counter("connectors.http.backend.workers").set(4);
    m.metrics.inc("clients.hooks.chat.calls");
    m.world.pool_restarts.store(1, Ordering::SeqCst);
    let r = get(m.addr, &format!("/monitor/{HASH}/metrics")).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let lines: Vec<&str> = r.body.lines().collect();
    for want in [
        "# TYPE hive_router_current_clients gauge",
        "hive_router_current_clients 3",
        "# TYPE clients_events_total counter",
        "clients_transports_http_unknown 0",
        "connectors_http_workers{pool=\"backend\"} 4",
        "clients_hooks_event_calls{event=\"chat\"} 1",
        "hive_cluster_nodes{node=\"hive@test\"} 1",
        "hive_router_uptime 42",
        "hive_supervisor_restarts{supervisor=\"pool_sup\"} 1",
        "hive_supervisor_children{supervisor=\"router_sup\"} 2",
    ] {
        assert!(lines.contains(&want), "missing {want:?}");
    }
    let mut typed = std::collections::HashSet::new();
    for l in &lines {
        if let Some(rest) = l.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(
                kind == "counter" || kind == "gauge" || kind == "histogram",
                "{kind}"
            );
            assert!(typed.insert(name.to_string()), "family {name} typed twice");
            continue;
        }
        if l.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = l.rsplit_once(' ').unwrap();
        value
            .parse::<i64>()
            .unwrap_or_else(|_| panic!("bad value in {l:?}"));
        let name = series.split('{').next().unwrap();
        // A histogram's samples are `<family>_bucket`, `_sum` and `_count`.
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
            .unwrap_or(name);
        assert!(typed.contains(family), "sample before its TYPE: {l}");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !name.starts_with(|c: char| c.is_ascii_digit()),
            "bad name {name}"
        );
    }
}

/// The tree route: the handmade tree as JSON, counts follow the world, paging reaches the closure.
#[tokio::test]
async fn tree_json_counts_and_paging() {
    let m = start().await;
    let child_count = |v: &Value| {
        v["children"][0]["supervisor"]["children"][1]["supervisor"]["child_count"].clone()
    };
    let v = get(m.addr, &format!("/monitor/{HASH}/tree")).await.json();
    assert_eq!(v["id"], "root_sup");
    assert_eq!(v["strategy"], "one_for_one");
    assert_eq!(v["intensity"], json!({"max_restarts":3,"max_seconds":10}));
    assert_eq!(child_count(&v), json!(0));
    m.world.clients.store(5, Ordering::SeqCst);
    let v = get(m.addr, &format!("/monitor/{HASH}/tree/")).await.json();
    assert_eq!(child_count(&v), json!(5));
    assert_eq!(
        *m.world.last_query.lock().unwrap(),
        Some(TreeQuery::default())
    );
    let v = get(
        m.addr,
        &format!("/monitor/{HASH}/tree?children=all&offset=1&limit=2"),
    )
    .await
    .json();
    let clients = &v["children"][0]["supervisor"]["children"][1]["supervisor"];
    assert_eq!(clients["children"].as_array().unwrap().len(), 2);
    assert_eq!(clients["children"][0]["id"], "sid1");
    assert_eq!(clients["children_truncated"], true);
    assert_eq!(
        *m.world.last_query.lock().unwrap(),
        Some(TreeQuery {
            children_all: true,
            offset: 1,
            limit: 2
        })
    );
    m.world.clients.store(0, Ordering::SeqCst);
    let v = get(m.addr, &format!("/monitor/{HASH}/tree")).await.json();
    assert_eq!(child_count(&v), json!(0));
    let r = get(m.addr, &format!("/monitor/{HASH}/tree?limit=lots")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "bad_monitor_request");
}

/// Health: 200 with the report when ok, 503 when a pool is unreachable or the router refuses.
#[tokio::test]
async fn health_status_codes() {
    let m = start().await;
    let pool = |reachable| PoolHealth {
        name: "backend".into(),
        connector: "connector.http".into(),
        reachable,
        workers: 2,
        busy: 0,
    };
    *m.world.health.lock().unwrap() = Health::new(true, vec![pool(true)]);
    let r = get(m.addr, &format!("/monitor/{HASH}/health")).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"router_accepting":true,"pools":[{"name":"backend","connector":"connector.http","reachable":true,"workers":2,"busy":0}],"ok":true})
    );
    *m.world.health.lock().unwrap() = Health::new(true, vec![pool(false)]);
    let r = get(m.addr, &format!("/monitor/{HASH}/health")).await;
    assert_eq!((r.status, r.json()["ok"].clone()), (503, json!(false)));
    *m.world.health.lock().unwrap() = Health::new(false, vec![]);
    assert_eq!(
        get(m.addr, &format!("/monitor/{HASH}/health")).await.status,
        503
    );
}

/// `hive tree`: the client fetches and renders the tree; wrong hash and dead port are errors.
#[tokio::test]
async fn hive_tree_client() {
    let m = start().await;
    m.world.clients.store(12, Ordering::SeqCst);
    let url = format!("http://{}", m.addr);
    let text = fetch_and_print_tree(&url, HASH, false).await.unwrap();
    let want = "\
root_sup (one_for_one, 3/10s, restarts 0)
├─ router_sup (one_for_all, 5/30s, restarts 0)
│  ├─ router (worker, permanent, running)
│  └─ clients_sup (simple_one_for_one, 0/5s, restarts 0) [12 children, max 1000]
└─ pool_sup (one_for_one, 5/10s, restarts 0)
   ├─ w1 (worker, permanent, running)
   └─ w2 (worker, permanent, running)
";
    assert_eq!(text, want);
    let all = fetch_and_print_tree(&format!("{url}/"), HASH, true)
        .await
        .unwrap();
    assert!(
        all.contains("│     ├─ sid0 (worker, temporary, running)\n"),
        "{all}"
    );
    assert!(
        all.contains("│     └─ sid11 (worker, temporary, running)\n"),
        "{all}"
    );
    assert_eq!(
        fetch_and_print_tree(&url, "wrong-hash", false).await,
        Err(HiveError::BadMonitorRequest(
            "Unauthorized Hive Monitor access attempt!".into()
        ))
    );
    let dead = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let e = fetch_and_print_tree(&format!("http://{dead}"), HASH, false)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "internal_error");
}

/// Cancelling the token stops the listener and `serve` returns.
#[tokio::test]
async fn shutdown_stops_the_listener() {
    let m = start().await;
    assert_eq!(
        get(m.addr, &format!("/monitor/{HASH}/hive.uptime"))
            .await
            .status,
        200
    );
    m.stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), m.task)
        .await
        .unwrap()
        .unwrap();
    assert!(TcpStream::connect(m.addr).await.is_err(), "listener closed");
}

/// tree.html is self-contained, and loads in headless Chromium showing the root supervisor; the
/// Refresh button picks up a changed child count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_html_in_headless_chromium() {
    let m = start().await;
    let r = get(m.addr, &format!("/monitor/{HASH}/tree.html")).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert!(
        !r.body.contains("src=\"http") && !r.body.contains("href=\"http"),
        "no external resources"
    );
    assert!(!r.body.contains(HASH), "hash not embedded in the page");
    assert_eq!(get(m.addr, "/monitor/wrong/tree.html").await.status, 401);

    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "Debian chromium is required"
    );
    m.world.grow_on_fetch.store(true, Ordering::SeqCst);
    let url = format!("http://{}/monitor/{HASH}/tree.html", m.addr);
    let out = tree_e2e(&[url.as_str(), "root_sup", "clients_sup"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "e2e failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("ok: root_sup"), "{stdout}");
}

/// The supervisor `id` anywhere in a tree report.
fn find_sup<'v>(v: &'v Value, id: &str) -> Option<&'v Value> {
    if v["id"] == id {
        return Some(v);
    }
    v["children"]
        .as_array()?
        .iter()
        .find_map(|c| find_sup(&c["supervisor"], id))
}

/// `node tests/e2e/tree.e2e.js <args>`: the tree page in headless Chromium (90 s at most).
async fn tree_e2e(args: &[&str]) -> std::process::Output {
    tokio::time::timeout(
        Duration::from_secs(90),
        tokio::process::Command::new("node")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/e2e/tree.e2e.js"
            ))
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("chromium run timed out")
    .expect("node runs")
}
