//! Pub-sub: channel templates, one actor per channel, and the node's channel registry (HIVE.md 8).
//!
//! # Shape
//! - [`PubSub`] is the cloneable handle every caller uses (client actors, hooks, the API).
//! - A manager actor (`manager.rs`) is the only writer of the registry: it creates channel actors
//!   on first join (under the dynamic `channels_sup` when given, as temporary children) and
//!   removes them when they expire or die.
//! - One channel actor per concrete cid (`channel.rs`) holds the subscribers (monitored), fans
//!   deliveries out without ever blocking on a subscriber, and expires after its template's idle
//!   timeout (`0` = never). A channel with many subscribers splits its fan-out over one task per
//!   runtime worker (`shard.rs`), each delivering to its part of the subscribers in publish order.
//! - The two actors' messages are in `msg.rs`, so neither actor's file imports the other's.
//! - Leave and status read the registry directly (`registry.rs`).
//! - Every publish goes through the **backplane** (`backplane.rs`), a supervised actor started
//!   before the manager: [`PubSub::publish`] hands it an [`Envelope`] (the privilege, the cids and
//!   a neutral [`Payload`]); it delivers into this node's [`Inbox`], which hands one `Arc`'d
//!   payload to every matching channel without waiting for any. A neutral [`Published`] is taken
//!   by each subscriber in its wire's encoding, encoded once per wire ([`Published::encoded`]);
//!   internal events ([`Payload::Events`]) are dispatched by each subscriber.
//!
//! # Backplane (multi-node)
//! Without a `cluster` section the backplane is [`LocalBackplane`]: it delivers each publish on
//! this node, in the order it received them. The cluster backplane (`crate::cluster`) takes the
//! same messages, appends each envelope to Redis Streams, and every node's reader delivers what
//! it reads into its own inbox — the original's "broadcast to the Pub-Sub manager of every node,
//! privilege check on each node" (HIVE.md 8.3, 8.6), in one order for everyone. Join, leave and
//! status stay local, as in the original.

mod backplane;
mod channel;
mod cid;
mod envelope;
mod manager;
mod metrics;
mod msg;
mod privilege;
mod published;
mod registry;
mod shard;
mod subscriber;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{ActorCell, ActorRef};

pub use backplane::{BackplaneMsg, Inbox, LocalBackplane, Plane};
pub use cid::{expand_cid_spec, expand_resubscribe, is_at_or_below, prefix_of};
pub use codec::event::InternalEvent;
pub use envelope::Envelope;
pub use privilege::Privilege;
pub use published::{Frames, Published};
pub use registry::ChannelStat;
pub use subscriber::{DeliverOutcome, Payload, Subscriber, deliver_each};

use crate::HiveError;
use crate::config::PubsubSection;
use crate::metrics::Metrics;
use crate::slot::Slot;
use manager::{ChannelParent, ManagerActor, ManagerState};
use metrics::PubsubCounters;
use msg::{ChannelMsg, PubSubMsg};
use otp::DynamicHandle;
use registry::{Registry, Template};

/// How long a join waits for the manager.
const JOIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How long an acknowledged publish waits for the backplane.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

/// Handle to the node's pub-sub service.
#[derive(Clone, Debug)]
pub struct PubSub {
    registry: Arc<Registry>,
    manager: ActorRef<PubSubMsg>,
    backplane: Slot<ActorRef<BackplaneMsg>>,
    /// The backplane was started by [`PubSub::start`] for this handle alone (stopped with it).
    own_backplane: bool,
    started: Instant,
}

impl PubSub {
    /// Start the manager actor with the templates of `cfg`, and a [`LocalBackplane`] of its own
    /// (unlinked; stopped by [`PubSub::stop`]).
    ///
    /// `channels_sup`: the dynamic supervisor (`channels_sup`) channel actors are started under,
    /// as temporary children; `None` starts them unlinked (tests, tools).
    ///
    /// # Errors
    /// `invalid_config` for an unknown template privilege; `pubsub_error` if the manager cannot
    /// be spawned.
    pub async fn start(
        cfg: &PubsubSection,
        metrics: Arc<Metrics>,
        channels_sup: Option<DynamicHandle>,
    ) -> Result<PubSub, HiveError> {
        let plane = LocalBackplane::start(Inbox::new(), None).await?;
        let mut ps = Self::start_linked(cfg, metrics, channels_sup, None, plane).await?;
        ps.own_backplane = true;
        Ok(ps)
    }

