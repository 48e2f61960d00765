//! `stream_writer`: the cluster's backplane actor. Pub-sub hands it every publish of this node
//! ([`BackplaneMsg`]); it appends the publish to the streams of the shards it reaches in one Lua
//! script, which first sets the publish's marker key (`SET NX`): a publish id already appended is
//! not appended again. The id is the caller's `Idempotency-Key` when given, else this writer's own
//! (node incarnation and sequence), so Hive's own retry of a publish that timed out is never
//! delivered twice, and neither is an API caller's retry with the same key.
//!
//! On one Redis server the script is atomic: a publish to several shards is appended to all or to
//! none. It answers `backplane_unavailable` when Redis does not accept the publish within the
//! command timeout, after one retry (nothing was delivered anywhere: nodes deliver only what they
//! read back from the streams).
//!
//! On a Redis Cluster (a seed list) a script may touch one slot only, so a publish reaching several
//! shards runs one script per shard, each with that shard's marker (same slot as its stream); it is
//! acknowledged only once every shard accepted its append, and a partial acceptance is counted,
//! logged and answered 503, never silent (see `append_per_shard`).

use std::sync::Arc;
use std::time::Duration;

use fred::prelude::{Client, ClientLike};
use fred::types::{ClusterHash, CustomCommand, Value as FredValue};
use ractor::{Actor, ActorProcessingErr, ActorRef};

use super::Shared;
use super::keys::split;
use crate::HiveError;
use crate::pubsub::{BackplaneMsg, Envelope};

/// How long a publish waits for Redis before its one retry.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(1000);

/// How long a publish marker lives (a retry later than this is a new publish).
const MARKER_TTL_MS: u64 = 24 * 3600 * 1000;

/// `KEYS[1]`: the publish marker; `KEYS[2..]`: the streams. `ARGV[1]`: marker TTL (ms),
/// `ARGV[2]`: `MAXLEN ~`, `ARGV[3..]`: one entry per stream. Returns the number of entries
/// appended (0 for a repeat).
const APPEND: &str = r"
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
for i = 2, #KEYS do
  redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[2], '*', 'e', ARGV[i + 1])
end
return #KEYS - 1
";

/// The writer actor.
#[derive(Debug)]
pub struct StreamWriter;

/// Start-up arguments of [`StreamWriter`].
#[derive(Debug, Clone)]
pub struct StreamWriterArgs {
    /// The cluster's shared state.
    pub shared: Arc<Shared>,
}

/// State of [`StreamWriter`].
#[derive(Debug)]
pub struct WriterState {
    shared: Arc<Shared>,
    client: Client,
    /// This incarnation's id prefix (unique per start).
    incarnation: String,
    seq: u64,
}

impl WriterState {
    async fn append(&mut self, envelope: Envelope, key: Option<String>) -> Result<(), HiveError> {
        let shards = self.shared.spec.shards;
        let groups = split(&envelope.cids, shards);
        if groups.is_empty() {
            return Ok(());
        }
        let id = match key {
            Some(k) => format!("key:{k}"),
            None => {
                self.seq += 1;
                format!("{}:{}", self.incarnation, self.seq)
            }
        };
        let mut parts = Vec::with_capacity(groups.len());
        for (shard, cids) in groups {
            let part = Envelope {
                privilege: envelope.privilege,
                cids,
                payload: envelope.payload.clone(),
            };
            let json = part.to_json().map_err(|e| {
                HiveError::InternalError(format!("Cannot serialise a publish: {e}"))
            })?;
            parts.push((shard, json));
        }
        // A publish appended before this node's reader took its start positions would be
        // delivered on the other nodes but not here.
        if !self.shared.until_reading(COMMAND_TIMEOUT).await {
            self.shared.publish_errors.inc();
            return Err(HiveError::BackplaneUnavailable(
                "This node is not reading the cluster's streams yet (starting, or Redis away); \
                 the publish was not delivered anywhere."
                    .into(),
            ));
        }
        if self.shared.spec.clustered() {
            return self.append_per_shard(&id, parts).await;
        }
        let keys = &self.shared.keys;
        let streams: Vec<String> = parts.iter().map(|(s, _)| keys.stream(*s)).collect();
        let entries = parts.into_iter().map(|(_, e)| e);
        let mut args: Vec<FredValue> = Vec::with_capacity(4 + 2 * streams.len());
        args.push(APPEND.into());
        args.push(((streams.len() + 1) as i64).into());
        args.push(keys.published(&id).into());
        args.extend(streams.into_iter().map(FredValue::from));
        args.push((MARKER_TTL_MS as i64).into());
        args.push((self.shared.spec.max_len as i64).into());
        args.extend(entries.map(FredValue::from));
        match eval_twice(&self.client, args).await {
            Ok(()) => Ok(()),
            Err(reason) => {
                self.shared.publish_errors.inc();
                tracing::warn!(code = "backplane_unavailable", %reason, "cluster publish not accepted by Redis");
                Err(HiveError::BackplaneUnavailable(format!(
                    "The cluster's Redis did not accept the publish: {reason}"
                )))
            }
        }
    }

