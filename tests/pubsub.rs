//! Pub-sub channels against real subscriber actors (HIVE.md 8.1-8.5, 16.5).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "pubsub/recorder.rs"]
mod recorder;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use codec::event::{InternalEvent, parse_internal_events};
use hive::config::{ChannelTemplate, Ordered, PubsubSection};
use hive::events::Out;
use hive::metrics::Metrics;
use hive::pubsub::{Payload, Privilege, PubSub, Published, Subscriber};
use otp::{DynamicHandle, DynamicSpec, Intensity};
use recorder::{Recorder, frames, next, wait_status, wait_until};

fn cfg(entries: &[(&str, &str, u64)]) -> PubsubSection {
    PubsubSection {
        channels: Ordered(
            entries
                .iter()
                .map(|(p, privilege, timeout)| {
                    (
                        p.to_string(),
                        ChannelTemplate {
                            privilege: privilege.to_string(),
                            timeout: *timeout,
                        },
                    )
                })
                .collect(),
        ),
    }
}

async fn start(entries: &[(&str, &str, u64)]) -> (PubSub, Arc<Metrics>) {
    let m = Metrics::new();
    let ps = PubSub::start(&cfg(entries), m.clone(), None)
        .await
        .expect("start pubsub");
    (ps, m)
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// `ps.join`, which must succeed.
async fn join(ps: &PubSub, p: Privilege, cids: &[&str], sub: &Arc<Recorder>) {
    ps.join(p, &ids(cids), sub.clone())
        .await
        .unwrap_or_else(|e| panic!("join {cids:?}: {e:?}"));
}

/// `ps.leave`, which must succeed.
async fn leave(ps: &PubSub, p: Privilege, cids: &[&str], sub: &Recorder) {
    ps.leave(p, &ids(cids), &sub.cell())
        .await
        .unwrap_or_else(|e| panic!("leave {cids:?}: {e:?}"));
}

/// A neutral publish of one raw item, whose 0.9 frame is `frame` verbatim.
fn raw(frame: impl Into<String>) -> Payload {
    Published::new(vec![Out::Raw(serde_json::Value::String(frame.into()))]).into()
}

/// Publish one raw item (its 0.9 frame is `frame`).
fn publish(ps: &PubSub, p: Privilege, cids: &[&str], frame: impl Into<String>) {
    ps.publish(p, &ids(cids), raw(frame));
}

/// HIVE.md 8.3 join + publish: a channel is created on first join and fans frames out.
#[tokio::test]
async fn join_creates_channel_and_publish_reaches_subscriber() {
    let (ps, m) = start(&[("rooms", "public", 1000)]).await;
    let (sub, mut rx) = Recorder::new(64).await;
    assert_eq!(ps.channel_count(), 0);
    join(&ps, Privilege::Public, &["rooms.main"], &sub).await;
    assert_eq!(ps.channel_count(), 1);
    assert_eq!(m.get("pubsub.total_channels"), 1);
    assert_eq!(m.get("pubsub.channels.rooms.total_channels"), 1);
    publish(
        &ps,
        Privilege::Public,
        &["rooms.main"],
        "5:::{\"name\":\"x\"}",
    );
    assert_eq!(frames(&next(&mut rx).await), ["5:::{\"name\":\"x\"}"]);
    assert_eq!(m.get("pubsub.published_events"), 1);
    assert_eq!(m.get("pubsub.channels.rooms.published_events"), 1);
    wait_status(&ps, "rooms.main", 1).await;
    assert_eq!(m.get("pubsub.channels.rooms.subscribed_clients"), 1);
}

/// HIVE.md 8.4: a prefix without template is bad_channel_id; nothing of the request is joined.
#[tokio::test]
async fn unknown_prefix_is_bad_channel_id_and_nothing_joined() {
    let (ps, m) = start(&[("rooms", "public", 1000)]).await;
    let (sub, _rx) = Recorder::new(8).await;
    let e = ps
        .join(Privilege::Public, &ids(&["rooms.a", "nope.b"]), sub.clone())
        .await
        .expect_err("must fail");
    assert_eq!(e.code(), "bad_channel_id");
    assert_eq!(
        e.description(),
        "Requested Hive Pub-Sub Channel prefix is undefined: nope"
    );
    assert_eq!(
        ps.channel_count(),
        0,
        "privilege check runs before any join"
    );
    assert!(m.get("pubsub.errors") >= 1);
    // The API (Max) skips privilege checks but still needs a template to create a channel.
    let e = ps
        .join(Privilege::Max, &ids(&["nope"]), sub)
        .await
        .expect_err("must fail");
    assert_eq!(e.code(), "bad_channel_id");
}

/// HIVE.md 8.4: insufficient privilege is access_denied (join and leave).
#[tokio::test]
async fn insufficient_privilege_is_access_denied() {
    let (ps, _m) = start(&[("priv", "private", 1000), ("pub", "public", 1000)]).await;
    let (sub, _rx) = Recorder::new(8).await;
    let e = ps
        .join(Privilege::Public, &ids(&["priv.x"]), sub.clone())
        .await
        .expect_err("denied");
    assert_eq!(e.code(), "access_denied");
    assert_eq!(
        e.description(),
        "Tried accessing a Hive Pub-Sub Channel with insufficient privilege level: priv.x"
    );
    join(&ps, Privilege::Private, &["priv.x", "pub.y"], &sub).await;
    join(&ps, Privilege::Max, &["priv.z"], &sub).await;
    let e = ps
        .leave(Privilege::Public, &ids(&["priv.x"]), &sub.cell())
        .await
        .expect_err("denied");
    assert_eq!(e.code(), "access_denied");
    let e = ps
        .leave(Privilege::Public, &ids(&["nope"]), &sub.cell())
        .await
        .expect_err("no template");
    assert_eq!(e.code(), "bad_channel_id");
}

/// HIVE.md 8.3 status: unknown_channel_id; counts are summed over channels at or below the cid.
#[tokio::test]
async fn status_is_hierarchical_and_unknown_is_an_error() {
    let (ps, _m) = start(&[("rooms", "public", 1000)]).await;
    let e = ps.status("rooms").await.expect_err("none yet");
    assert_eq!(e.code(), "unknown_channel_id");
    assert_eq!(
        e.description(),
        "Tried accessing an unknown Hive Pub-Sub Channel: rooms"
    );
    let (a, _ra) = Recorder::new(8).await;
    let (b, _rb) = Recorder::new(8).await;
    join(&ps, Privilege::Public, &["rooms.main", "rooms.bot_1"], &a).await;
    join(&ps, Privilege::Public, &["rooms.main"], &b).await;
    // Joining twice is a no-op.
    join(&ps, Privilege::Public, &["rooms.main"], &b).await;
    wait_status(&ps, "rooms", 3).await; // a counts twice (two channels)
    wait_status(&ps, "rooms.main", 2).await;
    wait_status(&ps, "rooms.bot_1", 1).await;
    assert_eq!(
        ps.status("rooms.ma").await.map_err(|e| e.code()),
        Err("unknown_channel_id")
    );
}

/// HIVE.md 8.3: publish reaches every channel at or below the cid, at segment boundaries only.
#[tokio::test]
async fn publish_is_hierarchical() {
    let (ps, _m) = start(&[("a", "public", 1000)]).await;
    let (under, mut r_under) = Recorder::new(8).await;
    let (sibling, mut r_sibling) = Recorder::new(8).await;
    join(&ps, Privilege::Public, &["a.b.c"], &under).await;
    join(&ps, Privilege::Public, &["a.bc"], &sibling).await;
    publish(&ps, Privilege::Public, &["a.b"], "1");
    // Channels are independent actors: wait for "1" before publishing "2" to keep the order.
    assert_eq!(frames(&next(&mut r_under).await), ["1"]);
    publish(&ps, Privilege::Public, &["a"], "2");
    assert_eq!(frames(&next(&mut r_under).await), ["2"]);
    // The sibling's first delivery is the publish to `a`: `a.b` did not reach `a.bc`.
    assert_eq!(frames(&next(&mut r_sibling).await), ["2"]);
}

/// HIVE.md 8.4/16.5 #7: a publish lacking privilege is dropped; an API (Max) publish to an
/// unknown prefix does nothing.
#[tokio::test]
async fn denied_or_unknown_publishes_are_dropped() {
    let (ps, m) = start(&[("priv", "private", 1000)]).await;
    let (sub, mut rx) = Recorder::new(8).await;
    join(&ps, Privilege::Private, &["priv.x"], &sub).await;
    let errors = m.get("pubsub.errors");
    publish(&ps, Privilege::Public, &["priv.x"], "denied");
    publish(&ps, Privilege::Max, &["nope.x"], "unknown");
    publish(&ps, Privilege::Public, &["nope.x"], "unknown2");
    publish(&ps, Privilege::Private, &["priv"], "ok");
    assert_eq!(frames(&next(&mut rx).await), ["ok"]);
    assert_eq!(m.get("pubsub.errors"), errors + 2);
}

/// HIVE.md 8.3 leave: hierarchical; unknown cids are ignored.
#[tokio::test]
async fn leave_is_hierarchical() {
    let (ps, _m) = start(&[("rooms", "public", 0)]).await;
    let (sub, mut rx) = Recorder::new(8).await;
    let (other, mut ro) = Recorder::new(8).await;
    join(&ps, Privilege::Public, &["rooms.a", "rooms.b.c"], &sub).await;
    join(&ps, Privilege::Public, &["rooms.a"], &other).await;
    leave(&ps, Privilege::Public, &["rooms", "rooms.zzz"], &sub).await;
    wait_status(&ps, "rooms", 1).await;
    publish(&ps, Privilege::Public, &["rooms"], "after");
    publish(&ps, Privilege::Public, &["rooms"], "after2");
    assert_eq!(frames(&next(&mut ro).await), ["after"]);
    assert_eq!(frames(&next(&mut ro).await), ["after2"]);
    // The channel finished fanning out "after" before it handled "after2": anything it sent to
    // `sub` is queued ahead of this marker.
    sub.deliver(&raw("marker"));
    assert_eq!(
        frames(&next(&mut rx).await),
        ["marker"],
        "left subscriber still got a publish"
    );
}

/// HIVE.md 8.5: a subscriber that dies is removed without an unsubscribe.
#[tokio::test]
async fn dead_subscriber_is_removed() {
    let (ps, m) = start(&[("rooms", "public", 0)]).await;
    let (sub, _rx) = Recorder::new(8).await;
    join(&ps, Privilege::Public, &["rooms.a", "rooms.b"], &sub).await;
    wait_status(&ps, "rooms", 2).await;
    sub.actor.stop(None);
    wait_status(&ps, "rooms", 0).await;
    assert_eq!(m.get("pubsub.channels.rooms.subscribed_clients"), 0);
    assert_eq!(
        ps.channel_count(),
        2,
        "timeout 0: empty channels never expire"
    );
}

/// HIVE.md 8.5: an empty channel expires after its timeout; a later join re-creates it; timeout 0
/// never expires.
#[tokio::test]
async fn idle_channel_expires_and_is_recreated() {
    let (ps, m) = start(&[("short", "public", 30), ("forever", "public", 0)]).await;
    let (sub, mut rx) = Recorder::new(8).await;
    join(&ps, Privilege::Public, &["short.a", "forever.a"], &sub).await;
    assert_eq!(m.get("pubsub.total_channels"), 2);
    leave(&ps, Privilege::Public, &["short", "forever"], &sub).await;
    wait_until("short.a to expire", || ps.channel_count() == 1).await;
    assert_eq!(m.get("pubsub.total_channels"), 1);
    assert!(
        ps.status("forever.a").await.is_ok(),
        "timeout 0 channel expired"
    );
    assert_eq!(
        ps.status("short.a").await.map_err(|e| e.code()),
        Err("unknown_channel_id")
    );
    join(&ps, Privilege::Public, &["short.a"], &sub).await;
    assert_eq!(ps.channel_count(), 2);
    // Ever-created counter is never decremented (HIVE.md 16.5 #2).
    assert_eq!(m.get("pubsub.channels.short.total_channels"), 2);
    publish(&ps, Privilege::Public, &["short.a"], "again");
    assert_eq!(frames(&next(&mut rx).await), ["again"]);
}

/// A subscription cancels the idle timer: an occupied channel does not expire.
#[tokio::test]
async fn occupied_channel_does_not_expire() {
    let (ps, _m) = start(&[("short", "public", 20)]).await;
    let (a, _ra) = Recorder::new(8).await;
    let (b, mut rb) = Recorder::new(8).await;
    let (c, _rc) = Recorder::new(8).await;
    join(&ps, Privilege::Public, &["short.keep", "short.gone"], &a).await;
    join(&ps, Privilege::Public, &["short.keep"], &b).await;
    join(&ps, Privilege::Public, &["short.gone"], &c).await;
    leave(&ps, Privilege::Public, &["short"], &a).await;
    leave(&ps, Privilege::Public, &["short.gone"], &c).await;
    wait_until("short.gone to expire", || ps.channel_count() == 1).await;
    publish(&ps, Privilege::Public, &["short.keep"], "still here");
    assert_eq!(frames(&next(&mut rb).await), ["still here"]);
}

/// HIVE.md 16.5 #1 fixed: a cid listed twice in one join creates one channel, one delivery.
#[tokio::test]
async fn duplicate_cids_create_one_channel() {
    let (ps, m) = start(&[("rooms", "public", 1000)]).await;
    let (sub, mut rx) = Recorder::new(8).await;
    join(&ps, Privilege::Public, &["rooms.x", "rooms.x"], &sub).await;
    assert_eq!(ps.channel_count(), 1);
    assert_eq!(m.get("pubsub.channels.rooms.total_channels"), 1);
    publish(&ps, Privilege::Public, &["rooms.x", "rooms"], "once");
    publish(&ps, Privilege::Public, &["rooms.x"], "twice");
    assert_eq!(frames(&next(&mut rx).await), ["once"]);
    assert_eq!(frames(&next(&mut rx).await), ["twice"]);
}

/// Concurrent joins of many subscribers to one new cid create exactly one channel.
#[tokio::test]
async fn concurrent_joins_share_one_channel() {
    let (ps, _m) = start(&[("rooms", "public", 1000)]).await;
    let mut tasks = Vec::new();
    let mut subs = Vec::new();
    for _ in 0..50 {
        let sub = Recorder::counting(8).await;
        subs.push(sub.clone());
        let ps = ps.clone();
        tasks.push(tokio::spawn(async move {
            ps.join(Privilege::Public, &ids(&["rooms.hot"]), sub).await
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("join");
    }
    assert_eq!(ps.channel_count(), 1);
    wait_status(&ps, "rooms.hot", 50).await;
}

/// Fan-out that scales: a stuck subscriber is dropped and disconnected (counted), the channel and
/// the other subscribers keep going.
#[tokio::test]
async fn slow_subscriber_is_dropped_and_others_keep_receiving() {
    let (ps, m) = start(&[("rooms", "public", 1000)]).await;
    let stuck = Recorder::stuck(4).await;
    let (fast, mut rx) = Recorder::new(1000).await;
    join(&ps, Privilege::Public, &["rooms.x"], &stuck).await;
    join(&ps, Privilege::Public, &["rooms.x"], &fast).await;
    for i in 0..20 {
        publish(&ps, Privilege::Public, &["rooms.x"], format!("{i}"));
    }
    for i in 0..20 {
        assert_eq!(frames(&next(&mut rx).await), [format!("{i}")]);
    }
    wait_until("slow subscriber killed", || {
        stuck.killed.load(Ordering::SeqCst)
    })
    .await;
    assert_eq!(m.get("pubsub.dropped_deliveries"), 1);
    wait_status(&ps, "rooms.x", 1).await;
}

/// Internal events are handed over as one shared batch.
#[tokio::test]
async fn events_are_delivered_as_a_shared_batch() {
    let (ps, m) = start(&[("rooms", "public", 1000)]).await;
    let (sub, mut rx) = Recorder::new(8).await;
    join(&ps, Privilege::Public, &["rooms.x"], &sub).await;
    let batch = hive_events(&[
        r#"{"action":"reply","args":{"name":"a","args":[1]}}"#,
        r#"{"action":"reply","args":{"name":"b","args":[2]}}"#,
    ]);
    ps.publish(
        Privilege::Max,
        &ids(&["rooms"]),
        Payload::Events(batch.clone()),
    );
    match next(&mut rx).await {
        Payload::Events(got) => assert!(Arc::ptr_eq(&got, &batch), "batch was copied"),
        d => panic!("expected events, got {d:?}"),
    }
    assert_eq!(m.get("pubsub.published_events"), 2);
}

fn hive_events(texts: &[&str]) -> Arc<[InternalEvent]> {
    texts
        .iter()
        .flat_map(|t| parse_internal_events(t).expect("event json"))
        .collect::<Vec<_>>()
        .into()
}

/// Stopping the service stops every channel.
#[tokio::test]
async fn stop_stops_channels() {
    let (ps, _m) = start(&[("rooms", "public", 0)]).await;
    let (sub, _rx) = Recorder::new(8).await;
    join(&ps, Privilege::Public, &["rooms.a", "rooms.b"], &sub).await;
    ps.stop();
    wait_until("channels gone", || ps.channel_count() == 0).await;
}

/// Channel actors run as temporary children of the dynamic `channels_sup`: created on first join,
/// gone from the supervisor when they expire; `max_children` refusals are `pubsub_error`.
#[tokio::test]
async fn channels_live_under_the_dynamic_supervisor() {
    let m = Metrics::new();
    let spec = DynamicSpec {
        id: "channels_sup".into(),
        intensity: Intensity::new(0, 1),
        max_children: Some(2),
    };
    let (sup, _join) = DynamicHandle::start(spec, None).await.expect("sup");
    let templates = cfg(&[("short", "public", 20), ("rooms", "public", 0)]);
    let ps = PubSub::start(&templates, m, Some(sup.clone()))
        .await
        .expect("start");
    let (sub, mut rx) = Recorder::new(8).await;
    join(&ps, Privilege::Public, &["rooms.a", "short.b"], &sub).await;
    assert_eq!(sup.count(), 2);
    let e = ps
        .join(Privilege::Public, &ids(&["rooms.c"]), sub.clone())
        .await
        .expect_err("cap");
    assert_eq!(e.code(), "pubsub_error");
    leave(&ps, Privilege::Public, &["short"], &sub).await;
    wait_until("short.b to leave the supervisor", || sup.count() == 1).await;
    wait_until("short.b to leave the registry", || ps.channel_count() == 1).await;
    publish(&ps, Privilege::Public, &["rooms"], "supervised");
    assert_eq!(frames(&next(&mut rx).await), ["supervised"]);
    sup.shutdown().await.expect("shutdown");
    wait_until("registry emptied after supervisor shutdown", || {
        ps.channel_count() == 0
    })
    .await;
}
