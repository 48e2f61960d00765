//! The processes of a chaos run (redis-server, the chat backend, hive, flood), their
//! configuration, and a small HTTP client for the monitor.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{API_HASH, MON_HASH, Opts};

pub use crate::util::free_port;

pub struct Procs {
    pub sio: SocketAddr,
    pub api: SocketAddr,
    pub monitor: SocketAddr,
    redis_port: u16,
    backend_port: u16,
    dir: std::path::PathBuf,
    redis: Child,
    backend: Child,
    hive: Child,
}

fn bin(root: &Path, name: &str) -> std::path::PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    let p = target.join("release").join(name);
    assert!(
        p.exists(),
        "{} is missing: cargo build --release -p hive -p flood -p chat --bins",
        p.display()
    );
    p
}

/// Redis with an append-only file in `dir`, so a restart keeps the sessions' state, as a
/// production Redis would.
fn spawn_redis(port: u16, dir: &Path) -> Child {
    Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args([
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--daemonize",
            "no",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server runs (apt-get install -y redis-server)")
}

fn spawn_backend(root: &Path, port: u16, api: SocketAddr) -> Child {
    Command::new(bin(root, "chat_backend"))
        .args(["--port", &port.to_string()])
        .args(["--api", &format!("http://{api}/api/{API_HASH}")])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_port(port: u16) {
    for _ in 0..300 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nothing listens on {port}");
}

impl Procs {
    pub async fn start(root: &Path, dir: &Path, o: &Opts) -> Procs {
        let (sio, api, monitor) = (free_port(), free_port(), free_port());
        let (redis_port, backend_port) = (free_port(), free_port());
        let redis = spawn_redis(redis_port, dir);
        wait_port(redis_port).await;
        let api_addr = SocketAddr::from(([127, 0, 0, 1], api));
        let backend = spawn_backend(root, backend_port, api_addr);
        wait_port(backend_port).await;
        let text = std::fs::read_to_string(root.join("tests/fixtures/config/seed.json")).unwrap();
        let mut c: Value = serde_json::from_str(&text).unwrap();
        let slots = o.users + o.probes * 4 + 1000;
        c["hive"]["port"] = json!(sio);
        c["hive"]["bind"] = json!("127.0.0.1");
        c["hive"]["max_client_slots"] = json!(slots);
        c["hive"]["max_processes"] = json!(4 * slots + 10_000);
        c["hive"]["allowed_origins"] = json!([null, "null", "ws://localhost", "ws://127.0.0.1"]);
        c["connectors"]["pools"]["database"]["args"]["host"] = json!("127.0.0.1");
        c["connectors"]["pools"]["database"]["args"]["port"] = json!(redis_port);
        c["connectors"]["pools"]["backend"]["args"]["base_url"] =
            json!(format!("http://127.0.0.1:{backend_port}"));
        c["api"]["port"] = json!(api);
        c["monitor"] = json!({"port": monitor, "hash": MON_HASH});
        c["log"] = json!({"dir": dir.join("log").to_str().unwrap(), "console_level": "error",
                          "file_level": "warning"});
        let cfg = dir.join("hive.json");
        std::fs::write(&cfg, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
        let hive = Command::new(bin(root, "hive"))
            .arg("--config")
            .arg(&cfg)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        wait_port(sio).await;
        wait_port(monitor).await;
        let at = |p| SocketAddr::from(([127, 0, 0, 1], p));
        Procs {
            sio: at(sio),
            api: at(api),
            monitor: at(monitor),
            redis_port,
            backend_port,
            dir: dir.to_path_buf(),
            redis,
            backend,
            hive,
        }
    }

    /// Stop the Redis of `sm.redis` (SIGTERM: it writes its append-only file) and start it again
    /// on the same port.
    pub async fn restart_redis(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.redis.id().to_string()])
            .status();
        let _ = self.redis.wait();
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.redis = spawn_redis(self.redis_port, &self.dir);
        wait_port(self.redis_port).await;
    }

    /// Kill the chat backend and start it again (its in-memory nick table is lost).
    pub async fn restart_backend(&mut self, root: &Path) {
        let _ = self.backend.kill();
        let _ = self.backend.wait();
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.backend = spawn_backend(root, self.backend_port, self.api);
        wait_port(self.backend_port).await;
    }

    /// Write flood's scenario and start it: one phase per user (its nick and room are phase
    /// metadata; flood substitutes whole strings only), rooms of 10, the first `o.xhr` users over
    /// XHR-polling.
    pub fn start_flood(&self, root: &Path, dir: &Path, o: &Opts) -> Child {
        let user = |transport: &str| {
            json!({
                "weight": 1.0,
                "transport": transport,
                "do": [
                    ["on_socketio", {"1": [
                        ["emit_event", {"name": "authorize", "args": [{"nick": "$nick"}]}]]}],
                    ["on_event", {"authorize": [
                        ["match", {"subject": "$event.args", "json": [{"permission": "granted"}],
                                   "on_match": [
                                       ["inc", "authorized"],
                                       ["emit_event", {"name": "join_rooms", "args": [{"rooms": ["$room"]}]}],
                                       ["start_timer", "tick", "$think"]],
                                   "on_nomatch": [["inc", "forbidden"]]}]],
                        "msg_published": [["inc", "msgs"]],
                        "hive_error": [["inc", "hive_errors"]]}],
                    ["on_timeout", {"tick": [
                        ["inc", "sent"],
                        ["emit_event", {"name": "publish_msg",
                                        "args": [{"channel": "$channel", "text": "hi"}]}],
                        ["start_timer", "tick", "$think"]]}],
                ]
            })
        };
        let spawn_ms = 20_000u64.min(o.before * 1000 / 2);
        let mut phases = serde_json::Map::new();
        for i in 0..o.users {
            let room = i / 10;
            phases.insert(
                format!("u{i}"),
                json!({
                    "users": 1,
                    "user_sessions": [if i < o.xhr { "xhr" } else { "ws" }],
                    "start_time": (i as u64) * spawn_ms / (o.users.max(1) as u64),
                    "spawn_duration": 0,
                    "metadata": {"nick": format!("f{i}"), "room": format!("f{room}"),
                                 "channel": format!("rooms.f{room}"), "think": o.think},
                }),
            );
        }
        let scenario = json!({
            "server": {"host": "127.0.0.1", "port": self.sio.port(), "endpoint": "/socket.io/1/"},
            "phases": phases,
            "sessions": {"ws": user("websocket"), "xhr": user("xhr-polling")},
        });
        let path = dir.join("flood.json");
        std::fs::write(&path, serde_json::to_vec(&scenario).unwrap()).unwrap();
        let secs = o.before + o.during + o.after + 5;
        Command::new(bin(root, "flood"))
            .arg(&path)
            .args(["--duration", &secs.to_string(), "--quiet", "--out"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    pub async fn finish_flood(&self, mut flood: Child, dir: &Path) -> Value {
        let _ = tokio::task::spawn_blocking(move || flood.wait()).await;
        let p = dir.join("flood_flood_result.json");
        std::fs::read_to_string(&p)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null)
    }

    pub async fn stop(mut self) {
        // SIGTERM via `kill` would be graceful; the run is over, so just end everything.
        for c in [&mut self.hive, &mut self.backend, &mut self.redis] {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One HTTP/1.1 request (Connection: close): status and body.
pub async fn request(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return (0, String::new());
    };
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    if s.write_all(req.as_bytes()).await.is_err() {
        return (0, String::new());
    }
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

pub async fn get_json(addr: SocketAddr, path: &str) -> Value {
    let (_, body) = request(addr, "GET", path, "").await;
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

pub async fn post(addr: SocketAddr, path: &str, body: &str) -> (u16, String) {
    request(addr, "POST", path, body).await
}
