//! The Socket.IO listener: the only code that touches client sockets (HIVE.md 3.2-3.9).
//!
//! - [`http`]: the hyper 1 listener and the route table of `/socket.io/1/...`.
//! - [`origin`]: the origin check and the common reply headers.
//! - [`handshake`]: `GET /socket.io/1/`.
//! - [`xhr_polling`]: long-poll GET and batched POST.
//! - [`websocket`]: the WebSocket/FlashSocket connection (fastwebsockets), one reader and one writer
//!   task per connection.
//! - [`ws_echo`]: a plain RFC 6455 echo endpoint for conformance runs (off by default).
//!
//! - [`forward`]: in a cluster, a transport request for another node's session, forwarded to that
//!   node (any load balancer works, sticky or not).
//! - [`eio`]: the modern protocol (Engine.IO 4/3, Socket.IO 5/4) at `socketio.path`, a sibling
//!   route table over the same client actors (one per namespace socket).
//!
//! Transports translate bytes <-> `codec` messages <-> neutral items <->
//! [`crate::client::ClientHandle`] calls.

pub mod eio;
pub mod forward;
pub mod handshake;
pub mod http;
pub mod origin;
pub mod websocket;
pub mod window;
pub mod ws_echo;
pub mod ws_reader;
pub mod ws_write;
pub mod xhr_polling;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::Config;
use crate::error::Mode;
use crate::metrics::{
    ClientMetrics, EioTransportMetrics, HttpTransportMetrics, Metrics, WebsocketTransportMetrics,
};
use crate::router::Router;

/// What the Socket.IO listener needs, shared: every request and every connection task holds a
/// clone, which is one reference count and one pointer (not a copy of every handle below).
#[derive(Clone)]
pub struct TransportCtx(Arc<TransportShared>);

impl std::ops::Deref for TransportCtx {
    type Target = TransportShared;
    fn deref(&self) -> &TransportShared {
        &self.0
    }
}

/// The fields of a [`TransportCtx`].
#[derive(Clone)]
pub struct TransportShared {
    /// Configuration.
    pub config: Arc<Config>,
    /// Build mode.
    pub mode: Mode,
    /// The router.
    pub router: Router,
    /// `clients.transports.http.*`
    pub http: HttpTransportMetrics,
    /// `clients.transports.websocket.*`
    pub websocket: WebsocketTransportMetrics,
    /// `clients.transports.eio.*`
    pub eio_metrics: EioTransportMetrics,
    /// Times the WebSocket writes of sampled publishes.
    pub delivery: Arc<crate::metrics::DeliveryProbe>,
    /// `clients.*` (a WebSocket whose writes stall counts in `clients.slow_dropped`)
    pub clients: ClientMetrics,
    next_id: Arc<AtomicU64>,
    /// The modern protocol's Engine.IO sessions.
    pub eio: Arc<eio::Table>,
    /// The cluster this node is in (sid tags, owners of other nodes' sids), and the connections
    /// that forward transport requests to those owners.
    pub cluster: Option<(Arc<crate::cluster::Shared>, Arc<forward::Pool>)>,
}

impl TransportCtx {
    /// A context counting into `metrics`.
    pub fn new(config: Arc<Config>, mode: Mode, router: Router, metrics: &Metrics) -> Self {
        Self(Arc::new(TransportShared {
            config,
            mode,
            router,
            http: metrics.http().clone(),
            websocket: metrics.websocket().clone(),
            eio_metrics: metrics.eio().clone(),
            delivery: Arc::clone(metrics.delivery_probe()),
            clients: metrics.clients().clone(),
            next_id: Arc::new(AtomicU64::new(1)),
            eio: Arc::new(eio::Table::default()),
            cluster: None,
        }))
    }

    /// The same context on a node of `cluster` (its sids carry the node's tag, and requests for
    /// other nodes' sessions are forwarded to them).
    pub fn with_cluster(mut self, cluster: Option<Arc<crate::cluster::Shared>>) -> Self {
        Arc::make_mut(&mut self.0).cluster =
            cluster.map(|c| (c, Arc::new(forward::Pool::default())));
        self
    }

    /// This node's current sid tag, in a cluster (a rejoin changes it).
    pub fn sid_tag(&self) -> Option<String> {
        self.cluster.as_ref().map(|(c, _)| c.tag())
    }

    /// A fresh connection/request id for sinks.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Is `name` among the configured transports?
    pub fn has_transport(&self, name: &str) -> bool {
        self.config.socketio.transports.iter().any(|t| t == name)
    }
}