    /// On a Redis Cluster: one script per shard (its marker and its stream share the shard's
    /// slot), all sent at once. Accepted only when every shard's append is; a publish accepted by
    /// some shards only is reported (`cluster.partial_publishes`, an `error` log, and a 503 naming
    /// the shards that did not accept it): it reached the channels of the accepted shards, and a
    /// retry with the same id (Hive's own retry here, or the caller's `Idempotency-Key`) appends
    /// it to the missing shards only.
    async fn append_per_shard(&self, id: &str, parts: Vec<(u32, String)>) -> Result<(), HiveError> {
        let keys = &self.shared.keys;
        let n = parts.len();
        let runs = parts.into_iter().map(|(shard, entry)| {
            let args: Vec<FredValue> = vec![
                APPEND.into(),
                2i64.into(),
                keys.published_in(shard, id).into(),
                keys.stream(shard).into(),
                (MARKER_TTL_MS as i64).into(),
                (self.shared.spec.max_len as i64).into(),
                entry.into(),
            ];
            async move { (shard, eval_twice(&self.client, args).await) }
        });
        let results = futures::future::join_all(runs).await;
        let failed: Vec<(u32, String)> = results
            .into_iter()
            .filter_map(|(shard, r)| r.err().map(|e| (shard, e)))
            .collect();
        let Some((_, reason)) = failed.first() else {
            return Ok(());
        };
        self.shared.publish_errors.inc();
        let shards: Vec<u32> = failed.iter().map(|(s, _)| *s).collect();
        if failed.len() == n {
            tracing::warn!(code = "backplane_unavailable", %reason, "cluster publish not accepted by Redis");
            return Err(HiveError::BackplaneUnavailable(format!(
                "The cluster's Redis did not accept the publish: {reason}"
            )));
        }
        self.shared.partial_publishes.inc();
        tracing::error!(
            code = "backplane_unavailable", publish = %id, ?shards, accepted = n - failed.len(), of = n, %reason,
            "cluster: a publish was accepted by some shards only: delivered to the channels of the others, not to these"
        );
        Err(HiveError::BackplaneUnavailable(format!(
            "The cluster's Redis accepted the publish on {} of its {n} shards only (shards {shards:?} \
             did not accept it: {reason}); it reaches the channels of the accepted shards only. \
             Retry with the same Idempotency-Key to complete it without doubles.",
            n - failed.len()
        )))
    }
}

/// One `EVAL` of [`APPEND`] with `args`, retried once with the same publish id (a repeat of an
/// append that did reach Redis is not appended again).
async fn eval_twice(client: &Client, args: Vec<FredValue>) -> Result<(), String> {
    // The slot of the first key (`args[2]`): fred routes a custom command by its first argument
    // (here the script) unless given the slot itself, and a Redis Cluster would answer `MOVED`.
    let slot = args
        .get(2)
        .and_then(FredValue::as_bytes)
        .map_or(0, fred::util::redis_keyslot);
    let mut last = String::new();
    for _attempt in 0..2 {
        let cmd = CustomCommand::new_static("EVAL", ClusterHash::Custom(slot), false);
        match client.custom::<FredValue, _>(cmd, args.clone()).await {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

impl Actor for StreamWriter {
    type Msg = BackplaneMsg;
    type State = WriterState;
    type Arguments = StreamWriterArgs;

    async fn pre_start(
        &self,
        _: ActorRef<BackplaneMsg>,
        args: StreamWriterArgs,
    ) -> Result<WriterState, ActorProcessingErr> {
        let client = args.shared.spec.client(COMMAND_TIMEOUT)?;
        // Runs the connection task; with `fail_fast: false` it keeps retrying until Redis answers.
        let _task = client.connect();
        let tag: u64 = rand::random();
        Ok(WriterState {
            incarnation: format!("{}.{tag:016x}", args.shared.spec.node),
            shared: args.shared,
            client,
            seq: 0,
        })
    }

    async fn post_stop(
        &self,
        _: ActorRef<BackplaneMsg>,
        st: &mut WriterState,
    ) -> Result<(), ActorProcessingErr> {
        let _ = st.client.quit().await;
        Ok(())
    }

    async fn handle(
        &self,
        _: ActorRef<BackplaneMsg>,
        msg: BackplaneMsg,
        st: &mut WriterState,
    ) -> Result<(), ActorProcessingErr> {
        let BackplaneMsg::Publish { envelope, key, ack } = msg;
        let r = st.append(envelope, key).await;
        if let Some(ack) = ack {
            let _ = ack.send(r);
        }
        Ok(())
    }
}