    /// Like [`PubSub::start`], with the manager actor linked to `parent` (its supervisor in the
    /// tree: `pubsub_sup`) and publishing through `plane` (the backplane started before it, whose
    /// inbox now points at this incarnation's registry).
    ///
    /// # Errors
    /// As [`PubSub::start`].
    pub async fn start_linked(
        cfg: &PubsubSection,
        metrics: Arc<Metrics>,
        channels_sup: Option<DynamicHandle>,
        parent: Option<ractor::ActorCell>,
        plane: Plane,
    ) -> Result<PubSub, HiveError> {
        let mut templates = HashMap::new();
        for (prefix, t) in cfg.channels.iter() {
            let privilege = Privilege::parse(Some(&t.privilege)).map_err(|e| {
                HiveError::InvalidConfig(format!("pubsub.channels.{prefix}.privilege: {e}"))
            })?;
            templates.insert(
                prefix.clone(),
                Template {
                    privilege,
                    timeout: t.timeout,
                },
            );
        }
        let counters = PubsubCounters::new(&metrics, templates.keys().map(String::as_str));
        let registry = Arc::new(Registry::new(templates, counters));
        let channel_parent =
            channels_sup.map_or(ChannelParent::Unlinked, ChannelParent::Supervised);
        let state = ManagerState::new(registry.clone(), channel_parent);
        let spawned = otp::spec::spawn_under(ManagerActor, state, parent).await;
        let (manager, _join) = spawned.map_err(|e| {
            HiveError::PubsubError(format!("Cannot start Hive Pub-Sub manager: {e}"))
        })?;
        plane.inbox.set(registry.clone());
        Ok(PubSub {
            registry,
            manager,
            backplane: plane.actor,
            own_backplane: false,
            started: Instant::now(),
        })
    }

    /// HIVE.md 8.3 join: privilege-check every cid (nothing joined on failure), then subscribe
    /// `sub` to each, creating channels from their prefix's template. Repeated cids are joined
    /// once; joining twice is a no-op.
    ///
    /// # Errors
    /// `bad_channel_id` (no template), `access_denied`, `pubsub_error` (spawn failure).
    pub async fn join(
        &self,
        p: Privilege,
        cids: &[String],
        sub: Arc<dyn Subscriber>,
    ) -> Result<(), HiveError> {
        let c = &self.registry.counters;
        c.node.requests.inc();
        c.node.join.inc();
        let msg = |reply| PubSubMsg::Join {
            privilege: p,
            cids: cids.to_vec(),
            sub,
            reply,
        };
        match self.manager.call(msg, Some(JOIN_TIMEOUT)).await {
            Ok(ractor::rpc::CallResult::Success(r)) => r,
            Ok(_) | Err(_) => {
                c.node.errors.inc();
                Err(HiveError::PubsubError(
                    "Hive Pub-Sub manager did not answer a join request.".into(),
                ))
            }
        }
    }

    /// HIVE.md 8.3 leave: privilege-check, then unsubscribe `sub` from every channel equal to or
    /// below each cid. Unknown cids are ignored.
    ///
    /// # Errors
    /// `bad_channel_id`, `access_denied`.
    pub async fn leave(
        &self,
        p: Privilege,
        cids: &[String],
        sub: &ActorCell,
    ) -> Result<(), HiveError> {
        let c = &self.registry.counters;
        c.node.requests.inc();
        c.node.leave.inc();
        if let Err(e) = self.registry.check(p, cids) {
            c.error(cids.first().map(String::as_str).unwrap_or(""));
            return Err(e);
        }
        let id = sub.get_id();
        let mut targets: Vec<ActorRef<ChannelMsg>> = Vec::new();
        for cid in cids {
            if let Some(pc) = c.prefix(cid) {
                pc.requests.inc();
                pc.unsubscribe.inc();
            }
            self.registry
                .for_each_at_or_below(cid, |_, e| targets.push(e.actor.clone()));
        }
        for t in targets {
            let _ = t.cast(ChannelMsg::Unsubscribe(id));
        }
        Ok(())
    }

    /// HIVE.md 8.3 publish through the backplane: returns at once; privilege failures are logged
    /// and dropped (by each receiving node); unknown cids are ignored.
    pub fn publish(&self, p: Privilege, cids: &[String], payload: impl Into<Payload>) {
        let msg = BackplaneMsg::Publish {
            envelope: Envelope {
                privilege: p,
                cids: cids.to_vec(),
                payload: payload.into(),
            },
            key: None,
            ack: None,
        };
        if self.backplane.get().is_none_or(|b| b.cast(msg).is_err()) {
            self.backplane_down(cids);
        }
    }

