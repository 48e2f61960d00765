//! `stream_reader`: reads every shard's stream from this node's last position (`XREAD BLOCK`) and
//! delivers each entry into this node's pub-sub inbox, to the channels of that entry's shard. One
//! reader per node, and one reader of each shard, so every channel's publishes are delivered in
//! stream order.
//!
//! The reader reads in **lanes**, each with its own Redis connection and its own blocking `XREAD`:
//! on one Redis server a single lane reads every shard in one `XREAD`; on a Redis Cluster (a seed
//! list), where a command may touch one slot only, there is one lane per shard, all blocked at once
//! (each shard's stream lives on its slot's master). The actor waits for whichever lane answers
//! first, delivers what it read and sends that lane's next read.
//!
//! Positions live in [`Shared`], per shard, so a restarted reader resumes where the last one
//! stopped; a node that starts takes the streams' current ends. Until it has, the node's writer
//! holds its publishes (so that a publish this node acknowledged is delivered on this node too)
//! and `/health` answers 503 ("starting"), so that load balancers send no sessions to a node that
//! would miss publishes. Redis going away is an expected
//! failure: a lane counts it (`cluster.redis_errors`), logs it once per outage and retries; it
//! does not crash, so an outage never exhausts its supervisor's restart budget.
//!
//! Loss is counted, never hidden:
//! - **Trimmed past our position** (`cluster.lost_gaps`): the stream's `max-deleted-entry-id` is
//!   newer than the position we resume from (checked whenever a lane resumes after an error).
//! - **Redis lost its data** (`cluster.redis_data_lost`): a lane's epoch key (in the slot of its
//!   first shard) differs from the one read when its positions were taken (a restart without
//!   persistence of the server, or of the Cluster master holding that shard); that lane's
//!   positions restart from the beginning of the new streams.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fred::prelude::{Client, ClientLike, KeysInterface, SetOptions, StreamsInterface};
use fred::types::Value as FredValue;
use fred::types::streams::XReadResponse;
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use ractor::{Actor, ActorProcessingErr, ActorRef};

use super::Shared;
use super::keys::shard_of;
use crate::pubsub::{Envelope, Inbox};

/// How long one `XREAD` blocks.
const BLOCK_MS: u64 = 1000;
/// Entries per `XREAD` and shard. Each batch reaches a channel's subscribers as a burst: it stays
/// well under a WebSocket session's connection queue (256 frames), so a burst alone never makes a
/// healthy subscriber look slow.
const BATCH: u64 = 128;
/// Pause after a failed read.
const RETRY: Duration = Duration::from_millis(200);
/// How often the epoch is checked while reads succeed.
const EPOCH_EVERY: Duration = Duration::from_secs(2);

/// The reader actor.
#[derive(Debug)]
pub struct StreamReader;

/// Start-up arguments of [`StreamReader`].
#[derive(Debug, Clone)]
pub struct StreamReaderArgs {
    /// The cluster's shared state (positions survive restarts).
    pub shared: Arc<Shared>,
    /// Where to deliver.
    pub inbox: Inbox,
}

/// Messages of [`StreamReader`].
#[derive(Debug)]
pub enum ReaderMsg {
    /// Wait for the next lane to answer, deliver what it read, send its next read.
    Read,
}

/// A lane's read in flight: the lane comes back with the outcome of its read.
type InFlight = BoxFuture<'static, (Lane, Result<(), fred::error::Error>)>;

/// State of [`StreamReader`].
pub struct ReaderState {
    args: StreamReaderArgs,
    /// Every lane's current read (each lane is in here exactly once).
    inflight: FuturesUnordered<InFlight>,
    /// Why each failing lane failed (by lane index): `/health` is 503 while any lane fails.
    down: HashMap<usize, String>,
    /// The lanes' clients, to close them on stop.
    clients: Vec<Client>,
}

impl std::fmt::Debug for ReaderState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReaderState")
            .field("lanes", &self.clients.len())
            .field("down", &self.down)
            .finish_non_exhaustive()
    }
}

/// Shards read by one blocking `XREAD` on one connection.
struct Lane {
    index: usize,
    shared: Arc<Shared>,
    inbox: Inbox,
    client: Client,
    shards: Vec<u32>,
    streams: Vec<String>,
    /// The lane's epoch key (in the slot of its first shard).
    epoch_key: String,
    /// Failing since (an outage is logged once).
    failing: Option<Instant>,
    epoch_checked: Instant,
}

impl Lane {
    /// The lane's next read, after a pause when the last one failed.
    fn next(self, pause: bool) -> InFlight {
        Box::pin(async move {
            if pause {
                tokio::time::sleep(RETRY).await;
            }
            let mut lane = self;
            let r = lane.read().await;
            (lane, r)
        })
    }

    fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Take the positions (the streams' current ends) and the epoch when this node starts.
    async fn start_positions(&self) -> Result<(), fred::error::Error> {
        let epoch = self.ensure_epoch().await?;
        let mut pos = Vec::with_capacity(self.streams.len());
        for s in &self.streams {
            let last: Vec<(String, HashMap<String, FredValue>)> =
                self.client.xrevrange(s, "+", "-", Some(1)).await?;
            pos.push(
                last.first()
                    .map_or_else(|| "0-0".to_string(), |e| e.0.clone()),
            );
        }
        let mut positions = self.shared().positions();
        for (shard, p) in self.shards.iter().zip(pos) {
            positions.insert(*shard, p);
        }
        let all = positions.len() >= self.shared().spec.shards as usize;
        drop(positions);
        self.shared().epochs().insert(self.epoch_key.clone(), epoch);
        if all {
            self.shared().set_reading();
        }
        Ok(())
    }

    /// The lane's epoch, set now if Redis has none.
    async fn ensure_epoch(&self) -> Result<String, fred::error::Error> {
        let fresh = format!("{:016x}", rand::random::<u64>());
        let _: FredValue = self
            .client
            .set(
                &self.epoch_key,
                fresh.as_str(),
                None,
                Some(SetOptions::NX),
                false,
            )
            .await?;
        let now: Option<String> = self.client.get(&self.epoch_key).await?;
        Ok(now.unwrap_or(fresh))
    }

    /// Compare the epoch with ours; on a change Redis lost its data: count it and restart the
    /// lane's positions at the beginning of the new streams.
    async fn check_epoch(&mut self) -> Result<(), fred::error::Error> {
        self.epoch_checked = Instant::now();
        let now = self.ensure_epoch().await?;
        let known = self.shared().epochs().get(&self.epoch_key).cloned();
        if known.as_deref() != Some(now.as_str()) {
            self.shared().data_lost.inc();
            tracing::error!(
                node = %self.shared().spec.node, shards = ?self.shards,
                "cluster: Redis lost its data (the epoch changed): publishes not yet read are lost; reading the new streams from their start"
            );
            let mut positions = self.shared().positions();
            for shard in &self.shards {
                positions.insert(*shard, "0-0".to_string());
            }
            drop(positions);
            self.shared().epochs().insert(self.epoch_key.clone(), now);
        }
        Ok(())
    }

    /// After an outage: count the streams trimmed past our position.
    async fn check_trimmed(&self) -> Result<(), fred::error::Error> {
        for (shard, s) in self.shards.iter().zip(&self.streams) {
            let p = self
                .shared()
                .positions()
                .get(shard)
                .cloned()
                .unwrap_or_default();
            let info: HashMap<String, FredValue> = self
                .client
                .custom(
                    fred::types::CustomCommand::new_static(
                        "XINFO",
                        // The stream's slot (fred would route by `STREAM`, the first argument).
                        fred::types::ClusterHash::Custom(fred::util::redis_keyslot(s.as_bytes())),
                        false,
                    ),
                    vec!["STREAM".to_string(), s.clone()],
                )
                .await
                .unwrap_or_default();
            let deleted = info
                .get("max-deleted-entry-id")
                .and_then(|v| v.as_string())
                .unwrap_or_default();
            if id_after(&deleted, &p) {
                self.shared().lost_gaps.inc();
                tracing::error!(
                    stream = %s, position = %p, trimmed_up_to = %deleted,
                    "cluster: entries were trimmed past this node's position and are lost (raise cluster.retention.max_len)"
                );
            }
        }
        Ok(())
    }

    async fn read(&mut self) -> Result<(), fred::error::Error> {
        let started = {
            let p = self.shared().positions();
            self.shards.iter().all(|s| p.contains_key(s))
        };
        if !started {
            self.start_positions().await?;
        }
        if self.failing.is_some() || self.epoch_checked.elapsed() > EPOCH_EVERY {
            self.check_epoch().await?;
        }
        if self.failing.take().is_some() {
            self.check_trimmed().await?;
            tracing::info!(node = %self.shared().spec.node, shards = ?self.shards, "cluster: Redis is back; resuming the streams");
        }
        let ids: Vec<String> = {
            let p = self.shared().positions();
            self.shards
                .iter()
                .map(|s| p.get(s).cloned().unwrap_or_else(|| "0-0".to_string()))
                .collect()
        };
        let raw: FredValue = self
            .client
            .xread(Some(BATCH), Some(BLOCK_MS), self.streams.clone(), ids)
            .await?;
        if raw.is_null() {
            return Ok(()); // the block timed out: nothing new
        }
        let resp: XReadResponse<String, String, String, String> = raw.into_xread_response()?;
        let shards = self.shared().spec.shards;
        for (key, entries) in resp {
            let Some(shard) = self.shared().keys.shard_of_stream(&key) else {
                continue;
            };
            for (id, fields) in entries {
                match fields.get("e").map(|e| Envelope::from_json(e)) {
                    Some(Ok(env)) => {
                        let keep = |cid: &str| shard_of(cid, shards) == shard;
                        self.inbox.deliver_where(env, &keep);
                        self.shared().delivered.inc();
                    }
                    _ => {
                        tracing::warn!(stream = %key, %id, "cluster: unreadable stream entry skipped")
                    }
                }
                self.shared().positions().insert(shard, id);
            }
        }
        Ok(())
    }
}

/// The lanes of a node: on one Redis server one lane of every shard; on a Redis Cluster one lane
/// per shard (a command may touch one slot only).
fn lane_shards(shards: u32, clustered: bool) -> Vec<Vec<u32>> {
    if clustered {
        (0..shards).map(|s| vec![s]).collect()
    } else {
        vec![(0..shards).collect()]
    }
}

/// True when stream id `a` is after `b` (`ms-seq`; an empty or malformed id is never after).
fn id_after(a: &str, b: &str) -> bool {
    let parse = |s: &str| {
        let (ms, seq) = s.split_once('-')?;
        Some((ms.parse::<u64>().ok()?, seq.parse::<u64>().ok()?))
    };
    match (parse(a), parse(b)) {
        (Some(a), Some(b)) => a > b,
        _ => false,
    }
}

impl Actor for StreamReader {
    type Msg = ReaderMsg;
    type State = ReaderState;
    type Arguments = StreamReaderArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<ReaderMsg>,
        args: StreamReaderArgs,
    ) -> Result<ReaderState, ActorProcessingErr> {
        let spec = &args.shared.spec;
        let inflight = FuturesUnordered::new();
        let mut clients = Vec::new();
        for (index, shards) in lane_shards(spec.shards, spec.clustered())
            .into_iter()
            .enumerate()
        {
            // Blocking reads hold the connection for BLOCK_MS: the timeout leaves room for it.
            let client = spec.client(Duration::from_millis(BLOCK_MS + 2000))?;
            let _task = client.connect();
            clients.push(client.clone());
            let first = shards.first().copied().unwrap_or(0);
            let lane = Lane {
                index,
                shared: Arc::clone(&args.shared),
                inbox: args.inbox.clone(),
                client,
                streams: shards.iter().map(|s| args.shared.keys.stream(*s)).collect(),
                epoch_key: args.shared.keys.epoch(first),
                shards,
                failing: None,
                epoch_checked: Instant::now(),
            };
            inflight.push(lane.next(false));
        }
        myself.cast(ReaderMsg::Read)?;
        Ok(ReaderState {
            args,
            inflight,
            down: HashMap::new(),
            clients,
        })
    }

