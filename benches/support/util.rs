//! Small helpers shared by the end-to-end benches: a free loopback port and a JSON config patch.
#![allow(dead_code, unreachable_pub)] // each bench uses its own part of these

use serde_json::Value;

/// A loopback port free at the time of the call.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Deep-merge `patch` into `base` (objects key by key; anything else replaces).
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

/// Waits (up to 30 s) until every one of `addrs` accepts connections; panics, naming `name`, if
/// `child` exits first or time runs out.
pub fn wait_listening(child: &mut std::process::Child, name: &str, addrs: &[std::net::SocketAddr]) {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while addrs
        .iter()
        .any(|a| std::net::TcpStream::connect(a).is_err())
    {
        if let Some(s) = child.try_wait().unwrap() {
            panic!("{name} exited at start-up: {s}");
        }
        assert!(std::time::Instant::now() < end, "{name} did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Stops `child`: SIGTERM, then a kill after 10 s, then reaps it.
pub fn stop_child(child: &mut std::process::Child) {
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while child.try_wait().ok().flatten().is_none() && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

pub fn clk_tck() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}

/// CPU time (user + system) of process `pid`.
pub fn cpu_of(pid: u32) -> std::time::Duration {
    cpu_in(&format!("/proc/{pid}/stat"))
}

/// CPU time (user + system) from a `/proc/.../stat` file (a process's, or `/proc/thread-self/stat`).
pub fn cpu_in(stat: &str) -> std::time::Duration {
    let s = std::fs::read_to_string(stat).unwrap_or_default();
    // Fields after the `(comm)`: state is field 3; utime and stime are fields 14 and 15.
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let ticks = f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0);
    std::time::Duration::from_micros(ticks * 1_000_000 / clk_tck())
}

/// One HTTP/1.1 request over a fresh connection; (status, body).
pub async fn request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, String) {
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return (0, String::new());
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    if tokio::io::AsyncWriteExt::write_all(&mut s, head.as_bytes())
        .await
        .is_err()
        || tokio::io::AsyncWriteExt::write_all(&mut s, body)
            .await
            .is_err()
    {
        return (0, String::new());
    }
    let mut buf = Vec::new();
    let _ = tokio::io::AsyncReadExt::read_to_end(&mut s, &mut buf).await;
    let text = String::from_utf8_lossy(&buf);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        // One chunk is enough for these small answers.
        rest.split("\r\n").nth(1).unwrap_or("").to_string()
    } else {
        rest.to_string()
    };
    (status, body)
}
