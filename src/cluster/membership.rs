//! `membership`: this node's heartbeat in Redis, and who owns a sid.
//!
//! Every `gone_after_ms / 4` the node writes its record (name, tag, advertise and API addresses,
//! sessions, channels) to `<name>:node:<tag>` with an expiry of `gone_after_ms`, and the same
//! record, without expiry, into the hash `<name>:tags` (what the monitor lists). A node whose
//! record expired is **gone**: its sids get `bad_session_id` at once, without any attempt to reach
//! it. A node that stops gracefully deletes its record (it leaves at once). Each beat also removes
//! from `<name>:tags` the nodes gone for more than 10 x `gone_after_ms` (a survivor cleans up).
//!
//! **Declared gone, and rejoining.** A survivor whose beat finds a node's record expired marks it
//! gone (`<name>:gone:<tag>`, kept 20 x `gone_after_ms`), once, with a log line and
//! `cluster.nodes_declared_gone`. A node refreshes its own record only if it is still there
//! (`SET XX`): when it is not, and a survivor marked it gone (only a node whose own beats have
//! all succeeded for `gone_after_ms` marks others: an outage of Redis itself declares nobody gone)
//! or its own last beat is older than the marker's lifetime, other nodes have been answering its
//! sids `bad_session_id`, so it **rejoins**: it takes a new tag (new sids), the application closes
//! every session of the old tag (their clients reconnect), and it is counted in `cluster.rejoins`
//! and logged. A record missing without a marker (Redis was away or lost its data) is simply
//! written again.
//!
//! Sids carry their node's tag (the first 8 of their 40 hex digits, HIVE.md 3.5), so the owner of
//! a sid is found with one `GET` of its record: no sid table in Redis.

use std::sync::Arc;
use std::time::Duration;

use fred::prelude::{Client, ClientLike, Expiration, HashesInterface, KeysInterface};
use fred::types::SetOptions;
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
    /// Its monitor listener, for other nodes (`?node=` of the monitor routes; empty from a node
    /// that predates it).
    #[serde(default)]
    pub monitor: String,
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
    /// When the last beat was written (`None`: not joined yet).
    last_ok: Option<std::time::Instant>,
    /// Since when every beat succeeded (`None`: the last one failed). Only a node that has been
    /// beating for `gone_after_ms` declares others gone: after an outage of Redis itself, every
    /// node writes its record again before any of them may declare the others gone.
    healthy_since: Option<std::time::Instant>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl MembershipState {
    fn record(&self, tag: &str) -> NodeRecord {
        let s = &self.shared;
        let (sessions, channels) = s.stats();
        NodeRecord {
            node: s.spec.node.clone(),
            tag: tag.to_string(),
            advertise: s.spec.advertise.clone(),
            api: s.spec.api.clone(),
            monitor: s.spec.monitor.clone(),
            heartbeat_ms: now_ms(),
            sessions,
            channels,
        }
    }

    /// Write the record: `XX` (only if still there) once joined, plain `SET` otherwise. False when
    /// an `XX` found no record.
    async fn write(&self, tag: &str, only_if_there: bool) -> Result<bool, fred::error::Error> {
        let s = &self.shared;
        let json = serde_json::to_string(&self.record(tag)).unwrap_or_default();
        let ttl = s.spec.gone_after.as_millis() as i64;
        let set: Option<String> = self
            .client
            .set(
                s.keys.node(tag),
                json.as_str(),
                Some(Expiration::PX(ttl)),
                only_if_there.then_some(SetOptions::XX),
                false,
            )
            .await?;
        if set.is_none() {
            return Ok(false);
        }
        let _: () = self
            .client
            .hset(s.keys.tags(), (tag, json.as_str()))
            .await?;
        Ok(true)
    }

    async fn beat(&mut self) -> Result<(), fred::error::Error> {
        let s = Arc::clone(&self.shared);
        let tag = s.tag();
        let joined = self.last_ok.is_some();
        if !self.write(&tag, joined).await? {
            // The record expired: declared gone, or only Redis forgot it?
            let marked: i64 = self.client.exists(s.keys.gone(&tag)).await?;
            let silent = self.last_ok.map_or(Duration::ZERO, |t| t.elapsed());
            if marked > 0 || silent > 20 * s.spec.gone_after {
                let new = s.new_tag();
                let _ = self.client.del(s.keys.gone(&tag)).await.map(|_: i64| ());
                tracing::warn!(
                    node = %s.spec.node, old_tag = %tag, new_tag = %new,
                    silent_ms = silent.as_millis() as u64, marked_gone = marked > 0,
                    "cluster: this node was declared gone (paused or cut off for longer than \
                     gone_after_ms); its sessions are closed and it rejoins under a new tag"
                );
                self.write(&new, false).await?;
            } else {
                tracing::warn!(node = %s.spec.node, tag = %tag, "cluster: this node's record was missing (Redis lost it?); written again");
                self.write(&tag, false).await?;
            }
        }
        let now = std::time::Instant::now();
        self.last_ok = Some(now);
        s.set_joined();
        let healthy =
            now.duration_since(*self.healthy_since.get_or_insert(now)) >= s.spec.gone_after;
        // A survivor's part: mark newly gone nodes, forget those gone for long.
        let mine = s.tag();
        let all = nodes(&self.client, &s).await?;
        let forget = 10 * s.spec.gone_after.as_millis() as u64;
        for (r, status) in all {
            if status != "gone" || r.tag == mine || !healthy {
                continue;
            }
            let first: Option<String> = self
                .client
                .set(
                    s.keys.gone(&r.tag),
                    s.spec.node.as_str(),
                    Some(Expiration::PX(2 * forget as i64)),
                    Some(SetOptions::NX),
                    false,
                )
                .await?;
            if first.is_some() {
                s.declared_gone.inc();
                tracing::warn!(node = %s.spec.node, gone = %r.node, tag = %r.tag, "cluster: node declared gone (its record expired or it left)");
            }
            if now_ms().saturating_sub(r.heartbeat_ms) > forget {
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
            last_ok: None,
            healthy_since: None,
        })
    }

    async fn post_stop(
        &self,
        _: ActorRef<MembershipMsg>,
        st: &mut MembershipState,
    ) -> Result<(), ActorProcessingErr> {
        // A graceful stop leaves at once.
        let s = &st.shared;
        let _: Result<(), _> = st.client.del(s.keys.node(&s.tag())).await;
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
                st.healthy_since = None;
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
    if tag == shared.tag() {
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
    let mine = shared.tag();
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
                "monitor": r.monitor, "self": r.tag == mine,
            })
        })
        .collect();
    Ok(serde_json::json!({"cluster": shared.spec.name, "node": shared.spec.node, "nodes": list}))
}
