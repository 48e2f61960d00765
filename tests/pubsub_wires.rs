//! One publish to subscribers on two different wires: each subscriber gets the frames of its own
//! wire, and the publish is encoded exactly once per wire (not once per subscriber). The second
//! wire is a test double of the `Encoder` seam; the modern protocol brings the real one.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "pubsub/recorder.rs"]
mod recorder;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hive::config::{ChannelTemplate, Ordered, PubsubSection};
use hive::events::{Event, Out};
use hive::metrics::Metrics;
use hive::pubsub::{DeliverOutcome, Frames, Payload, Privilege, PubSub, Published, Subscriber};
use hive::wire::{Encoder, Wire};
use ractor::ActorCell;
use recorder::Recorder;
use serde_json::json;
use tokio::sync::mpsc;

/// A second wire: `42[name, ...args]`, counting its encodes.
#[derive(Debug, Default)]
struct CountingWire {
    encodes: AtomicUsize,
}

impl Encoder for CountingWire {
    fn slot(&self) -> usize {
        1
    }
    fn encode_all(&self, items: &[Out]) -> Vec<Arc<str>> {
        self.encodes.fetch_add(1, Ordering::SeqCst);
        items
            .iter()
            .map(|i| match i {
                Out::Event(e) => {
                    let mut v = vec![json!(e.name())];
                    if let Some(a) = e.object.get("args").and_then(|a| a.as_array()) {
                        v.extend(a.iter().cloned());
                    }
                    Arc::from(format!("42{}", serde_json::Value::Array(v)))
                }
                other => Arc::from(format!("{other:?}")),
            })
            .collect()
    }
}

/// A subscriber on a given wire: takes each neutral publish in that wire's encoding (as a client
/// session does) and records the frames; the recorder gives it a real actor to be monitored.
#[derive(Debug)]
struct WireSub {
    rec: Arc<Recorder>,
    wire: Arc<dyn Encoder + Send + Sync>,
    out: mpsc::UnboundedSender<Frames>,
}

impl WireSub {
    async fn new(
        wire: Arc<dyn Encoder + Send + Sync>,
    ) -> (Arc<WireSub>, mpsc::UnboundedReceiver<Frames>) {
        let (rec, _) = Recorder::new(8).await;
        let (out, rx) = mpsc::unbounded_channel();
        (Arc::new(WireSub { rec, wire, out }), rx)
    }
}

impl Subscriber for WireSub {
    fn cell(&self) -> ActorCell {
        self.rec.cell()
    }
    fn deliver(&self, d: &Payload) -> DeliverOutcome {
        match d {
            Payload::Published(p) => {
                let _ = self.out.send(p.encoded(self.wire.as_ref()));
                DeliverOutcome::Queued
            }
            Payload::Events(_) => panic!("expected a neutral publish, got {d:?}"),
        }
    }
    fn kill_slow(&self) {
        self.rec.kill_slow();
    }
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Frames>) -> Frames {
    tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
        .await
        .expect("no delivery within 5 s")
        .expect("subscriber gone")
}

#[tokio::test]
async fn one_publish_is_encoded_once_per_wire() {
    let cfg = PubsubSection {
        channels: Ordered(vec![(
            "rooms".to_string(),
            ChannelTemplate {
                privilege: "public".into(),
                timeout: 0,
            },
        )]),
    };
    let ps = PubSub::start(&cfg, Metrics::new(), None)
        .await
        .expect("start pubsub");
    let cids = vec!["rooms.a".to_string()];
    let wire = Arc::new(CountingWire::default());
    let mut old = Vec::new();
    let mut new = Vec::new();
    for _ in 0..3 {
        let (sub, rx) = WireSub::new(Arc::new(Wire::Sio09)).await;
        ps.join(Privilege::Public, &cids, sub.clone())
            .await
            .unwrap();
        old.push((sub, rx));
        let (sub, rx) = WireSub::new(wire.clone()).await;
        ps.join(Privilege::Public, &cids, sub.clone())
            .await
            .unwrap();
        new.push((sub, rx));
    }
    let published = Published::new(vec![Out::Event(Event::new(
        json!({"name": "news", "args": [1, "a"]}),
    ))]);
    ps.publish(Privilege::Public, &cids, Arc::clone(&published));

    let mut first_old: Option<Arc<[Arc<str>]>> = None;
    for (_, rx) in &mut old {
        let f = next(rx).await;
        assert_eq!(f.len(), 1);
        assert_eq!(&*f[0], r#"5:::{"name":"news","args":[1,"a"]}"#);
        let first = first_old.get_or_insert_with(|| Arc::clone(&f));
        assert!(Arc::ptr_eq(first, &f), "0.9 frames shared");
    }
    let mut first_new: Option<Arc<[Arc<str>]>> = None;
    for (_, rx) in &mut new {
        let f = next(rx).await;
        assert_eq!(f.len(), 1);
        assert_eq!(&*f[0], r#"42["news",1,"a"]"#);
        let first = first_new.get_or_insert_with(|| Arc::clone(&f));
        assert!(Arc::ptr_eq(first, &f), "double-wire frames shared");
    }
    assert_eq!(wire.encodes.load(Ordering::SeqCst), 1, "double wire: once");
    assert_eq!(published.encodes(), 2, "once per wire, not per subscriber");
    ps.stop();
}
