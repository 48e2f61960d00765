//! The HTTP edge of the three listeners (Socket.IO, API, monitor) over real TCP on 127.0.0.1:
//! half-sent and silent connections are closed at `http.header_read_timeout`, idle keep-alive
//! connections at `http.idle_timeout`, a held long poll and an upgraded WebSocket outlive both,
//! `http.max_connections` refuses the excess at accept with a log line while the node keeps
//! serving; a client that connects while the node is still starting is never refused; and the
//! real binary's log piped to a file has no escape sequences and no `Actor{id=` span chains.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use common::{TestHive, handshake, http};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Every log line of this test binary's nodes (warnings and up).
static LOGS: LazyLock<Arc<Mutex<Vec<u8>>>> = LazyLock::new(|| {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&buf);
    let _ = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .with_writer(move || Capture(Arc::clone(&sink)))
        .try_init();
    buf
});

struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).to_string()
}

const HEADER_MS: u64 = 500;
const IDLE_MS: u64 = 1000;

/// Short edge timeouts; the heartbeat (3 s) is longer than both.
fn short_timeouts() -> Value {
    json!({
        "http": {"header_read_timeout": HEADER_MS, "idle_timeout": IDLE_MS},
        "socketio": {"heartbeat_timeout": 3000, "session_timeout": 10000}
    })
}

