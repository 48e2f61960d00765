//! [`ClientHandle`]: the typed handle of a client actor, and the messages it accepts.

use std::sync::Arc;

use ractor::{ActorCell, ActorRef, RpcReplyPort};
use tokio::sync::oneshot;

use crate::error::HiveError;
use crate::events::In;
use crate::pubsub::{DeliverOutcome, Frames, Payload, Subscriber, deliver_each};
use crate::wire::Wire;
use codec::event::InternalEvent;

use super::shortcut::{Route, Shortcut};
use super::ws_queue::QueueFigures;

/// A pub-sub publish as this session takes it: internal events to dispatch, or a neutral
/// publish already encoded for this session's wire (frames shared with every subscriber on that
/// wire).
#[derive(Clone, Debug)]
pub enum Delivery {
    /// Internal events to dispatch in the session's context.
    Events(Arc<[InternalEvent]>),
    /// A [`crate::pubsub::Published`] in this session's wire encoding, queued as is.
    Frames(Frames),
}

/// The transport a session was upgraded to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `websocket`
    WebSocket,
    /// `flashsocket` (served by the WebSocket handler)
    FlashSocket,
    /// `xhr-polling`
    XhrPolling,
}

impl Transport {
    /// True for the WebSocket-like transports.
    pub fn is_ws(self) -> bool {
        !matches!(self, Transport::XhrPolling)
    }
}

/// The single answer of one XHR long poll.
#[derive(Debug)]
pub struct XhrReply(pub String);

/// Where the client can currently deliver data.
#[derive(Debug)]
pub enum Sink {
    /// A WebSocket connection (lives as long as the socket).
    Ws {
        /// Connection id (to ignore stale "gone" notices).
        id: u64,
        /// Bounded queue to the connection's writer.
        tx: super::ws_queue::WsSender,
    },
    /// A pending XHR GET (answers once).
    Xhr {
        /// Request id.
        id: u64,
        /// The answer slot.
        tx: oneshot::Sender<XhrReply>,
    },
}

impl Sink {
    /// The connection/request id.
    pub fn id(&self) -> u64 {
        match self {
            Sink::Ws { id, .. } | Sink::Xhr { id, .. } => *id,
        }
    }
}

/// Why a session ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The client asked (`0::`, `?disconnect`, WebSocket close).
    ClientGone,
    /// WebSocket pong missing after a keep-alive.
    PingTimeout,
    /// No message from the client for `session_timeout`.
    SessionTimeout,
    /// No transport within `init_timeout`.
    InitTimeout,
    /// XHR client stopped polling.
    NoSink,
    /// Router/API/graceful termination.
    Terminated(String),
    /// The client stopped reading (bounded queues overflowed).
    SlowClient,
    /// A hook or dispatcher returned stop.
    Stopped,
    /// `on_connect` refused a modern namespace connection (CONNECT_ERROR; no `on_disconnect`).
    Refused,
}

/// A snapshot of a client, for tests and the monitor.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// Session id.
    pub sid: String,
    /// `generic`, `transient`, `waiting` or `polling`.
    pub state: &'static str,
    /// Queued outgoing messages.
    pub queued: usize,
}

/// Messages of the client actor. Build them through [`ClientHandle`].
#[derive(Debug)]
pub enum ClientMsg {
    /// A transport connection arrived (WebSocket, or an XHR GET).
    Attach {
        /// Which transport.
        transport: Transport,
        /// The wire it speaks.
        wire: Wire,
        /// Where to deliver.
        sink: Sink,
        /// The modern wire's CONNECT payload (auth) and namespace details: `on_connect`'s
        /// trigger (`None` on the 0.9 wire). Boxed: every message is as large as this variant,
        /// and the actor's loop keeps room for two of them.
        hello: Option<Box<serde_json::Value>>,
    },
    /// What the client sent, decoded by its wire, in order.
    Input(Vec<In>),
    /// A publish from pub-sub: internal events, or a neutral publish in this session's wire.
    Deliver(Delivery),
    /// Internal events routed to this sid by the API.
    Events(Vec<InternalEvent>),
    /// API subscribe (join=true) / unsubscribe of channels, executed inside the client.
    Subscribe {
        /// Channel ids.
        cids: Vec<String>,
        /// Join or leave.
        join: bool,
    },
    /// End the session now.
    Terminate(CloseReason),
    /// Graceful termination: run `on_terminate`, then end.
    Graceful(String),
    /// A transport connection went away.
    SinkGone(u64),
    /// Timers.
    Tick(Tick),
    /// Describe yourself.
    Info(RpcReplyPort<ClientInfo>),
    /// Describe yourself for the monitor, with the state manager's value.
    Inspect(RpcReplyPort<ClientDetails>),
}

