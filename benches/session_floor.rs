//! The memory floor of one idle session in Hive's architecture, measured in-process: what an idle
//! supervised ractor actor costs (spawned linked under a supervisor, as every client actor is),
//! and what an idle tokio task holding an accepted loopback `TcpStream` and waiting on it costs (a
//! connection's least task), each as (RSS after - RSS before) / N. Their sum is what any session
//! of this design holds before it holds anything of its own: no protocol state, buffers or tables.
//!
//! Run: `cargo bench --bench session_floor -- [--n 5000]` (2 descriptors per connection).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::io::AsyncReadExt;

/// The daemon's allocator (see `Cargo.toml`), so the floor is the daemon's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Idle;

impl Actor for Idle {
    type Msg = ();
    type State = ();
    type Arguments = ();
    async fn pre_start(&self, _: ActorRef<()>, (): ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }
}

struct Sup;

impl Actor for Sup {
    type Msg = ();
    type State = ();
    type Arguments = ();
    async fn pre_start(&self, _: ActorRef<()>, (): ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }
}

fn rss() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap()
        * 1024
}

async fn settle() {
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .iter()
        .position(|a| a == "--n")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(5000);
    let (sup, _) = Actor::spawn(None, Sup, ()).await.unwrap();

    // Warm-up: one-off costs (worker arenas, registries) are not charged to the measured ones.
    let mut keep = Vec::new();
    for _ in 0..500 {
        keep.push(
            Actor::spawn_linked(None, Idle, (), sup.get_cell())
                .await
                .unwrap(),
        );
    }
    settle().await;
    let before = rss();
    let mut actors = Vec::with_capacity(n);
    for _ in 0..n {
        actors.push(
            Actor::spawn_linked(None, Idle, (), sup.get_cell())
                .await
                .unwrap(),
        );
    }
    settle().await;
    let actor = (rss() - before) as f64 / n as f64;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut clients = Vec::with_capacity(n + 500);
    let mut tasks = Vec::with_capacity(n + 500);
    let open = async |count: usize, clients: &mut Vec<_>, tasks: &mut Vec<_>| {
        for _ in 0..count {
            let c = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (mut s, _) = listener.accept().await.unwrap();
            tasks.push(tokio::spawn(async move {
                let mut b = [0u8; 1];
                let _ = s.read(&mut b).await;
            }));
            clients.push(c);
        }
    };
    open(500, &mut clients, &mut tasks).await;
    settle().await;
    let before = rss();
    open(n, &mut clients, &mut tasks).await;
    settle().await;
    let task = (rss() - before) as f64 / n as f64;
    println!(
        "n {n}: idle supervised ractor actor {actor:.0} B, idle connection task with its TcpStream {task:.0} B, floor {:.0} B per session",
        actor + task
    );
    drop(clients);
    for t in tasks {
        let _ = t.await;
    }
    drop(actors);
    drop(keep);
}
