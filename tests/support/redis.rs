//! A private `redis-server` per test: a child process (`--daemonize no`) on a random free loopback
//! port, killed on drop; it can be shut down, killed and started again on the same port. Also the
//! two loopback-port helpers it needs ([`free_port`], [`port_open`]).
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

use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A free loopback port (bound then released; the caller binds it again at once).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// True while something accepts TCP connections on 127.0.0.1:`port`.
pub fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// A running redis-server.
pub struct RedisServer {
    pub port: u16,
    child: Mutex<Option<Child>>,
    dir: tempfile::TempDir,
    /// `appendonly yes` with `appendfsync always` (every acknowledged write survives a restart).
    persistent: bool,
}

fn installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

impl RedisServer {
    /// Start one; `None` (the caller skips) when redis-server is missing, except under `CI=true`,
    /// where a missing redis-server fails the test.
    pub fn start() -> Option<RedisServer> {
        Self::start_with(false)
    }

    /// Like [`RedisServer::start`], with `appendonly yes` and `appendfsync always`: a restart
    /// (stop, then [`RedisServer::start_again`]) keeps every acknowledged write.
    pub fn start_persistent() -> Option<RedisServer> {
        Self::start_with(true)
    }

    fn start_with(persistent: bool) -> Option<RedisServer> {
        if !installed() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "redis-server is required under CI=true but is not installed \
                 (apt-get install -y redis-server)"
            );
            eprintln!("SKIPPED: redis-server is not installed");
            return None;
        }
        let s = RedisServer {
            port: free_port(),
            child: Mutex::new(None),
            dir: tempfile::tempdir().unwrap(),
            persistent,
        };
        s.launch();
        Some(s)
    }

    fn launch(&self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--daemonize", "no"])
            .args(if self.persistent {
                ["--appendonly", "yes", "--appendfsync", "always"]
            } else {
                ["--appendonly", "no", "--appendfsync", "everysec"]
            })
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        *self.child.lock().unwrap() = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.cli(&["PING"]) != "PONG" {
            let exited = self.child.lock().unwrap().as_mut().map(Child::try_wait);
            if let Some(Ok(Some(status))) = exited {
                panic!("redis-server on port {} exited: {status}", self.port);
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not answer PING within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `redis-cli -p PORT args...`, trimmed stdout (a separate client from Hive's pool); empty
    /// when redis-cli cannot be run.
    pub fn cli(&self, args: &[&str]) -> String {
        Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    }

    /// Wait (up to 10 s) until the port is closed, then reap the child.
    fn wait_closed(&self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while port_open(self.port) {
            assert!(
                Instant::now() < deadline,
                "redis-server on {} did not {what}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        if let Some(mut c) = self.child.lock().unwrap().take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Clean shutdown (`SHUTDOWN NOSAVE`); waits until the port is closed.
    pub fn stop(&self) {
        let _ = self.cli(&["SHUTDOWN", "NOSAVE"]);
        self.wait_closed("stop");
    }

    /// SIGKILL the server (no clean shutdown); waits until the port is closed.
    pub fn kill(&self) {
        if let Some(c) = self.child.lock().unwrap().as_mut() {
            let _ = c.kill();
        }
        self.wait_closed("die");
    }

    /// Start it again on the same port after [`RedisServer::stop`] or [`RedisServer::kill`], with
    /// its data directory (a persistent server gets its data back).
    pub fn start_again(&self) {
        self.launch();
    }

    /// Kill it (if it still runs) and start it again on the same port, with an empty data set.
    pub fn restart(&self) {
        self.kill();
        self.launch();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some(mut c) = child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
