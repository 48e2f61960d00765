//! A channel's sharded fan-out against real subscriber actors, on a multi-threaded runtime: past
//! 256 subscribers a channel splits them over one fan-out task per worker. Every subscriber still
//! gets every publish once and in publish order (under concurrent publishers), a subscription or
//! unsubscription made during publishes keeps to the publish order, a stuck subscriber is dropped
//! without holding the others up, and the shards live and die with their channel.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "support/publish_order.rs"]
mod publish_order;
#[path = "pubsub/recorder.rs"]
mod recorder;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hive::config::{ChannelTemplate, Ordered, PubsubSection};
use hive::events::Out;
use hive::metrics::Metrics;
use hive::pubsub::{DeliverOutcome, Payload, Privilege, PubSub, Published, Subscriber};
use otp::{DynamicHandle, DynamicSpec, Intensity};
use ractor::ActorCell;
use recorder::{Recorder, frames, next, wait_status, wait_until};
use tokio::sync::mpsc;

/// More than the channel's sharding threshold (256).
const MANY: usize = 300;
/// Worker threads of these tests' runtime: the number of shards a channel splits into.
const WORKERS: usize = 4;

fn cfg() -> PubsubSection {
    PubsubSection {
        channels: Ordered(vec![(
            "rooms".to_string(),
            ChannelTemplate {
                privilege: "public".to_string(),
                timeout: 0,
            },
        )]),
    }
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// A neutral publish of one raw item, whose 0.9 frame is `frame` verbatim.
fn raw(frame: impl Into<String>) -> Payload {
    Published::new(vec![Out::Raw(serde_json::Value::String(frame.into()))]).into()
}

async fn join(ps: &PubSub, cid: &str, sub: Arc<dyn Subscriber>) {
    ps.join(Privilege::Public, &ids(&[cid]), sub)
        .await
        .unwrap_or_else(|e| panic!("join {cid}: {e:?}"));
}

/// The fan-out shards the channel `cid` uses.
fn shards(ps: &PubSub, cid: &str) -> usize {
    ps.channel_stats(cid)
        .into_iter()
        .find(|c| c.cid == cid)
        .map_or(0, |c| c.shards)
}

/// `n` recorders joined to `cid`, with their receivers.
async fn crowd(
    ps: &PubSub,
    cid: &str,
    n: usize,
    cap: usize,
) -> Vec<(Arc<Recorder>, mpsc::UnboundedReceiver<Payload>)> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let (sub, rx) = Recorder::new(cap).await;
        join(ps, cid, sub.clone()).await;
        out.push((sub, rx));
    }
    out
}

/// The one frame of a delivery.
fn text(d: &Payload) -> String {
    let mut f = frames(d);
    assert_eq!(f.len(), 1, "one item per publish");
    f.remove(0)
}

