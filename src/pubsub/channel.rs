//! One actor per concrete channel (`prefix.name`): fans deliveries out to its subscribers and stops
//! itself after its template's idle timeout (HIVE.md 8.5).
//!
//! The channel never awaits a subscriber: [`Subscriber::deliver`] is a non-blocking hand-over into
//! the subscriber's bounded queue, so one stuck client cannot stall the channel or its siblings.
//! A subscriber that reports `Overloaded` is dropped and asked to disconnect (`kill_slow`).
//! Subscribers are monitored: a dead one is removed without waiting for an unsubscribe.
//!
//! Up to [`SHARD_ABOVE`] subscribers the channel delivers in its own loop. Past that, on a
//! runtime with several workers, it splits them over one fan-out shard per worker (`shard.rs`)
//! and hands each publish to every shard, so that the deliveries run on every core; the channel
//! stays sharded until it stops.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use ractor::concurrency::JoinHandle;
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, ActorStatus, SupervisionEvent};

use super::metrics::PubsubCounters;
use super::msg::{ChannelMsg, PubSubMsg};
use super::shard::{SHARD_ABOVE, ShardGone, Shards, workers};
use super::subscriber::{DeliverOutcome, Payload, Subscriber};
use crate::metrics::PubsubPrefixMetrics;

/// Start-up arguments of a channel.
#[derive(Debug, Clone)]
pub(crate) struct ChannelArgs {
    pub(crate) cid: String,
    /// Idle lifetime in ms; 0 = never expires.
    pub(crate) timeout: u64,
    pub(crate) manager: ActorRef<PubSubMsg>,
    pub(crate) count: Arc<AtomicUsize>,
    /// Publishes fanned out (read by the monitor).
    pub(crate) published: Arc<AtomicU64>,
    /// Fan-out shards in use (0: the channel's own loop; read by the monitor).
    pub(crate) shards: Arc<AtomicUsize>,
    pub(crate) counters: PubsubCounters,
}

/// The channel actor (stateless; see [`ChannelState`]).
#[derive(Debug)]
pub(crate) struct ChannelActor;

/// Mutable state of one channel.
#[derive(Debug)]
pub(crate) struct ChannelState {
    args: ChannelArgs,
    prefix: Option<PubsubPrefixMetrics>,
    subs: HashMap<ActorId, Member>,
    /// The fan-out shards, once the channel has had more than [`SHARD_ABOVE`] subscribers.
    shards: Option<Shards>,
    /// The token of the next subscription.
    tokens: u64,
    timer: Option<JoinHandle<Result<(), ractor::MessagingErr<ChannelMsg>>>>,
    generation: u64,
}

/// One subscription.
#[derive(Debug)]
struct Member {
    sub: Arc<dyn Subscriber>,
    /// Tells this subscription from an earlier one of the same actor (a shard's drop report
    /// names the one it dropped).
    token: u64,
    /// The shard it is in (when the channel is sharded).
    shard: usize,
}

impl ChannelState {
    fn sync_count(&self) {
        self.args.count.store(self.subs.len(), Ordering::Relaxed);
    }

    fn added(&mut self) {
        if let Some(p) = &self.prefix {
            p.subscribed_clients.inc();
        }
        self.cancel_timer();
        self.sync_count();
    }

    /// Forget subscriber `id` (`tell`: and take it out of its shard, which has not dropped it
    /// itself).
    fn remove(
        &mut self,
        myself: &ActorRef<ChannelMsg>,
        id: ActorId,
        tell: bool,
    ) -> Result<Option<Arc<dyn Subscriber>>, ShardGone> {
        let Some(m) = self.subs.remove(&id) else {
            return Ok(None);
        };
        let sub = m.sub;
        myself.get_cell().unmonitor(sub.cell());
        if let Some(p) = &self.prefix {
            p.subscribed_clients.dec();
        }
        self.sync_count();
        if self.subs.is_empty() {
            self.arm_timer(myself);
        }
        if let Some(shards) = &mut self.shards {
            shards.remove(m.shard, id, tell)?;
        }
        Ok(Some(sub))
    }

    /// Add a subscription (not yet in `subs`), to a shard when the channel is sharded; shard the
    /// channel when it grows past [`SHARD_ABOVE`].
    fn add(
        &mut self,
        myself: &ActorRef<ChannelMsg>,
        id: ActorId,
        sub: Arc<dyn Subscriber>,
    ) -> Result<(), ShardGone> {
        let token = self.tokens;
        self.tokens += 1;
        let shard = match &mut self.shards {
            Some(shards) => shards.add(id, token, Arc::clone(&sub))?,
            None => 0,
        };
        self.subs.insert(id, Member { sub, token, shard });
        self.added();
        if self.shards.is_none() && self.subs.len() > SHARD_ABOVE {
            let n = workers();
            if n > 1 {
                self.shard(myself, n)?;
            }
        }
        Ok(())
    }

    /// Split the subscribers over `n` shards (from now on every publish goes through them).
    fn shard(&mut self, myself: &ActorRef<ChannelMsg>, n: usize) -> Result<(), ShardGone> {
        let mut shards = Shards::start(n, myself, &self.args.cid, &self.args.counters);
        for (id, m) in &mut self.subs {
            m.shard = shards.add(*id, m.token, Arc::clone(&m.sub))?;
        }
        self.args.shards.store(shards.len(), Ordering::Relaxed);
        tracing::debug!(cid = %self.args.cid, shards = shards.len(), subscribers = self.subs.len(), "channel sharded");
        self.shards = Some(shards);
        Ok(())
    }

