//! One actor per Socket.IO session (Hive's `hive_client` FSM, HIVE.md 4).
//!
//! - [`handle`]: [`ClientHandle`], the typed handle transports, the router and pub-sub use, with
//!   the actor's message enum [`ClientMsg`] and the transport sinks.
//! - [`outbox`]: the pure outgoing buffer: ordering, bounds and encoding per transport.
//! - [`session`]: the pure session state machine (phases, timers, batching, termination): inputs
//!   in, commands out, unit-tested without a runtime.
//! - [`shortcut`]: ready pub-sub frames straight into an idle WebSocket's queue.
//! - [`ws_queue`]: the bounded queue to a WebSocket connection task and what it carries
//!   ([`WsOut`]); it uses nothing else of the client, so the handle and the shortcut both build on it.
//! - [`ws_writer`]: a 0.9 WebSocket's socket write end, lent to that queue while the connection is
//!   idle so that senders write ready frames into the socket themselves.
//! - [`actor`]: the actor, the thin shell that performs what the [`session`] decides (sinks,
//!   timers, hooks, the state store).

pub mod actor;
pub mod handle;
pub mod outbox;
pub mod session;
pub mod shortcut;
pub mod ws_queue;
pub mod ws_writer;

pub use actor::{ClientActor, ClientArgs};
pub use handle::{
    ClientDetails, ClientHandle, ClientInfo, ClientMsg, CloseReason, Delivery, Sink, Transport,
    XhrReply,
};
pub use ws_queue::{QueueFigures, WsOut};
