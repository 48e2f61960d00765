//! `hive top` in a real terminal: tmux runs the binary against a live node's monitor (real
//! sessions and a backend pool); the pane shows the rates, the pools and the top actors, the sort
//! changes on a key (`u`: the session comes first), and `q` ends it (the pane's process exits 0 and the terminal is restored).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/backend.rs"]
mod backend;
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use backend::Backend;
use common::{TestHive, http};

/// A private tmux server (its own socket), killed on drop.
struct Tmux(String);

impl Tmux {
    fn new() -> Tmux {
        assert!(
            Command::new("tmux").arg("-V").output().is_ok(),
            "tmux is required (scripts/test.sh installs it)"
        );
        Tmux(format!("hive-top-{}", std::process::id()))
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .args(["-L", &self.0])
            .args(args)
            .output()
            .expect("tmux runs")
    }

    fn capture(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "top"]).stdout).into()
    }

    /// Wait until the pane shows every one of `want`; the screen.
    fn until(&self, what: &str, want: &[&str]) -> String {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.capture();
            if want.iter().all(|w| screen.contains(w)) {
                return screen;
            }
            assert!(Instant::now() < end, "{what}; the pane shows:\n{screen}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hive_top_shows_the_top_actors_and_quits_on_q() {
    let b = Backend::start().await;
    b.answer(200, "{}");
    let pool = json!({"connector": "connector.http", "size": 2, "overflow": 0,
        "args": {"base_url": format!("http://{}", b.addr), "max_connection_timeout": 10000}});
    let h = TestHive::start(json!({
        "socketio": {"reconnect_timeout": 60000, "heartbeat_timeout": 60000,
                     "session_timeout": 120000},
        "connectors": {"pools": {"backend": pool}},
        "clients": {"hooks": {
            "slow": [{"hook": "hp.post", "args": {"connector": "backend", "endpoint": "/slow"}}]
        }}
    }))
    .await;
    let sid = common::handshake(h.sio).await;
    let path = format!("/socket.io/1/xhr-polling/{sid}");
    let (s, _, _) = http(h.sio, "GET", &path, &[("Origin", "null")], b"").await;
    assert_eq!(s, 200);
    let msg = r#"5:::{"name":"slow","args":[1]}"#;
    let (s, _, _) = http(h.sio, "POST", &path, &[("Origin", "null")], msg.as_bytes()).await;
    assert_eq!(s, 200);

    let t = Tmux::new();
    let done = std::env::temp_dir().join(format!("hive-top-{}.exit", std::process::id()));
    let _ = std::fs::remove_file(&done);
    let cmd = format!(
        "{} top --monitor http://{} --hash 12345abcde; echo $? > {}",
        env!("CARGO_BIN_EXE_hive"),
        h.monitor,
        done.display()
    );
    let out = t.run(&[
        "new-session",
        "-d",
        "-s",
        "top",
        "-x",
        "160",
        "-y",
        "45",
        &cmd,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Blocking tmux polls: off the runtime's workers, which serve the node.
    let screen = tokio::task::block_in_place(|| {
        t.until(
            "the top actors",
            &[
                "hive top",
                "sessions 1",
                "TOP ACTORS by mailbox",
                "root_sup",
                "router",
                "pool:backend",
                "worker:backend:0",
            ],
        )
    });
    assert!(
        screen.lines().any(|l| l.starts_with("backend ")),
        "the pool's line:\n{screen}"
    );
    tokio::task::block_in_place(|| {
        // Sessions come first by queued.
        t.run(&["send-keys", "-t", "top", "u"]);
        t.until(
            "the session, sorted by queued",
            &["TOP ACTORS by queued", &sid],
        );
        t.run(&["send-keys", "-t", "top", "a"]);
        t.until("sorted by age", &["TOP ACTORS by age"]);
        t.run(&["send-keys", "-t", "top", "q"]);
        let end = Instant::now() + Duration::from_secs(10);
        while !done.exists() {
            assert!(
                Instant::now() < end,
                "q did not end hive top:\n{}",
                t.capture()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let code = std::fs::read_to_string(&done).unwrap();
    assert_eq!(code.trim(), "0", "hive top's exit status");
    let _ = std::fs::remove_file(&done);
    h.stop().await;
}
