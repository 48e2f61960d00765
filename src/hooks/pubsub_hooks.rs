//! Pub-sub hooks `pubsub.*` (HIVE.md 5.6) and dispatchers `action.pubsub.*` (HIVE.md 6.3).

use std::sync::Arc;

use serde_json::Value;

use super::actions::send_event_message;
use super::context::{BuildEnv, Cx, Dispatcher, Flow, FlowFuture, Hook, Tables, Trigger};
use crate::config::HookName;
use crate::error::HiveError;
use crate::events::Out;
use crate::metrics::{Counter, EventHookMetrics, LazyCounter};
use crate::pubsub::{Payload, Privilege, Published, expand_cid_spec, expand_resubscribe};
use codec::event::{InternalEvent, internal_event_from_value};

/// Which pub-sub operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Join.
    Subscribe,
    /// Leave (hierarchically).
    Unsubscribe,
    /// Leave everything under each key, then join.
    Resubscribe,
    /// Publish internal events.
    Publish,
    /// Publish a raw frame.
    PublishRaw,
}

/// A pub-sub hook or dispatcher.
#[derive(Debug)]
pub struct PubsubOp {
    op: Op,
    privilege: Privilege,
    /// `pubsub.publish` hook only: the configured target cids.
    cids: Vec<String>,
    /// `pubsub.publish` hook only: raw publishing.
    raw: bool,
    /// Hooks only: `clients.hooks.pubsub.<op>` and `clients.hooks.<event>.pubsub.<op>`.
    hook_calls: Option<(Counter, LazyCounter)>,
}

fn privilege_arg(a: &Value) -> Result<Privilege, HiveError> {
    match a {
        Value::String(s) => Privilege::parse(Some(s)),
        Value::Null => Privilege::parse(None),
        other => Err(HiveError::BadConnectorDescriptor(format!(
            "expected a privilege string, got {other}"
        ))),
    }
}

fn simple(op: Op, a: &Value) -> Result<PubsubOp, HiveError> {
    Ok(PubsubOp {
        op,
        privilege: privilege_arg(a)?,
        cids: Vec::new(),
        raw: false,
        hook_calls: None,
    })
}

fn publish_hook(a: &Value) -> Result<PubsubOp, HiveError> {
    let cids = expand_cid_spec(a.get("cids").unwrap_or(&Value::Array(vec![])))?;
    let privilege = privilege_arg(a.get("privilege").unwrap_or(&Value::Null))?;
    let raw = a.get("raw").and_then(Value::as_bool).unwrap_or(false);
    let op = if raw { Op::PublishRaw } else { Op::Publish };
    Ok(PubsubOp {
        op,
        privilege,
        cids,
        raw,
        hook_calls: None,
    })
}

/// Constructor of the `pubsub.*` hook doing `op`: args are the privilege (`pubsub.subscribe`,
/// `unsubscribe`, `resubscribe`), or `{cids, privilege, raw}` (`pubsub.publish`, whatever `op`).
/// The hook counts its calls (`clients.hooks.pubsub.<op>`, and the same under `event`).
///
/// # Errors
/// `bad_connector_descriptor` for a bad privilege, or a bad cid spec of `pubsub.publish`.
pub fn hook(
    op: Op,
    args: &Value,
    env: &BuildEnv<'_>,
    event: &EventHookMetrics,
) -> Result<Arc<dyn Hook>, HiveError> {
    let mut h = match op {
        Op::Publish | Op::PublishRaw => publish_hook(args)?,
        op => simple(op, args)?,
    };
    let totals = env.metrics.hooks();
    let (total, per_event) = match h.op {
        Op::Subscribe => (&totals.pubsub_subscribe, &event.pubsub_subscribe),
        Op::Unsubscribe | Op::Resubscribe => {
            (&totals.pubsub_unsubscribe, &event.pubsub_unsubscribe)
        }
        Op::Publish | Op::PublishRaw => (&totals.pubsub_publish, &event.pubsub_publish),
    };
    h.hook_calls = Some((total.clone(), per_event.clone()));
    Ok(Arc::new(h))
}

/// Constructor of the `action.pubsub.*` dispatcher doing `op`: args are the privilege.
///
/// # Errors
/// `bad_connector_descriptor` for a bad privilege.
pub fn dispatcher(op: Op, args: &Value) -> Result<Arc<dyn Dispatcher>, HiveError> {
    Ok(Arc::new(simple(op, args)?))
}

/// What to hand to subscribers for `events`: one neutral [`Published`] (encoded once per wire)
/// when every event goes to plain `action.send_event` (the result does not depend on the
/// client), the events otherwise.
pub fn delivery_for(tables: &Tables, events: Vec<InternalEvent>) -> Payload {
    if let Some(items) = plain_events(tables, &events) {
        return Published::new(items).into();
    }
    Payload::events(events)
}

