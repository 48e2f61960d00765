//! Hive: a Socket.IO 0.9 application server built as an OTP-style actor system on ractor.
//!
//! # Layout
//! - the `codec` crate: the pure wire codecs (Socket.IO 0.9 frames, U+FFFD batches, handshake,
//!   event JSON, RFC 6455 frames). No tokio, no sockets.
//! - [`config`]: loading, merging and validating Hive's JSON configuration.
//! - [`transport`]: the only code that touches client sockets (HTTP, WebSocket, XHR-polling).
//! - [`http_edge`]: the accept loop and connection protections shared by the three listeners.
//! - [`events`]: the protocol-neutral events sessions, hooks, pub-sub and the API work on;
//!   [`wire`]: how a client's protocol (Socket.IO 0.9) encodes and decodes them, at the edge.
//! - [`client`]: one actor per session: its state machine, timers and outgoing buffer.
//! - [`router`]: sid -> client registry, slot limit, enable/disable, graceful terminate.
//! - [`hooks`]: hook chains and action dispatchers, resolved by name at load time.
//! - [`state`]: client state managers (`sm.local`, `sm.redis`).
//! - [`connectors`]: backend connector pools (`connector.http`, `connector.tcp`, `connector.redis`).
//! - [`pubsub`]: channel registry and one actor per channel.
//! - [`api`]: the REST API listener.
//! - [`metrics`]: the counters, as typed handles per subsystem, and the registry that names them
//!   (a leaf: it imports nothing else of the crate).
//! - [`admin`]: the admin (monitor) listener: its routes, the nested-JSON and Prometheus
//!   renderings, derived gauges, health, the tree as text and as a page, and the `hive tree` client.
//! - [`error`]: [`error::HiveError`] with Hive's stable error codes.
//! - [`app`]: starting a node (listeners, the tree, wiring) and its graceful shutdown;
//!   [`app::tree`] builds THE tree described in `supervisor-trees.md` from the `otp` crate's
//!   supervisors;
//!   [`listener`]: the supervised listener workers; [`env`](mod@env): the env_sup worker;
//!   [`slot`]: late-bound handles of restartable subsystems.
//! - [`cores`]: the per-core runtimes connections are spread over (`hive.cores`).
//! - [`cli`], [`telemetry`], [`sys`]: the command line, logging set-up, the open-files limit.
//! - [`fuzz`]: one entry point per parser of untrusted bytes, for the fuzz tests and bench.

pub mod admin;
pub mod api;
pub mod app;
pub mod cli;
pub mod client;
pub mod cluster;
pub mod config;
pub mod connectors;
pub use otp::cores;
pub mod env;
pub mod error;
pub mod events;
pub mod fuzz;
pub mod hooks;
pub mod http_client;
pub mod http_edge;
pub mod listener;
pub mod metrics;
pub mod pubsub;
pub mod router;
pub mod slot;
pub mod state;
pub mod sys;
pub mod telemetry;
pub mod transport;
pub mod wire;

pub use error::{HiveError, Mode};
