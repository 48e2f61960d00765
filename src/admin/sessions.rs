//! The monitor's sessions and channels: `GET /sessions/<sid>` (one session), `DELETE
//! /sessions/<sid>` (disconnect it, its disconnect hooks run) and `GET /channels?prefix=...`
//! (live channels with subscriber counts).
//!
//! Sessions are found through the router's table and described by their client actor
//! ([`ClientHandle::inspect`]); channels come from the pub-sub registry, without a message to any
//! channel.

use std::time::Duration;

use serde_json::{Value, json};

use crate::client::{ClientHandle, CloseReason, Transport};
use crate::pubsub::PubSub;
use crate::router::Router;
use crate::slot::Slot;

/// Longest wait for a session's description (a session busy in a hook answers after it).
const INSPECT_TIMEOUT: Duration = Duration::from_secs(2);

/// What the sessions and channels routes read: the router and the pub-sub (once started).
#[derive(Clone)]
pub struct SessionsView {
    router: Router,
    pubsub: Slot<PubSub>,
}

impl std::fmt::Debug for SessionsView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionsView").finish_non_exhaustive()
    }
}

/// Why a sessions or channels request failed: status and description.
pub(crate) type Failure = (u16, String);

impl SessionsView {
    /// The view over this node's router and pub-sub.
    pub fn new(router: Router, pubsub: Slot<PubSub>) -> Self {
        Self { router, pubsub }
    }

    fn lookup(&self, sid: &str) -> Result<ClientHandle, Failure> {
        self.router
            .lookup(sid)
            .ok_or_else(|| (404, format!("No live session \"{sid}\".")))
    }

    /// `GET /sessions/<sid>`.
    pub(crate) async fn session(&self, sid: &str) -> Result<Value, Failure> {
        let c = self.lookup(sid)?;
        let cell = c.actor().get_cell();
        let d = c.inspect(INSPECT_TIMEOUT).await.map_err(|e| {
            let status = if self.router.lookup(sid).is_some() {
                503
            } else {
                404
            };
            (status, e.to_string())
        })?;
        let transport = d.transport.map(|t| match t {
            Transport::WebSocket => "websocket",
            Transport::FlashSocket => "flashsocket",
            Transport::XhrPolling => "xhr-polling",
        });
        let channels = match self.pubsub.get() {
            Some(ps) => ps.channels_of(cell.get_id(), INSPECT_TIMEOUT).await,
            None => Vec::new(),
        };
        let (value, value_error) = match d.value {
            Ok(v) => (v, Value::Null),
            Err(e) => (Value::Null, Value::String(e)),
        };
        Ok(json!({
            "sid": sid,
            "protocol": "socket.io/0.9",
            "transport": transport,
            "remote_address": Value::Null,
            "state": d.state,
            "age_ms": u64::try_from(cell.age().as_millis()).unwrap_or(u64::MAX),
            "idle_ms": u64::try_from(d.idle.as_millis()).unwrap_or(u64::MAX),
            "queued": d.queued,
            "mailbox": cell.mailbox_len(),
            "handled": cell.messages_handled(),
            "actor_id": cell.get_id().to_string(),
            "value": value,
            "value_error": value_error,
            "channels": channels,
        }))
    }

    /// `DELETE /sessions/<sid>`: the session ends as if its client left (`on_disconnect` runs).
    pub(crate) fn disconnect(&self, sid: &str) -> Result<Value, Failure> {
        let c = self.lookup(sid)?;
        c.terminate(CloseReason::ClientGone);
        tracing::warn!(sid = %sid, "session disconnected from the monitor");
        Ok(json!({ "disconnected": sid }))
    }

    /// `GET /channels?prefix=<scope>`.
    pub(crate) fn channels(&self, scope: &str) -> Result<Value, Failure> {
        let ps = self
            .pubsub
            .get()
            .ok_or_else(|| (503, "Pub-sub is not running.".to_owned()))?;
        let list = ps.channels(scope);
        let total: usize = list.iter().map(|(_, n)| n).sum();
        let channels: Vec<Value> = list
            .into_iter()
            .map(|(cid, n)| json!({"cid": cid, "subscribers": n}))
            .collect();
        Ok(json!({
            "prefix": scope,
            "count": channels.len(),
            "subscribers": total,
            "channels": channels,
        }))
    }
}
