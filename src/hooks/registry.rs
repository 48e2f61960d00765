//! The constructor table of hooks and dispatchers, and the compiled per-config [`Tables`].
//!
//! Every hook and dispatcher name is declared once, in [`HookName`] and [`ActionName`]
//! (`config/names.rs`, HIVE.md 1.4 plus the `cp.*` aliases of `hp.*`); [`hook_ctor`] and
//! [`dispatcher_ctor`] map each to its constructor by an exhaustive match, so a name cannot exist
//! without a constructor nor a constructor without a name, and config validation accepts exactly
//! the names built here. Names resolve when the configuration is loaded, so an unknown name or bad
//! args is a start-up error with its path, never a runtime surprise. A constructor validates its
//! `args` and returns the ready object. Nothing else in `hooks` imports this file: the built-ins
//! export constructors, and `action.add_hooks` gets [`build_hook`] through [`BuildEnv`].

use std::collections::HashMap;
use std::sync::Arc;

use super::actions::{self, Action};
use super::context::{BuildEnv, Dispatcher, DispatcherCtor, Hook, HookCtor, HookTable, Tables};
use super::hp::{HpHook, HpKind};
use super::pubsub_hooks::{self, Op};
use super::utils;
use crate::config::{ActionDescriptor, ActionName, Config, HookDescriptor, HookName};
use crate::error::HiveError;
use crate::metrics::{EventHookMetrics, Metrics};

/// The constructor of the hook `name`.
pub fn hook_ctor(name: HookName) -> HookCtor {
    use HookName as H;
    match name {
        H::UtilsEcho => utils::echo,
        H::UtilsAck => utils::ack,
        H::UtilsConsoleDump => utils::console_dump,
        H::UtilsDispatch => utils::dispatch_hook,
        H::PubsubSubscribe => |a, e, m| pubsub_hooks::hook(Op::Subscribe, a, e, m),
        H::PubsubUnsubscribe => |a, e, m| pubsub_hooks::hook(Op::Unsubscribe, a, e, m),
        H::PubsubResubscribe => |a, e, m| pubsub_hooks::hook(Op::Resubscribe, a, e, m),
        H::PubsubPublish => |a, e, m| pubsub_hooks::hook(Op::Publish, a, e, m),
        // `cp.*` are exact aliases of `hp.*` (HIVE.md 1.4).
        H::HpGet | H::CpGet => |a, e, m| HpHook::build(HpKind::Get, a, e, m),
        H::HpPut | H::CpPut => |a, e, m| HpHook::build(HpKind::Put, a, e, m),
        H::HpPost | H::CpPost => |a, e, m| HpHook::build(HpKind::Post, a, e, m),
    }
}

/// The constructor of the dispatcher `name`.
pub fn dispatcher_ctor(name: ActionName) -> DispatcherCtor {
    use ActionName as A;
    match name {
        A::Stop => |_, _| actions::builtin(Action::Stop),
        A::Error => |_, _| actions::builtin(Action::Error),
        A::SendEvent => |_, _| actions::builtin(Action::SendEvent),
        A::SendMessage => |_, _| actions::builtin(Action::SendMessage),
        A::SendJson => |_, _| actions::builtin(Action::SendJson),
        A::SendAck => |_, _| actions::builtin(Action::SendAck),
        A::UpdateState => |_, _| actions::builtin(Action::UpdateState),
        A::Dispatch => |_, _| actions::builtin(Action::Dispatch),
        A::AddHooks => actions::add_hooks,
        A::RemoveHooks => |_, _| actions::builtin(Action::RemoveHooks),
        A::StartConnectors => |_, _| actions::builtin(Action::StartConnectors),
        A::StopConnectors => |_, _| actions::builtin(Action::StopConnectors),
        A::PubsubPublish => |a, _| pubsub_hooks::dispatcher(Op::Publish, a),
        A::PubsubPublishRaw => |a, _| pubsub_hooks::dispatcher(Op::PublishRaw, a),
        A::PubsubSubscribe => |a, _| pubsub_hooks::dispatcher(Op::Subscribe, a),
        A::PubsubUnsubscribe => |a, _| pubsub_hooks::dispatcher(Op::Unsubscribe, a),
        A::PubsubResubscribe => |a, _| pubsub_hooks::dispatcher(Op::Resubscribe, a),
    }
}

/// Every hook name and its constructor, in registry order.
pub fn hook_ctors() -> Vec<(&'static str, HookCtor)> {
    HookName::ALL
        .iter()
        .map(|&n| (n.name(), hook_ctor(n)))
        .collect()
}

