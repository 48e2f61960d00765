//! A channel's sharded fan-out: a channel with many subscribers splits them over one task per
//! runtime worker ([`Shards`]), so that a publish's deliveries (with direct writes, its socket
//! writes) run on every core instead of on the channel's one thread.
//!
//! # Order and consistency
//! The channel actor stays the owner of the subscriber set; each shard holds its part of it. A
//! shard gets, through its own FIFO queue and in the channel's order, the changes to its part
//! (`Add`, `Remove`) and every publish. A subscriber lives in one shard from its subscription to
//! its removal, so it sees the channel's publishes in their order; a subscription the channel
//! handled after a publish reaches the shard after that publish (not delivered to it), an
//! unsubscription before the publishes after it (none delivered).
//!
//! # Drops
//! A shard that finds a subscriber dead or overloaded drops it itself (a slow one is counted in
//! `pubsub.dropped_deliveries` and asked to disconnect), then tells the channel
//! ([`ChannelMsg::ShardDropped`]), which forgets it unless it has been subscribed again since:
//! every subscription carries a token of its own.
//!
//! # Lifetime
//! Shards are tasks, not actors: they own nothing that outlives a publish (the channel has the
//! subscriber set), and they live exactly as long as their channel. [`Shards`] is part of the
//! channel's state and aborts its tasks when dropped: when the channel stops, expires, crashes or
//! is stopped with its supervisor (a channel is never restarted; a new one starts empty). A shard
//! whose fan-out panics (a subscriber's `deliver` panicked) reports it
//! ([`ChannelMsg::ShardFailed`]) and ends; the channel then fails as it would have had it made the
//! delivery itself, and its other shards go with it.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use ractor::{ActorId, ActorRef};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

use super::metrics::PubsubCounters;
use super::msg::ChannelMsg;
use super::subscriber::{DeliverOutcome, Payload, Subscriber};

/// A channel shards its fan-out once it has more subscribers than this. Below, its own loop is
/// cheaper: a publish costs no queue push and no task wake per shard.
pub(crate) const SHARD_ABOVE: usize = 256;

/// Messages queued on lots of shards at once are taken in batches of up to this many per wake.
const BATCH: usize = 32;

/// A shard warms its subscribers ([`Subscriber::warm`]) this many at a time: before the first
/// of a group, the group's connection queues and the next group's shortcuts, all loads in flight
/// together (a delivery's lock waits for every load before it, so warming in groups waits once
/// per group rather than once per subscriber).
const WARM: usize = 4;

/// How many shards a channel running on the current runtime splits into: one per worker thread
/// (1 on a single-threaded runtime, where sharding gains nothing).
pub(crate) fn workers() -> usize {
    tokio::runtime::Handle::try_current().map_or(1, |h| h.metrics().num_workers())
}

/// What a channel tells one of its shards, in the channel's order.
enum ShardMsg {
    /// Deliver to this subscriber from now on (its id and the subscription's token).
    Add(ActorId, u64, Arc<dyn Subscriber>),
    /// Forget this subscriber.
    Remove(ActorId),
    /// Hand this payload to every subscriber of the shard.
    Publish(Payload),
}

/// What a shard's task needs besides its queue.
struct Ctx {
    index: usize,
    channel: ActorRef<ChannelMsg>,
    cid: Arc<str>,
    counters: PubsubCounters,
}

/// One channel's shards: a queue to each task, and how many subscribers each has.
pub(crate) struct Shards {
    queues: Vec<UnboundedSender<ShardMsg>>,
    sizes: Vec<usize>,
    tasks: Vec<JoinHandle<()>>,
}

impl Shards {
    /// Start `n` shard tasks for the channel `channel` (`cid`), on the current runtime.
    pub(crate) fn start(
        n: usize,
        channel: &ActorRef<ChannelMsg>,
        cid: &str,
        counters: &PubsubCounters,
    ) -> Shards {
        let cid: Arc<str> = Arc::from(cid);
        let mut queues = Vec::with_capacity(n);
        let mut tasks = Vec::with_capacity(n);
        for index in 0..n {
            let (tx, rx) = unbounded_channel();
            let ctx = Ctx {
                index,
                channel: channel.clone(),
                cid: Arc::clone(&cid),
                counters: counters.clone(),
            };
            queues.push(tx);
            tasks.push(tokio::spawn(run(rx, ctx)));
        }
        Shards {
            queues,
            sizes: vec![0; n],
            tasks,
        }
    }

    /// Number of shards.
    pub(crate) fn len(&self) -> usize {
        self.queues.len()
    }

    /// Give `sub` to the shard with the fewest subscribers; returns that shard's index.
    ///
    /// # Errors
    /// The shard is gone (it failed; the channel must fail too).
    pub(crate) fn add(
        &mut self,
        id: ActorId,
        token: u64,
        sub: Arc<dyn Subscriber>,
    ) -> Result<usize, ShardGone> {
        let (i, _) = self
            .sizes
            .iter()
            .enumerate()
            .min_by_key(|(_, n)| **n)
            .ok_or(ShardGone(0))?;
        self.send(i, ShardMsg::Add(id, token, sub))?;
        if let Some(n) = self.sizes.get_mut(i) {
            *n += 1;
        }
        Ok(i)
    }

    /// Take `id` out of shard `i` (`tell`: the shard does not know yet; it dropped it itself
    /// otherwise).
    ///
    /// # Errors
    /// As [`Shards::add`].
    pub(crate) fn remove(&mut self, i: usize, id: ActorId, tell: bool) -> Result<(), ShardGone> {
        if let Some(n) = self.sizes.get_mut(i) {
            *n = n.saturating_sub(1);
        }
        if tell {
            self.send(i, ShardMsg::Remove(id))?;
        }
        Ok(())
    }

