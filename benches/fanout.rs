//! Fan-out benchmark: one channel, 10,000 subscriber actors, N published frames; reports
//! deliveries per second end to end (publish call -> every subscriber actor has handled it).
//!
//! Run: `cargo bench --bench fanout` (env `FANOUT_SUBS`, `FANOUT_PUBLISHES` override the sizes).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/pubsub/recorder.rs"]
mod recorder;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hive::config::{ChannelTemplate, Ordered, PubsubSection};
use hive::events::Out;
use hive::metrics::Metrics;
use hive::pubsub::{Privilege, PubSub, Published};
use recorder::Recorder;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let subs = env("FANOUT_SUBS", 10_000);
    let publishes = env("FANOUT_PUBLISHES", 200);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(subs, publishes));
}

async fn run(n_subs: usize, publishes: usize) {
    let metrics = Metrics::new();
    let cfg = PubsubSection {
        channels: Ordered(vec![(
            "bench".into(),
            ChannelTemplate {
                privilege: "public".into(),
                timeout: 0,
            },
        )]),
    };
    let ps = PubSub::start(&cfg, metrics.clone(), None).await.unwrap();
    let cid = vec!["bench.room".to_string()];
    let t0 = Instant::now();
    let mut subs = Vec::with_capacity(n_subs);
    for _ in 0..n_subs {
        // Queue bound = publishes: this run measures throughput, not the slow-consumer policy.
        let sub = Recorder::counting(publishes.max(1)).await;
        ps.join(Privilege::Public, &cid, sub.clone()).await.unwrap();
        subs.push(sub);
    }
    while ps.status("bench.room").await.unwrap_or(0) < n_subs {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    println!("fanout: {n_subs} subscribers joined in {:?}", t0.elapsed());

    let frame = serde_json::json!({"name": "tick", "args": [{"n": 1, "text": "hello world"}]});
    let want = n_subs * publishes;
    let received = |subs: &[Arc<Recorder>]| -> usize {
        subs.iter()
            .map(|s| s.received.load(Ordering::Relaxed))
            .sum()
    };
    let t = Instant::now();
    for _ in 0..publishes {
        ps.publish(
            Privilege::Public,
            &cid,
            Published::new(vec![Out::Raw(frame.clone())]),
        );
    }
    let published = t.elapsed();
    loop {
        let got = received(&subs);
        if got >= want {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "stalled at {got}/{want}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let elapsed = t.elapsed();
    let rate = want as f64 / elapsed.as_secs_f64();
    println!(
        "fanout: {publishes} publishes x {n_subs} subscribers = {want} deliveries in {elapsed:?} \
         (publish calls returned after {published:?}): {rate:.0} deliveries/s; dropped {}",
        metrics.get("pubsub.dropped_deliveries")
    );
    ps.stop();
    for s in subs {
        s.actor.stop(None);
    }
}
