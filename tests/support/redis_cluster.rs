//! A private Redis Cluster per test: `masters` `redis-server --cluster-enabled yes` children on free
//! loopback ports (client and bus ports), joined by `redis-cli --cluster create ...
//! --cluster-replicas 0 --cluster-yes`, and waited for until every node says `cluster_state:ok`.
//! Killed on drop.
//!
//! When `redis-server` or `redis-cli` is missing the test fails under `CI=true` and is skipped
//! (with a message) otherwise.

#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (bound then released; the caller binds it again at once).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn installed(bin: &str) -> bool {
    Command::new(bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A running Redis Cluster of masters only.
pub struct RedisCluster {
    /// The masters' client ports.
    pub ports: Vec<u16>,
    /// Their cluster bus ports.
    buses: Vec<u16>,
    children: Vec<Option<Child>>,
    dir: tempfile::TempDir,
}

impl RedisCluster {
    /// Start a cluster of `masters` masters; `None` (the caller skips) when redis-server or
    /// redis-cli is missing, except under `CI=true`, where that fails the test.
    pub fn start(masters: usize) -> Option<RedisCluster> {
        if !installed("redis-server") || !installed("redis-cli") {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "redis-server and redis-cli are required under CI=true but are not installed \
                 (apt-get install -y redis-server redis-tools)"
            );
            eprintln!("SKIPPED: redis-server or redis-cli is not installed");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut c = RedisCluster {
            ports: Vec::new(),
            buses: Vec::new(),
            children: Vec::new(),
            dir,
        };
        for i in 0..masters {
            c.ports.push(free_port());
            c.buses.push(free_port());
            let child = c.launch(i);
            c.children.push(Some(child));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for &p in &c.ports {
            while c.cli(p, &["PING"]) != "PONG" {
                assert!(
                    Instant::now() < deadline,
                    "redis-server on port {p} did not answer PING within 10 s"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(c.seeds())
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("run redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        c.wait_ok();
        Some(c)
    }

    /// Start master `i`.
    fn launch(&self, i: usize) -> Child {
        let node_dir = self.dir.path().join(format!("n{i}"));
        std::fs::create_dir_all(&node_dir).unwrap();
        Command::new("redis-server")
            .args(["--port", &self.ports[i].to_string(), "--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes"])
            .args(["--cluster-port", &self.buses[i].to_string()])
            .args(["--cluster-config-file", "nodes.conf"])
            .args(["--cluster-node-timeout", "5000"])
            // The surviving masters keep serving their slots while one is down.
            .args(["--cluster-require-full-coverage", "no"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&node_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server")
    }

    fn wait_ok(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        for &p in &self.ports {
            while !self
                .cli(p, &["CLUSTER", "INFO"])
                .contains("cluster_state:ok")
            {
                assert!(
                    Instant::now() < deadline,
                    "the Redis Cluster never reached cluster_state:ok on port {p}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// The seed list (`127.0.0.1:port` of every master).
    pub fn seeds(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect()
    }

    /// `redis-cli -p port args...` (no `-c`: the node answers for itself), trimmed stdout.
    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        Command::new("redis-cli")
            .args(["-p", &port.to_string()])
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    }

    /// The keys matching `pattern` that the master on `port` holds (`SCAN` answers for one node).
    pub fn keys_on(&self, port: u16, pattern: &str) -> Vec<String> {
        let out = self.cli(port, &["--scan", "--pattern", pattern]);
        out.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Sum of `calls` in `INFO commandstats` over every master (every command Redis ran).
    pub fn calls(&self) -> u64 {
        self.ports
            .iter()
            .map(|&p| {
                self.cli(p, &["INFO", "commandstats"])
                    .lines()
                    .filter_map(|l| {
                        l.split_once("calls=")?
                            .1
                            .split(',')
                            .next()?
                            .parse::<u64>()
                            .ok()
                    })
                    .sum::<u64>()
            })
            .sum()
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for c in self.children.iter_mut().filter_map(Option::as_mut) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