    /// Hand `p` to every shard.
    ///
    /// # Errors
    /// As [`Shards::add`].
    pub(crate) fn publish(&self, p: &Payload) -> Result<(), ShardGone> {
        for i in 0..self.queues.len() {
            self.send(i, ShardMsg::Publish(p.clone()))?;
        }
        Ok(())
    }

    fn send(&self, i: usize, m: ShardMsg) -> Result<(), ShardGone> {
        match self.queues.get(i) {
            Some(q) => q.send(m).map_err(|_| ShardGone(i)),
            None => Err(ShardGone(i)),
        }
    }
}

impl Drop for Shards {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl std::fmt::Debug for Shards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shards")
            .field("sizes", &self.sizes)
            .finish()
    }
}

/// A shard's task ended while its channel still used it (it failed).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShardGone(pub(crate) usize);

impl std::fmt::Display for ShardGone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fan-out shard {} is gone", self.0)
    }
}

impl std::error::Error for ShardGone {}

/// One shard's subscribers: a vector to walk per publish, and where each one is in it.
#[derive(Default)]
struct Part {
    members: Vec<(ActorId, u64, Arc<dyn Subscriber>)>,
    at: HashMap<ActorId, usize>,
}

impl Part {
    fn add(&mut self, id: ActorId, token: u64, sub: Arc<dyn Subscriber>) {
        if let Some(&i) = self.at.get(&id) {
            if let Some(m) = self.members.get_mut(i) {
                *m = (id, token, sub);
            }
            return;
        }
        self.at.insert(id, self.members.len());
        self.members.push((id, token, sub));
    }

    fn remove(&mut self, id: ActorId) -> Option<(ActorId, u64, Arc<dyn Subscriber>)> {
        let i = self.at.remove(&id)?;
        self.take(i)
    }

    /// Take the member at `i` out (the last one moves into its place).
    fn take(&mut self, i: usize) -> Option<(ActorId, u64, Arc<dyn Subscriber>)> {
        if i >= self.members.len() {
            return None;
        }
        let m = self.members.swap_remove(i);
        self.at.remove(&m.0);
        if let Some(moved) = self.members.get(i) {
            self.at.insert(moved.0, i);
        }
        Some(m)
    }

    /// Hand `ps` (publishes, in order) to every member; drop those that are dead or overloaded
    /// and report them.
    fn publish(&mut self, ps: &[Payload], ctx: &Ctx) {
        let mut gone: Vec<(usize, bool)> = Vec::new();
        for (i, (_, _, sub)) in self.members.iter().enumerate() {
            // By its turn, what a subscriber's delivery reads has been loaded a step at a time
            // (its shortcut a group ahead, then its queue), alongside the others of its group.
            if i % WARM == 0 {
                if i == 0 {
                    warm(&self.members, 0, 0);
                }
                warm(&self.members, i, 1);
                warm(&self.members, i + WARM, 0);
            }
            let outcome = match ps {
                [p] => sub.deliver(p),
                ps => sub.deliver_batch(ps),
            };
            match outcome {
                DeliverOutcome::Queued => {}
                DeliverOutcome::Dead => gone.push((i, false)),
                DeliverOutcome::Overloaded => gone.push((i, true)),
            }
        }
        // Highest index first: every index after the one taken is already gone.
        for (i, slow) in gone.into_iter().rev() {
            let Some((id, token, sub)) = self.take(i) else {
                continue;
            };
            if slow {
                ctx.counters.slow_dropped(&ctx.cid, id, sub.as_ref());
            }
            // A channel that is gone has nothing left to forget.
            let _ = ctx.channel.cast(ChannelMsg::ShardDropped { id, token });
        }
    }
}

/// Warm `step` ([`Subscriber::warm`]) the group of subscribers from `from`.
fn warm(members: &[(ActorId, u64, Arc<dyn Subscriber>)], from: usize, step: usize) {
    for (_, _, sub) in members.iter().skip(from).take(WARM) {
        sub.warm(step);
    }
}

/// A shard's task: apply the channel's messages in order until the channel drops its queue (or
/// aborts the task). Publishes that waited together (the shard fell behind) are handed to each
/// subscriber together: one socket write for all of them where it is idle.
async fn run(mut rx: UnboundedReceiver<ShardMsg>, ctx: Ctx) {
    let mut part = Part::default();
    let mut batch = Vec::with_capacity(BATCH);
    let mut publishes: Vec<Payload> = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        for m in batch.drain(..) {
            match m {
                ShardMsg::Publish(p) => publishes.push(p),
                ShardMsg::Add(id, token, sub) => {
                    if !fan_out(&mut part, &mut publishes, &ctx) {
                        return;
                    }
                    part.add(id, token, sub);
                }
                ShardMsg::Remove(id) => {
                    if !fan_out(&mut part, &mut publishes, &ctx) {
                        return;
                    }
                    part.remove(id);
                }
            }
        }
        if !fan_out(&mut part, &mut publishes, &ctx) {
            return;
        }
    }
}

/// Deliver the waiting `publishes` (if any) and clear them; false when the fan-out panicked (the
/// channel has been told; the shard ends).
fn fan_out(part: &mut Part, publishes: &mut Vec<Payload>, ctx: &Ctx) -> bool {
    if publishes.is_empty() {
        return true;
    }
    let ok = catch_unwind(AssertUnwindSafe(|| part.publish(publishes, ctx))).is_ok();
    publishes.clear();
    if !ok {
        let _ = ctx.channel.cast(ChannelMsg::ShardFailed(ctx.index));
    }
    ok
}