/// A session as the monitor's `GET /sessions/<sid>` shows it ([`ClientHandle::inspect`]).
#[derive(Debug, Clone)]
pub struct ClientDetails {
    /// `generic`, `transient`, `waiting`, `polling` or `terminated`.
    pub state: &'static str,
    /// The transport it connected with, if any yet.
    pub transport: Option<Transport>,
    /// Queued outgoing messages.
    pub queued: usize,
    /// Time since the client last sent a message.
    pub idle: std::time::Duration,
    /// The state manager's value (`Err`: why it could not be read).
    pub value: Result<serde_json::Value, String>,
}

/// Timer ticks. Stale ticks are recognised by their generation and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    /// `init_timeout`.
    Init,
    /// `heartbeat_timeout`.
    Heartbeat(u64),
    /// `session_timeout`.
    Session(u64),
    /// `poll_timeout`.
    Poll(u64),
}

/// The typed handle of one client actor. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ClientHandle {
    sid: Arc<str>,
    actor: ActorRef<ClientMsg>,
    /// Shared with the actor and the channels: the session as a [`Subscriber`].
    shortcut: Arc<Shortcut>,
}

impl ClientHandle {
    /// Wrap an actor.
    pub fn new(sid: Arc<str>, actor: ActorRef<ClientMsg>, shortcut: Arc<Shortcut>) -> Self {
        Self {
            sid,
            actor,
            shortcut,
        }
    }
    /// The session id.
    pub fn sid(&self) -> &str {
        &self.sid
    }
    /// The session id, shared.
    pub fn sid_arc(&self) -> Arc<str> {
        Arc::clone(&self.sid)
    }
    /// The session's outgoing queue depth and bytes (read without a message).
    pub fn queue_figures(&self) -> Arc<QueueFigures> {
        Arc::clone(self.shortcut.figures())
    }
    /// Hand the session one publish as its channels do (the monitor's events to one session,
    /// `POST /sessions/<sid>/events`).
    pub fn deliver(&self, p: &Payload) -> DeliverOutcome {
        Subscriber::deliver(&*self.shortcut, p)
    }
    /// The actor.
    pub fn actor(&self) -> &ActorRef<ClientMsg> {
        &self.actor
    }

    fn send(&self, m: ClientMsg) -> Result<(), HiveError> {
        self.actor
            .cast(m)
            .map_err(|_| HiveError::BadSessionId(format!("Session {} has ended.", self.sid)))
    }

    /// Register a transport connection.
    ///
    /// # Errors
    /// `bad_session_id` when the session has ended.
    pub fn attach(&self, transport: Transport, wire: Wire, sink: Sink) -> Result<(), HiveError> {
        self.send(ClientMsg::Attach {
            transport,
            wire,
            sink,
            hello: None,
        })
    }
    /// Register a modern namespace socket's sink (its Engine.IO session), with the `on_connect`
    /// trigger built from its CONNECT.
    ///
    /// # Errors
    /// As [`ClientHandle::attach`].
    pub fn attach_modern(
        &self,
        wire: Wire,
        sink: Sink,
        hello: serde_json::Value,
    ) -> Result<(), HiveError> {
        self.send(ClientMsg::Attach {
            transport: Transport::WebSocket,
            wire,
            sink,
            hello: Some(Box::new(hello)),
        })
    }
    /// Deliver what the client sent, decoded by its wire.
    ///
    /// # Errors
    /// As [`ClientHandle::attach`].
    pub fn input(&self, items: Vec<In>) -> Result<(), HiveError> {
        self.send(ClientMsg::Input(items))
    }
    /// Deliver internal events (API `/clients/action`).
    ///
    /// # Errors
    /// As [`ClientHandle::attach`].
    pub fn events(&self, events: Vec<InternalEvent>) -> Result<(), HiveError> {
        self.send(ClientMsg::Events(events))
    }
    /// API subscribe/unsubscribe.
    ///
    /// # Errors
    /// As [`ClientHandle::attach`].
    pub fn subscribe(&self, cids: Vec<String>, join: bool) -> Result<(), HiveError> {
        self.send(ClientMsg::Subscribe { cids, join })
    }
    /// End the session.
    pub fn terminate(&self, reason: CloseReason) {
        let _ = self.send(ClientMsg::Terminate(reason));
    }
    /// Graceful termination with `on_terminate`.
    pub fn graceful(&self, reason: String) {
        let _ = self.send(ClientMsg::Graceful(reason));
    }
    /// A transport connection went away.
    pub fn sink_gone(&self, id: u64) {
        let _ = self.send(ClientMsg::SinkGone(id));
    }
    /// A snapshot of the client.
    ///
    /// # Errors
    /// As [`ClientHandle::attach`].
    pub async fn info(&self) -> Result<ClientInfo, HiveError> {
        ractor::call!(self.actor, ClientMsg::Info)
            .map_err(|_| HiveError::BadSessionId(format!("Session {} has ended.", self.sid)))
    }
}