    fn cancel_timer(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        if let Some(t) = self.timer.take() {
            t.abort();
        }
    }

    fn arm_timer(&mut self, myself: &ActorRef<ChannelMsg>) {
        self.cancel_timer();
        if self.args.timeout == 0 {
            return;
        }
        let generation = self.generation;
        self.timer = Some(
            myself.send_after(Duration::from_millis(self.args.timeout), move || {
                ChannelMsg::IdleTimeout(generation)
            }),
        );
    }

    fn publish(&mut self, myself: &ActorRef<ChannelMsg>, d: &Payload) -> Result<(), ShardGone> {
        if crate::metrics::figures_on() {
            self.args.published.fetch_add(1, Ordering::Relaxed);
            self.args.counters.probe.delivered_to(self.subs.len());
        }
        if let Some(shards) = &self.shards {
            return shards.publish(d);
        }
        let mut gone: Vec<(ActorId, bool)> = Vec::new();
        for (id, m) in &self.subs {
            match m.sub.deliver(d) {
                DeliverOutcome::Queued => {}
                DeliverOutcome::Dead => gone.push((*id, false)),
                DeliverOutcome::Overloaded => gone.push((*id, true)),
            }
        }
        for (id, slow) in gone {
            if let Some(sub) = self.remove(myself, id, true)?
                && slow
            {
                self.args
                    .counters
                    .slow_dropped(&self.args.cid, id, sub.as_ref());
            }
        }
        Ok(())
    }
}

impl Actor for ChannelActor {
    type Msg = ChannelMsg;
    type State = ChannelState;
    type Arguments = ChannelArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<ChannelMsg>,
        args: ChannelArgs,
    ) -> Result<ChannelState, ActorProcessingErr> {
        let prefix = args.counters.prefix(&args.cid).cloned();
        let mut st = ChannelState {
            args,
            prefix,
            subs: HashMap::new(),
            shards: None,
            tokens: 0,
            timer: None,
            generation: 0,
        };
        // Created empty: expire even if the subscription that created us never arrives.
        st.arm_timer(&myself);
        Ok(st)
    }

    async fn post_stop(
        &self,
        myself: ActorRef<ChannelMsg>,
        st: &mut ChannelState,
    ) -> Result<(), ActorProcessingErr> {
        st.cancel_timer();
        // Dropping the shards aborts their tasks.
        st.shards = None;
        st.args.shards.store(0, Ordering::Relaxed);
        for m in st.subs.values() {
            myself.get_cell().unmonitor(m.sub.cell());
        }
        if let Some(p) = &st.prefix {
            p.subscribed_clients.add(-(st.subs.len() as i64));
        }
        st.subs.clear();
        st.sync_count();
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<ChannelMsg>,
        msg: ChannelMsg,
        st: &mut ChannelState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ChannelMsg::Subscribe(sub) => {
                let cell = sub.cell();
                let id = cell.get_id();
                if st.subs.contains_key(&id) {
                    return Ok(());
                }
                myself.get_cell().monitor(cell.clone());
                // Monitoring a dead actor reports nothing: check after registering the monitor.
                if matches!(
                    cell.get_status(),
                    ActorStatus::Stopping | ActorStatus::Stopped
                ) {
                    myself.get_cell().unmonitor(cell);
                    if st.subs.is_empty() {
                        st.arm_timer(&myself);
                    }
                    return Ok(());
                }
                st.add(&myself, id, sub)?;
            }
            ChannelMsg::Unsubscribe(id) => {
                st.remove(&myself, id, true)?;
            }
            ChannelMsg::Publish(d) => st.publish(&myself, &d)?,
            ChannelMsg::ShardDropped { id, token } => {
                if st.subs.get(&id).is_some_and(|m| m.token == token) {
                    st.remove(&myself, id, false)?;
                }
            }
            ChannelMsg::ShardFailed(i) => {
                return Err(format!("channel {}: fan-out shard {i} failed", st.args.cid).into());
            }
            ChannelMsg::IdleTimeout(generation) => {
                if generation == st.generation && st.subs.is_empty() {
                    let report = PubSubMsg::ChannelIdle {
                        cid: st.args.cid.clone(),
                        id: myself.get_id(),
                    };
                    // The manager being gone means the node is stopping: stop with it.
                    if st.args.manager.cast(report).is_err() {
                        myself.stop(None);
                    }
                }
            }
            ChannelMsg::HasSubscriber(id, reply) => {
                let _ = reply.send(st.subs.contains_key(&id));
            }
            ChannelMsg::StopIfIdle(reply) => {
                let idle = st.subs.is_empty();
                let _ = reply.send(idle);
                if idle {
                    myself.stop(None); // a normal exit for the supervisor
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<ChannelMsg>,
        evt: SupervisionEvent,
        st: &mut ChannelState,
    ) -> Result<(), ActorProcessingErr> {
        // Monitored subscribers report here; a subscriber's death never stops the channel.
        match evt {
            SupervisionEvent::ActorTerminated(who, _, _)
            | SupervisionEvent::ActorFailed(who, _) => {
                st.remove(&myself, who.get_id(), true)?;
            }
            _ => {}
        }
        Ok(())
    }
}
