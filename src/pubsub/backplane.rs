//! The backplane: the one path every publish of this node takes, a supervised actor (the first
//! child of `pubsub_sup`).
//!
//! [`super::PubSub::publish`] hands each publish to the backplane actor as an [`Envelope`] (the
//! neutral, serde form); the backplane delivers what it receives into this node's [`Inbox`]. The
//! [`LocalBackplane`] (no `cluster` section) delivers straight into the inbox, in the order it
//! received the publishes; a cluster backplane (`crate::cluster`) appends them to Redis Streams and
//! delivers into the inbox what it reads back from them, so every node delivers the same order.
//!
//! The inbox is late-bound: it points at the current channel registry, which a restart of the
//! pub-sub manager replaces. The backplane outlives such a restart (it is started before, and
//! `pubsub_sup` is rest_for_one), so a cluster backplane keeps its stream positions.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::envelope::Envelope;
use super::registry::Registry;
use crate::HiveError;
use crate::slot::Slot;

/// Messages of a backplane actor (the local one and the cluster's writer take the same).
#[derive(Debug)]
pub enum BackplaneMsg {
    /// Publish `envelope` on every node.
    Publish {
        /// What to publish.
        envelope: Envelope,
        /// The caller's idempotency key (the API's `Idempotency-Key` header): a second publish
        /// with the same key within the backplane's window is accepted and not delivered again.
        key: Option<String>,
        /// Answered once the publish is accepted (local: handed to the channels; cluster: the
        /// stream append acknowledged), or with the reason it was not (`backplane_unavailable`).
        ack: Option<RpcReplyPort<Result<(), HiveError>>>,
    },
}

/// Where a backplane delivers on this node: the current channel registry (replaced when the
/// pub-sub manager restarts). Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Inbox(Slot<Arc<Registry>>);

impl Inbox {
    /// An inbox with no registry yet (pub-sub sets it when it starts).
    pub fn new() -> Inbox {
        Inbox::default()
    }

    pub(crate) fn set(&self, registry: Arc<Registry>) {
        self.0.set(registry);
    }

    /// Deliver one publish to this node's channels (privilege checked here, HIVE.md 8.6); false
    /// when pub-sub is not running (a restart in progress: the publish reaches no one here).
    pub fn deliver(&self, envelope: Envelope) -> bool {
        self.deliver_where(envelope, &|_| true)
    }

    /// [`Inbox::deliver`] to the matching channels whose id passes `keep` (a shard's channels).
    pub fn deliver_where(&self, envelope: Envelope, keep: &dyn Fn(&str) -> bool) -> bool {
        match self.0.get() {
            Some(r) => {
                let Envelope {
                    privilege,
                    cids,
                    payload,
                } = envelope;
                r.publish_where(privilege, &cids, payload, keep);
                true
            }
            None => false,
        }
    }
}

/// A running backplane as pub-sub uses it: the actor publishes go to (late-bound: a cluster
/// backplane's writer may be restarted by its own supervisor), and the inbox it delivers into.
#[derive(Clone, Debug)]
pub struct Plane {
    /// The backplane actor's current incarnation.
    pub actor: Slot<ActorRef<BackplaneMsg>>,
    /// Where it delivers on this node.
    pub inbox: Inbox,
}

/// The single-node backplane: delivers every publish into this node's inbox, in arrival order.
#[derive(Debug)]
pub struct LocalBackplane;

impl LocalBackplane {
    /// Start a local backplane delivering into `inbox`, linked to `parent` when given.
    ///
    /// # Errors
    /// `pubsub_error` when the actor cannot be spawned.
    pub async fn start(
        inbox: Inbox,
        parent: Option<ractor::ActorCell>,
    ) -> Result<Plane, HiveError> {
        let (actor, _) = otp::spec::spawn_under(LocalBackplane, inbox.clone(), parent)
            .await
            .map_err(|e| HiveError::PubsubError(format!("Cannot start the backplane: {e}")))?;
        let slot = Slot::new();
        slot.set(actor);
        Ok(Plane { actor: slot, inbox })
    }
}

impl Actor for LocalBackplane {
    type Msg = BackplaneMsg;
    type State = Inbox;
    type Arguments = Inbox;

    async fn pre_start(
        &self,
        _: ActorRef<BackplaneMsg>,
        inbox: Inbox,
    ) -> Result<Inbox, ActorProcessingErr> {
        Ok(inbox)
    }

    async fn handle(
        &self,
        _: ActorRef<BackplaneMsg>,
        msg: BackplaneMsg,
        inbox: &mut Inbox,
    ) -> Result<(), ActorProcessingErr> {
        let BackplaneMsg::Publish { envelope, ack, .. } = msg;
        let delivered = inbox.deliver(envelope);
        if let Some(ack) = ack {
            let r = if delivered {
                Ok(())
            } else {
                Err(HiveError::PubsubError(
                    "Hive Pub-Sub is restarting; the publish was not delivered.".into(),
                ))
            };
            let _ = ack.send(r);
        }
        Ok(())
    }
}
