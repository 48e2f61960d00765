//! The monitor's sessions and channels: `GET /sessions/<sid>` (one session), `DELETE
//! /sessions/<sid>` (disconnect it, its disconnect hooks run) and `GET /channels?prefix=...`
//! (live channels with subscriber counts).
//!
//! Sessions are found through the router's table and described by their client actor
//! ([`ClientHandle::inspect`]); channels come from the pub-sub registry, without a message to any
//! channel.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::client::{ClientHandle, CloseReason, Transport};
use crate::events::{Event, Out};
use crate::pubsub::{DeliverOutcome, PubSub, Published};
use crate::router::Router;
use crate::slot::Slot;

/// Longest wait for a session's description (a session busy in a hook answers after it).
const INSPECT_TIMEOUT: Duration = Duration::from_secs(2);

/// What the sessions and channels routes read: the router and the pub-sub (once started).
#[derive(Clone)]
pub struct SessionsView {
    router: Router,
    pubsub: Slot<PubSub>,
    /// Each channel's publish count at the previous `/channels` request, by actor id.
    samples: Arc<Mutex<HashMap<String, (Instant, u64)>>>,
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
        Self {
            router,
            pubsub,
            samples: Arc::default(),
        }
    }

    /// The outgoing queue figures of the session `sid` if its actor is `actor` (read without a
    /// message; `None` for any other actor).
    pub(crate) fn queue_of(
        &self,
        sid: &str,
        actor: ractor::ActorId,
    ) -> Option<std::sync::Arc<crate::client::QueueFigures>> {
        let c = self.router.lookup(sid)?;
        (c.actor().get_id() == actor).then(|| c.queue_figures())
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
            "queued": d.queued.max(c.queue_figures().items()),
            "queued_bytes": c.queue_figures().bytes(),
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

    /// `POST /sessions/<sid>/events`: send the event `{"name": <string>, "args": [..]}` (`args`
    /// optional) to the session's client, as a channel delivers a publish (through its queue, on
    /// its own wire).
    pub(crate) fn send_event(&self, sid: &str, body: &[u8]) -> Result<Value, Failure> {
        let event = event_body(body)?;
        let c = self.lookup(sid)?;
        let name = event["name"].clone();
        let p = Published::new(vec![Out::Event(Event::new(event))]);
        match c.deliver(&p.into()) {
            DeliverOutcome::Queued => {
                tracing::info!(sid = %sid, event = %name, "event sent from the monitor");
                Ok(json!({ "sent": sid, "name": name }))
            }
            DeliverOutcome::Dead => Err((404, format!("No live session \"{sid}\"."))),
            DeliverOutcome::Overloaded => Err((
                503,
                format!("Session {sid} is not reading: its outgoing queue is full."),
            )),
        }
    }

    /// `GET /channels?prefix=<scope>`.
    pub(crate) fn channels(&self, scope: &str) -> Result<Value, Failure> {
        let ps = self
            .pubsub
            .get()
            .ok_or_else(|| (503, "Pub-sub is not running.".to_owned()))?;
        let list = ps.channel_stats(scope);
        let total: usize = list.iter().map(|c| c.subscribers).sum();
        let now = Instant::now();
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        let channels: Vec<Value> = list
            .into_iter()
            .map(|c| {
                // Publishes per second since the previous request that saw this channel, else
                // over its life.
                let rate = match samples.get(&c.actor_id) {
                    Some((t, n)) if now > *t && c.published >= *n => {
                        (c.published - n) as f64 / now.duration_since(*t).as_secs_f64()
                    }
                    _ if c.age.as_secs_f64() > 0.0 => c.published as f64 / c.age.as_secs_f64(),
                    _ => 0.0,
                };
                samples.insert(c.actor_id.clone(), (now, c.published));
                json!({"cid": c.cid, "subscribers": c.subscribers, "published": c.published,
                       "rate": (rate * 100.0).round() / 100.0, "shards": c.shards})
            })
            .collect();
        // Samples of channels gone (or not listed) for 10 minutes are forgotten.
        samples.retain(|_, (t, _)| now.duration_since(*t) < Duration::from_secs(600));
        drop(samples);
        Ok(json!({
            "prefix": scope,
            "count": channels.len(),
            "subscribers": total,
            "channels": channels,
        }))
    }
}

/// The event of a `POST /sessions/<sid>/events` body: a JSON object with a non-empty string
/// `name` and an optional array `args` (default `[]`); other keys are refused.
fn event_body(body: &[u8]) -> Result<Value, Failure> {
    let bad = |why: String| (400, format!("Invalid event body: {why}"));
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        bad(format!(
            "JSON {{\"name\": <string>, \"args\": [..]}} expected ({e})."
        ))
    })?;
    let Value::Object(mut m) = v else {
        return Err(bad("a JSON object {\"name\", \"args\"} expected.".into()));
    };
    if let Some(k) = m.keys().find(|k| *k != "name" && *k != "args") {
        return Err(bad(format!("unknown key \"{k}\" (name and args only).")));
    }
    let name = match m.remove("name") {
        Some(Value::String(n)) if !n.is_empty() => n,
        _ => return Err(bad("\"name\" must be a non-empty string.".into())),
    };
    let args = match m.remove("args") {
        None | Some(Value::Null) => Value::Array(Vec::new()),
        Some(a @ Value::Array(_)) => a,
        Some(_) => return Err(bad("\"args\" must be an array.".into())),
    };
    let event = json!({ "name": name, "args": args });
    codec::event::validate_external_event(&event).map_err(|e| bad(e.to_string()))?;
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_bodies() {
        let ok = event_body(br#"{"name":"hi","args":[1,"a"]}"#).unwrap_or_default();
        assert_eq!(ok, json!({"name": "hi", "args": [1, "a"]}));
        let ok = event_body(br#"{"name":"hi"}"#).unwrap_or_default();
        assert_eq!(ok, json!({"name": "hi", "args": []}));
        for bad in [
            &b"not json"[..],
            b"[1]",
            br#"{"args":[]}"#,
            br#"{"name":""}"#,
            br#"{"name":5}"#,
            br#"{"name":"x","args":{}}"#,
            br#"{"name":"x","extra":1}"#,
        ] {
            let e = event_body(bad).err();
            assert!(
                e.as_ref()
                    .is_some_and(|(s, d)| *s == 400 && d.starts_with("Invalid event body")),
                "{}: {e:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