/// The items of `events`, if every one of them dispatches to plain `action.send_event` and is
/// valid.
pub fn plain_events(tables: &Tables, events: &[InternalEvent]) -> Option<Vec<Out>> {
    let mut items = Vec::with_capacity(events.len());
    for ev in events {
        if !tables.is_plain_send_event(&ev.action) {
            return None;
        }
        items.push(Out::Event(send_event_message(ev).ok()?));
    }
    Some(items)
}

fn one_arg(t: &Trigger) -> Result<&Value, HiveError> {
    match t.value.get("args") {
        Some(Value::Array(a)) if a.len() == 1 => Ok(&a[0]),
        _ => Err(HiveError::BadRequest(format!(
            "Bad external event {}: pub-sub hooks take exactly one argument.",
            t.value
        ))),
    }
}

impl PubsubOp {
    async fn apply(&self, cx: &mut Cx<'_>, arg: &Value, op: Op) -> Flow {
        let m = cx.services.metrics.pubsub();
        let ps = match cx.services.pubsub() {
            Ok(p) => p,
            Err(e) => return Flow::Error(e),
        };
        let r = match op {
            Op::Subscribe => match expand_cid_spec(arg) {
                Ok(cids) => {
                    m.join.inc();
                    ps.join(self.privilege, &cids, Arc::clone(&cx.me)).await
                }
                Err(e) => Err(e),
            },
            Op::Unsubscribe => match expand_cid_spec(arg) {
                Ok(cids) => {
                    m.leave.inc();
                    ps.leave(self.privilege, &cids, &cx.me.cell()).await
                }
                Err(e) => Err(e),
            },
            Op::Resubscribe => match expand_resubscribe(arg) {
                Ok((leave, join)) => {
                    m.leave.inc();
                    m.join.inc();
                    match ps.leave(self.privilege, &leave, &cx.me.cell()).await {
                        Ok(()) => ps.join(self.privilege, &join, Arc::clone(&cx.me)).await,
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            },
            Op::Publish => {
                // Hook form: the argument is one internal event, published to the configured cids.
                // Dispatcher form: {"event": <internal event>, "cids": <spec>}.
                let (ev, cids) = if self.cids.is_empty() && arg.get("event").is_some() {
                    let cids = expand_cid_spec(arg.get("cids").unwrap_or(&Value::Array(vec![])));
                    (arg.get("event").cloned().unwrap_or(Value::Null), cids)
                } else {
                    (arg.clone(), Ok(self.cids.clone()))
                };
                match (
                    internal_event_from_value(&ev).map_err(HiveError::from),
                    cids,
                ) {
                    (Ok(ev), Ok(cids)) => {
                        let d = delivery_for(&cx.services.tables, vec![ev]);
                        ps.publish(self.privilege, &cids, d);
                        Ok(())
                    }
                    (Err(e), _) | (_, Err(e)) => Err(e),
                }
            }
            Op::PublishRaw => {
                let (ev, cids) = if self.raw {
                    (arg.clone(), Ok(self.cids.clone()))
                } else {
                    let cids = expand_cid_spec(arg.get("cids").unwrap_or(&Value::Array(vec![])));
                    (arg.get("event").cloned().unwrap_or(Value::Null), cids)
                };
                match cids {
                    Ok(cids) => {
                        ps.publish(self.privilege, &cids, Published::new(vec![Out::Raw(ev)]));
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
        };
        match r {
            Ok(()) => Flow::Continue,
            Err(e) => Flow::Error(e),
        }
    }
}

impl Hook for PubsubOp {
    fn name(&self) -> &'static str {
        match self.op {
            Op::Subscribe => HookName::PubsubSubscribe.name(),
            Op::Unsubscribe => HookName::PubsubUnsubscribe.name(),
            Op::Resubscribe => HookName::PubsubResubscribe.name(),
            Op::Publish | Op::PublishRaw => HookName::PubsubPublish.name(),
        }
    }

    fn run<'a>(&'a self, cx: &'a mut Cx<'_>, t: &'a Trigger) -> FlowFuture<'a> {
        Box::pin(async move {
            if let Some((total, per_event)) = &self.hook_calls {
                total.inc();
                per_event.inc();
            }
            let arg = match one_arg(t) {
                Ok(a) => a.clone(),
                Err(e) => return Flow::Error(e),
            };
            self.apply(cx, &arg, self.op).await
        })
    }
}

impl Dispatcher for PubsubOp {
    fn run<'a>(&'a self, cx: &'a mut Cx<'_>, ev: &'a InternalEvent) -> FlowFuture<'a> {
        Box::pin(async move { self.apply(cx, &ev.args, self.op).await })
    }
}
