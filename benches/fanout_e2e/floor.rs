//! The kernel's floor under any fan-out server on this machine: one plain nonblocking `write()`
//! of a pre-encoded WebSocket text frame per delivery, to N loopback TCP sockets whose other ends
//! are read by tasks of a child process (as the load generator's sessions are), with no server
//! logic at all. The writer is one thread, and its own CPU time (`/proc/thread-self/stat`) per delivery
//! is the least any server that writes each delivery separately can spend here.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use codec::ws::{encode_frame, frame_len, opcode};
use tokio::io::AsyncReadExt;

use crate::util::cpu_in;

/// One measured rate.
#[derive(Debug, Clone, Copy)]
pub struct FloorStep {
    pub publishes_per_s: u64,
    pub deliveries_per_s: f64,
    /// Writer CPU (user + system) per delivery, µs.
    pub us_per_delivery: f64,
    /// Writes that did not take the whole frame (should be 0).
    pub short_writes: u64,
}

/// The frame a tick publish becomes on the wire (same shape and size as the hive/node runs').
fn frame(seq: u64) -> Vec<u8> {
    let p = format!(
        r#"5:::{{"name":"tick","args":[{seq},{}]}}"#,
        super::now_us()
    );
    let mut f = Vec::with_capacity(frame_len(p.len()));
    encode_frame(&mut f, opcode::TEXT, p.as_bytes());
    f
}

/// Open `sessions` sockets (their other ends in a child process: this bench binary run with
/// `--floor-reader`), then write one frame to each at every rate for `secs` seconds.
pub fn measure(sessions: usize, rates: &[u64], secs: u64) -> Vec<FloorStep> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut reader = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--floor-reader", &addr.to_string(), &sessions.to_string()])
        .spawn()
        .unwrap();
    let mut socks: Vec<TcpStream> = (0..sessions)
        .map(|_| {
            let (s, _) = listener.accept().unwrap();
            s.set_nodelay(true).unwrap();
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect();
    eprintln!("[floor] {sessions} sockets open");
    // The main thread runs no runtime tasks: its CPU time is the writer's alone.
    let steps = rates
        .iter()
        .map(|&rate| step(&mut socks, rate, secs))
        .collect();
    drop(socks);
    let _ = reader.wait();
    steps
}

/// The child's side: connect `sessions` sockets and read them until the writer hangs up.
pub fn reader(addr: &str, sessions: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut tasks = Vec::with_capacity(sessions);
        for _ in 0..sessions {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            tasks.push(tokio::spawn(async move {
                let mut b = [0u8; 2048];
                while let Ok(1..) = s.read(&mut b).await {}
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
}

fn step(socks: &mut [TcpStream], rate: u64, secs: u64) -> FloorStep {
    let period = Duration::from_secs_f64(1.0 / rate as f64);
    let mut run = |n: u64| {
        let t0 = Instant::now();
        let mut short = 0;
        for i in 0..n {
            if let Some(d) = (t0 + period * i as u32).checked_duration_since(Instant::now()) {
                std::thread::sleep(d);
            }
            let f = frame(i);
            for s in socks.iter_mut() {
                if !matches!(s.write(&f), Ok(k) if k == f.len()) {
                    short += 1;
                }
            }
        }
        short
    };
    run(rate); // one second of warm-up
    let cpu0 = cpu_in("/proc/thread-self/stat");
    let t0 = Instant::now();
    let short_writes = run(rate * secs);
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_in("/proc/thread-self/stat") - cpu0;
    let deliveries = (rate * secs) as f64 * socks.len() as f64;
    let s = FloorStep {
        publishes_per_s: rate,
        deliveries_per_s: deliveries / wall,
        us_per_delivery: cpu.as_secs_f64() * 1e6 / deliveries,
        short_writes,
    };
    eprintln!("[floor] {s:?}");
    s
}