    /// Publish through the backplane and wait until it accepted the publish (the API's publish:
    /// with a cluster backplane, until Redis acknowledged it). `key`: the caller's idempotency
    /// key, so that its retries are not delivered twice.
    ///
    /// # Errors
    /// `backplane_unavailable` when the backplane cannot take the publish (Redis unreachable):
    /// nothing was delivered anywhere; `pubsub_error` when the backplane did not answer.
    pub async fn publish_acked(
        &self,
        p: Privilege,
        cids: &[String],
        payload: impl Into<Payload>,
        key: Option<String>,
    ) -> Result<(), HiveError> {
        let envelope = Envelope {
            privilege: p,
            cids: cids.to_vec(),
            payload: payload.into(),
        };
        let msg = |ack| BackplaneMsg::Publish {
            envelope,
            key,
            ack: Some(ack),
        };
        let Some(backplane) = self.backplane.get() else {
            self.backplane_down(cids);
            return Err(HiveError::PubsubError(
                "Hive Pub-Sub backplane is not running.".into(),
            ));
        };
        match backplane.call(msg, Some(PUBLISH_TIMEOUT)).await {
            Ok(ractor::rpc::CallResult::Success(r)) => r,
            Ok(_) | Err(_) => {
                self.backplane_down(cids);
                Err(HiveError::PubsubError(
                    "Hive Pub-Sub backplane did not answer a publish.".into(),
                ))
            }
        }
    }

    fn backplane_down(&self, cids: &[String]) {
        self.registry
            .counters
            .error(cids.first().map(String::as_str).unwrap_or(""));
        tracing::warn!(
            code = "pubsub_error",
            "pubsub publish dropped: the backplane is not running"
        );
    }

    /// HIVE.md 8.3 status: subscriber count summed over every channel at or below `cid` (local).
    ///
    /// # Errors
    /// `unknown_channel_id` when no such channel exists.
    pub async fn status(&self, cid: &str) -> Result<usize, HiveError> {
        let c = &self.registry.counters;
        c.node.requests.inc();
        c.node.status.inc();
        if let Some(pc) = c.prefix(cid) {
            pc.requests.inc();
            pc.status.inc();
        }
        self.registry.status(cid).ok_or_else(|| {
            c.error(cid);
            HiveError::UnknownChannelId(format!(
                "Tried accessing an unknown Hive Pub-Sub Channel: {cid}"
            ))
        })
    }

    /// Count an API subscribe (`join = true`) or unsubscribe request routed to a session
    /// (`pubsub.subscribe` / `pubsub.unsubscribe`; the join/leave itself is counted when the
    /// session runs it).
    pub fn count_api_subscription(&self, cids: &[String], join: bool) {
        let c = &self.registry.counters;
        c.node.requests.inc();
        if join {
            c.node.subscribe.inc()
        } else {
            c.node.unsubscribe.inc()
        }
        for cid in cids {
            if let Some(pc) = c.prefix(cid) {
                pc.requests.inc();
            }
        }
    }

    /// Every live channel on this node at or below `scope` (all of them for `""`) with its
    /// subscriber count, in id order (the monitor's `/channels`; no message to any channel).
    pub fn channels(&self, scope: &str) -> Vec<(String, usize)> {
        self.registry.list(scope)
    }

    /// Live channels at or below `scope` with subscriber counts and publishes (the monitor's
    /// `/channels`; from the registry, no message to any channel).
    pub fn channel_stats(&self, scope: &str) -> Vec<ChannelStat> {
        self.registry.stats(scope)
    }

    /// The channels on this node that the actor `id` is subscribed to, in id order. Asks every
    /// live channel (in parallel, each within `timeout`): for the monitor, not for hot paths.
    pub async fn channels_of(
        &self,
        id: ractor::ActorId,
        timeout: std::time::Duration,
    ) -> Vec<String> {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let asks = self
            .registry
            .actors()
            .into_iter()
            .map(|(cid, actor)| async move {
                let has = ractor::call_t!(actor, msg::ChannelMsg::HasSubscriber, ms, id);
                has.unwrap_or(false).then_some(cid)
            });
        futures::future::join_all(asks)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// Number of live channels on this node.
    pub fn channel_count(&self) -> usize {
        self.registry.len()
    }

    /// The manager actor (a worker of `pubsub_sup` in the tree).
    pub fn manager_cell(&self) -> ractor::ActorCell {
        self.manager.get_cell()
    }

    /// Milliseconds since start (`pubsub.uptime`).
    pub fn uptime_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Stop the manager and every channel (node shutdown; supervised channels are also stopped by
    /// their supervisor).
    pub fn stop(&self) {
        self.manager.stop(Some("shutdown".into()));
        if self.own_backplane
            && let Some(b) = self.backplane.get()
        {
            b.stop(Some("shutdown".into()));
        }
        let all = self.registry.drain();
        self.registry
            .counters
            .node
            .total_channels
            .add(-(all.len() as i64));
        for e in all {
            e.actor.stop(Some("shutdown".into()));
        }
    }
}
