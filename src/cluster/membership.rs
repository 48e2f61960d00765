//! `membership`: this node's heartbeat in Redis, and who owns a sid.
//!
//! Every `gone_after_ms / 4` the node writes its record (name, tag, advertise and API addresses,
//! sessions, channels) to `<name>:node:<tag>` with an expiry of `gone_after_ms`, and the same
//! record, without expiry, into the hash `<name>:tags` (what the monitor lists). A node whose
//! record expired is **gone**: its sids get `bad_session_id` at once, without any attempt to reach
//! it. A node that stops gracefully deletes its record (it leaves at once). Each beat also removes
//! from `<name>:tags` the nodes gone for more than 10 x `gone_after_ms` (a survivor cleans up).
//!
//! Sids carry their node's tag (the first 8 of their 40 hex digits, HIVE.md 3.5), so the owner of
//! a sid is found with one `GET` of its record: no sid table in Redis.

use std::sync::Arc;
use std::time::Duration;

use fred::prelude::{Client, ClientLike, Expiration, HashesInterface, KeysInterface};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use serde::{Deserialize, Serialize};

use super::Shared;
use crate::HiveError;

/// One node's record in Redis.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeRecord {
    /// The node's name.
    pub node: String,
    /// Its sid tag.
    pub tag: String,
    /// Its Socket.IO listener, for other nodes.
    pub advertise: String,
    /// Its API listener, for other nodes.
    pub api: String,
    /// Unix ms of the heartbeat.
    pub heartbeat_ms: u64,
    /// Live sessions on the node.
    #[serde(default)]
    pub sessions: usize,
    /// Live channels on the node.
    #[serde(default)]
    pub channels: usize,
}

/// Who owns a sid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// This node (or a sid without a cluster tag).
    Local,
    /// A node that is up: its record.
    Node(NodeRecord),
    /// No node with that tag is up: gone, or never existed.
    Gone,
}

/// The membership actor.
#[derive(Debug)]
pub struct Membership;

/// Messages of [`Membership`].
#[derive(Debug)]
pub enum MembershipMsg {
    /// Write the heartbeat.
    Beat,
}

/// State of [`Membership`].
#[derive(Debug)]
pub struct MembershipState {
    shared: Arc<Shared>,
    client: Client,
    failing: bool,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl MembershipState {
    async fn beat(&self) -> Result<(), fred::error::Error> {
        let s = &self.shared;
        let (sessions, channels) = s.stats();
        let record = NodeRecord {
            node: s.spec.node.clone(),
            tag: s.spec.tag.clone(),
            advertise: s.spec.advertise.clone(),
            api: s.spec.api.clone(),
            heartbeat_ms: now_ms(),
            sessions,
            channels,
        };
        let json = serde_json::to_string(&record).unwrap_or_default();
        let ttl = s.spec.gone_after.as_millis() as i64;
        let _: () = self
            .client
            .set(
                s.keys.node(&s.spec.tag),
                json.as_str(),
                Some(Expiration::PX(ttl)),
                None,
                false,
            )
            .await?;
        let _: () = self
            .client
            .hset(s.keys.tags(), (s.spec.tag.as_str(), json.as_str()))
            .await?;
        // A survivor's cleanup: nodes gone for long leave the list.
        let all = nodes(&self.client, s).await?;
        let forget = 10 * s.spec.gone_after.as_millis() as u64;
        for (r, status) in all {
            if status == "gone" && now_ms().saturating_sub(r.heartbeat_ms) > forget {
                let _: () = self.client.hdel(s.keys.tags(), r.tag.as_str()).await?;
            }
        }
        Ok(())
    }
}

impl Actor for Membership {
    type Msg = MembershipMsg;
    type State = MembershipState;
    type Arguments = Arc<Shared>;

    async fn pre_start(
        &self,
        myself: ActorRef<MembershipMsg>,
        shared: Arc<Shared>,
    ) -> Result<MembershipState, ActorProcessingErr> {
        let client = shared.spec.client(Duration::from_millis(1000))?;
        let _task = client.connect();
        shared.set_lookup(client.clone());
        myself.cast(MembershipMsg::Beat)?;
        Ok(MembershipState {
            shared,
            client,
            failing: false,
        })
    }

