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
