//! Shared integration-test fixtures: a real Hive node on loopback port 0 ([`TestHive`]), the real
//! npm `socket.io-client@0.9.16` driven line by line ([`JsClient`]), and a minimal raw HTTP client.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::mod_module_files,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Merge `patch` into `base` (objects recursively, everything else replaced).
pub fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p.clone(),
    }
}

/// `config/test.json` with `patch` merged in.
pub fn test_config(patch: Value) -> Value {
    let text = std::fs::read_to_string(root().join("config/test.json")).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    merge(&mut v, &patch);
    v
}

/// A running node.
pub struct TestHive {
    pub node: Option<hive::app::RunningHive>,
    pub sio: SocketAddr,
    pub api: SocketAddr,
    pub monitor: SocketAddr,
}

impl TestHive {
    /// Start a node from `config/test.json` + `patch`.
    pub async fn start(patch: Value) -> TestHive {
        Self::start_mode(patch, hive::Mode::Dev).await
    }

    pub async fn start_mode(patch: Value, mode: hive::Mode) -> TestHive {
        let loaded = hive::config::from_value(test_config(patch)).expect("test config is valid");
        let node = hive::app::start(
            loaded.config,
            hive::app::StartOptions {
                mode,
                ..Default::default()
            },
        )
        .await
        .expect("hive starts");
        TestHive {
            sio: node.socketio_addr,
            api: node.api_addr,
            monitor: node.monitor_addr,
            node: Some(node),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.sio.port())
    }

    pub fn node(&self) -> &hive::app::RunningHive {
        self.node.as_ref().unwrap()
    }

    pub fn metric(&self, name: &str) -> i64 {
        self.node().metrics().get(name)
    }

    pub fn sessions(&self) -> usize {
        self.node().router().count()
    }

    /// Wait until `f` holds (bounded).
    pub async fn until(&self, what: &str, limit: Duration, f: impl Fn(&TestHive) -> bool) {
        let end = Instant::now() + limit;
        while !f(self) {
            assert!(Instant::now() < end, "timed out waiting for: {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn stop(mut self) {
        if let Some(n) = self.node.take() {
            n.shutdown().await.unwrap();
        }
    }
}

/// One JSON line from the JS client.
pub type Ev = Value;

/// The real Socket.IO 0.9 client (npm socket.io-client@0.9.16 on node), driven by JSON lines.
pub struct JsClient {
    child: Child,
    stdin: ChildStdin,
    rx: mpsc::Receiver<Ev>,
    pub seen: Vec<Ev>,
}

impl JsClient {
    pub fn connect(url: &str, transport: &str) -> JsClient {
        Self::spawn("tests/js/sio_client.js", &[url, transport], &[])
    }

    /// One client per transport in `transports`, all connected.
    pub fn connect_all(url: &str, transports: &[&str]) -> Vec<JsClient> {
        let mut clients: Vec<JsClient> = transports
            .iter()
            .map(|t| JsClient::connect(url, t))
            .collect();
        for c in &mut clients {
            c.wait_ev("connect");
        }
        clients
    }

    /// A client run by another script speaking the same JSON lines (e.g.
    /// `tests/js/origin_client.js`), with `envs` added to its environment.
    pub fn spawn(script: &str, args: &[&str], envs: &[(&str, &str)]) -> JsClient {
        let (child, stdin, rx) = spawn_node(script, args, envs);
        JsClient {
            child,
            stdin,
            rx,
            seen: Vec::new(),
        }
    }

    pub fn send(&mut self, cmd: Value) {
        writeln!(self.stdin, "{cmd}").unwrap();
        self.stdin.flush().unwrap();
    }

    pub fn emit(&mut self, name: &str, args: Value) {
        self.send(json!({"op": "emit", "name": name, "args": args}));
    }

    pub fn emit_ack(&mut self, name: &str, args: Value) {
        self.send(json!({"op": "emit", "name": name, "args": args, "ack": true}));
    }

    /// Next line matching `pred`, within `limit` (lines not matching are kept in `seen`).
    pub fn wait_for(&mut self, limit: Duration, pred: impl Fn(&Ev) -> bool) -> Ev {
        let end = Instant::now() + limit;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if pred(&v) {
                        return v;
                    }
                }
                Err(_) => panic!("timed out; seen so far: {:?}", self.seen),
            }
        }
    }

    pub fn wait_event(&mut self, name: &str) -> Ev {
        let n = name.to_string();
        self.wait_for(Duration::from_secs(5), move |v| {
            v["ev"] == "event" && v["name"] == n.as_str()
        })
    }

    pub fn wait_ev(&mut self, ev: &str) -> Ev {
        let e = ev.to_string();
        self.wait_for(Duration::from_secs(5), move |v| v["ev"] == e.as_str())
    }

    /// True when nothing matching `pred` arrives within `d`.
    pub fn quiet_for(&mut self, d: Duration, pred: impl Fn(&Ev) -> bool) -> bool {
        let end = Instant::now() + d;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            match self.rx.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if pred(&v) {
                        return false;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => return true,
                Err(mpsc::RecvTimeoutError::Disconnected) => return true,
            }
        }
    }

    pub fn disconnect(&mut self) {
        self.send(json!({"op": "disconnect"}));
    }
}

impl Drop for JsClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run `node <script> <args>` (script relative to the repository root) with stdin piped, and read
/// its stdout as JSON lines on a thread.
pub fn spawn_node(
    script: &str,
    args: &[&str],
    envs: &[(&str, &str)],
) -> (Child, ChildStdin, mpsc::Receiver<Value>) {
    let mut child = Command::new("node")
        .arg(root().join(script))
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node must be installed (npm peers are installed by scripts/test.sh)");
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && tx.send(v).is_err()
            {
                break;
            }
        }
    });
    (child, stdin, rx)
}

/// A raw HTTP/1.1 exchange over a fresh TCP connection (Connection: close).
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, head.to_string(), body)
}

fn dechunk(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some((len, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

/// Handshake over raw HTTP; returns the sid.
pub async fn handshake(addr: SocketAddr) -> String {
    let (status, _, body) = http(addr, "GET", "/socket.io/1/?t=1", &[], b"").await;
    assert_eq!(status, 200, "handshake: {body}");
    body.split(':').next().unwrap().to_string()
}

/// True when `p` exists.
pub fn exists(p: &Path) -> bool {
    p.exists()
}

/// Start a Hive binary on `config` in `dir` (no `RUST_LOG`, no colour), its stderr read to the
/// end on a thread: the child and that thread, which yields the whole stderr once the child exits.
pub fn spawn_hive_binary(
    bin: impl AsRef<std::ffi::OsStr>,
    config: &Path,
    dir: &Path,
) -> (Child, std::thread::JoinHandle<String>) {
    let mut child = Command::new(bin)
        .arg("--config")
        .arg(config)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    (child, stderr)
}
