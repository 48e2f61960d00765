//! Chaos under load: the seed's chat (its hooks, `sm.redis`, the example chat backend) with
//! `flood` driving chat users (rooms of 10, a publish every think time, part of them over
//! XHR-polling), a set of probe sessions that account for every message and every disconnect, and
//! a killer that uses the monitor's kill endpoint (`POST /monitor/<hash>/actors/<id>/kill`) on
//! client actors, channel actors, pool workers, whole pools, the pub-sub manager and the router,
//! and restarts the Redis of `sm.redis` and the HTTP backend once each. Then, per kind of fault:
//! its blast radius as supervisor-trees.md documents it, probe sessions outside every radius that
//! lost a message or their session, the disconnects inside (clean or not), messages published
//! against delivered to the surviving subscribers, restarts per supervisor, p99 before, during and
//! after, and the time back to normal.
//!
//! Run (release binaries `hive`, `flood`, `chat_backend` and `redis-server` needed):
//! `cargo build --release -p hive -p flood -p chat --bins && cargo bench --bench chaos --
//! [--users 10000] [--xhr 3000] [--probes 100] [--before 20] [--during 60] [--after 30]
//! [--kill-every 3000] [--think 5000]` (see benches/README.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]

#[path = "../support/util.rs"]
mod util;

mod analysis;
mod probe;
mod procs;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::seq::{IndexedRandom, SliceRandom};
use serde_json::Value;

use analysis::{Fault, Kind, Radius};
use probe::Log;
use procs::{Procs, free_port, get_json, post};

pub const API_HASH: &str = "abcde12345";
pub const MON_HASH: &str = "chaosmonitor1";

#[derive(Debug, Clone)]
pub struct Opts {
    pub users: usize,
    pub xhr: usize,
    pub probes: usize,
    pub before: u64,
    pub during: u64,
    pub after: u64,
    pub kill_every: u64,
    pub think: u64,
}

fn opts() -> Opts {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str, d: u64| -> u64 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let users = get("--users", 10_000) as usize;
    Opts {
        users,
        xhr: (get("--xhr", 3000) as usize).min(users),
        probes: get("--probes", 100) as usize,
        before: get("--before", 20),
        during: get("--during", 60),
        after: get("--after", 30),
        kill_every: get("--kill-every", 3000),
        think: get("--think", 5000),
    }
}

fn main() {
    let o = opts();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(o));
}

/// The fault kinds the killer draws from, and their weights; the two whole-subsystem faults
/// (pub-sub manager, router) come last in the fault period, so that flood's users, which do not
/// reconnect, keep loading the node for the other faults.
const KILLS: [(Kind, u32); 4] = [
    (Kind::Client, 4),
    (Kind::Channel, 3),
    (Kind::Worker, 2),
    (Kind::Pool, 1),
];

async fn run(o: Opts) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let mut p = Procs::start(&root, dir.path(), &o).await;
    let mon = format!("/monitor/{MON_HASH}");
    println!(
        "chaos: {} flood users ({} over XHR), {} probes, {}s before, {}s of faults (one every {} ms), {}s after",
        o.users, o.xhr, o.probes, o.before, o.during, o.kill_every, o.after
    );
    let t0 = Instant::now();
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let probes = probe::start(p.sio, o.probes, o.think, t0, log.clone(), stop.clone());
    let flood = p.start_flood(&root, dir.path(), &o);
    let restarts_before = supervisors(&infra_listing(p.monitor, &mon).await);

    tokio::time::sleep(Duration::from_secs(o.before)).await;
    // The fault schedule: every kind at least once, then weighted draws; the Redis restart at a
    // third of the period and the backend restart at two thirds.
    let slots = (o.during * 1000 / o.kill_every.max(1)).max(8) as usize;
    let mut kinds: Vec<Kind> = KILLS.iter().map(|k| k.0).collect();
    let total: u32 = KILLS.iter().map(|k| k.1).sum();
    let mut rng = rand::rng();
    while kinds.len() < slots - 2 {
        let mut x = rand::Rng::random_range(&mut rng, 0..total);
        for (k, w) in KILLS {
            if x < w {
                kinds.push(k);
                break;
            }
            x -= w;
        }
    }
    kinds.shuffle(&mut rng);
    kinds.push(Kind::PubSub);
    kinds.push(Kind::Router);
    let redis_at = slots / 3;
    let backend_at = 2 * slots / 3;
    let mut faults: Vec<Fault> = Vec::new();
    for (i, kind) in kinds.iter().enumerate() {
        let slot_start = Instant::now();
        if i == redis_at {
            let t = t0.elapsed().as_secs_f64();
            p.restart_redis().await;
            faults.push(Fault::new(
                t,
                Kind::Redis,
                "redis-server".into(),
                Radius::StateCalls,
            ));
        }
        if i == backend_at {
            let t = t0.elapsed().as_secs_f64();
            p.restart_backend(&root).await;
            faults.push(Fault::new(
                t,
                Kind::Backend,
                "chat_backend".into(),
                Radius::BackendCalls,
            ));
        }
        // `/actors` lists at most the 10,000 youngest actors: with 10,000 sessions the pools, the
        // pub-sub manager and the router are past it, so they are looked up by tree name.
        let listing = match kind {
            Kind::Client | Kind::Channel => {
                get_json(p.monitor, &format!("{mon}/actors?limit=10000&sort=age")).await
            }
            _ => infra_listing(p.monitor, &mon).await,
        };
        if let Some((id, actor_id, radius)) = pick(&listing, *kind) {
            let t = t0.elapsed().as_secs_f64();
            let (status, body) = post(
                p.monitor,
                &format!("{mon}/actors/{actor_id}/kill"),
                "{\"reason\":\"chaos\"}",
            )
            .await;
            if status == 200 {
                faults.push(Fault::new(t, *kind, id, radius));
            } else {
                println!("kill {kind:?} {id} ({actor_id}): {status} {body}");
            }
        } else {
            println!("kill {kind:?}: no such actor in the listing");
        }
        let left = Duration::from_millis(o.kill_every).saturating_sub(slot_start.elapsed());
        tokio::time::sleep(left).await;
    }
    let during_end = t0.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(o.after)).await;
    let restarts_after = supervisors(&infra_listing(p.monitor, &mon).await);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let end = t0.elapsed().as_secs_f64();
    for h in probes {
        let _ = tokio::time::timeout(Duration::from_secs(5), h).await;
    }
    let flood_result = p.finish_flood(flood, dir.path()).await;
    let events = log.lock().unwrap().clone();
    let dump: String = events.iter().map(|e| format!("{e:?}\n")).collect();
    let _ = std::fs::write(root.join("target/chaos-events.txt"), dump);
    let report = analysis::report(
        &events,
        &faults,
        o.before as f64,
        during_end,
        end,
        &restarts_before,
        &restarts_after,
        &flood_result,
    );
    println!("{report}");
    p.stop().await;
}

