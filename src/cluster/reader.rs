//! `stream_reader`: reads every shard's stream from this node's last position (`XREAD BLOCK`) and
//! delivers each entry into this node's pub-sub inbox, to the channels of that entry's shard. One
//! reader per node, so every channel's publishes are delivered in stream order.
//!
//! Positions live in [`Shared`], so a restarted reader resumes where the last one stopped; a node
//! that starts takes the streams' current ends. Redis going away is an expected failure: the
//! reader counts it (`cluster.redis_errors`), logs it once per outage and retries; it does not
//! crash, so an outage never exhausts its supervisor's restart budget.
//!
//! Loss is counted, never hidden:
//! - **Trimmed past our position** (`cluster.lost_gaps`): the stream's `max-deleted-entry-id` is
//!   newer than the position we resume from (checked whenever we resume after an error).
//! - **Redis lost its data** (`cluster.redis_data_lost`): the epoch key differs from the one read
//!   when the positions were taken (a restart without persistence); positions restart from the
//!   beginning of the new streams.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fred::prelude::{Client, ClientLike, KeysInterface, SetOptions, StreamsInterface};
use fred::types::Value as FredValue;
use fred::types::streams::XReadResponse;
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
    /// Read the next batch.
    Read,
}

/// State of [`StreamReader`].
#[derive(Debug)]
pub struct ReaderState {
    args: StreamReaderArgs,
    client: Client,
    streams: Vec<String>,
    /// Failing since (an outage is logged once).
    failing: Option<Instant>,
    epoch_checked: Instant,
}

impl ReaderState {
    fn shared(&self) -> &Shared {
        &self.args.shared
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
        *self.shared().positions() = Some(pos);
        *self.shared().epoch() = Some(epoch);
        Ok(())
    }

    /// The cluster's epoch, set now if Redis has none.
    async fn ensure_epoch(&self) -> Result<String, fred::error::Error> {
        let key = self.shared().keys.epoch();
        let fresh = format!("{:016x}", rand::random::<u64>());
        let _: FredValue = self
            .client
            .set(&key, fresh.as_str(), None, Some(SetOptions::NX), false)
            .await?;
        let now: Option<String> = self.client.get(&key).await?;
        Ok(now.unwrap_or(fresh))
    }

    /// Compare the epoch with ours; on a change Redis lost its data: count it and restart the
    /// positions at the beginning of the new streams.
    async fn check_epoch(&mut self) -> Result<(), fred::error::Error> {
        self.epoch_checked = Instant::now();
        let now = self.ensure_epoch().await?;
        let known = self.shared().epoch().clone();
        if known.as_deref() != Some(now.as_str()) {
            self.shared().data_lost.inc();
            tracing::error!(
                node = %self.shared().spec.node,
                "cluster: Redis lost its data (the epoch changed): publishes not yet read are lost; reading the new streams from their start"
            );
            let n = self.streams.len();
            *self.shared().positions() = Some(vec!["0-0".to_string(); n]);
            *self.shared().epoch() = Some(now);
        }
        Ok(())
    }

    /// After an outage: count the streams trimmed past our position.
    async fn check_trimmed(&self) -> Result<(), fred::error::Error> {
        let pos = self.shared().positions().clone().unwrap_or_default();
        for (s, p) in self.streams.iter().zip(pos) {
            let info: HashMap<String, FredValue> = self
                .client
                .custom(
                    fred::types::CustomCommand::new_static(
                        "XINFO",
                        fred::types::ClusterHash::Offset(1),
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
        if self.shared().positions().is_none() {
            self.start_positions().await?;
        }
        if self.failing.is_some() || self.epoch_checked.elapsed() > EPOCH_EVERY {
            self.check_epoch().await?;
        }
        if self.failing.take().is_some() {
            self.check_trimmed().await?;
            tracing::info!(node = %self.shared().spec.node, "cluster: Redis is back; resuming the streams");
        }
        let ids = self.shared().positions().clone().unwrap_or_default();
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
                        self.args.inbox.deliver_where(env, &keep);
                        self.shared().delivered.inc();
                    }
                    _ => {
                        tracing::warn!(stream = %key, %id, "cluster: unreadable stream entry skipped")
                    }
                }
                if let Some(p) = self.shared().positions().as_mut()
                    && let Some(slot) = p.get_mut(shard as usize)
                {
                    *slot = id;
                }
            }
        }
        Ok(())
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
        // Blocking reads hold the connection for BLOCK_MS: the timeout leaves room for it.
        let client = args
            .shared
            .spec
            .client(Duration::from_millis(BLOCK_MS + 2000))?;
        let _task = client.connect();
        let streams = (0..args.shared.spec.shards)
            .map(|s| args.shared.keys.stream(s))
            .collect();
        myself.cast(ReaderMsg::Read)?;
        Ok(ReaderState {
            args,
            client,
            streams,
            failing: None,
            epoch_checked: Instant::now(),
        })
    }

    async fn post_stop(
        &self,
        _: ActorRef<ReaderMsg>,
        st: &mut ReaderState,
    ) -> Result<(), ActorProcessingErr> {
        let _ = st.client.quit().await;
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<ReaderMsg>,
        msg: ReaderMsg,
        st: &mut ReaderState,
    ) -> Result<(), ActorProcessingErr> {
        let ReaderMsg::Read = msg;
        match st.read().await {
            Ok(()) => {
                st.shared().set_redis_down(None);
                myself.cast(ReaderMsg::Read)?
            }
            Err(e) => {
                st.shared().read_errors.inc();
                st.shared()
                    .set_redis_down(Some(format!("cannot read the streams: {e}")));
                if st.failing.is_none() {
                    st.failing = Some(Instant::now());
                    tracing::warn!(node = %st.shared().spec.node, error = %e, "cluster: cannot read the streams (Redis away?); /health answers 503 until it is back; retrying");
                }
                myself.send_after(RETRY, || ReaderMsg::Read);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::id_after;

    #[test]
    fn stream_ids_compare_numerically() {
        assert!(id_after("10-0", "9-5"));
        assert!(id_after("9-6", "9-5"));
        assert!(!id_after("9-5", "9-5"));
        assert!(!id_after("", "9-5"));
        assert!(!id_after("0-0", "0-0"));
    }
}
