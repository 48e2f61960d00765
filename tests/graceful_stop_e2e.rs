//! Graceful stop under load, on the real `hive` binary (HIVE.md 14.1, issue 14 item 3): the chat
//! seed's configuration (`examples/chat/config/seed.json`: its Redis state manager and its
//! `backend` pool) with its hooks, plus `on_connect` and `on_terminate` `cp.put`s, sent to a real
//! HTTP backend on port 0 that records every request; thousands of raw 0.9 sessions in a
//! WebSocket and XHR-polling mix.
//!
//! * SIGTERM with 5,000 sessions: every session's `on_terminate` and `on_disconnect` requests reach
//!   the backend exactly once (counted per sid), the exit code is 0, and the time to stop is
//!   printed.
//! * The same with `POST /api/<hash>/hive/stop` (fewer sessions).
//! * Issue 14's report: a backend busy enough that the sessions' last requests wait longer than
//!   `connectors.rent_timeout` for a pool connection; none is lost.
//! * A backend slower than `graceful_termination_timeout`: the sessions still alive then are
//!   killed and counted in one log line, and the process exits at the timeout, not before.
//! * `/router/terminate` in process: the killed sessions in `hive.router.killed_sessions`.
//!
//! The tests run one at a time (a lock): each drives a debug build with thousands of
//! sockets on a 2-core machine, and their timings must not depend on each other.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "support/backend.rs"]
mod backend;
mod common;
#[path = "support/raw_sessions.rs"]
mod raw;
#[path = "support/redis.rs"]
mod redis;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use backend::Backend;
use raw::Fleet;
use redis::RedisServer;
use serde_json::{Value, json};

/// The seed's API hash.
const API_HASH: &str = "abcde12345";
/// Slack on top of the graceful timeout for the process to exit (debug build, shared machine).
const EXIT_MARGIN: Duration = Duration::from_secs(3);

/// Async: each test holds it across its awaits (tokio's mutex works across the tests' runtimes).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn free_ports<const N: usize>() -> [u16; N] {
    let ls: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    std::array::from_fn(|i| ls[i].local_addr().unwrap().port())
}

/// The binary under test: this build's, or `HIVE_BIN` (to time a release build:
/// `HIVE_BIN=target/release/hive cargo test --test graceful_stop_e2e -- --nocapture`).
fn hive_bin() -> std::ffi::OsString {
    std::env::var_os("HIVE_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_hive").into())
}

/// What a test varies in the seed.
struct Setup {
    grace_ms: u64,
    slots: u64,
    /// `connectors.pools.backend.args.max_connections` (the seed's 16 when `None`).
    max_connections: Option<u64>,
    /// Add an `on_terminate` `cp.put` to `/terminate` (the seed has none).
    on_terminate: bool,
}