/// The supervisors, pools, pool workers, pub-sub manager and router of the seed's tree, each from
/// `GET /actors/<tree name>`, as an `/actors`-shaped listing.
async fn infra_listing(monitor: std::net::SocketAddr, mon: &str) -> Value {
    let mut names: Vec<String> = [
        "root_sup",
        "env_sup",
        "hive_sup",
        "connectors_sup",
        "router_sup",
        "pubsub_sup",
        "registry_sup",
        "web_sup",
        "pool:backend",
        "pool:database",
        "pubsub",
        "router",
    ]
    .iter()
    .map(|n| n.to_string())
    .collect();
    for pool in ["backend", "database"] {
        for n in 0..10 {
            names.push(format!("worker:{pool}:{n}"));
        }
    }
    let mut actors = Vec::new();
    for n in names {
        let a = get_json(monitor, &format!("{mon}/actors/{n}")).await;
        if a.get("actor_id").is_some() {
            actors.push(a);
        }
    }
    serde_json::json!({ "actors": actors })
}

/// Restarts per supervisor (`id` -> restarts it performed) from an `/actors` listing.
fn supervisors(listing: &Value) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for a in listing["actors"].as_array().into_iter().flatten() {
        if let Some(s) = a.get("supervisor") {
            let id = a["id"].as_str().unwrap_or("?").to_string();
            *out.entry(id).or_default() += s["restarts"].as_u64().unwrap_or(0);
        }
    }
    out
}

/// A random live actor of `kind` from an `/actors` listing: its tree name, actor id and radius.
fn pick(listing: &Value, kind: Kind) -> Option<(String, String, Radius)> {
    let actors = listing["actors"].as_array()?;
    let under = |a: &Value, sup: &str| {
        a["path"]
            .as_array()
            .and_then(|p| p.last())
            .and_then(Value::as_str)
            == Some(sup)
    };
    let candidates: Vec<&Value> = actors
        .iter()
        .filter(|a| {
            let id = a["id"].as_str().unwrap_or("");
            match kind {
                Kind::Client => under(a, "clients_sup"),
                Kind::Channel => under(a, "channels_sup"),
                Kind::Worker => id.starts_with("worker:") && !id.ends_with(":acceptor"),
                Kind::Pool => id.starts_with("pool:"),
                Kind::PubSub => id == "pubsub",
                Kind::Router => id == "router",
                Kind::Redis | Kind::Backend => false,
            }
        })
        .collect();
    let a = candidates.choose(&mut rand::rng())?;
    let id = a["id"].as_str()?.to_string();
    let actor_id = a["actor_id"].as_str()?.to_string();
    let radius = match kind {
        Kind::Client => Radius::Session(id.clone()),
        Kind::Channel => Radius::Channel(id.clone()),
        Kind::Worker => Radius::PoolCalls(pool_of(&id)),
        Kind::Pool => Radius::PoolCalls(id.trim_start_matches("pool:").to_string()),
        Kind::PubSub => Radius::Subscriptions,
        Kind::Router => Radius::AllSessions,
        Kind::Redis => Radius::StateCalls,
        Kind::Backend => Radius::BackendCalls,
    };
    Some((id, actor_id, radius))
}

/// `worker:<pool>:<n>` -> `<pool>`.
fn pool_of(worker: &str) -> String {
    worker.split(':').nth(1).unwrap_or("").to_string()
}

/// A free port for a child process.
pub fn port() -> u16 {
    free_port()
}

/// The probe rooms' channel for room `k`.
pub fn probe_channel(k: usize) -> String {
    format!("rooms.probe{k}")
}
