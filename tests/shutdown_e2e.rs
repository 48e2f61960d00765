//! Graceful termination end to end (HIVE.md 14): `/router/terminate` on a node in this process, and
//! `SIGTERM` / `/hive/stop` on the real `hive` binary, with real npm `socket.io-client@0.9.16`
//! clients watching their sessions end; plus the start-up failure on a busy port.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use common::{JsClient, TestHive, http};
use serde_json::{Value, json};

const HASH: &str = "abcde12345";
/// `hive.graceful_termination_timeout` in `config/test.json`.
const GRACE: Duration = Duration::from_millis(500);
/// Slack on top of the graceful timeout for the process to exit (debug build, shared machine).
const EXIT_MARGIN: Duration = Duration::from_secs(5);

const ROUTER_ERROR: &str = r#"{"error":"router_error","description":"Unable to spawn new client process: Hive Router is not accepting connections!"}"#;

/// `on_terminate` sends the examples' "terminating" error; `on_disconnect` logs a marker.
fn hooks_patch() -> Value {
    json!({
        "socketio": {"heartbeat_timeout": 5000, "reconnect_timeout": 10000, "session_timeout": 30000},
        "clients": {"hooks": {
            "on_terminate": [{"hook": "utils.echo", "args": {"name": "hive_error",
                "args": [{"error": "terminating", "description": "Hive is terminating..."}]}}],
            "on_disconnect": [{"hook": "utils.console_dump", "args": "on_disconnect-ran"}]
        }}
    })
}

/// The client got the `on_terminate` reply, then `0:::` (the 0.9 client reports a server
/// disconnect packet as `disconnect("booted")`).
fn saw_terminating_then_booted(c: &mut JsClient, what: &str) {
    let e = c.wait_event("hive_error");
    assert_eq!(
        e["args"],
        json!([{"error": "terminating", "description": "Hive is terminating..."}]),
        "{what}"
    );
    let d = c.wait_ev("disconnect");
    assert_eq!(d["args"], json!(["booted"]), "{what}: {:?}", c.seen);
}

/// HIVE.md 14.2: `/router/terminate` runs `on_terminate` (its reply reaches the client before
/// `0:::`), ends every session with `on_disconnect`, and leaves the router refusing handshakes
/// (500 `router_error`) until `/router/enable`; the node keeps running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_terminate_ends_sessions_until_enable() {
    let h = TestHive::start(hooks_patch()).await;
    let mut clients = JsClient::connect_all(&h.url(), &["websocket", "xhr-polling", "websocket"]);
    assert_eq!(h.sessions(), 3);
    // An XHR session between two polls has no sink and loses its on_terminate replies (HIVE.md
    // 14.3): start when every session has one.
    h.until("every session has a sink", Duration::from_secs(5), |h| {
        h.metric("clients.states.waiting") == 3
    })
    .await;
    let (s, _, b) = http(
        h.api,
        "POST",
        &format!("/api/{HASH}/router/terminate"),
        &[],
        b"maintenance",
    )
    .await;
    assert_eq!((s, b.as_str()), (200, ""));
    for (i, c) in clients.iter_mut().enumerate() {
        saw_terminating_then_booted(c, &format!("client {i}"));
    }
    h.until("on_disconnect ran for each", Duration::from_secs(2), |h| {
        h.metric("clients.hooks.on_disconnect.calls") == 3
    })
    .await;
    h.until("no sessions", Duration::from_secs(2), |h| h.sessions() == 0)
        .await;
    assert_eq!(h.metric("clients.hooks.on_terminate.calls"), 3);

    // Refused until enabled, also after the graceful timeout passed (no restart re-enables it).
    for _ in 0..2 {
        let (s, _, b) = http(h.sio, "GET", "/socket.io/1/?t=1", &[], b"").await;
        assert_eq!((s, b.as_str()), (500, ROUTER_ERROR));
        tokio::time::sleep(GRACE).await;
    }
    let (s, _, _) = http(
        h.api,
        "POST",
        &format!("/api/{HASH}/router/enable"),
        &[],
        b"",
    )
    .await;
    assert_eq!(s, 200);
    let mut c = JsClient::connect(&h.url(), "websocket");
    c.wait_ev("connect");
    assert_eq!(h.sessions(), 1);
    h.stop().await;
}

