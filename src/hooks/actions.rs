//! Built-in action dispatchers `action.*` (HIVE.md 6.3), except the pub-sub ones.

use std::sync::Arc;

use serde_json::Value;

use super::context::{
    BuildEnv, Cx, Dispatcher, Flow, FlowFuture, HookBuilder, Trigger, state_flow,
};
use super::engine::run_chain;
use crate::config::{HookDescriptor, PoolDescriptor};
use crate::error::HiveError;
use crate::events::{AckId, Event, Out};
use codec::event::{InternalEvent, validate_external_event};

/// The built-in dispatcher kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `action.stop`
    Stop,
    /// `action.error`
    Error,
    /// `action.send_event`
    SendEvent,
    /// `action.send_message`
    SendMessage,
    /// `action.send_json`
    SendJson,
    /// `action.send_ack`
    SendAck,
    /// `action.update_state`
    UpdateState,
    /// `action.dispatch`
    Dispatch,
    /// `action.remove_hooks`
    RemoveHooks,
    /// `action.start_connectors`
    StartConnectors,
    /// `action.stop_connectors`
    StopConnectors,
}

/// Constructor of the built-in dispatcher `a` (descriptor args are ignored by all of these).
///
/// # Errors
/// None.
pub fn builtin(a: Action) -> Result<Arc<dyn Dispatcher>, HiveError> {
    Ok(Arc::new(a))
}

/// Constructor of `action.add_hooks` (args ignored): keeps the registry's hook builder from `env`.
///
/// # Errors
/// None.
pub fn add_hooks(_: &Value, env: &BuildEnv<'_>) -> Result<Arc<dyn Dispatcher>, HiveError> {
    Ok(Arc::new(AddHooks {
        build_hook: env.build_hook,
    }))
}

/// `action.add_hooks`: prepend hooks built from descriptors to this client's table (HIVE.md 6.3).
#[derive(Debug)]
pub struct AddHooks {
    /// The registry's builder (so that this file needs nothing of the registry).
    build_hook: HookBuilder,
}

impl Dispatcher for AddHooks {
    fn run<'a>(&'a self, cx: &'a mut Cx<'_>, ev: &'a InternalEvent) -> FlowFuture<'a> {
        Box::pin(async move { add_hooks_now(cx, &ev.args, self.build_hook) })
    }
}

/// The event `action.send_event` produces for `args` (also used to pre-encode pub-sub frames).
///
/// # Errors
/// `bad_external_event` when `args` is not an event object.
pub fn send_event_message(ev: &InternalEvent) -> Result<Event, HiveError> {
    validate_external_event(&ev.args)?;
    Ok(Event::new(ev.args.clone()).with_ack(AckId::parse(&ev.trigger_id)))
}

impl Dispatcher for Action {
    fn is_send_event(&self) -> bool {
        *self == Action::SendEvent
    }