/// The real binary on the seed configuration, its stderr collected by a thread.
struct Daemon {
    child: Child,
    stderr: Option<std::thread::JoinHandle<String>>,
    sio: SocketAddr,
    api: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Daemon {
    fn start(setup: &Setup, backend: SocketAddr, redis_port: u16) -> Daemon {
        let [sio, api, mon] = free_ports::<3>();
        let dir = tempfile::tempdir().unwrap();
        let text =
            std::fs::read_to_string(common::root().join("examples/chat/config/seed.json")).unwrap();
        let mut cfg: Value = serde_json::from_str(&text).unwrap();
        let put = |endpoint: &str| json!([{"hook": "cp.put", "args": {"connector": "backend", "endpoint": endpoint}}]);
        let mut patch = json!({
            "hive": {"port": sio, "bind": "127.0.0.1", "max_client_slots": setup.slots,
                     "graceful_termination_timeout": setup.grace_ms},
            "api": {"port": api},
            "monitor": {"port": mon},
            "clients": {"hooks": {"on_connect": put("/connect")}},
            "connectors": {"pools": {
                "database": {"args": {"host": "127.0.0.1", "port": redis_port}},
                "backend": {"args": {"base_url": format!("http://{backend}")}}
            }},
            "log": {"dir": dir.path().join("log").to_str().unwrap(), "console_level": "info",
                    "file_level": "none"}
        });
        if setup.on_terminate {
            patch["clients"]["hooks"]["on_terminate"] = put("/terminate");
        }
        if let Some(m) = setup.max_connections {
            patch["connectors"]["pools"]["backend"]["args"]["max_connections"] = json!(m);
        }
        common::merge(&mut cfg, &patch);
        let path = dir.path().join("hive.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
        let (child, stderr) = common::spawn_hive_binary(hive_bin(), &path, dir.path());
        let mut d = Daemon {
            child,
            stderr: Some(stderr),
            sio: SocketAddr::from(([127, 0, 0, 1], sio)),
            api: SocketAddr::from(([127, 0, 0, 1], api)),
            _dir: dir,
        };
        let end = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(d.sio).is_err()
            || std::net::TcpStream::connect(d.api).is_err()
        {
            if let Some(s) = d.child.try_wait().unwrap() {
                panic!("hive exited at start-up ({s}): {}", d.stderr_text());
            }
            assert!(Instant::now() < end, "hive did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }

    fn sigterm(&self) {
        let ok = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -TERM failed");
    }

    async fn api_stop(&self) {
        let (s, _, b) = common::http(
            self.api,
            "POST",
            &format!("/api/{API_HASH}/hive/stop"),
            &[],
            b"",
        )
        .await;
        assert_eq!((s, b.as_str()), (200, ""));
    }

    /// Wait (bounded) for the exit; its status (None: still running) and when it happened.
    async fn wait_exit(&mut self, limit: Duration) -> (Option<ExitStatus>, Instant) {
        let end = Instant::now() + limit;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return (Some(s), Instant::now());
            }
            if Instant::now() >= end {
                return (None, Instant::now());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn stderr_text(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr
            .take()
            .map(|h| h.join().unwrap())
            .unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Requests per sid and endpoint, from the `sid` of each request's metadata body.
fn per_sid(b: &Backend) -> HashMap<String, HashMap<String, usize>> {
    let mut out: HashMap<String, HashMap<String, usize>> = HashMap::new();
    for r in b.requests() {
        let v: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
        let sid = v["sid"].as_str().unwrap_or("<no sid>").to_string();
        *out.entry(sid).or_default().entry(r.path).or_default() += 1;
    }
    out
}

fn count_path(b: &Backend, path: &str) -> usize {
    b.requests().iter().filter(|r| r.path == path).count()
}

/// Wait (bounded) until the backend saw `on_connect` for `n` sessions: every session is connected
/// and ran its hooks.
async fn wait_connected(b: &Backend, n: usize, limit: Duration) {
    let end = Instant::now() + limit;
    loop {
        let got = count_path(b, "/connect");
        if got >= n {
            return;
        }
        assert!(
            Instant::now() < end,
            "only {got} of {n} on_connect calls reached the backend"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The number in `graceful termination: N sessions ... killed` (0 without such a line).
fn killed_in_log(err: &str) -> usize {
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("killed without their hooks"))
        .collect();
    assert!(lines.len() <= 1, "one killed line at most: {lines:?}");
    lines
        .first()
        .and_then(|l| {
            l.split_whitespace()
                .skip_while(|w| *w != "termination:")
                .nth(1)
                .and_then(|w| w.parse().ok())
        })
        .unwrap_or(0)
}

enum Stop {
    Signal,
    Api,
}

/// One graceful-stop run.
struct Load {
    ws: usize,
    xhr: usize,
    how: Stop,
    grace_ms: u64,
    /// How long the backend takes to answer each request once the sessions are connected.
    latency: Duration,
    on_terminate: bool,
}

/// Connect the sessions, stop the node the given way, and check that every session's
/// `on_terminate` and `on_disconnect` requests reached the backend exactly once and that the exit
/// was 0, before the graceful timeout. Returns the time from the stop request to the exit.
async fn stop_loses_nothing(load: Load) -> Duration {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(redis) = RedisServer::start() else {
        return Duration::ZERO;
    };
    let backend = Backend::start().await;
    let (ws, xhr) = (load.ws, load.xhr);
    let n = ws + xhr;
    let setup = Setup {
        grace_ms: load.grace_ms,
        slots: n as u64 + 100,
        max_connections: None,
        on_terminate: load.on_terminate,
    };
    let mut d = Daemon::start(&setup, backend.addr, redis.port);
    let t = Instant::now();
    let fleet = Fleet::connect(d.sio, ws, xhr, 64).await;
    wait_connected(&backend, n, Duration::from_secs(40)).await;
    eprintln!(
        "{n} sessions ({ws} ws + {xhr} xhr) connected in {:?}",
        t.elapsed()
    );
    backend.delay(load.latency);
    let sids = fleet.sids();

    let since = Instant::now();
    match load.how {
        Stop::Signal => d.sigterm(),
        Stop::Api => d.api_stop().await,
    }
    let grace = Duration::from_millis(setup.grace_ms);
    let (status, at) = d.wait_exit(grace + EXIT_MARGIN).await;
    let took = at - since;
    let err = d.stderr_text();
    let status = status.unwrap_or_else(|| panic!("hive still running after {took:?}: {err}"));
    for l in err.lines().filter(|l| l.contains("graceful termination")) {
        eprintln!("hive: {l}");
    }
    let (ws_saw, xhr_saw) = fleet.ended(Duration::from_secs(5)).await;
    eprintln!(
        "STOP TIME: {n} sessions ({ws} ws + {xhr} xhr, backend latency {:?}) stopped in {} ms; \
         `0:::` seen by {ws_saw} ws and {xhr_saw} xhr clients",
        load.latency,
        took.as_millis()
    );
    assert!(status.success(), "{status}: {err}");
    let announced = format!("Hive will shutdown in {} ms...", setup.grace_ms);
    assert!(err.contains(&announced), "{err}");
    assert_eq!(killed_in_log(&err), 0, "{err}");

    let got = per_sid(&backend);
    let mut paths = vec!["/connect", "/leave", "/cleanup"];
    if load.on_terminate {
        paths.push("/terminate");
    }
    let mut wrong = Vec::new();
    for sid in &sids {
        let seen = got.get(sid).cloned().unwrap_or_default();
        for path in &paths {
            let k = seen.get(*path).copied().unwrap_or(0);
            if k != 1 {
                wrong.push(format!("{sid} {path} x{k}"));
            }
        }
    }
    let total = |p: &str| count_path(&backend, p);
    assert!(
        wrong.is_empty(),
        "{} of {} expected calls wrong (/terminate {}, /leave {}, /cleanup {} in all, for {n} \
         sessions), after {took:?}, e.g. {:?}",
        wrong.len(),
        paths.len() * n,
        total("/terminate"),
        total("/leave"),
        total("/cleanup"),
        &wrong[..wrong.len().min(5)]
    );
    assert_eq!(got.len(), n, "requests only from the fleet's sids");
    // Everything drained: the exit came before the graceful timeout.
    assert!(took < grace, "drained, yet the exit took {took:?}");
    took
}

/// SIGTERM with 5,000 sessions (4,000 WebSocket + 1,000 XHR-polling), the seed's 12 s timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_5000_sessions_delivers_every_hook_once() {
    stop_loses_nothing(Load {
        ws: 4_000,
        xhr: 1_000,
        how: Stop::Signal,
        grace_ms: 12_000,
        latency: Duration::ZERO,
        on_terminate: true,
    })
    .await;
}

/// `POST /api/<hash>/hive/stop` with 5,000 sessions (4,000 WebSocket + 1,000 XHR-polling).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_stop_delivers_every_hook_once() {
    stop_loses_nothing(Load {
        ws: 4_000,
        xhr: 1_000,
        how: Stop::Api,
        grace_ms: 12_000,
        latency: Duration::ZERO,
        on_terminate: true,
    })
    .await;
}

/// Issue 14's report: 2,000 WebSocket sessions, the seed's `on_disconnect` (two `cp.put`s over
/// its 16 backend connections), `graceful_termination_timeout` 30000, and a backend taking 40 ms
/// per request, so that the 4,000 requests need ~10 s and each waits ~5 s for a connection: more
/// than the seed's `rent_timeout`. Every request still arrives, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_a_busy_backend_delivers_every_on_disconnect_once() {
    stop_loses_nothing(Load {
        ws: 2_000,
        xhr: 0,
        how: Stop::Signal,
        grace_ms: 30_000,
        latency: Duration::from_millis(40),
        on_terminate: false,
    })
    .await;
}

/// A backend that answers after 20 s, longer than a 3 s graceful timeout. Every `cp.put` holds a
/// pool connection until the backend answers (or the 5 s request timeout), so with
/// `max_connections` at 2.5 per session only part of the sessions get the three connections
/// their `on_terminate` and `on_disconnect` need. Those finish; the others are still waiting at the
/// timeout and are killed without their hooks, counted in one log line. The process exits at the
/// timeout, not before (it waited for them), and not much later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_backend_sessions_are_killed_and_counted_at_the_timeout() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let backend = Backend::start().await;
    let (ws, xhr) = (75, 25);
    let n = ws + xhr;
    let setup = Setup {
        grace_ms: 3_000,
        slots: n as u64 + 100,
        max_connections: Some(n as u64 * 5 / 2),
        on_terminate: true,
    };
    let mut d = Daemon::start(&setup, backend.addr, redis.port);
    let fleet = Fleet::connect(d.sio, ws, xhr, 64).await;
    wait_connected(&backend, n, Duration::from_secs(30)).await;
    backend.delay(Duration::from_secs(20));

    let since = Instant::now();
    d.sigterm();
    let grace = Duration::from_millis(setup.grace_ms);
    let (status, at) = d.wait_exit(grace + EXIT_MARGIN).await;
    let took = at - since;
    let err = d.stderr_text();
    let status = status.unwrap_or_else(|| panic!("hive still running after {took:?}: {err}"));
    drop(fleet);
    eprintln!("slow backend: exit after {} ms", took.as_millis());
    assert!(status.success(), "{status}: {err}");
    assert!(
        took >= grace,
        "exited before the graceful timeout: {took:?}"
    );

    let got = per_sid(&backend);
    let mut done = 0;
    for (sid, seen) in &got {
        for (path, k) in seen {
            assert_eq!(*k, 1, "{sid} {path} reached the backend {k} times");
        }
        if seen.contains_key("/cleanup") {
            done += 1;
        }
    }
    let killed = killed_in_log(&err);
    eprintln!("slow backend: {done} sessions finished their hooks, {killed} were killed");
    assert!(killed > 0, "some sessions outlived the timeout: {err}");
    assert_eq!(
        killed,
        n - done,
        "killed = sessions without their last hook: {err}"
    );
}

/// `/router/terminate` on a node in this process, with an `on_terminate` `cp.post` that waits for
/// a backend answering after 5 s, longer than the 500 ms graceful timeout of `config/test.json`:
/// the sessions are killed at the timeout and counted in `hive.router.killed_sessions`, and the
/// node keeps running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_terminate_counts_the_sessions_it_kills() {
    let _one = ONE_AT_A_TIME.lock().await;
    let backend = Backend::start().await;
    let post = |endpoint: &str| json!([{"hook": "cp.post", "args": {"connector": "backend", "endpoint": endpoint}}]);
    let h = common::TestHive::start(json!({
        "hive": {"allowed_origins": [null, "null"]},
        "socketio": {"heartbeat_timeout": 30000, "session_timeout": 60000},
        "clients": {"hooks": {"on_terminate": post("/terminate")}},
        "connectors": {"pools": {"backend": {"connector": "connector.http", "size": 2,
            "overflow": 10, "args": {"base_url": format!("http://{}", backend.addr)}}}}
    }))
    .await;
    let fleet = Fleet::connect(h.sio, 3, 1, 4).await;
    assert_eq!(h.sessions(), 4);
    backend.delay(Duration::from_secs(5));
    let t = Instant::now();
    let url = format!("/api/{API_HASH}/router/terminate");
    assert_eq!(common::http(h.api, "POST", &url, &[], b"bye").await.0, 200);
    h.until("the sessions are gone", Duration::from_secs(3), |h| {
        h.sessions() == 0
    })
    .await;
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(500), "{took:?}");
    assert_eq!(h.metric("hive.router.killed_sessions"), 4);
    assert_eq!(count_path(&backend, "/terminate"), 4);
    drop(fleet);
    h.stop().await;
}
