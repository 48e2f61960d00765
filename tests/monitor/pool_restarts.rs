//! Pool supervision through the monitor: the real `connectors_sup` with a `connector.http` pool
//! against a real HTTP backend; killing a worker shows up as a restart in `GET .../tree`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hive::HiveError;
use hive::admin::{BoxFut, Health, MonitorCtx, serve};
use hive::config::{ConnectorsSection, Ordered, PoolDescriptor};
use hive::connectors::Connectors;
use hive::metrics::Metrics;
use otp::SupervisorReport;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::backend::Backend;
use crate::common::{TestHive, http};
use crate::find_sup;

const HASH: &str = "12345abcde";

fn http_pool(base_url: &str, size: u32) -> PoolDescriptor {
    PoolDescriptor {
        connector: "connector.http".into(),
        size,
        overflow: 0,
        args: json!({"base_url": base_url, "max_connection_timeout": 2000}),
    }
}

async fn tree(addr: std::net::SocketAddr) -> Value {
    let (status, _, body) = http(addr, "GET", &format!("/monitor/{HASH}/tree"), &[], b"").await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Health of a whole node probes each configured pool's backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_node_health_probes_pools() {
    let b = Backend::start().await;
    b.answer(200, "ok");
    let h = TestHive::start(node_patch(&b)).await;
    let (status, _, body) = http(
        h.monitor,
        "GET",
        &format!("/monitor/{HASH}/health"),
        &[],
        b"",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["pools"][0]["name"], "backend");
    assert_eq!(v["pools"][0]["connector"], "connector.http");
    assert_eq!(v["pools"][0]["reachable"], true);
    h.stop().await;
}

/// The live tree of a whole node lists the configured pool under `connectors_sup` with its
/// workers, from the supervision runtime's own reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_tree_lists_pools() {
    let b = Backend::start().await;
    b.answer(200, "ok");
    let h = TestHive::start(node_patch(&b)).await;
    let t = tree(h.monitor).await;
    let sup = find_sup(&t, "connectors_sup").expect("connectors_sup report in the tree");
    assert_eq!(sup["child_count"], 1, "{sup}");
    let p = find_sup(&t, "pool:backend").expect("pool:backend");
    assert_eq!(
        (p["child_count"].clone(), p["restarts"].clone()),
        (json!(2), json!(0)),
        "{p}"
    );
    h.stop().await;
}

fn node_patch(b: &Backend) -> Value {
    let pool = json!({"connector": "connector.http", "size": 2, "overflow": 0,
        "args": {"base_url": format!("http://{}", b.addr), "max_connection_timeout": 2000}});
    json!({"connectors": {"pools": {"backend": pool}}})
}

/// Real pools behind a real monitor listener whose tree is `connectors_sup`'s own report.
struct PoolMonitor {
    _backend: Backend,
    connectors: Connectors,
    addr: std::net::SocketAddr,
    stop: CancellationToken,
    server: tokio::task::JoinHandle<()>,
}

impl PoolMonitor {
    async fn start() -> PoolMonitor {
        let b = Backend::start().await;
        b.answer(200, "ok");
        let url = format!("http://{}", b.addr);
        let cfg = ConnectorsSection {
            rent_timeout: 1000,
            backoff_num: 1,
            backoff_time: 0,
            pools: Ordered(vec![("backend".to_string(), http_pool(&url, 2))]),
        };
        let metrics = Metrics::new();
        let c = Connectors::start(&cfg, Arc::clone(&metrics), None)
            .await
            .expect("pools start");
        let (c1, c2) = (c.clone(), c.clone());
        let ctx = MonitorCtx {
            metrics,
            hash: HASH.into(),
            started: Instant::now(),
            node_name: "hive@test".into(),
            tree: Arc::new(move |_q| -> BoxFut<Result<SupervisorReport, HiveError>> {
                let c = c1.clone();
                Box::pin(async move { c.supervisor_report().await })
            }),
            health: Arc::new(move || -> BoxFut<Health> {
                let c = c2.clone();
                Box::pin(async move { Health::new(true, c.health().await) })
            }),
            refresh: Arc::new(|| {}),
            observer: hive::admin::Observer::none(),
            cluster: None,
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let server = tokio::spawn(serve(listener, ctx, stop.clone()));
        PoolMonitor {
            _backend: b,
            connectors: c,
            addr,
            stop,
            server,
        }
    }

    /// The test hook: kill one worker of the only pool.
    fn kill_a_worker(&self) {
        let pool_cell = self
            .connectors
            .supervisor_cell()
            .get_children()
            .pop()
            .expect("one pool");
        pool_cell.get_children().pop().expect("a worker").kill();
    }

    /// Poll the monitor's tree until `pool:backend` satisfies `ok` (bounded).
    async fn pool_until(&self, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            let t = tree(self.addr).await;
            let p = find_sup(&t, "pool:backend").unwrap().clone();
            if ok(&p) {
                return p;
            }
            assert!(Instant::now() < end, "{what}: {p}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn stop(self) {
        self.stop.cancel();
        self.server.await.unwrap();
        self.connectors.shutdown().await;
    }
}

/// Killing one pool worker shows up in the monitor's tree: the pool keeps two workers and
/// exactly one of them reports one restart; the pool itself was not restarted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_pool_worker_shows_in_the_tree() {
    let pm = PoolMonitor::start().await;
    let before = pm.pool_until("pool up", |p| p["child_count"] == 2).await;
    assert_eq!(before["restarts"], 0);
    pm.kill_a_worker();
    let pool = pm
        .pool_until("worker restart not reported", |p| {
            p["child_count"] == 2
                && p["children"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|w| w["restarts"] == 1)
        })
        .await;
    let restarted = pool["children"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["restarts"] == 1);
    assert_eq!(restarted.count(), 1, "{pool}");
    let top = tree(pm.addr).await;
    assert_eq!(
        top["restarts"], 0,
        "connectors_sup restarted no pool: {top}"
    );
    assert_eq!(top["children"][0]["restarts"], 0, "{top}");
    pm.stop().await;
}

/// Killing one pool worker counts as restart 1 on the pool's supervisor report (restarts the pool
/// performed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_pool_worker_counts_on_its_supervisor() {
    let pm = PoolMonitor::start().await;
    pm.pool_until("pool up", |p| p["child_count"] == 2).await;
    pm.kill_a_worker();
    pm.pool_until("restart count 1 on pool:backend", |p| {
        p["restarts"] == 1 && p["child_count"] == 2
    })
    .await;
    pm.stop().await;
}
