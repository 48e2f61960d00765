//! Hooks and action dispatchers (HIVE.md 5 and 6): per-event hook chains and per-alias dispatchers,
//! resolved by name when the configuration is loaded.
//!
//! - [`context`]: what a [`Hook`] and a [`Dispatcher`] are, what they see ([`Cx`]) and return
//!   ([`Flow`]), the node-wide [`Services`], and the tables they are kept in ([`HookTable`],
//!   [`Tables`]).
//! - [`engine`]: running a hook chain and dispatching internal events.
//! - [`utils`], [`actions`], [`hp`], [`pubsub_hooks`]: the built-in hooks and dispatchers, each
//!   exporting its constructors.
//! - [`registry`]: the constructor of every name of [`crate::config::HookName`] and
//!   [`crate::config::ActionName`], and [`Tables::build`], which compiles `clients.hooks` /
//!   `clients.actions`. A new hook is a name in `config/names.rs` and an arm in the registry's
//!   match (the compiler asks for it), never a change to the engine.
//!
//! Imports go one way: `context` <- `engine` <- built-ins <- `registry`.

pub mod actions;
pub mod context;
pub mod engine;
pub mod hp;
pub mod pubsub_hooks;
pub mod registry;
pub mod utils;

pub use context::{
    BuildEnv, Cx, Dispatcher, Flow, FlowFuture, Hook, HookChain, HookTable, Reply, Services,
    Tables, Trigger,
};
