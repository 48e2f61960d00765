//! The cluster (docs/cluster.md): several nodes acting as one through Redis, chosen by the
//! `cluster` configuration section.
//!
//! - `keys.rs`: key and stream names, the shard of a channel id (pure).
//! - `writer.rs`: the `stream_writer` actor, the backplane pub-sub publishes through: appends each
//!   publish to its shards' streams, once (deduplicated by publish id), and answers once Redis
//!   accepted it.
//! - `reader.rs`: the `stream_reader` actor: reads every shard from its last position and delivers
//!   what it reads into this node's pub-sub inbox; counts what it could not read (trimmed entries,
//!   data Redis lost).
//!
//! - `membership.rs`: the `membership` actor (heartbeats, graceful leave) and the owner of a sid.
//! - `forward.rs`: an API call about a session of another node, forwarded to that node.
//!
//! The three actors own one Redis connection each and run under the `backplane` supervisor, the first child of
//! `pubsub_sup` (supervisor-trees.md). Their stream positions live in [`Shared`], outside the
//! actors, so a restart of either resumes where the last incarnation stopped.

mod forward;
mod keys;
mod membership;
mod reader;
mod writer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fred::prelude::{Client, Config as FredConfig};
use fred::types::config::{ReconnectPolicy, ServerConfig};

pub use forward::forward_api;
pub use keys::{EIO_SID_LEN, Keys, is_bare_prefix, shard_of, sid_tag, split};
pub use membership::{
    Membership, MembershipMsg, NodeRecord, Owner, nodes, owner, owner_of_tag, view,
};
pub use reader::{StreamReader, StreamReaderArgs};
pub use writer::{StreamWriter, StreamWriterArgs};

use crate::HiveError;
use crate::config::{ClusterRedis, Config};
use crate::metrics::{Counter, Metrics};

/// The resolved `cluster` section of one node.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// The cluster's name (key prefix).
    pub name: String,
    /// This node's name in the cluster.
    pub node: String,
    /// This node's sid tag: 8 hex digits, new at every process start (the first 8 of every sid).
    pub tag: String,
    /// Where other nodes reach this node's API listener.
    pub api: String,
    /// Where other nodes reach this node's Socket.IO listener.
    pub advertise: String,
    /// Where other nodes reach this node's monitor listener (`?node=` of the monitor routes);
    /// set by the application once the monitor is bound.
    pub monitor: String,
    /// Number of publish streams.
    pub shards: u32,
    /// `XADD MAXLEN ~` of each stream.
    pub max_len: u64,
    /// A node silent for this long is gone.
    pub gone_after: Duration,
    /// The Redis server or cluster.
    pub redis: ClusterRedis,
}

impl ClusterSpec {
    /// The cluster of `cfg`, if it has a `cluster` section. `socketio_port`, `api_port`: the bound
    /// ports of the Socket.IO and API listeners (the default advertise address is `hive.bind` and
    /// the Socket.IO port; the API is reached on the advertised host).
    pub fn from_config(cfg: &Config, socketio_port: u16, api_port: u16) -> Option<ClusterSpec> {
        let c = cfg.cluster.as_ref()?;
        let node = c.node.clone().unwrap_or_else(|| {
            let tag: u32 = rand::random();
            format!("{}-{tag:08x}", cfg.hive.name.replace(['@', ' '], "-"))
        });
        let advertise = c
            .advertise
            .clone()
            .unwrap_or_else(|| format!("{}:{socketio_port}", cfg.hive.bind));
        let host = advertise
            .rsplit_once(':')
            .map_or(cfg.hive.bind.as_str(), |(h, _)| h);
        Some(ClusterSpec {
            name: c
                .name
                .clone()
                .unwrap_or_else(|| cfg.hive.cluster_name.clone()),
            node,
            tag: format!("{:08x}", rand::random::<u32>()),
            api: format!("{host}:{api_port}"),
            monitor: String::new(),
            advertise,
            shards: c.shards.max(1),
            max_len: c.retention.max_len,
            gone_after: Duration::from_millis(c.gone_after_ms),
            redis: c.redis.clone(),
        })
    }

    /// True when `redis` is a Redis Cluster (a list of seeds): every script and read then touches
    /// one shard's slot only.
    pub fn clustered(&self) -> bool {
        matches!(self.redis, ClusterRedis::Seeds(_))
    }

