//! Running hook chains (HIVE.md 5.1) and dispatching internal events (HIVE.md 6.2).

use std::sync::Arc;

use super::context::{Cx, Flow, FlowFuture, Trigger};
use crate::error::HiveError;
use codec::event::InternalEvent;

/// Run the hook chain of `trigger.name` in order, threading the state through. An event name without
/// hooks does nothing. The chain stops at the first error or stop.
pub fn run_chain<'a>(cx: &'a mut Cx<'_>, trigger: &'a Trigger) -> FlowFuture<'a> {
    Box::pin(async move {
        let Some(chain) = cx.hooks.get(&trigger.name) else {
            return Flow::Continue;
        };
        let totals = cx.services.metrics.hooks();
        let event = &chain.metrics;
        let started = std::time::Instant::now(); // the chain's latency (monitor `/latency`)
        for hook in &chain.hooks {
            totals.calls.inc();
            event.calls.inc();
            let flow = hook.run(cx, trigger).await;
            match flow {
                Flow::Continue => {}
                other => {
                    totals.errors.inc();
                    event.errors.inc();
                    event.latency.record(started.elapsed());
                    return other;
                }
            }
        }
        event.latency.record(started.elapsed());
        Flow::Continue
    })
}

/// Dispatch internal events in order through the client's action table. Stops at the first error or
/// stop; replies accumulate in `cx`.
pub fn dispatch<'a>(cx: &'a mut Cx<'_>, events: &'a [InternalEvent]) -> FlowFuture<'a> {
    Box::pin(async move {
        let m = cx.services.metrics.events();
        let tables = Arc::clone(&cx.services.tables);
        for ev in events {
            m.total.inc();
            m.internal.inc();
            let Some(dispatchers) = tables.actions.get(&ev.action) else {
                m.errors.inc();
                m.internal_errors.inc();
                let text = serde_json::to_string(ev).unwrap_or_default();
                return Flow::Error(HiveError::BadInternalEvent(format!(
                    "Unhandled Hive Internal Event: {text}"
                )));
            };
            for d in dispatchers {
                match d.run(cx, ev).await {
                    Flow::Continue => {}
                    other => {
                        m.errors.inc();
                        m.internal_errors.inc();
                        return other;
                    }
                }
            }
        }
        Flow::Continue
    })
}
