//! The servers under test, each a separate process so its CPU time can be read from
//! `/proc/<pid>/stat`: the release `hive` binary, and the reference `socket.io@0.9.19` on Node.

pub use crate::util::cpu_of;
use crate::util::{free_port, merge, request, stop_child, wait_listening};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

const HASH: &str = "abcde12345";

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Hive,
    Node,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Hive => "hive",
            Kind::Node => "node socket.io@0.9.19",
        }
    }
}

/// A running server.
pub struct Target {
    pub kind: Kind,
    pub child: Child,
    /// Socket.IO listener.
    pub sio: SocketAddr,
    /// Where publish and count requests go (Hive: the API; Node: the same server).
    pub ctl: SocketAddr,
    _dir: tempfile::TempDir,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

impl Target {
    /// Start `kind` for `sessions` clients and wait until it accepts connections; Hive runs with
    /// `socketio.poll_timeout` = `poll_timeout` ms (its batching window; Node has none).
    pub fn start(kind: Kind, sessions: usize, poll_timeout: u64) -> Target {
        let dir = tempfile::tempdir().unwrap();
        let sio = free_port();
        let (child, ctl) = match kind {
            Kind::Hive => {
                let (api, mon) = (free_port(), free_port());
                let text = std::fs::read_to_string(root().join("config/test.json")).unwrap();
                let mut cfg: Value = serde_json::from_str(&text).unwrap();
                merge(
                    &mut cfg,
                    &json!({
                        "hive": {"port": sio, "max_client_slots": sessions + 1000,
                                 "websocket_ping_timeout": 60000, "graceful_termination_timeout": 2000},
                        "socketio": {"heartbeat_timeout": 60000, "reconnect_timeout": 60000,
                                     "poll_timeout": poll_timeout, "init_timeout": 60000,
                                     "session_timeout": 600000, "transports": ["websocket"]},
                        "clients": {
                            "actions": {"reply": [{"action": "action.send_event", "args": null}]},
                            "hooks": {"join": [{"hook": "pubsub.subscribe", "args": "public"}]}
                        },
                        "pubsub": {"channels": {"bench": {"privilege": "public", "timeout": 0}}},
                        "api": {"port": api, "max_body_size": 65536},
                        "monitor": {"port": mon},
                        "log": {"dir": dir.path().join("log").to_str().unwrap(),
                                "console_level": "warning", "file_level": "none"}
                    }),
                );
                // `HIVE_DIRECT_WRITE=1` / `0`: channels and actors write into idle sockets
                // themselves, or always hand over to the connection task
                // (`hive.websocket_direct_write`; unset, the key is left out: the build's default,
                // and older builds that lack the key start).
                match std::env::var("HIVE_DIRECT_WRITE").ok().as_deref() {
                    Some("0") => {
                        merge(
                            &mut cfg,
                            &json!({"hive": {"websocket_direct_write": false}}),
                        );
                    }
                    Some(_) => merge(&mut cfg, &json!({"hive": {"websocket_direct_write": true}})),
                    None => {}
                }
                // `HIVE_CORES`: `hive.cores` (one single-threaded runtime per core).
                if let Some(n) = std::env::var("HIVE_CORES").ok().filter(|v| !v.is_empty()) {
                    let n: u32 = n.parse().expect("HIVE_CORES: a number");
                    merge(&mut cfg, &json!({"hive": {"cores": n}}));
                }
                let path = dir.path().join("hive.json");
                std::fs::write(&path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
                // `HIVE_BIN`: another build to compare against (alternated runs of two builds).
                let bin = std::env::var_os("HIVE_BIN")
                    .unwrap_or_else(|| env!("CARGO_BIN_EXE_hive").into());
                let child = Command::new(bin)
                    .arg("--config")
                    .arg(&path)
                    .current_dir(dir.path())
                    .stdin(Stdio::null())
                    .spawn()
                    .expect("the hive binary");
                (child, api)
            }
            Kind::Node => {
                let child = Command::new("node")
                    .arg(root().join("benches/fanout_e2e/reference_server.js"))
                    .arg(sio.to_string())
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("node (npm socket.io@0.9.19 in node_modules)");
                (child, sio)
            }
        };
        let ip = [127, 0, 0, 1];
        let mut t = Target {
            kind,
            child,
            sio: SocketAddr::from((ip, sio)),
            ctl: SocketAddr::from((ip, ctl)),
            _dir: dir,
        };
        wait_listening(&mut t.child, kind.name(), &[t.sio, t.ctl]);
        t
    }

    /// The server's CPU time so far (user + system), from `/proc/<pid>/stat`.
    pub fn cpu(&self) -> Duration {
        cpu_of(self.child.id())
    }

    /// Resident memory (bytes), from `/proc/<pid>/status`.
    pub fn rss(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    }

    /// Publish the event `{"name": name, "args": args}` to `room`.
    pub async fn publish(&self, room: &str, name: &str, args: Value) -> u16 {
        let (path, body) = match self.kind {
            Kind::Hive => (
                format!("/api/{HASH}/pubsub/action/{room}"),
                json!({"action": "reply", "args": {"name": name, "args": args}}),
            ),
            Kind::Node => (
                format!("/publish/{room}"),
                json!({"name": name, "args": args}),
            ),
        };
        request(self.ctl, "POST", &path, body.to_string().as_bytes())
            .await
            .0
    }

    /// Subscribers of `room`.
    pub async fn count(&self, room: &str) -> Option<u64> {
        let path = match self.kind {
            Kind::Hive => format!("/api/{HASH}/pubsub/subscribe/{room}"),
            Kind::Node => format!("/count/{room}"),
        };
        let (s, body) = request(self.ctl, "GET", &path, b"").await;
        if s != 200 {
            return None;
        }
        serde_json::from_str::<Value>(&body).ok()?["subscribed_clients"].as_u64()
    }

    /// Stop the server (SIGTERM, then kill after 10 s).
    pub fn stop(mut self) {
        stop_child(&mut self.child);
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}
