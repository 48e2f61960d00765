//! The pub-sub manager actor: the only writer of the channel registry (HIVE.md 8.2, 8.3 join, 8.5).
//!
//! Joins go through it so that channel creation is serialised (one channel per cid, even when a
//! request or two clients race to create it), and so that an idle channel's removal cannot
//! interleave with a subscription to it. Publish, leave and status read the registry directly.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};

use super::channel::{ChannelActor, ChannelArgs};
use super::cid::dedupe;
use super::msg::{ChannelMsg, PubSubMsg};
use super::privilege::Privilege;
use super::registry::{ChannelEntry, Registry};
use super::subscriber::Subscriber;
use crate::HiveError;
use otp::{ChildSpec, DynamicHandle, Restart, Shutdown, start_actor};

/// How long a supervised channel gets to stop gracefully.
const CHANNEL_SHUTDOWN: Duration = Duration::from_secs(1);

/// How long the manager waits for an idle channel to confirm it stopped.
const STOP_IF_IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where channel actors are started.
#[derive(Debug, Clone)]
pub(crate) enum ChannelParent {
    /// Plain (unlinked) actors; the manager's monitor is their only watcher.
    Unlinked,
    /// Temporary children of the dynamic `channels_sup` (never restarted).
    Supervised(DynamicHandle),
}

/// The manager actor (stateless; the state is shared [`Registry`]).
#[derive(Debug)]
pub(crate) struct ManagerActor;

/// Manager state.
#[derive(Debug)]
pub(crate) struct ManagerState {
    registry: Arc<Registry>,
    parent: ChannelParent,
    /// Live channel actor -> cid (to unregister a channel from its exit notice).
    by_id: HashMap<ActorId, String>,
    /// Makes supervised child ids unique.
    seq: u64,
}

impl ManagerState {
    pub(crate) fn new(registry: Arc<Registry>, parent: ChannelParent) -> Self {
        Self {
            registry,
            parent,
            by_id: HashMap::new(),
            seq: 0,
        }
    }

    async fn create(
        &mut self,
        myself: &ActorRef<PubSubMsg>,
        cid: &str,
    ) -> Result<ChannelEntry, HiveError> {
        let template = self.registry.template(cid)?;
        let count = Arc::new(AtomicUsize::new(0));
        let published = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let shards = Arc::new(AtomicUsize::new(0));
        let args = ChannelArgs {
            cid: cid.to_string(),
            timeout: template.timeout,
            manager: myself.clone(),
            count: count.clone(),
            published: published.clone(),
            shards: shards.clone(),
            counters: self.registry.counters.clone(),
        };
        let spawn_error = |e: &dyn std::fmt::Display| {
            HiveError::PubsubError(format!(
                "Unable to spawn a new Hive Pub-Sub Channel process: {e}"
            ))
        };
        let actor: ActorRef<ChannelMsg> = match &self.parent {
            ChannelParent::Unlinked => {
                Actor::spawn(None, ChannelActor, args)
                    .await
                    .map_err(|e| spawn_error(&e))?
                    .0
            }
            ChannelParent::Supervised(sup) => {
                // Child ids must be unique among live children; an expiring incarnation of the
                // same cid may still be shutting down, hence the sequence number.
                self.seq += 1;
                let spec = ChildSpec::worker(
                    format!("{cid}#{}", self.seq),
                    Restart::Temporary,
                    Shutdown::Timeout(CHANNEL_SHUTDOWN),
                    start_actor(move || (ChannelActor, args.clone())),
                );
                sup.start_child(spec)
                    .await
                    .map_err(|e| spawn_error(&e))?
                    .into()
            }
        };
        myself.get_cell().monitor(actor.get_cell());
        self.by_id.insert(actor.get_id(), cid.to_string());
        let entry = ChannelEntry {
            privilege: template.privilege,
            actor,
            subscribers: count,
            published,
            shards,
            created: std::time::Instant::now(),
        };
        self.registry.insert(cid.to_string(), entry.clone());
        let c = &self.registry.counters;
        c.node.total_channels.inc();
        if let Some(p) = c.prefix(cid) {
            p.total_channels.inc();
        }
        tracing::debug!(cid, "channel created");
        Ok(entry)
    }

    fn removed(&mut self, cid: &str, id: ActorId) {
        self.by_id.remove(&id);
        if self.registry.remove_if(cid, id) {
            self.registry.counters.node.total_channels.dec();
            tracing::debug!(cid, "channel removed");
        }
    }

    async fn join(
        &mut self,
        myself: &ActorRef<PubSubMsg>,
        privilege: Privilege,
        cids: &[String],
        sub: &Arc<dyn Subscriber>,
    ) -> Result<(), HiveError> {
        let cids = dedupe(cids);
        self.registry.check(privilege, &cids)?;
        for cid in &cids {
            // A channel that died but is not yet unregistered refuses the cast: replace it.
            let mut attempts = 0;
            loop {
                let entry = match self.registry.get(cid) {
                    Some(e) => e,
                    None => self.create(myself, cid).await?,
                };
                match entry.actor.cast(ChannelMsg::Subscribe(sub.clone())) {
                    Ok(()) => break,
                    Err(_) if attempts == 0 => {
                        attempts += 1;
                        self.removed(cid, entry.actor.get_id());
                    }
                    Err(e) => {
                        return Err(HiveError::PubsubError(format!(
                            "Unable to subscribe to Hive Pub-Sub Channel {cid}: {e}"
                        )));
                    }
                }
            }
            if let Some(p) = self.registry.counters.prefix(cid) {
                p.requests.inc();
                p.subscribe.inc();
            }
        }
        Ok(())
    }
}

impl Actor for ManagerActor {
    type Msg = PubSubMsg;
    type State = ManagerState;
    type Arguments = ManagerState;

    async fn pre_start(
        &self,
        _myself: ActorRef<PubSubMsg>,
        st: ManagerState,
    ) -> Result<ManagerState, ActorProcessingErr> {
        Ok(st)
    }

    async fn handle(
        &self,
        myself: ActorRef<PubSubMsg>,
        msg: PubSubMsg,
        st: &mut ManagerState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            PubSubMsg::Join {
                privilege,
                cids,
                sub,
                reply,
            } => {
                let r = st.join(&myself, privilege, &cids, &sub).await;
                if let Err(e) = &r {
                    let first = cids.first().map(String::as_str).unwrap_or("");
                    st.registry.counters.error(first);
                    tracing::debug!(error = %e, "pubsub join failed");
                }
                let _ = reply.send(r);
            }
            PubSubMsg::ChannelIdle { cid, id } => {
                let Some(entry) = st.registry.get(&cid).filter(|e| e.actor.get_id() == id) else {
                    return Ok(());
                };
                let stopped = entry
                    .actor
                    .call(ChannelMsg::StopIfIdle, Some(STOP_IF_IDLE_TIMEOUT))
                    .await;
                if matches!(stopped, Ok(ractor::rpc::CallResult::Success(true))) {
                    st.removed(&cid, id);
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<PubSubMsg>,
        evt: SupervisionEvent,
        st: &mut ManagerState,
    ) -> Result<(), ActorProcessingErr> {
        // Monitored channels: drop a channel that stopped or crashed from the registry.
        match evt {
            SupervisionEvent::ActorTerminated(who, _, _)
            | SupervisionEvent::ActorFailed(who, _) => {
                let id = who.get_id();
                if let Some(cid) = st.by_id.get(&id).cloned() {
                    st.removed(&cid, id);
                }
            }
            _ => {}
        }
        Ok(())
    }
}