    fn run<'a>(&'a self, cx: &'a mut Cx<'_>, ev: &'a InternalEvent) -> FlowFuture<'a> {
        Box::pin(async move {
            match self {
                Action::Stop => Flow::Stop(HiveError::Stopped(ev.args.to_string())),
                Action::Error => Flow::Error(HiveError::InternalError(ev.args.to_string())),
                Action::SendEvent => match send_event_message(ev) {
                    Ok(e) => {
                        cx.reply(Out::Event(e));
                        Flow::Continue
                    }
                    Err(e) => Flow::Error(e),
                },
                Action::SendMessage => {
                    cx.reply(Out::Message {
                        data: ev.args.clone(),
                        ack: AckId::parse(&ev.trigger_id),
                    });
                    Flow::Continue
                }
                Action::SendJson => {
                    cx.reply(Out::Json {
                        data: ev.args.clone(),
                        ack: AckId::parse(&ev.trigger_id),
                    });
                    Flow::Continue
                }
                Action::SendAck => {
                    // Fix of HIVE.md 16.4 #4: an ACK needs a real message id.
                    let Some(id) = AckId::parse(&ev.trigger_id) else {
                        return Flow::Error(HiveError::BadInternalEvent(format!(
                            "Bad internal event {}: action.send_ack needs a trigger_id such as \"1+\".",
                            serde_json::to_string(ev).unwrap_or_default()
                        )));
                    };
                    cx.reply(Out::Ack {
                        id,
                        args: Some(ev.args.clone()),
                    });
                    Flow::Continue
                }
                Action::UpdateState => match cx.state_set(ev.args.clone()).await {
                    Ok(()) => Flow::Continue,
                    Err(e) => state_flow(e),
                },
                Action::Dispatch => {
                    if let Err(e) = validate_external_event(&ev.args) {
                        return Flow::Error(e.into());
                    }
                    let t = Trigger::event(Event::new(ev.args.clone()));
                    run_chain(cx, &t).await
                }
                Action::RemoveHooks => {
                    let Value::Array(names) = &ev.args else {
                        return Flow::Error(bad(
                            ev,
                            "action.remove_hooks expects an array of event names",
                        ));
                    };
                    let table = Arc::make_mut(cx.hooks);
                    for n in names {
                        if let Some(n) = n.as_str() {
                            table.remove(n);
                        }
                    }
                    Flow::Continue
                }
                Action::StartConnectors => start_connectors(cx, ev).await,
                Action::StopConnectors => {
                    let Value::Array(names) = &ev.args else {
                        return Flow::Error(bad(
                            ev,
                            "action.stop_connectors expects an array of pool names",
                        ));
                    };
                    let connectors = match cx.services.connectors() {
                        Ok(c) => c,
                        Err(e) => return Flow::Error(e),
                    };
                    for n in names.iter().filter_map(Value::as_str) {
                        if let Err(e) = connectors.stop_pool(n).await {
                            tracing::warn!(pool = n, error = %e, "action.stop_connectors");
                        }
                    }
                    Flow::Continue
                }
            }
        })
    }
}

fn bad(ev: &InternalEvent, why: &str) -> HiveError {
    HiveError::BadInternalEvent(format!(
        "Bad internal event {}: {why}.",
        serde_json::to_string(ev).unwrap_or_default()
    ))
}

fn add_hooks_now(cx: &mut Cx<'_>, args: &Value, build_hook: HookBuilder) -> Flow {
    let Value::Object(map) = args else {
        return Flow::Error(HiveError::BadConnectorDescriptor(format!(
            "Bad hook descriptor {args}: expected an object of event -> [hook descriptors]."
        )));
    };
    let env = BuildEnv {
        config: &cx.services.config,
        build_hook,
        metrics: &cx.services.metrics,
    };
    // Validate everything first: a bad descriptor anywhere changes nothing (fix of 16.4 #3).
    let mut built = Vec::new();
    for (event, descs) in map {
        let descs: Vec<HookDescriptor> = match serde_json::from_value(descs.clone()) {
            Ok(d) => d,
            Err(e) => {
                return Flow::Error(HiveError::BadConnectorDescriptor(format!(
                    "Bad hook descriptor {descs}: {e}."
                )));
            }
        };
        // The event's counters: those of its chain, or registered now for a new event.
        let counters = cx
            .hooks
            .event_metrics(event)
            .unwrap_or_else(|| Arc::new(cx.services.metrics.hook_event(event)));
        let mut hooks = Vec::new();
        for d in &descs {
            match build_hook(d, &env, &counters) {
                Ok(h) => hooks.push(h),
                Err(e) => return Flow::Error(e),
            }
        }
        built.push((event.clone(), counters, hooks));
    }
    let table = Arc::make_mut(cx.hooks);
    for (event, counters, hooks) in built {
        table.prepend(&event, counters, hooks);
    }
    Flow::Continue
}

async fn start_connectors(cx: &mut Cx<'_>, ev: &InternalEvent) -> Flow {
    let Value::Object(map) = &ev.args else {
        return Flow::Error(bad(
            ev,
            "action.start_connectors expects an object of pool descriptors",
        ));
    };
    let connectors = match cx.services.connectors() {
        Ok(c) => c,
        Err(e) => return Flow::Error(e),
    };
    for (name, d) in map {
        let d: PoolDescriptor = match serde_json::from_value(d.clone()) {
            Ok(d) => d,
            Err(e) => {
                return Flow::Error(HiveError::BadConnectorDescriptor(format!(
                    "Bad connector descriptor {d}: {e}."
                )));
            }
        };
        if let Err(e) = connectors.start_pool(name, &d).await {
            return Flow::Error(e);
        }
    }
    Flow::Continue
}