    /// A new (unconnected) Redis client for this cluster, failing commands after `timeout` while
    /// Redis is away, and reconnecting every 200 ms.
    ///
    /// # Errors
    /// `invalid_config` for a URL fred does not accept.
    pub fn client(&self, timeout: Duration) -> Result<Client, HiveError> {
        let config = match &self.redis {
            ClusterRedis::Url(url) => FredConfig::from_url(url)
                .map_err(|e| HiveError::InvalidConfig(format!("cluster.redis: {e}")))?,
            ClusterRedis::Seeds(seeds) => {
                let hosts = seeds
                    .iter()
                    .filter_map(|s| s.rsplit_once(':'))
                    .filter_map(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
                    .collect::<Vec<_>>();
                FredConfig {
                    server: ServerConfig::new_clustered(hosts),
                    ..FredConfig::default()
                }
            }
        };
        let config = FredConfig {
            fail_fast: false,
            ..config
        };
        // On a Redis Cluster a command may need a few writes: before the slot map is known, and
        // after a MOVED (a resharding); the command timeout still bounds it. Every command sent is
        // safe to repeat (the writer's script is guarded by its publish marker).
        let attempts = if self.clustered() { 4 } else { 1 };
        fred::types::Builder::from_config(config)
            .set_policy(ReconnectPolicy::new_constant(0, 200))
            .with_performance_config(|p| p.default_command_timeout = timeout)
            .with_connection_config(|c| {
                c.connection_timeout = timeout;
                c.internal_command_timeout = timeout;
                c.max_command_attempts = attempts;
            })
            .build()
            .map_err(|e| HiveError::InvalidConfig(format!("cluster.redis: {e}")))
    }
}

/// Health of this node's link to the cluster (docs/cluster.md).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClusterHealth {
    /// This node's name in the cluster.
    pub node: String,
    /// The last read of the streams succeeded.
    pub redis_reachable: bool,
    /// Why not, when not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What the cluster's actors share across their restarts.
pub struct Shared {
    /// The resolved section.
    pub spec: ClusterSpec,
    /// The key names.
    pub keys: Keys,
    /// Last stream id read, per shard (absent: that shard's reading has not started yet).
    pub positions: Mutex<HashMap<u32, String>>,
    /// The epoch read when the positions were taken, per epoch key (per shard).
    pub epochs: Mutex<HashMap<String, String>>,
    /// `cluster.lost_gaps`: times entries were trimmed past this node's position.
    pub lost_gaps: Counter,
    /// `cluster.redis_data_lost`: times the epoch showed that Redis lost its data.
    pub data_lost: Counter,
    /// `cluster.publish_errors`: publishes Redis did not accept.
    pub publish_errors: Counter,
    /// `cluster.partial_publishes`: publishes a Redis Cluster accepted on some of their shards only.
    pub partial_publishes: Counter,
    /// `cluster.redis_errors`: failed reads (Redis away).
    pub read_errors: Counter,
    /// `cluster.delivered`: stream entries delivered on this node.
    pub delivered: Counter,
    /// `cluster.forwarded`: transport requests forwarded to the node owning their session.
    pub forwarded: Counter,
    /// `cluster.forward_errors`: forwarded requests whose owner could not be reached.
    pub forward_errors: Counter,
    /// `cluster.rejoins`: times this node found it had been declared gone and rejoined.
    pub rejoins: Counter,
    /// `cluster.nodes_declared_gone`: other nodes this node saw gone first (and marked so).
    pub declared_gone: Counter,
    /// This node's current tag: `spec.tag` until a rejoin gives it a new one.
    tag: Mutex<String>,
    /// What the application does when this node rejoins: (old tag, new tag).
    on_rejoin: std::sync::OnceLock<OnRejoin>,
    /// The membership actor's connection, for lookups (owner of a sid).
    lookup: crate::slot::Slot<Client>,
    /// Why the last read of the streams failed; `None` while they are read.
    redis_down: Mutex<Option<String>>,
    /// This node's (sessions, channels), for its membership record.
    stats: std::sync::OnceLock<Stats>,
    /// Set once the reader has taken a start position in every shard: from then on every entry
    /// appended is delivered on this node (the writer waits for it before its first append).
    reading: tokio::sync::watch::Sender<bool>,
    /// Set once this node's membership record is written: from then on other nodes find it as
    /// the owner of its sids (start-up waits for it, so that no sid is handed out before).
    joined: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

/// Counts a node reports in its membership record: (sessions, channels).
pub type Stats = Arc<dyn Fn() -> (usize, usize) + Send + Sync>;

/// Called when this node rejoins under a new tag: (old tag, new tag). The application hands new
/// sids the new tag and closes the sessions of the old one.
pub type OnRejoin = Arc<dyn Fn(String, String) + Send + Sync>;

impl Shared {
    /// The shared state of a node in cluster `spec`.
    pub fn new(spec: ClusterSpec, metrics: &Metrics) -> Arc<Shared> {
        Arc::new(Shared {
            keys: Keys::new(&spec.name),
            tag: Mutex::new(spec.tag.clone()),
            rejoins: metrics.counter("cluster.rejoins"),
            declared_gone: metrics.counter("cluster.nodes_declared_gone"),
            on_rejoin: std::sync::OnceLock::new(),
            spec,
            positions: Mutex::new(HashMap::new()),
            epochs: Mutex::new(HashMap::new()),
            lost_gaps: metrics.counter("cluster.lost_gaps"),
            data_lost: metrics.counter("cluster.redis_data_lost"),
            publish_errors: metrics.counter("cluster.publish_errors"),
            partial_publishes: metrics.counter("cluster.partial_publishes"),
            read_errors: metrics.counter("cluster.redis_errors"),
            delivered: metrics.counter("cluster.delivered"),
            forwarded: metrics.counter("cluster.forwarded"),
            forward_errors: metrics.counter("cluster.forward_errors"),
            lookup: crate::slot::Slot::new(),
            redis_down: Mutex::new(Some("starting: the streams are not read yet".to_string())),
            stats: std::sync::OnceLock::new(),
            reading: tokio::sync::watch::Sender::new(false),
            joined: tokio::sync::watch::Sender::new(false),
        })
    }