impl ClientHandle {
    /// A snapshot for the monitor, waiting at most `timeout` (a session busy in a hook answers
    /// once the hook is done).
    ///
    /// # Errors
    /// `bad_session_id` when the session has ended or did not answer in time.
    pub async fn inspect(&self, timeout: std::time::Duration) -> Result<ClientDetails, HiveError> {
        match ractor::call_t!(self.actor, ClientMsg::Inspect, timeout.as_millis() as u64) {
            Ok(d) => Ok(d),
            Err(ractor::RactorErr::Timeout) => Err(HiveError::BadSessionId(format!(
                "Session {} did not answer within {timeout:?} (busy).",
                self.sid
            ))),
            Err(_) => Err(HiveError::BadSessionId(format!(
                "Session {} has ended.",
                self.sid
            ))),
        }
    }
}

/// The session as its channels hold it: one allocation from the channel to the socket's queue.
impl Subscriber for Shortcut {
    fn cell(&self) -> ActorCell {
        self.actor().clone()
    }

    fn deliver(&self, p: &Payload) -> DeliverOutcome {
        let wire = self.wire();
        let frames = match p {
            Payload::Published(p) => Some(p.encoded_ref(&wire)),
            Payload::Events(_) => None,
        };
        // The actor's form is built only when the delivery goes to the actor.
        let cast = || {
            let d = match (&frames, p) {
                (Some(f), _) => Delivery::Frames(Arc::clone(f)),
                (None, Payload::Events(e)) => Delivery::Events(Arc::clone(e)),
                (None, Payload::Published(p)) => Delivery::Frames(p.encoded(&self.wire())),
            };
            self.actor()
                .send_message::<ClientMsg>(ClientMsg::Deliver(d))
                .is_ok()
        };
        match Shortcut::deliver(self, frames.as_deref(), self.max_pending(), cast) {
            Route::Socket | Route::Actor => DeliverOutcome::Queued,
            Route::Dead => DeliverOutcome::Dead,
            Route::Full => DeliverOutcome::Overloaded,
        }
    }

    fn deliver_batch(&self, ps: &[Payload]) -> DeliverOutcome {
        // Ready frames only: written into an idle socket with one write, else one by one.
        if ps.len() > 1 && ps.iter().all(|p| matches!(p, Payload::Published(_))) {
            let wire = self.wire();
            let frames: Vec<_> = ps
                .iter()
                .filter_map(|p| match p {
                    Payload::Published(p) => Some(p.encoded_ref(&wire)),
                    Payload::Events(_) => None,
                })
                .collect();
            let groups: Vec<&[Arc<str>]> = frames.iter().map(|f| &f[..]).collect();
            if self.deliver_now(&groups) {
                return DeliverOutcome::Queued;
            }
        }
        deliver_each(self, ps)
    }

    fn warm(&self, step: usize) {
        Shortcut::warm(self, step);
    }

    fn kill_slow(&self) {
        let _ = self
            .actor()
            .send_message::<ClientMsg>(ClientMsg::Terminate(CloseReason::SlowClient));
    }
}