/// HIVE.md 14.2 + 3.7, raw bytes: an XHR session with a pending poll gets its `on_terminate` reply
/// and `0:::` in that same body (a browser must not depend on one more poll finding the node up).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xhr_poll_gets_on_terminate_reply_and_disconnect_together() {
    let h = TestHive::start(hooks_patch()).await;
    let sid = common::handshake(h.sio).await;
    let path = format!("/socket.io/1/xhr-polling/{sid}");
    assert_eq!(http(h.sio, "GET", &path, &[], b"").await.2, "1:::");
    let (addr, p) = (h.sio, path.clone());
    let pending = tokio::spawn(async move { http(addr, "GET", &p, &[], b"").await });
    h.until("the poll is attached", Duration::from_secs(5), |h| {
        h.metric("clients.states.waiting") == 1
    })
    .await;
    let url = format!("/api/{HASH}/router/terminate");
    assert_eq!(http(h.api, "POST", &url, &[], b"bye").await.0, 200);
    let (s, _, body) = pending.await.unwrap();
    assert_eq!(s, 200);
    let unit = Some(codec::batch::LengthUnit::Utf16);
    let frames: Vec<String> = codec::batch::decode_payload(&body, unit)
        .unwrap()
        .iter()
        .map(codec::socketio::encode)
        .collect();
    assert_eq!(
        frames,
        vec![
            r#"5:::{"name":"hive_error","args":[{"error":"terminating","description":"Hive is terminating..."}]}"#
                .to_string(),
            "0:::".to_string()
        ]
    );
    // The session is gone: a further poll is told so.
    assert_eq!(http(h.sio, "GET", &path, &[], b"").await.2, "0:::");
    h.stop().await;
}

/// Free loopback ports: bind port 0, note the port, release it.
fn free_ports<const N: usize>() -> [u16; N] {
    let ls: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    std::array::from_fn(|i| ls[i].local_addr().unwrap().port())
}

/// The real binary, its stderr collected by a thread.
struct Daemon {
    child: Child,
    stderr: std::thread::JoinHandle<String>,
    sio: SocketAddr,
    api: SocketAddr,
    monitor: SocketAddr,
    _dir: tempfile::TempDir,
}

/// [`http`] from synchronous code.
fn http_sync(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (s, _, b) = rt.block_on(http(addr, method, path, &[], b""));
    (s, b)
}

/// Write `config/test.json` + `patch` (with a log dir inside the temp dir) and start `hive` on it.
fn spawn_hive(patch: Value) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config(patch);
    common::merge(
        &mut cfg,
        &json!({"log": {"dir": dir.path().join("log").to_str().unwrap(), "console_level": "info"}}),
    );
    let path = dir.path().join("hive.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    let (child, stderr) = common::spawn_hive_binary(env!("CARGO_BIN_EXE_hive"), &path, dir.path());
    let port = |section: &str| cfg[section]["port"].as_u64().unwrap() as u16;
    Daemon {
        child,
        stderr,
        sio: SocketAddr::from(([127, 0, 0, 1], port("hive"))),
        api: SocketAddr::from(([127, 0, 0, 1], port("api"))),
        monitor: SocketAddr::from(([127, 0, 0, 1], port("monitor"))),
        _dir: dir,
    }
}

