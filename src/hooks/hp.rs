//! Hive Protocol hooks `hp.get`, `hp.post`, `hp.put` and their `cp.*` aliases (HIVE.md 5.5, 6.4).

use std::sync::Arc;

use serde_json::Value;

use super::context::{BuildEnv, Cx, Flow, FlowFuture, Hook, Trigger, state_flow};
use super::engine::dispatch;
use crate::config::{ConnectorName, HookName};
use crate::error::HiveError;
use crate::metrics::{Counter, EventHookMetrics, LazyCounter};
use codec::event::parse_internal_events;

/// Which Hive Protocol call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HpKind {
    /// Request without a body, reply dispatched.
    Get,
    /// Metadata in, reply dispatched.
    Post,
    /// Metadata in, fire and forget.
    Put,
}

/// An `hp.*` hook bound to a pool and an endpoint.
#[derive(Debug)]
pub struct HpHook {
    kind: HpKind,
    connector: String,
    endpoint: String,
    /// `clients.hooks.hp.<kind>`
    calls: Counter,
    /// `clients.hooks.<event>.hp.<kind>`
    event_calls: LazyCounter,
}

impl HpHook {
    /// Constructor of `hp.*` and its `cp.*` alias (HIVE.md 1.4): args `{connector, endpoint}`,
    /// the connector an HTTP or TCP pool of the configuration; `event` are the counters of the
    /// event the hook is built for.
    ///
    /// # Errors
    /// `bad_connector_descriptor` for a missing endpoint or an undefined or wrong-type pool.
    pub fn build(
        kind: HpKind,
        args: &Value,
        env: &BuildEnv<'_>,
        event: &EventHookMetrics,
    ) -> Result<Arc<dyn Hook>, HiveError> {
        let endpoint = match args.get("endpoint") {
            Some(Value::String(s)) => s.clone(),
            other => {
                return Err(HiveError::BadConnectorDescriptor(format!(
                    "Invalid endpoint: {}",
                    other.cloned().unwrap_or(Value::Null)
                )));
            }
        };
        let connector = match args.get("connector") {
            Some(Value::String(s)) => s.clone(),
            other => {
                return Err(HiveError::BadConnectorDescriptor(format!(
                    "Undefined connector {}",
                    other.cloned().unwrap_or(Value::Null)
                )));
            }
        };
        match env.config.connectors.pools.get(&connector) {
            None => {
                return Err(HiveError::BadConnectorDescriptor(format!(
                    "Undefined connector {connector}"
                )));
            }
            Some(p)
                if !matches!(
                    ConnectorName::from_name(&p.connector),
                    Some(ConnectorName::Http | ConnectorName::Tcp)
                ) =>
            {
                return Err(HiveError::BadConnectorDescriptor(format!(
                    "Connector {connector} is of invalid type: {}",
                    p.connector
                )));
            }
            Some(_) => {}
        }
        let totals = env.metrics.hooks();
        let (calls, event_calls) = match kind {
            HpKind::Get => (&totals.hp_get, &event.hp_get),
            HpKind::Post => (&totals.hp_post, &event.hp_post),
            HpKind::Put => (&totals.hp_put, &event.hp_put),
        };
        Ok(Arc::new(HpHook {
            kind,
            connector,
            endpoint,
            calls: calls.clone(),
            event_calls: event_calls.clone(),
        }))
    }
}

impl Hook for HpHook {
    fn name(&self) -> &'static str {
        match self.kind {
            HpKind::Get => HookName::HpGet.name(),
            HpKind::Post => HookName::HpPost.name(),
            HpKind::Put => HookName::HpPut.name(),
        }
    }

    fn run<'a>(&'a self, cx: &'a mut Cx<'_>, t: &'a Trigger) -> FlowFuture<'a> {
        Box::pin(async move {
            self.calls.inc();
            self.event_calls.inc();
            let pool = match cx
                .services
                .connectors()
                .and_then(|c| c.pool(&self.connector))
            {
                Ok(p) => p,
                Err(e) => return Flow::Error(e),
            };
            let reply = match self.kind {
                HpKind::Get => pool.hp_get(&self.endpoint).await,
                HpKind::Post | HpKind::Put => {
                    let body = match cx.metadata(t).await {
                        Ok(b) => b,
                        Err(e) => return state_flow(e),
                    };
                    if self.kind == HpKind::Put {
                        return match pool.hp_put(&self.endpoint, body).await {
                            Ok(()) => Flow::Continue,
                            Err(e) => Flow::Error(e),
                        };
                    }
                    pool.hp_post(&self.endpoint, body).await
                }
            };
            let body = match reply {
                Ok(b) => b,
                Err(e) => return Flow::Error(e),
            };
            // An empty reply means "no events" (HIVE.md 16.4 #9: the original reported an error).
            if body.trim().is_empty() {
                return Flow::Continue;
            }
            match parse_internal_events(&body) {
                Ok(events) => dispatch(cx, &events).await,
                Err(e) => Flow::Error(e.into()),
            }
        })
    }
}
