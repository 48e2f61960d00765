//! A real pub-sub [`Subscriber`]: a ractor actor with a bounded inbox that records what it gets.
//!
//! `deliver` is a non-blocking `try`-style hand-over: it counts in-flight deliveries and answers
//! `Overloaded` once `cap` are pending, exactly the contract a client actor fulfils. A recorder can
//! be "stuck" (its handler waits on a gate that is never opened) to play a slow consumer.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use hive::pubsub::{DeliverOutcome, Payload, PubSub, Subscriber};
use hive::wire::Wire;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, ActorStatus};
use tokio::sync::{Notify, mpsc};

/// Messages of the recorder actor.
pub enum RecMsg {
    /// One delivery from a channel.
    Got(Payload),
}

struct RecActor;

struct RecState {
    out: Option<mpsc::UnboundedSender<Payload>>,
    pending: Arc<AtomicUsize>,
    received: Arc<AtomicUsize>,
    gate: Option<Arc<Notify>>,
}

type RecArgs = RecState;

impl Actor for RecActor {
    type Msg = RecMsg;
    type State = RecState;
    type Arguments = RecArgs;

    async fn pre_start(
        &self,
        _: ActorRef<RecMsg>,
        a: RecArgs,
    ) -> Result<RecState, ActorProcessingErr> {
        Ok(a)
    }

    async fn handle(
        &self,
        _: ActorRef<RecMsg>,
        msg: RecMsg,
        st: &mut RecState,
    ) -> Result<(), ActorProcessingErr> {
        let RecMsg::Got(d) = msg;
        if let Some(gate) = &st.gate {
            gate.notified().await; // never released: a stuck client
        }
        st.pending.fetch_sub(1, Ordering::Relaxed);
        st.received.fetch_add(d.len(), Ordering::Relaxed);
        if let Some(out) = &st.out {
            let _ = out.send(d);
        }
        Ok(())
    }
}

/// The subscriber handle given to channels.
#[derive(Debug, Clone)]
pub struct Recorder {
    pub actor: ActorRef<RecMsg>,
    pending: Arc<AtomicUsize>,
    pub received: Arc<AtomicUsize>,
    cap: usize,
    pub killed: Arc<AtomicBool>,
}

impl std::fmt::Debug for RecMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecMsg")
    }
}

impl Subscriber for Recorder {
    fn cell(&self) -> ActorCell {
        self.actor.get_cell()
    }
    fn deliver(&self, d: &Payload) -> DeliverOutcome {
        if matches!(
            self.actor.get_status(),
            ActorStatus::Stopping | ActorStatus::Stopped
        ) {
            return DeliverOutcome::Dead;
        }
        if self.pending.fetch_add(1, Ordering::Relaxed) >= self.cap {
            self.pending.fetch_sub(1, Ordering::Relaxed);
            return DeliverOutcome::Overloaded;
        }
        match self.actor.send_message(RecMsg::Got(d.clone())) {
            Ok(()) => DeliverOutcome::Queued,
            Err(_) => DeliverOutcome::Dead,
        }
    }
    fn kill_slow(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.actor.stop(Some("slow".into()));
    }
}

impl Recorder {
    /// A recorder forwarding every delivery to the returned receiver.
    pub async fn new(cap: usize) -> (Arc<Recorder>, mpsc::UnboundedReceiver<Payload>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self::spawn(cap, Some(tx), false).await, rx)
    }

    /// A recorder that only counts (benchmarks, many subscribers).
    pub async fn counting(cap: usize) -> Arc<Recorder> {
        Self::spawn(cap, None, false).await
    }

    /// A recorder whose handler never finishes: its inbox fills up.
    pub async fn stuck(cap: usize) -> Arc<Recorder> {
        Self::spawn(cap, None, true).await
    }

    async fn spawn(
        cap: usize,
        out: Option<mpsc::UnboundedSender<Payload>>,
        stuck: bool,
    ) -> Arc<Recorder> {
        let pending = Arc::new(AtomicUsize::new(0));
        let received = Arc::new(AtomicUsize::new(0));
        let st = RecState {
            out,
            pending: pending.clone(),
            received: received.clone(),
            gate: stuck.then(|| Arc::new(Notify::new())),
        };
        let (actor, _) = Actor::spawn(None, RecActor, st)
            .await
            .expect("spawn recorder");
        Arc::new(Recorder {
            actor,
            pending,
            received,
            cap,
            killed: Arc::new(AtomicBool::new(false)),
        })
    }
}

/// Receive the next delivery within 5 s.
pub async fn next(rx: &mut mpsc::UnboundedReceiver<Payload>) -> Payload {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("no delivery within 5 s")
        .expect("recorder gone")
}

/// The 0.9 frames of a neutral publish (panics on events).
pub fn frames(d: &Payload) -> Vec<String> {
    match d {
        Payload::Published(p) => p
            .encoded(&Wire::Sio09)
            .iter()
            .map(|s| s.to_string())
            .collect(),
        Payload::Events(_) => panic!("expected a neutral publish, got {d:?}"),
    }
}

/// Poll `cond` every 5 ms for up to 5 s.
pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits (up to 10 s) until channel `cid` reports `n` subscribers.
pub async fn wait_status(ps: &PubSub, cid: &str, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = ps.status(cid).await.ok();
        if got == Some(n) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "status({cid}) stuck at {got:?}, want {n}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