    async fn post_stop(
        &self,
        _: ActorRef<ReaderMsg>,
        st: &mut ReaderState,
    ) -> Result<(), ActorProcessingErr> {
        st.inflight.clear();
        for c in &st.clients {
            let _ = c.quit().await;
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<ReaderMsg>,
        msg: ReaderMsg,
        st: &mut ReaderState,
    ) -> Result<(), ActorProcessingErr> {
        let ReaderMsg::Read = msg;
        let Some((mut lane, r)) = st.inflight.next().await else {
            return Ok(());
        };
        let shared = &st.args.shared;
        match r {
            Ok(()) => {
                st.down.remove(&lane.index);
                st.inflight.push(lane.next(false));
            }
            Err(e) => {
                shared.read_errors.inc();
                st.down
                    .insert(lane.index, format!("cannot read the streams: {e}"));
                if lane.failing.is_none() {
                    lane.failing = Some(Instant::now());
                    tracing::warn!(node = %shared.spec.node, shards = ?lane.shards, error = %e, "cluster: cannot read the streams (Redis away?); /health answers 503 until it is back; retrying");
                }
                st.inflight.push(lane.next(true));
            }
        }
        shared.set_redis_down(st.down.values().next().cloned());
        myself.cast(ReaderMsg::Read)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{id_after, lane_shards};

    #[test]
    fn one_lane_on_a_server_one_per_shard_on_a_redis_cluster() {
        assert_eq!(lane_shards(3, false), vec![vec![0, 1, 2]]);
        assert_eq!(lane_shards(3, true), vec![vec![0], vec![1], vec![2]]);
    }

    #[test]
    fn stream_ids_compare_numerically() {
        assert!(id_after("10-0", "9-5"));
        assert!(id_after("9-6", "9-5"));
        assert!(!id_after("9-5", "9-5"));
        assert!(!id_after("", "9-5"));
        assert!(!id_after("0-0", "0-0"));
    }
}