/// A channel below the threshold delivers itself; past it, it splits into one shard per worker,
/// and four concurrent publishers' publishes reach all its subscribers, each publisher's in order
/// and every subscriber in the same order (the channel's).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_large_channel_shards_and_every_subscriber_gets_every_publish_in_one_order() {
    let ps = PubSub::start(&cfg(), Metrics::new(), None).await.unwrap();
    let mut subs = crowd(&ps, "rooms.big", 256, 10_000).await;
    wait_status(&ps, "rooms.big", 256).await;
    assert_eq!(shards(&ps, "rooms.big"), 0, "256 subscribers: its own loop");
    subs.extend(crowd(&ps, "rooms.big", MANY - 256, 10_000).await);
    wait_status(&ps, "rooms.big", MANY).await;
    assert_eq!(shards(&ps, "rooms.big"), WORKERS, "one shard per worker");

    const PUBLISHERS: usize = 4;
    const EACH: usize = 50;
    let mut tasks = Vec::new();
    for p in 0..PUBLISHERS {
        let ps = ps.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..EACH {
                ps.publish(
                    Privilege::Public,
                    &ids(&["rooms.big"]),
                    raw(format!("{p}:{i}")),
                );
                if i % 8 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut first: Option<Vec<String>> = None;
    for (_, rx) in &mut subs {
        let mut got = Vec::with_capacity(PUBLISHERS * EACH);
        for _ in 0..PUBLISHERS * EACH {
            got.push(text(&next(rx).await));
        }
        publish_order::check(got, PUBLISHERS, EACH, &mut first);
        assert!(rx.try_recv().is_err(), "nothing delivered twice");
    }
    ps.stop();
}

/// Subscriptions and unsubscriptions made while a publisher runs: a subscriber gets no publish
/// the channel had before its subscription, none made after its unsubscription returned, and
/// every publish in between, in order (a run without gaps).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subscribing_and_leaving_during_publishes_keep_to_the_publish_order() {
    let ps = PubSub::start(&cfg(), Metrics::new(), None).await.unwrap();
    let mut base = crowd(&ps, "rooms.churn", MANY, 100_000).await;
    wait_status(&ps, "rooms.churn", MANY).await;
    assert_eq!(shards(&ps, "rooms.churn"), WORKERS);

    // The publisher: `next` is the next sequence number it takes; every number below `acked`
    // is in the channel's mailbox (the local backplane delivers before it acknowledges).
    let next_seq = Arc::new(AtomicU64::new(0));
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = {
        let (ps, next_seq, acked, stop) =
            (ps.clone(), next_seq.clone(), acked.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let s = next_seq.fetch_add(1, Ordering::SeqCst);
                ps.publish_acked(
                    Privilege::Public,
                    &ids(&["rooms.churn"]),
                    raw(s.to_string()),
                    None,
                )
                .await
                .unwrap();
                acked.store(s + 1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };

    let mut churned = Vec::new();
    for round in 0..20 {
        let (sub, rx) = Recorder::new(100_000).await;
        let before = acked.load(Ordering::SeqCst);
        join(&ps, "rooms.churn", sub.clone()).await;
        wait_until("the new subscriber gets publishes", || {
            sub.received.load(Ordering::SeqCst) >= 3
        })
        .await;
        ps.leave(Privilege::Public, &ids(&["rooms.churn"]), &sub.cell())
            .await
            .unwrap();
        let after = next_seq.load(Ordering::SeqCst);
        churned.push((round, sub, rx, before, after));
        // A base subscriber dies now and then (removed through the monitor, not a leave).
        if round % 5 == 0 {
            let (dead, _) = base.pop().unwrap();
            dead.actor.stop(None);
        }
    }
    stop.store(true, Ordering::SeqCst);
    publisher.await.unwrap();
    let last = next_seq.load(Ordering::SeqCst);
    wait_status(&ps, "rooms.churn", MANY - 4).await;

    for (round, _sub, mut rx, before, after) in churned {
        let mut got = Vec::new();
        while let Ok(d) = rx.try_recv() {
            got.push(text(&d).parse::<u64>().unwrap());
        }
        assert!(got.len() >= 3, "round {round}: got {got:?}");
        let (lo, hi) = (got[0], got[got.len() - 1]);
        assert!(
            lo >= before,
            "round {round}: got {lo}, published before its join (< {before})"
        );
        assert!(
            hi < after,
            "round {round}: got {hi}, published after its leave (>= {after})"
        );
        assert_eq!(
            got,
            (lo..=hi).collect::<Vec<_>>(),
            "round {round}: in order, no gap"
        );
    }
    // The subscribers that stayed got every publish, in order.
    for (_, rx) in &mut base {
        for s in 0..last {
            assert_eq!(text(&next(rx).await), s.to_string());
        }
    }
    ps.stop();
}

/// A stuck subscriber in a sharded channel is dropped (counted, asked to disconnect) while every
/// other subscriber gets every publish in order; the channel forgets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stuck_subscriber_of_a_sharded_channel_is_dropped_and_the_others_keep_receiving() {
    let m = Metrics::new();
    let ps = PubSub::start(&cfg(), m.clone(), None).await.unwrap();
    let mut subs = crowd(&ps, "rooms.slow", MANY, 1000).await;
    let stuck = Recorder::stuck(4).await;
    join(&ps, "rooms.slow", stuck.clone()).await;
    wait_status(&ps, "rooms.slow", MANY + 1).await;
    assert_eq!(shards(&ps, "rooms.slow"), WORKERS);
    for i in 0..20 {
        ps.publish(Privilege::Public, &ids(&["rooms.slow"]), raw(i.to_string()));
    }
    for (_, rx) in &mut subs {
        for i in 0..20 {
            assert_eq!(text(&next(rx).await), i.to_string());
        }
    }
    wait_until("slow subscriber killed", || {
        stuck.killed.load(Ordering::SeqCst)
    })
    .await;
    assert_eq!(m.get("pubsub.dropped_deliveries"), 1);
    wait_status(&ps, "rooms.slow", MANY).await;
    ps.stop();
}

/// A subscriber whose hand-over panics (a bug): the shard that called it fails, and its channel
/// with it, as a channel delivering in its own loop would.
#[derive(Debug)]
struct Panics(Arc<Recorder>);

impl Subscriber for Panics {
    fn cell(&self) -> ActorCell {
        self.0.cell()
    }
    fn deliver(&self, _: &Payload) -> DeliverOutcome {
        panic!("a subscriber bug");
    }
    fn kill_slow(&self) {}
}

/// Shards live and die with their channel: a shard that fails takes its channel down (a failure
/// its supervisor sees), every shard lets go of its subscribers, and the next join starts a new,
/// empty channel. A channel stopped with its supervisor releases its shards' subscribers too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_channel_and_its_shards_live_and_die_together() {
    let spec = DynamicSpec {
        id: "channels_sup".into(),
        intensity: Intensity::new(0, 1),
        max_children: None,
    };
    let (sup, _join) = DynamicHandle::start(spec, None).await.expect("sup");
    let ps = PubSub::start(&cfg(), Metrics::new(), Some(sup.clone()))
        .await
        .unwrap();
    let subs = crowd(&ps, "rooms.bug", MANY, 1000).await;
    let bug = Recorder::counting(1000).await;
    join(&ps, "rooms.bug", Arc::new(Panics(bug.clone()))).await;
    wait_status(&ps, "rooms.bug", MANY + 1).await;
    assert_eq!(shards(&ps, "rooms.bug"), WORKERS);
    let first = ps.channel_stats("rooms.bug")[0].actor_id.clone();
    ps.publish(Privilege::Public, &ids(&["rooms.bug"]), raw("boom"));
    wait_until("the failed channel leaves the registry", || {
        ps.channel_count() == 0
    })
    .await;
    wait_until("its shards let go of every subscriber", || {
        subs.iter().all(|(s, _)| Arc::strong_count(s) == 1)
    })
    .await;
    assert_eq!(
        sup.count(),
        0,
        "the channel is gone from its supervisor (temporary)"
    );

    // A new channel for the same cid, sharded again; stopping the supervisor stops it and its
    // shards.
    let again = crowd(&ps, "rooms.bug", MANY, 1000).await;
    wait_status(&ps, "rooms.bug", MANY).await;
    assert_eq!(shards(&ps, "rooms.bug"), WORKERS);
    assert_ne!(ps.channel_stats("rooms.bug")[0].actor_id, first);
    ps.publish(Privilege::Public, &ids(&["rooms.bug"]), raw("fine"));
    let mut again = again;
    for (_, rx) in &mut again {
        assert_eq!(text(&next(rx).await), "fine");
    }
    sup.shutdown().await.expect("shutdown");
    wait_until("registry emptied", || ps.channel_count() == 0).await;
    wait_until(
        "the stopped channel's shards let go of every subscriber",
        || again.iter().all(|(s, _)| Arc::strong_count(s) == 1),
    )
    .await;
    ps.stop();
}