fn ports(h: &TestHive) -> [(&'static str, SocketAddr); 3] {
    [("socketio", h.sio), ("api", h.api), ("monitor", h.monitor)]
}

/// How long until the server closes `s` (reads return EOF or an error), bounded by `limit`.
async fn closed_after(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((start + limit).into(), s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// Read one HTTP/1.1 response with a Content-Length body from a keep-alive connection.
async fn read_response(s: &mut TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if buf.len() >= end + 4 + len {
                let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string();
                return (status, body);
            }
        }
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed mid-response: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn within(what: &str, got: Option<Duration>, configured_ms: u64) {
    let got = got.unwrap_or_else(|| panic!("{what}: still open after 5 s"));
    let ms = got.as_millis() as u64;
    assert!(
        ms + 100 >= configured_ms && ms <= configured_ms + 1000,
        "{what}: closed after {ms} ms, configured {configured_ms} ms"
    );
}

/// On each port: a client that sends nothing, and one that sends half a request head, are closed
/// at the header-read timeout; a keep-alive connection after a full exchange at the idle timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_half_sent_and_idle_connections_are_closed_on_every_port() {
    let h = TestHive::start(short_timeouts()).await;
    let checks = ports(&h).map(|(name, addr)| async move {
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let mut half = TcpStream::connect(addr).await.unwrap();
        half.write_all(b"GET /socket.io/1/?t=1 HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let mut idle = TcpStream::connect(addr).await.unwrap();
        idle.write_all(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let (status, _) = read_response(&mut idle).await;
        assert!(status >= 400, "{name}: {status}");
        let limit = Duration::from_secs(5);
        let (a, b, c) = tokio::join!(
            closed_after(&mut silent, limit),
            closed_after(&mut half, limit),
            closed_after(&mut idle, limit)
        );
        within(&format!("{name}: sent nothing"), a, HEADER_MS);
        within(&format!("{name}: half-sent request"), b, HEADER_MS);
        within(&format!("{name}: idle keep-alive"), c, IDLE_MS);
    });
    futures::future::join_all(checks).await;
    h.stop().await;
}

/// The idle timer restarts as a header timer at the first byte of the next request: a request
/// head left half-sent after a keep-alive exchange is closed at the header timeout from then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_second_request_gets_the_header_timeout() {
    let h = TestHive::start(short_timeouts()).await;
    let mut s = TcpStream::connect(h.sio).await.unwrap();
    s.write_all(b"GET /socket.io/1/?t=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_response(&mut s).await.0, 200);
    tokio::time::sleep(Duration::from_millis(IDLE_MS / 2)).await;
    s.write_all(b"GET /socket.io/1/?t=1 HTTP/1.1\r\n")
        .await
        .unwrap();
    within(
        "second head",
        closed_after(&mut s, Duration::from_secs(5)).await,
        HEADER_MS,
    );
    h.stop().await;
}

/// A request head beyond `http.max_header_size` is answered 431.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_request_head_is_refused() {
    let h = TestHive::start(json!({"http": {"max_header_size": 4096}})).await;
    for (name, addr) in ports(&h) {
        let big = "a".repeat(6000);
        let (status, _, _) = http(addr, "GET", "/socket.io/1/?t=1", &[("X-Big", &big)], b"").await;
        assert_eq!(status, 431, "{name}");
    }
    assert_eq!(
        handshake(h.sio).await.len(),
        40,
        "normal requests still pass"
    );
    h.stop().await;
}

/// A held 0.9 long poll is answered by the heartbeat (3 s), long after the idle and header
/// timeouts; so is the keep-alive connection it is held on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_long_poll_outlives_the_edge_timeouts() {
    let h = TestHive::start(short_timeouts()).await;
    let sid = handshake(h.sio).await;
    let mut s = TcpStream::connect(h.sio).await.unwrap();
    let poll = format!("GET /socket.io/1/xhr-polling/{sid}?t=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    s.write_all(poll.as_bytes()).await.unwrap();
    let (status, body) = read_response(&mut s).await;
    assert_eq!((status, body.as_str()), (200, "1:::"), "the connect packet");
    let start = Instant::now();
    s.write_all(poll.as_bytes()).await.unwrap();
    let (status, body) = read_response(&mut s).await;
    let held = start.elapsed();
    assert_eq!((status, body.as_str()), (200, "8:::"), "the heartbeat noop");
    assert!(
        held >= Duration::from_millis(2 * IDLE_MS),
        "the poll was held {held:?}"
    );
    assert_eq!(h.sessions(), 1);
    h.stop().await;
}

/// An upgraded WebSocket is not an HTTP connection any more: it stays open past the idle and
/// header timeouts (its heartbeat governs it), and still counts against the connection bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgraded_websocket_outlives_the_edge_timeouts() {
    let mut patch = short_timeouts();
    common::merge(&mut patch, &json!({"http": {"max_connections": 2}}));
    let h = TestHive::start(patch).await;
    let sid = handshake(h.sio).await;
    let mut s = TcpStream::connect(h.sio).await.unwrap();
    let req = format!(
        "GET /socket.io/1/websocket/{sid} HTTP/1.1\r\nHost: x\r\nOrigin: http://localhost\r\n\
         Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    let open_for = Duration::from_millis(2 * IDLE_MS);
    assert_eq!(
        closed_after(&mut s, open_for).await,
        None,
        "the WebSocket was closed by an HTTP timeout"
    );
    assert_eq!(h.sessions(), 1);
    // Its slot is still taken: with a bound of 2, one more connection fits, the next is refused.
    let mut fits = TcpStream::connect(h.sio).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut refused = TcpStream::connect(h.sio).await.unwrap();
    assert!(
        closed_after(&mut refused, Duration::from_secs(2))
            .await
            .is_some(),
        "the WebSocket holds a connection slot"
    );
    assert_eq!(
        closed_after(&mut fits, Duration::from_millis(100)).await,
        None
    );
    h.stop().await;
}

/// On each port: with `http.max_connections` connections open, the next one is closed at once and
/// a rate-limited warning says so; once they close, the port serves again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_bound_refuses_the_excess_with_a_log_line_on_every_port() {
    let _ = logs();
    let h = TestHive::start(json!({"http": {"max_connections": 3, "header_read_timeout": 10000}}))
        .await;
    for (name, addr) in ports(&h) {
        // Fill the bound. The previous port's last connection may still hold its slot for a
        // moment after the client closed it: then one of these is refused, and we try again.
        let end = Instant::now() + Duration::from_secs(5);
        let held = loop {
            let mut held = Vec::new();
            for _ in 0..3 {
                held.push(TcpStream::connect(addr).await.unwrap());
            }
            let mut all_open = true;
            for s in &mut held {
                all_open &= closed_after(s, Duration::from_millis(100)).await.is_none();
            }
            if all_open {
                break held;
            }
            assert!(Instant::now() < end, "{name}: cannot fill the bound");
            drop(held);
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let mut excess = TcpStream::connect(addr).await.unwrap();
        let closed = closed_after(&mut excess, Duration::from_secs(2)).await;
        assert!(
            closed.is_some_and(|d| d < Duration::from_millis(1500)),
            "{name}: the excess connection was not closed at once ({closed:?})"
        );
        let line = format!("addr={addr}");
        let end = Instant::now() + Duration::from_secs(2);
        while !logs()
            .lines()
            .any(|l| l.contains("connection limit reached") && l.contains(&line))
        {
            assert!(
                Instant::now() < end,
                "{name}: no log line for the refusal: {}",
                logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(held);
        // The slots come back as the server sees the closes.
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            let mut buf = [0u8; 9];
            match tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut buf)).await {
                Ok(Ok(_)) => {
                    assert_eq!(&buf, b"HTTP/1.1 ", "{name}");
                    break;
                }
                _ => assert!(Instant::now() < end, "{name}: not serving after the bound"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert_eq!(handshake(h.sio).await.len(), 40);
    h.stop().await;
}

/// `hive check-config` knows the `http` keys: valid values pass without unknown-key warnings, bad
/// ones are errors naming their path, and `HIVE_HTTP__*` overrides them.
#[test]
fn check_config_validates_the_http_section() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hive.json");
    let write = |http: Value| {
        let cfg = common::test_config(json!({ "http": http }));
        std::fs::write(&path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    };
    write(
        json!({"header_read_timeout": 10000, "idle_timeout": 60000, "max_header_size": 16384,
                 "max_connections": 2224, "drain_timeout": 5000}),
    );
    let (code, text) = hive::cli::check_config(std::slice::from_ref(&path), &[]);
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("warning"), "{text}");
    write(
        json!({"header_read_timeout": 0, "max_header_size": 100, "max_connections": "many",
                 "keepalive": 1}),
    );
    let (code, text) = hive::cli::check_config(std::slice::from_ref(&path), &[]);
    assert_eq!(code, 2, "{text}");
    for line in [
        "http.header_read_timeout: expected an integer >= 1, got 0",
        "http.max_header_size: expected an integer >= 1024, got 100",
        "http.max_connections: expected an integer >= 1, got \"many\"",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    write(json!({}));
    let env = [("HIVE_HTTP__IDLE_TIMEOUT".to_string(), "-5".to_string())];
    let (code, text) = hive::cli::check_config(std::slice::from_ref(&path), &env);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("http.idle_timeout"), "{text}");
}

/// Free loopback ports: bind port 0, note the port, release it.
fn free_ports<const N: usize>() -> [u16; N] {
    let ls: Vec<std::net::TcpListener> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    std::array::from_fn(|i| ls[i].local_addr().unwrap().port())
}

/// A client that connects the moment the ports are bound, while the last start-up step is held
/// back (`ready_delay`), gets a session: no "router is starting" refusal. The monitor's tree,
/// asked in the same window, waits for the tree instead of failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_connecting_during_start_up_is_never_refused() {
    let [sio, api, mon] = free_ports::<3>();
    let cfg = common::test_config(
        json!({"hive": {"port": sio}, "api": {"port": api}, "monitor": {"port": mon}}),
    );
    let loaded = hive::config::from_value(cfg).unwrap();
    let delay = Duration::from_millis(1500);
    let opts = hive::app::StartOptions {
        ready_delay: delay,
        ..Default::default()
    };
    let t0 = Instant::now();
    let starting = tokio::spawn(hive::app::start(loaded.config, opts));
    let sio = SocketAddr::from(([127, 0, 0, 1], sio));
    let mon = SocketAddr::from(([127, 0, 0, 1], mon));
    // Bound at the very start of `start`: retry only while nothing listens yet.
    let connect = |addr| async move {
        loop {
            match TcpStream::connect(addr).await {
                Ok(s) => return s,
                Err(_) => tokio::time::sleep(Duration::from_millis(1)).await,
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "never bound");
        }
    };
    let mut s = connect(sio).await;
    s.write_all(b"GET /socket.io/1/?t=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (status, body) = read_response(&mut s).await;
    assert_eq!(status, 200, "handshake refused during start-up: {body}");
    let sid = body.split(':').next().unwrap().to_string();
    assert_eq!(sid.len(), 40, "{body}");
    let poll = format!("GET /socket.io/1/xhr-polling/{sid}?t=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    s.write_all(poll.as_bytes()).await.unwrap();
    assert_eq!(read_response(&mut s).await, (200, "1:::".to_string()));
    assert!(
        !starting.is_finished() && t0.elapsed() < delay,
        "the session started only after start-up ({:?}): the test proves nothing",
        t0.elapsed()
    );
    let mut m = connect(mon).await;
    m.write_all(b"GET /monitor/12345abcde/tree HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (status, body) = read_response(&mut m).await;
    assert_eq!(status, 200, "the tree during start-up: {body}");
    assert!(body.contains("web_sup"), "{body}");
    let node = starting.await.unwrap().unwrap();
    assert!(t0.elapsed() >= delay);
    assert_eq!(node.metrics().get("hive.router.spawned_clients"), 1);
    assert_eq!(node.metrics().get("hive.router.errors"), 0);
    node.shutdown().await.unwrap();
}

/// The real binary with stderr piped to a file (not a terminal): no ANSI escape sequences, no
/// span chains, and lines name the actor they come from.
#[test]
fn binary_logs_piped_to_a_file_are_plain_with_one_actor_name() {
    let dir = tempfile::tempdir().unwrap();
    let [sio, api, mon] = free_ports::<3>();
    let mut cfg = common::test_config(json!({
        "hive": {"port": sio}, "api": {"port": api}, "monitor": {"port": mon},
        "log": {"dir": dir.path().join("log").to_str().unwrap(),
                "console_level": "info", "file_level": "info"}
    }));
    cfg["clients"]["hooks"]["on_connect"] =
        json!([{"hook": "utils.console_dump", "args": "connected"}]);
    let path = dir.path().join("hive.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    let err_path = dir.path().join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hive"))
        .arg("--config")
        .arg(&path)
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let sio = SocketAddr::from(([127, 0, 0, 1], sio));
    let end = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(sio).is_err() {
        if let Some(s) = child.try_wait().unwrap() {
            panic!(
                "hive exited at start-up ({s}): {}",
                std::fs::read_to_string(&err_path).unwrap()
            );
        }
        assert!(Instant::now() < end, "hive did not start listening");
        std::thread::sleep(Duration::from_millis(20));
    }
    // A session: its on_connect dump logs from the client actor.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let sid = handshake(sio).await;
        let path = format!("/socket.io/1/xhr-polling/{sid}");
        assert_eq!(http(sio, "GET", &path, &[], b"").await.2, "1:::");
    });
    std::thread::sleep(Duration::from_millis(300));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let end = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > end {
            let _ = child.kill();
            panic!("hive did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = std::fs::read_to_string(&err_path).unwrap();
    let file_log = std::fs::read_to_string(dir.path().join("log/hive.log")).unwrap_or_default();
    for (what, text) in [("stderr", &log), ("hive.log", &file_log)] {
        assert!(
            !text.contains('\x1b'),
            "{what} has escape sequences:\n{text}"
        );
        assert!(!text.contains("Actor{"), "{what} has span chains:\n{text}");
    }
    assert!(
        log.lines()
            .any(|l| l.contains("[socketio_listener]") && l.contains("listening")),
        "the listener's line names its actor:\n{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("[client]") && l.contains("connected")),
        "the session's on_connect dump names its actor:\n{log}"
    );
    assert!(log.contains("Hive stopped"), "{log}");
    let _ = std::io::stderr().flush();
}
