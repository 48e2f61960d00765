//! What a user actor shares with its transport tasks (`link`): the run-wide [`Shared`] data and
//! the [`UserMsg`] messages they send it. A leaf, so `link` and `user` need not import each other.

use std::sync::Arc;

use crate::scenario::Server;
use crate::stats::Stats;

/// What every user of a run shares.
#[derive(Debug)]
pub struct Shared {
    /// Server under test.
    pub server: Server,
    /// Global measurements.
    pub stats: Arc<Stats>,
}

/// Messages of a user actor.
#[derive(Debug)]
pub enum UserMsg {
    /// Start (or continue) connecting.
    Connect,
    /// A WebSocket text frame.
    WsText(String),
    /// A WebSocket binary frame (modern protocols: an attachment).
    WsBinary(Vec<u8>),
    /// Time for the next Engine.IO 3 heartbeat (the client pings in EIO3).
    EioPing,
    /// A WebSocket ping to answer.
    WsPing(Vec<u8>),
    /// An XHR long-poll response body.
    XhrBody(String),
    /// The transport ended; the error kind, if it failed.
    Closed(Option<&'static str>),
    /// Named timer `(name, generation)` fired.
    Timer(Arc<str>, u32),
    /// End of run: disconnect cleanly and stop.
    Shutdown,
}
