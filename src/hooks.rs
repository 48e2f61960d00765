//! Hooks and action dispatchers (HIVE.md 5 and 6): per-event hook chains and per-alias dispatchers,
//! resolved by name when the configuration is loaded.
//!
//! - [`context`]: what a hook sees ([`Cx`]) and returns ([`Flow`]), and the node-wide [`Services`].
//! - [`engine`]: running a hook chain and dispatching internal events.
//! - [`registry`]: name -> constructor tables; [`Tables`] is the compiled `clients.hooks` /
//!   `clients.actions`. New hooks plug in by adding a constructor there, never by touching the engine.
//! - [`utils`], [`actions`], [`hp`], [`pubsub_hooks`]: the built-in hooks and dispatchers.

pub mod actions;
pub mod context;
pub mod engine;
pub mod hp;
pub mod pubsub_hooks;
pub mod registry;
pub mod utils;

pub use context::{Cx, Flow, Reply, Services, Trigger};
pub use registry::{Dispatcher, Hook, HookChain, HookTable, Tables};