/// Every dispatcher name and its constructor, in registry order.
pub fn dispatcher_ctors() -> Vec<(&'static str, DispatcherCtor)> {
    ActionName::ALL
        .iter()
        .map(|&n| (n.name(), dispatcher_ctor(n)))
        .collect()
}

/// What constructors get when building the tables of `config`, counting into `metrics`.
pub fn build_env<'a>(config: &'a Config, metrics: &'a Metrics) -> BuildEnv<'a> {
    BuildEnv {
        config,
        build_hook,
        metrics,
    }
}

/// Build one hook of an event from its descriptor; `event` are that event's counters.
///
/// # Errors
/// `bad_connector_descriptor` (the original's code for bad hook descriptors) for an unknown name, or
/// the constructor's own error for bad args.
pub fn build_hook(
    d: &HookDescriptor,
    env: &BuildEnv<'_>,
    event: &EventHookMetrics,
) -> Result<Arc<dyn Hook>, HiveError> {
    let name = HookName::from_name(&d.hook)
        .ok_or_else(|| HiveError::BadConnectorDescriptor(format!("unknown hook \"{}\"", d.hook)))?;
    hook_ctor(name)(&d.args, env, event)
}

/// Build one dispatcher from its descriptor.
///
/// # Errors
/// As [`build_hook`].
pub fn build_dispatcher(
    d: &ActionDescriptor,
    env: &BuildEnv<'_>,
) -> Result<Arc<dyn Dispatcher>, HiveError> {
    let name = ActionName::from_name(&d.action).ok_or_else(|| {
        HiveError::BadConnectorDescriptor(format!("unknown action dispatcher \"{}\"", d.action))
    })?;
    dispatcher_ctor(name)(&d.args, env)
}

impl Tables {
    /// Compile the tables of `config`, collecting every error with its path; each event's counters
    /// (`clients.hooks.<event>.*`) are registered in `metrics` here, once.
    ///
    /// # Errors
    /// `invalid_config` listing each bad descriptor as `clients.hooks.<event>[i]: <error>`.
    pub fn build(config: &Config, metrics: &Metrics) -> Result<Tables, HiveError> {
        let env = build_env(config, metrics);
        let mut errors = Vec::new();
        let mut hooks = HookTable::default();
        for (event, descs) in config.clients.hooks.iter() {
            let counters = Arc::new(metrics.hook_event(event));
            let mut v = Vec::new();
            for (i, d) in descs.iter().enumerate() {
                match build_hook(d, &env, &counters) {
                    Ok(h) => v.push(h),
                    Err(e) => errors.push(format!("clients.hooks.{event}[{i}]: {e}")),
                }
            }
            hooks.set(event, counters, v);
        }
        let mut namespaces = HashMap::new();
        for (nsp, opts) in config.socketio.namespaces.iter() {
            let Some(table) = opts.get("hooks") else {
                continue;
            };
            let descs: crate::config::Ordered<Vec<HookDescriptor>> =
                match serde_json::from_value(table.clone()) {
                    Ok(d) => d,
                    Err(e) => {
                        errors.push(format!("socketio.namespaces.{nsp}.hooks: {e}"));
                        continue;
                    }
                };
            let mut t = HookTable::default();
            for (event, descs) in descs.iter() {
                let counters = Arc::new(metrics.hook_event(event));
                let mut v = Vec::new();
                for (i, d) in descs.iter().enumerate() {
                    match build_hook(d, &env, &counters) {
                        Ok(h) => v.push(h),
                        Err(e) => errors
                            .push(format!("socketio.namespaces.{nsp}.hooks.{event}[{i}]: {e}")),
                    }
                }
                t.set(event, counters, v);
            }
            namespaces.insert(nsp.clone(), Arc::new(t));
        }
        let mut actions = HashMap::new();
        for (alias, descs) in config.clients.actions.iter() {
            let mut v = Vec::new();
            for (i, d) in descs.iter().enumerate() {
                match build_dispatcher(d, &env) {
                    Ok(h) => v.push(h),
                    Err(e) => errors.push(format!("clients.actions.{alias}[{i}]: {e}")),
                }
            }
            actions.insert(alias.clone(), v);
        }
        if errors.is_empty() {
            Ok(Tables {
                hooks: Arc::new(hooks),
                actions,
                namespaces,
            })
        } else {
            Err(HiveError::InvalidConfig(errors.join("\n")))
        }
    }
}
