//! Running hook chains (HIVE.md 5.1) and dispatching internal events (HIVE.md 6.2).

use std::sync::Arc;

use super::context::{Cx, Flow, FlowFuture, Trigger};
use crate::error::HiveError;
use codec::event::InternalEvent;

/// Run the hook chain of `trigger.name` in order, threading the state through. An event name without
/// hooks does nothing. The chain stops at the first error or stop.
pub fn run_chain<'a>(cx: &'a mut Cx<'_>, trigger: &'a Trigger) -> FlowFuture<'a> {
    Box::pin(async move {
        let hooks = cx.hooks.get(&trigger.name);
        let metrics = Arc::clone(&cx.services.metrics);
        for hook in hooks {
            metrics.inc("clients.hooks.calls");
            metrics.inc(&format!("clients.hooks.{}.calls", trigger.name));
            let flow = hook.run(cx, trigger).await;
            match flow {
                Flow::Continue => {}
                other => {
                    metrics.inc("clients.hooks.errors");
                    metrics.inc(&format!("clients.hooks.{}.errors", trigger.name));
                    return other;
                }
            }
        }
        Flow::Continue
    })
}

/// Dispatch internal events in order through the client's action table. Stops at the first error or
/// stop; replies accumulate in `cx`.
pub fn dispatch<'a>(cx: &'a mut Cx<'_>, events: &'a [InternalEvent]) -> FlowFuture<'a> {
    Box::pin(async move {
        let metrics = Arc::clone(&cx.services.metrics);
        let tables = Arc::clone(&cx.services.tables);
        for ev in events {
            metrics.inc("clients.events.total");
            metrics.inc("clients.events.internal");
            let Some(dispatchers) = tables.actions.get(&ev.action) else {
                metrics.inc("clients.events.errors");
                metrics.inc("clients.events.internal_errors");
                let text = serde_json::to_string(ev).unwrap_or_default();
                return Flow::Error(HiveError::BadInternalEvent(format!(
                    "Unhandled Hive Internal Event: {text}"
                )));
            };
            for d in dispatchers {
                match d.run(cx, ev).await {
                    Flow::Continue => {}
                    other => {
                        metrics.inc("clients.events.errors");
                        metrics.inc("clients.events.internal_errors");
                        return other;
                    }
                }
            }
        }
        Flow::Continue
    })
}
