//! The REST API listener (HIVE.md 9): `/api/<hash>/<section>/<action>[/<argument>]` on `api.port`.
//!
//! Every call answers as soon as its payload is handed over (to the router, a session or the
//! pub-sub backplane): the API never waits for subscribers or sessions to process anything, so a
//! backend may call it from inside its own hook handler without deadlocking.
//!
//! - `routes.rs`: URL parsing and one handler per endpoint of HIVE.md 9.2.
//! - `server.rs`: the hyper listener, authentication (constant-time hash comparison), body limit,
//!   counters (`api.*`) and the single log line per failed request.
//!
//! The node-level operations the API triggers (stop, router control, routing to sessions) are
//! behind the [`Control`] trait, implemented by the application.

pub(crate) mod routes;
mod server;

use std::sync::Arc;

use crate::HiveError;
use crate::events::Out;
use crate::metrics::Metrics;
use crate::pubsub::PubSub;
use codec::event::InternalEvent;

pub use server::{serve, serve_with};

/// What the API needs from the rest of the node (implemented by the application).
///
/// Every method must return promptly: it hands work over and never waits for it to finish.
pub trait Control: Send + Sync + 'static {
    /// The version text of `GET /hive/version`.
    fn version(&self) -> String;
    /// Start node-wide graceful shutdown (HIVE.md 14.1); returns at once.
    fn stop(&self);
    /// Accept new sessions.
    fn router_enable(&self);
    /// Refuse new sessions.
    fn router_disable(&self);
    /// Gracefully terminate every session of this node with `reason` (HIVE.md 14.2); returns at
    /// once.
    fn router_terminate(&self, reason: String);
    /// Hand `events` to session `sid` (processed asynchronously by the session).
    ///
    /// # Errors
    /// `bad_session_id` (`Tried routing events to an unknown sid: <sid>`).
    fn route_events(&self, sid: &str, events: Vec<InternalEvent>) -> Result<(), HiveError>;
    /// Ask session `sid` to join (`join = true`) or leave `cids`; the join/leave itself runs in
    /// the session and its errors go to the browser.
    ///
    /// # Errors
    /// `bad_session_id` when the session is unknown.
    fn subscribe(&self, sid: &str, cids: Vec<String>, join: bool) -> Result<(), HiveError>;
    /// `Some(items)` when every event's alias dispatches to `action.send_event`, so the result
    /// does not depend on the client: the API then publishes them once as neutral items, and each
    /// subscriber's wire encodes them (once per wire). `None`: the events are published as they
    /// are, and each subscriber dispatches them.
    fn plain_events(&self, events: &[InternalEvent]) -> Option<Vec<Out>>;
}

/// Everything the API server needs.
#[derive(Clone)]
pub struct ApiCtx {
    /// `api.hash`: the secret in every URL.
    pub hash: String,
    /// `api.max_body_size`: the largest accepted request body in bytes.
    pub max_body: usize,
    /// The node's metrics (`api.*`).
    pub metrics: Arc<Metrics>,
    /// The node's pub-sub service.
    pub pubsub: PubSub,
    /// Node operations.
    pub control: Arc<dyn Control>,
    /// The cluster this node belongs to: per-session calls about another node's sid are forwarded
    /// to it (`None`: a single node).
    pub cluster: Option<Arc<crate::cluster::Shared>>,
}

impl std::fmt::Debug for ApiCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiCtx")
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}