    /// Where the membership record takes its counts from (set once, by the application).
    pub fn set_stats(&self, f: Stats) {
        let _ = self.stats.set(f);
    }

    /// What to do when this node rejoins (set once, by the application).
    pub fn set_on_rejoin(&self, f: OnRejoin) {
        let _ = self.on_rejoin.set(f);
    }

    /// This node's current sid tag (a new one after each rejoin).
    pub fn tag(&self) -> String {
        self.tag.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Take a new tag (a rejoin), returned; the application is told.
    pub(crate) fn new_tag(&self) -> String {
        let new = format!("{:08x}", rand::random::<u32>());
        let old = std::mem::replace(
            &mut *self.tag.lock().unwrap_or_else(|e| e.into_inner()),
            new.clone(),
        );
        self.rejoins.inc();
        if let Some(f) = self.on_rejoin.get() {
            f(old, new.clone());
        }
        new
    }

    pub(crate) fn stats(&self) -> (usize, usize) {
        self.stats.get().map_or((0, 0), |f| f())
    }

    /// Record whether the streams can be read (`None`: they can; `Some(reason)`: they cannot).
    pub(crate) fn set_redis_down(&self, reason: Option<String>) {
        *self.redis_down.lock().unwrap_or_else(|e| e.into_inner()) = reason;
    }

    /// This node's link to the cluster, for `/health` (503 while Redis cannot be read).
    pub fn health(&self) -> ClusterHealth {
        let reason = self
            .redis_down
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        ClusterHealth {
            node: self.spec.node.clone(),
            redis_reachable: reason.is_none(),
            reason,
        }
    }

    /// Record that every shard has a position (the reader's first reads are done).
    pub(crate) fn set_reading(&self) {
        if self
            .reading
            .send_if_modified(|r| !std::mem::replace(r, true))
        {
            self.set_redis_down(None);
        }
    }

    /// Wait (up to `limit`) until every shard has a position; false when it did not happen.
    pub(crate) async fn until_reading(&self, limit: Duration) -> bool {
        until_set(&self.reading, limit).await
    }

    /// Record that this node's membership record is written.
    pub(crate) fn set_joined(&self) {
        self.joined
            .send_if_modified(|j| !std::mem::replace(j, true));
    }

    /// Wait (up to `limit`) until this node's record is written; false when it did not happen.
    pub async fn until_joined(&self, limit: Duration) -> bool {
        until_set(&self.joined, limit).await
    }

    pub(crate) fn set_lookup(&self, c: Client) {
        self.lookup.set(c);
    }

    pub(crate) fn lookup(&self) -> Option<Client> {
        self.lookup.get()
    }

    pub(crate) fn positions(&self) -> std::sync::MutexGuard<'_, HashMap<u32, String>> {
        self.positions.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn epochs(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.epochs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Wait (up to `limit`) until `flag` is true; false when it did not happen.
async fn until_set(flag: &tokio::sync::watch::Sender<bool>, limit: Duration) -> bool {
    let mut rx = flag.subscribe();
    matches!(
        tokio::time::timeout(limit, rx.wait_for(|v| *v)).await,
        Ok(Ok(_))
    )
}
