//! The messages of the two pub-sub actors: [`PubSubMsg`] for the manager (`manager.rs`) and
//! [`ChannelMsg`] for a channel (`channel.rs`). A leaf: the manager starts channels and a channel
//! reports back to the manager, so their messages live here and neither actor's file imports the
//! other's. Built only inside the pub-sub module (the handle in `pubsub.rs`, the two actors).

use std::sync::Arc;

use ractor::{ActorId, RpcReplyPort};

use super::privilege::Privilege;
use super::subscriber::{Payload, Subscriber};
use crate::HiveError;

/// Messages of the manager actor (`manager.rs`). Built only by [`super::PubSub`] and channels.
#[derive(Debug)]
pub(crate) enum PubSubMsg {
    /// HIVE.md 8.3 join.
    Join {
        privilege: Privilege,
        cids: Vec<String>,
        sub: Arc<dyn Subscriber>,
        reply: RpcReplyPort<Result<(), HiveError>>,
    },
    /// A channel's idle timer fired while it was empty.
    ChannelIdle { cid: String, id: ActorId },
}

/// Messages of a channel actor (`channel.rs`). Built only by the pub-sub module.
#[derive(Debug)]
pub(crate) enum ChannelMsg {
    /// Add a subscriber (no-op when already subscribed).
    Subscribe(Arc<dyn Subscriber>),
    /// Remove the subscriber with this actor id.
    Unsubscribe(ActorId),
    /// Hand a payload to every subscriber.
    Publish(Payload),
    /// Idle timer tick; stale generations are ignored.
    IdleTimeout(u64),
    /// From the manager after an idle report: stop (and answer true) only if still empty.
    StopIfIdle(RpcReplyPort<bool>),
    /// Whether the actor with this id is subscribed (the monitor's `/sessions/<sid>`).
    HasSubscriber(ActorId, RpcReplyPort<bool>),
    /// From a fan-out shard (`shard.rs`): it dropped this subscription (dead or too slow).
    ShardDropped { id: ActorId, token: u64 },
    /// From a fan-out shard: its fan-out panicked and it ended (the channel fails).
    ShardFailed(usize),
}
