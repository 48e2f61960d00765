//! A private `redis-server` per test on a random free port, stopped on drop.
//!
//! When `redis-server` is missing the test fails under `CI=true` and is skipped (with a message)
//! otherwise.

#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::process::Command;
use std::time::{Duration, Instant};

/// A running redis-server.
pub struct RedisServer {
    pub port: u16,
    dir: tempfile::TempDir,
}

fn available() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

impl RedisServer {
    /// Start one, or `None` (skip) when redis-server is missing outside CI.
    pub fn start() -> Option<RedisServer> {
        if !available() {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("redis-server is required under CI=true but is not installed");
            }
            eprintln!("SKIPPED: redis-server not installed");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let s = RedisServer {
            port,
            dir: tempfile::tempdir().unwrap(),
        };
        s.launch();
        Some(s)
    }

    fn launch(&self) {
        let pidfile = self.dir.path().join("redis.pid");
        let status = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--daemonize", "yes", "--pidfile", pidfile.to_str().unwrap()])
            .arg("--dir")
            .arg(self.dir.path())
            .status()
            .expect("run redis-server");
        assert!(status.success(), "redis-server failed to start");
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.cli(&["PING"]) != "PONG" {
            assert!(
                Instant::now() < deadline,
                "redis-server on {} did not answer PING",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Run a redis-cli command against this server; trimmed stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    }

    /// Stop the server and wait until its port is closed.
    pub fn stop(&self) {
        let _ = self.cli(&["SHUTDOWN", "NOSAVE"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(
                Instant::now() < deadline,
                "redis-server on {} did not stop",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stop and start again on the same port (empty data set).
    pub fn restart(&self) {
        self.stop();
        self.launch();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.cli(&["SHUTDOWN", "NOSAVE"]);
    }
}
