//! Built-in hooks `utils.echo`, `utils.ack`, `utils.console_dump`, `utils.dispatch` (HIVE.md
//! 5.2-5.4; `utils.ack` and echo's `rename` are new).

use std::sync::Arc;

use serde_json::Value;

use super::context::{BuildEnv, Cx, Flow, FlowFuture, Hook, Trigger, state_flow};
use super::engine::dispatch;
use crate::config::HookName;
use crate::error::HiveError;
use crate::events::{Event, Out};
use crate::metrics::EventHookMetrics;
use codec::event::{internal_event_from_value, validate_external_event};

/// Constructor of `utils.echo`: `null`, or the event object to reply with.
///
/// # Errors
/// `bad_connector_descriptor` for any other args.
pub fn echo(
    args: &Value,
    _: &BuildEnv<'_>,
    _: &EventHookMetrics,
) -> Result<Arc<dyn Hook>, HiveError> {
    Ok(Arc::new(Echo::new(args)?))
}

/// Constructor of `utils.ack` (args ignored): acknowledge the trigger's ack id, if it has one,
/// with the trigger's `args`.
///
/// # Errors
/// None.
pub fn ack(_: &Value, _: &BuildEnv<'_>, _: &EventHookMetrics) -> Result<Arc<dyn Hook>, HiveError> {
    Ok(Arc::new(AckHook))
}

/// `utils.ack`: the trigger's args back as the acknowledgement of its ack id (nothing when the
/// client asked for none).
#[derive(Debug)]
pub struct AckHook;

impl Hook for AckHook {
    fn name(&self) -> &'static str {
        HookName::UtilsAck.name()
    }
    fn run<'a>(&'a self, cx: &'a mut Cx<'_>, t: &'a Trigger) -> FlowFuture<'a> {
        Box::pin(async move {
            if let Out::Event(Event { ack: Some(id), .. }) = &t.origin {
                let args = t
                    .value
                    .get("args")
                    .cloned()
                    .unwrap_or(Value::Array(Vec::new()));
                cx.reply(Out::Ack {
                    id: *id,
                    args: Some(args),
                });
            }
            Flow::Continue
        })
    }
}

/// Constructor of `utils.console_dump`: args are the label (a string, or anything rendered).
///
/// # Errors
/// None: every args value is a label.
pub fn console_dump(
    args: &Value,
    _: &BuildEnv<'_>,
    _: &EventHookMetrics,
) -> Result<Arc<dyn Hook>, HiveError> {
    Ok(Arc::new(ConsoleDump { label: label(args) }))
}

/// Constructor of `utils.dispatch` (args ignored).
///
/// # Errors
/// None.
pub fn dispatch_hook(
    _: &Value,
    _: &BuildEnv<'_>,
    _: &EventHookMetrics,
) -> Result<Arc<dyn Hook>, HiveError> {
    Ok(Arc::new(DispatchHook))
}

fn label(a: &Value) -> String {
    match a {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `utils.echo`: reply with the trigger itself, or with a configured event.
#[derive(Debug)]
pub struct Echo {
    /// The configured event (None = echo the trigger).
    fixed: Option<Event>,
    /// `{"rename": <name>}`: echo the trigger's `args` as the event `<name>`.
    rename: Option<String>,
    /// `{"rename": .., "ack": true}`: the event asks the client for an ack (modern wire).
    ask_ack: bool,
}

impl Echo {
    fn new(args: &Value) -> Result<Self, HiveError> {
        match args {
            Value::Null => Ok(Self {
                fixed: None,
                rename: None,
                ask_ack: false,
            }),
            Value::Object(m)
                if m.contains_key("rename")
                    && m.keys().all(|k| k == "rename" || k == "ack")
                    && m.get("ack").is_none_or(Value::is_boolean) =>
            {
                match &m["rename"] {
                    Value::String(s) if !s.is_empty() => Ok(Self {
                        fixed: None,
                        rename: Some(s.clone()),
                        ask_ack: m.get("ack") == Some(&Value::Bool(true)),
                    }),
                    other => Err(HiveError::BadConnectorDescriptor(format!(
                        "utils.echo: rename takes a non-empty event name, got {other}"
                    ))),
                }
            }
            v @ Value::Object(_) => {
                validate_external_event(v)
                    .map_err(|e| HiveError::BadConnectorDescriptor(format!("utils.echo: {e}")))?;
                Ok(Self {
                    fixed: Some(Event::with_text(v.clone(), v.to_string())),
                    rename: None,
                    ask_ack: false,
                })
            }
            other => Err(HiveError::BadConnectorDescriptor(format!(
                "utils.echo takes null or an event object, got {other}"
            ))),
        }
    }
}

impl Hook for Echo {
    fn name(&self) -> &'static str {
        HookName::UtilsEcho.name()
    }
    fn run<'a>(&'a self, cx: &'a mut Cx<'_>, t: &'a Trigger) -> FlowFuture<'a> {
        Box::pin(async move {
            if let Out::Event(Event { ack: Some(id), .. }) = &t.origin {
                cx.reply(Out::Ack {
                    id: *id,
                    args: None,
                });
            }
            match (&self.fixed, &self.rename) {
                (_, Some(name)) => {
                    let args = t
                        .value
                        .get("args")
                        .cloned()
                        .unwrap_or(Value::Array(Vec::new()));
                    let mut obj = serde_json::json!({"name": name, "args": args});
                    if self.ask_ack {
                        obj["ack"] = Value::Bool(true);
                    }
                    cx.reply(Out::Event(Event::new(obj)));
                }
                (None, None) => cx.reply(t.echo()),
                (Some(e), None) => cx.reply(Out::Event(e.clone())),
            }
            Flow::Continue
        })
    }
}

/// `utils.console_dump`: log `<label> <metadata>` at info.
#[derive(Debug)]
pub struct ConsoleDump {
    label: String,
}

impl Hook for ConsoleDump {
    fn name(&self) -> &'static str {
        HookName::UtilsConsoleDump.name()
    }
    fn run<'a>(&'a self, cx: &'a mut Cx<'_>, t: &'a Trigger) -> FlowFuture<'a> {
        Box::pin(async move {
            match cx.metadata(t).await {
                Ok(meta) => {
                    tracing::info!(target: "hive::console_dump", "{} {}", self.label, meta);
                    Flow::Continue
                }
                Err(e) => state_flow(e),
            }
        })
    }
}

/// `utils.dispatch`: the trigger's `args` is an array of internal events, dispatched in order.
#[derive(Debug)]
pub struct DispatchHook;

impl Hook for DispatchHook {
    fn name(&self) -> &'static str {
        HookName::UtilsDispatch.name()
    }
    fn run<'a>(&'a self, cx: &'a mut Cx<'_>, t: &'a Trigger) -> FlowFuture<'a> {
        Box::pin(async move {
            let Some(Value::Array(items)) = t.value.get("args") else {
                return Flow::Error(HiveError::BadInternalEvent(format!(
                    "Bad internal event {}: utils.dispatch expects an array of internal events.",
                    t.value
                )));
            };
            let mut events = Vec::with_capacity(items.len());
            for item in items {
                match internal_event_from_value(item) {
                    Ok(e) => events.push(e),
                    Err(e) => return Flow::Error(e.into()),
                }
            }
            dispatch(cx, &events).await
        })
    }
}