    async fn post_stop(
        &self,
        _: ActorRef<MembershipMsg>,
        st: &mut MembershipState,
    ) -> Result<(), ActorProcessingErr> {
        // A graceful stop leaves at once.
        let s = &st.shared;
        let _: Result<(), _> = st.client.del(s.keys.node(&s.spec.tag)).await;
        let _ = st.client.quit().await;
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<MembershipMsg>,
        msg: MembershipMsg,
        st: &mut MembershipState,
    ) -> Result<(), ActorProcessingErr> {
        let MembershipMsg::Beat = msg;
        match st.beat().await {
            Ok(()) => {
                if std::mem::take(&mut st.failing) {
                    tracing::info!(node = %st.shared.spec.node, "cluster: heartbeat written again");
                }
            }
            Err(e) => {
                if !st.failing {
                    st.failing = true;
                    tracing::warn!(node = %st.shared.spec.node, error = %e, "cluster: cannot write the heartbeat (Redis away?)");
                }
            }
        }
        let every = (st.shared.spec.gone_after / 4).max(Duration::from_millis(25));
        myself.send_after(every, || MembershipMsg::Beat);
        Ok(())
    }
}

/// The owner of `sid`: this node, an up node, or gone.
///
/// # Errors
/// `backplane_unavailable` when Redis cannot be asked.
pub async fn owner(shared: &Shared, sid: &str) -> Result<Owner, HiveError> {
    match super::keys::sid_tag(sid) {
        Some(tag) => owner_of_tag(shared, tag).await,
        None => Ok(Owner::Local),
    }
}

/// The owner of the sids tagged `tag` (8 hex digits): this node, an up node, or gone.
///
/// # Errors
/// `backplane_unavailable` when Redis cannot be asked.
pub async fn owner_of_tag(shared: &Shared, tag: &str) -> Result<Owner, HiveError> {
    if tag == shared.spec.tag {
        return Ok(Owner::Local);
    }
    let Some(client) = shared.lookup() else {
        return Err(unavailable("not connected yet"));
    };
    let record: Option<String> = client
        .get(shared.keys.node(tag))
        .await
        .map_err(|e| unavailable(&e.to_string()))?;
    Ok(match record.and_then(|r| serde_json::from_str(&r).ok()) {
        Some(r) => Owner::Node(r),
        None => Owner::Gone,
    })
}

fn unavailable(reason: &str) -> HiveError {
    HiveError::BackplaneUnavailable(format!("The cluster's Redis cannot be asked: {reason}"))
}

/// Every node the cluster knows, with its status: `up` (heartbeat within `gone_after_ms / 2`),
/// `unreachable` (beats missed, not gone yet) or `gone` (its record expired, or it left).
///
/// # Errors
/// Redis errors.
pub async fn nodes(
    client: &Client,
    shared: &Shared,
) -> Result<Vec<(NodeRecord, &'static str)>, fred::error::Error> {
    let known: std::collections::HashMap<String, String> =
        client.hgetall(shared.keys.tags()).await?;
    let gone_after = shared.spec.gone_after.as_millis() as u64;
    let mut out = Vec::with_capacity(known.len());
    for (tag, json) in known {
        let Ok(last) = serde_json::from_str::<NodeRecord>(&json) else {
            continue;
        };
        let live: Option<String> = client.get(shared.keys.node(&tag)).await?;
        let status = match live.and_then(|l| serde_json::from_str::<NodeRecord>(&l).ok()) {
            None => ("gone", last),
            Some(r) if now_ms().saturating_sub(r.heartbeat_ms) <= gone_after / 2 => ("up", r),
            Some(r) => ("unreachable", r),
        };
        out.push((status.1, status.0));
    }
    out.sort_by(|a, b| a.0.node.cmp(&b.0.node).then(a.0.tag.cmp(&b.0.tag)));
    Ok(out)
}

/// `GET /monitor/<hash>/cluster`: every node with its name, tag, addresses, sessions, channels,
/// last heartbeat and status, this node marked `self`.
///
/// # Errors
/// `backplane_unavailable` when Redis cannot be asked.
pub async fn view(shared: &Shared) -> Result<serde_json::Value, HiveError> {
    let Some(client) = shared.lookup() else {
        return Err(unavailable("not connected yet"));
    };
    let all = nodes(&client, shared)
        .await
        .map_err(|e| unavailable(&e.to_string()))?;
    let list: Vec<serde_json::Value> = all
        .into_iter()
        .map(|(r, status)| {
            serde_json::json!({
                "name": r.node, "tag": r.tag, "advertise": r.advertise, "api": r.api,
                "sessions": r.sessions, "channels": r.channels,
                "last_heartbeat_ms": r.heartbeat_ms, "status": status,
                "self": r.tag == shared.spec.tag,
            })
        })
        .collect();
    Ok(serde_json::json!({"cluster": shared.spec.name, "node": shared.spec.node, "nodes": list}))
}