fn wait_exit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let end = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Daemon {
    /// Start on free ports and wait (bounded) until the Socket.IO and API listeners accept.
    fn start() -> Daemon {
        Self::start_with(&json!({}))
    }

    /// [`Daemon::start`] with `extra` merged into the configuration.
    fn start_with(extra: &Value) -> Daemon {
        let [sio, api, mon] = free_ports::<3>();
        let mut patch = hooks_patch();
        common::merge(&mut patch, extra);
        common::merge(
            &mut patch,
            &json!({"hive": {"port": sio}, "api": {"port": api}, "monitor": {"port": mon}}),
        );
        let mut d = spawn_hive(patch);
        let end = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(d.sio).is_err()
            || std::net::TcpStream::connect(d.api).is_err()
        {
            if let Some(s) = d.child.try_wait().unwrap() {
                panic!("hive exited at start-up ({s}): {}", d.stop_stderr());
            }
            assert!(Instant::now() < end, "hive did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }

    /// Wait (bounded) until the node's gauge `clients.states.waiting` is `n` (read through the
    /// monitor): every session has a sink (see `router_terminate_ends_sessions_until_enable`).
    fn wait_sinks(&self, n: i64) {
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            let (s, b) = http_sync(
                self.monitor,
                "GET",
                "/monitor/12345abcde/clients.states.waiting",
            );
            let v: Value = serde_json::from_str(&b).unwrap_or(Value::Null);
            if s == 200 && v["clients"]["states"]["waiting"] == n {
                return;
            }
            assert!(Instant::now() < end, "sessions without a sink: {s} {b}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.sio)
    }

    fn stop_stderr(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.stderr, std::thread::spawn(String::new))
            .join()
            .unwrap()
    }

    /// After `stop` was requested: the process exits 0 within the graceful timeout plus a margin,
    /// and its client saw the terminating notice then its disconnect; returns stderr.
    fn expect_graceful_exit(&mut self, c: &mut JsClient, since: Instant) -> String {
        let status = wait_exit(&mut self.child, GRACE + EXIT_MARGIN);
        let took = since.elapsed();
        let err = self.stop_stderr();
        let status = status.unwrap_or_else(|| panic!("hive still running after {took:?}: {err}"));
        assert!(status.success(), "{status}: {err}");
        saw_terminating_then_booted(c, "client of the daemon");
        assert!(
            err.contains("Hive will shutdown in 500 ms..."),
            "no shutdown log line: {err}"
        );
        assert_eq!(
            err.matches("on_disconnect-ran").count(),
            1,
            "on_disconnect ran once: {err}"
        );
        err
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `hive.cores` 2 (one single-threaded runtime per core, connections and their sessions spread
/// over them; the 0.9 client's handshake and WebSocket are separate connections, so some sessions
/// have their actor on one runtime and their socket on the other): every session echoes, and
/// SIGTERM still ends each one gracefully (`on_terminate`, then `on_disconnect`) and exits 0.
#[test]
fn per_core_runtimes_serve_and_stop_gracefully() {
    let mut d = Daemon::start_with(&json!({
        "hive": {"cores": 2},
        "clients": {"hooks": {"echo": [{"hook": "utils.echo", "args": null}]}}
    }));
    let transports = [
        "websocket",
        "websocket",
        "xhr-polling",
        "websocket",
        "websocket",
    ];
    let mut clients = JsClient::connect_all(&d.url(), &transports);
    for (i, c) in clients.iter_mut().enumerate() {
        c.emit("echo", json!([i]));
        let e = c.wait_event("echo");
        assert_eq!(e["args"], json!([i]), "client {i}");
    }
    d.wait_sinks(transports.len() as i64);
    let kill = Command::new("kill")
        .arg("-TERM")
        .arg(d.child.id().to_string())
        .status()
        .unwrap();
    assert!(kill.success());
    let status = wait_exit(&mut d.child, GRACE + EXIT_MARGIN);
    let err = d.stop_stderr();
    let status = status.unwrap_or_else(|| panic!("hive still running: {err}"));
    assert!(status.success(), "{status}: {err}");
    for (i, c) in clients.iter_mut().enumerate() {
        saw_terminating_then_booted(c, &format!("client {i}"));
    }
    assert_eq!(
        err.matches("on_disconnect-ran").count(),
        transports.len(),
        "on_disconnect ran once per session: {err}"
    );
}

/// HIVE.md 14.1 via a signal: SIGTERM shuts the node down like `/hive/stop` and exits 0.
#[test]
fn sigterm_stops_the_binary_gracefully() {
    let mut d = Daemon::start();
    let mut c = JsClient::connect(&d.url(), "websocket");
    c.wait_ev("connect");
    d.wait_sinks(1);
    let t = Instant::now();
    let kill = Command::new("kill")
        .arg("-TERM")
        .arg(d.child.id().to_string())
        .status()
        .unwrap();
    assert!(kill.success());
    d.expect_graceful_exit(&mut c, t);
}

/// HIVE.md 14.1: `POST /hive/stop` answers 200 at once, then the node shuts down and exits 0.
#[test]
fn api_hive_stop_stops_the_binary_gracefully() {
    let mut d = Daemon::start();
    let mut c = JsClient::connect(&d.url(), "xhr-polling");
    c.wait_ev("connect");
    d.wait_sinks(1);
    let t = Instant::now();
    let (s, b) = http_sync(d.api, "POST", &format!("/api/{HASH}/hive/stop"));
    assert_eq!((s, b.as_str()), (200, ""));
    d.expect_graceful_exit(&mut c, t);
}

/// A listener port already in use: the binary exits non-zero and says which port, on one line.
#[test]
fn busy_port_fails_start_naming_the_port() {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let [api, mon] = free_ports::<2>();
    let mut d =
        spawn_hive(json!({"hive": {"port": port}, "api": {"port": api}, "monitor": {"port": mon}}));
    let status = wait_exit(&mut d.child, Duration::from_secs(20)).expect("hive exits");
    let err = d.stop_stderr();
    assert!(!status.success(), "{status}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("hive: ")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains(&format!("127.0.0.1:{port}")) && lines[0].contains("hive.port"),
        "{err}"
    );
    assert!(Path::new(env!("CARGO_BIN_EXE_hive")).exists());
}
