//! One Engine.IO session: a task that owns the session's transports (the pending poll, the
//! WebSocket and an upgrade in progress), its heartbeat, its outgoing queue and its Socket.IO
//! namespace sockets.
//!
//! Inputs come from the HTTP side ([`EioIn`]: polls, posts, WebSocket frames) and from the
//! namespace sockets' queues (each socket is a client actor whose sink is this session: it
//! writes frames of the modern wire, `crate::wire::modern`). The session decodes Socket.IO
//! packets with the pure codecs, answers CONNECT by spawning a client actor through the router
//! (which runs `on_connect`), routes events to the socket of their namespace as neutral
//! [`crate::events::In`] items, and completes the packets whose spelling depends on the revision
//! (the CONNECT answer carries the socket id in protocol 5; protocol 4 has none).
//!
//! Rules (see docs/protocol-modern.md): the server pings in EIO4 and answers pings in EIO3;
//! a second concurrent poll, a parse error, a malformed Socket.IO packet, a packet for a namespace
//! not joined, a missed heartbeat or no namespace joined within `connect_timeout` close the
//! session; from the moment a WebSocket for the session opens, polls are answered with a noop at
//! once and queued packets wait for the WebSocket (behaviour (b) of the protocol's upgrade).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc;
use hyper::StatusCode;
use serde_json::{Map, Value, json};
use tokio::sync::oneshot;
use tokio::time::{Instant, sleep_until};

use super::Mode;
use crate::client::ws_queue::{self, WsOut, WsReceiver};
use crate::client::{ClientHandle, CloseReason, Sink};
use crate::transport::TransportCtx;
use crate::wire::Wire;
use crate::wire::modern::{self, Nsp};
use codec::eio::{self, Packet, Revision};
use codec::sio::{self, Kind};

/// Queued batches a namespace socket may have in its session's queue before it counts as slow.
const NS_QUEUE: usize = 1024;

/// How long the session waits for a request that the client sent before or together with another
/// one but that may reach the session a moment later, by another connection's task: a poll held
/// right after a WebSocket for an upgrade opened (or answered `3probe`) lets that WebSocket's
/// `2probe` and `5`, sent before the poll, complete the upgrade first (the poll then gets 400, as
/// any poll after the upgrade); a close packet POSTed before the session's first poll waits for
/// that poll, sent beside it, which gets what is queued or a noop.
const SETTLE: Duration = Duration::from_millis(50);

/// The answer to one poll.
#[derive(Debug)]
pub enum PollAnswer {
    /// A payload (`binary`: the EIO3 binary payload).
    Body {
        /// The body.
        bytes: bytes::Bytes,
        /// `application/octet-stream`.
        binary: bool,
    },
    /// A bare error status (concurrent poll).
    Refused(StatusCode),
    /// The session moved to WebSocket meanwhile: 400 code 3, as a poll after the upgrade.
    Upgraded,
}

/// What a WebSocket connection task is asked to do.
#[derive(Debug)]
pub enum WsCmd {
    /// One text frame.
    Text(String),
    /// One text frame, shared with the namespace socket's encoding (an EIO4 packet as it is).
    Frame(Arc<str>),
    /// One binary frame (already framed for the revision).
    Binary(Vec<u8>),
    /// Close the connection (after what was queued before).
    Close,
    /// Answer a poll once what was queued before is written (so that the client has it first).
    Answer(oneshot::Sender<PollAnswer>, PollAnswer),
}

/// Inputs of a session from the HTTP side.
#[derive(Debug)]
pub enum EioIn {
    /// A poll.
    Get {
        /// Its answer.
        reply: oneshot::Sender<PollAnswer>,
    },
    /// The pending poll's request went away.
    GetGone,
    /// A POST's packets (`failed`: a parse error followed them).
    Post {
        /// The packets decoded before any error.
        packets: Vec<Packet>,
        /// The body had a parse error.
        failed: bool,
        /// Answered once processed.
        reply: oneshot::Sender<()>,
    },
    /// Close the session (a request-level failure: oversized or bad POST).
    Close,
    /// A WebSocket for this session opened.
    WsOpen {
        /// Connection id.
        id: u64,
        /// Its command queue.
        tx: mpsc::UnboundedSender<WsCmd>,
    },
    /// A text frame.
    WsText {
        /// Connection id.
        id: u64,
        /// The frame.
        text: String,
    },
    /// A binary frame's message data.
    WsBinary {
        /// Connection id.
        id: u64,
        /// The data (revision framing removed).
        data: Vec<u8>,
    },
    /// A WebSocket frame that breaks the revision's framing.
    WsBad {
        /// Connection id.
        id: u64,
    },
    /// The WebSocket closed.
    WsGone {
        /// Connection id.
        id: u64,
    },
}

/// What a session is spawned with.
pub struct Args {
    /// The listener's context.
    pub ctx: TransportCtx,
    /// The Engine.IO sid.
    pub sid: Arc<str>,
    /// Revision.
    pub rev: Revision,
    /// Socket.IO or echo.
    pub mode: Mode,
    /// EIO3 polling client asked for base64 binaries.
    pub b64: bool,
    /// Opened over WebSocket (no polling).
    pub ws_first: bool,
    /// The handshake's application query.
    pub query: Map<String, Value>,
    /// Inputs.
    pub rx: mpsc::UnboundedReceiver<EioIn>,
    /// A packet to send first (the open packet of a WebSocket handshake).
    pub first: Option<Packet>,
}

/// Start a session task.
pub fn spawn(args: Args) {
    // Deadlines count from the handshake, not from the task's first run (which may come after
    // the handshake's answer went out).
    let opened = Instant::now();
    tokio::spawn(run(args, opened));
}

struct NsSock {
    sid: Arc<str>,
    client: ClientHandle,
    /// The CONNECT answer went out.
    connected: bool,
    /// The socket's output queue (`None` once it ended).
    rx: Option<WsReceiver>,
}

/// The namespace sockets of a session, by namespace: a short vector (a session joins one or a
/// few namespaces), leaner than a map and polled in place for output.
#[derive(Default)]
struct Sockets(Vec<(String, NsSock)>);

impl Sockets {
    fn position(&self, nsp: &str) -> Option<usize> {
        self.0.iter().position(|(k, _)| k == nsp)
    }
    fn get(&self, nsp: &str) -> Option<&NsSock> {
        self.0.iter().find(|(k, _)| k == nsp).map(|(_, n)| n)
    }
    fn get_mut(&mut self, nsp: &str) -> Option<&mut NsSock> {
        self.0.iter_mut().find(|(k, _)| k == nsp).map(|(_, n)| n)
    }
    fn contains_key(&self, nsp: &str) -> bool {
        self.position(nsp).is_some()
    }
    fn remove(&mut self, nsp: &str) -> Option<NsSock> {
        self.position(nsp).map(|i| self.0.swap_remove(i).1)
    }
    fn insert(&mut self, nsp: String, ns: NsSock) {
        self.0.push((nsp, ns));
    }
    fn drain(&mut self) -> impl Iterator<Item = (String, NsSock)> + '_ {
        self.0.drain(..)
    }
    /// The next output of a socket: its index and the item (`None`: its queue ended, and it is
    /// not polled again). Each socket's queue wakes this task.
    fn poll_output(&mut self, cx: &mut Context<'_>) -> Poll<(usize, Option<WsOut>)> {
        for (i, (_, ns)) in self.0.iter_mut().enumerate() {
            let Some(rx) = ns.rx.as_mut() else { continue };
            let out = {
                let next = std::pin::pin!(rx.recv());
                next.poll(cx)
            };
            if let Poll::Ready(out) = out {
                if out.is_none() {
                    ns.rx = None;
                }
                return Poll::Ready((i, out));
            }
        }
        Poll::Pending
    }
}

struct Ws {
    id: u64,
    tx: mpsc::UnboundedSender<WsCmd>,
}

struct State {
    ctx: TransportCtx,
    sid: Arc<str>,
    rev: Revision,
    mode: Mode,
    b64: bool,
    query: Map<String, Value>,
    queue: VecDeque<Packet>,
    get: Option<oneshot::Sender<PollAnswer>>,
    ws: Option<Ws>,
    probe: Option<(Ws, Instant)>,
    /// When the upgrade last moved on (the WebSocket opened, `3probe` went out).
    probe_step: Instant,
    /// A poll held while an upgrade settles, and when it gets its noop.
    upgrade_get: Option<(oneshot::Sender<PollAnswer>, Instant)>,
    /// A polling client's close packet came before its first poll: when the session ends if that
    /// poll does not come first.
    closing_at: Option<Instant>,
    /// A poll has come.
    polled: bool,
    namespaces: Sockets,
    assembler: sio::Assembler,
    joined_any: bool,
    connect_deadline: Option<Instant>,
    /// EIO4: when the next ping goes out; EIO3: unused.
    next_ping: Option<Instant>,
    /// EIO4: the pong deadline; EIO3: the deadline for the client's next ping.
    heartbeat_deadline: Option<Instant>,
    /// EIO3: inputs held until the implicit `/` connect is answered.
    held: VecDeque<EioIn>,
    hold: bool,
    closed: bool,
}

/// A timer deadline far away (no timer set): one sleep, reset in place, keeps the select simple.
fn far_away() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

async fn run(args: Args, opened: Instant) {
    let s = &args.ctx.config.socketio;
    let now = opened;
    let interval = Duration::from_millis(s.ping_interval);
    let timeout = Duration::from_millis(s.ping_timeout);
    let mut st = State {
        sid: args.sid,
        rev: args.rev,
        mode: args.mode,
        b64: args.b64,
        query: args.query,
        queue: VecDeque::new(),
        get: None,
        ws: None,
        probe: None,
        probe_step: now,
        upgrade_get: None,
        closing_at: None,
        polled: false,
        namespaces: Sockets::default(),
        assembler: sio::Assembler::new(s.max_attachments),
        joined_any: false,
        connect_deadline: (args.mode == Mode::SocketIo)
            .then(|| now + Duration::from_millis(s.connect_timeout)),
        next_ping: (args.rev == Revision::V4).then(|| now + interval),
        heartbeat_deadline: (args.rev == Revision::V3).then(|| now + interval + timeout),
        held: VecDeque::new(),
        hold: false,
        closed: false,
        ctx: args.ctx,
    };
    let _ = args.ws_first;
    let mut rx = args.rx;
    let gauge = match st.rev {
        Revision::V3 => st.ctx.eio_metrics.v3.clone(),
        Revision::V4 => st.ctx.eio_metrics.v4.clone(),
    };
    gauge.inc();
    if let Some(p) = args.first {
        st.queue.push_back(p);
    }
    if st.mode == Mode::SocketIo && st.rev == Revision::V3 {
        // Protocol 4 joins `/` implicitly; the client's input waits for the answer.
        st.hold = true;
        Box::pin(st.connect(sio::Packet::new(Kind::Connect, "/"))).await;
    }
    // One sleep for every deadline, moved only when the earliest deadline changes.
    let timer = sleep_until(far_away());
    tokio::pin!(timer);
    let mut armed: Option<Instant> = None;
    while !st.closed {
        let timer_at = [
            st.connect_deadline,
            st.next_ping,
            st.heartbeat_deadline,
            st.probe.as_ref().map(|p| p.1),
            st.upgrade_get.as_ref().map(|g| g.1),
            st.closing_at,
        ]
        .into_iter()
        .flatten()
        .min();
        if timer_at != armed {
            armed = timer_at;
            timer.as_mut().reset(timer_at.unwrap_or_else(far_away));
        }
        tokio::select! {
            input = rx.next() => match input {
                Some(i) => {
                    // A deadline that passed before this input is honoured first, even if its
                    // timer has not fired yet: a request just after a missed heartbeat finds the
                    // session closed (its reply dropped: the HTTP side answers 400, unknown sid).
                    if st.overdue() {
                        st.timers(interval, timeout);
                    }
                    if !st.closed {
                        if st.hold && holdable(&i) {
                            st.held.push_back(i);
                        } else {
                            st.input(i).await;
                        }
                    }
                }
                None => st.close(CloseReason::ClientGone, Packet::Close),
            },
            (i, out) = std::future::poll_fn(|cx| st.namespaces.poll_output(cx)) => {
                st.socket_output(i, out);
                if !st.hold {
                    while let Some(i) = st.held.pop_front() {
                        st.input(i).await;
                        if st.closed { break; }
                    }
                }
            }
            () = &mut timer => {
                // Fired: re-armed on the next round even if the deadline stays the same.
                armed = None;
                st.timers(interval, timeout);
            }
        }
        st.flush();
    }
    // Late requests of a closed session: answered as unknown by the HTTP side once the task and
    // its receiver are gone.
    drop(rx);
    gauge.dec();
}

/// Client input held while protocol 4's implicit connect is pending.
fn holdable(i: &EioIn) -> bool {
    matches!(
        i,
        EioIn::Post { .. } | EioIn::WsText { .. } | EioIn::WsBinary { .. }
    )
}

impl State {
    /// A deadline has passed.
    fn overdue(&self) -> bool {
        let now = Instant::now();
        [
            self.connect_deadline,
            self.next_ping,
            self.heartbeat_deadline,
            self.probe.as_ref().map(|p| p.1),
            self.upgrade_get.as_ref().map(|g| g.1),
            self.closing_at,
        ]
        .into_iter()
        .flatten()
        .any(|d| d <= now)
    }

    fn timers(&mut self, interval: Duration, timeout: Duration) {
        let now = Instant::now();
        if self.closing_at.is_some_and(|d| d <= now) {
            return self.close(CloseReason::ClientGone, Packet::Noop);
        }
        if self.upgrade_get.as_ref().is_some_and(|g| g.1 <= now)
            && let Some((g, _)) = self.upgrade_get.take()
        {
            let _ = g.send(self.body(&[Packet::Noop]));
        }
        if self.connect_deadline.is_some_and(|d| d <= now) {
            self.connect_deadline = None;
            if !self.joined_any {
                tracing::debug!(sid = %self.sid, "no namespace joined in time; closing");
                return self.close(CloseReason::InitTimeout, Packet::Close);
            }
        }
        if self.heartbeat_deadline.is_some_and(|d| d <= now) {
            tracing::debug!(sid = %self.sid, "ping timeout");
            self.ctx.eio_metrics.ping_timeouts.inc();
            return self.close(CloseReason::PingTimeout, Packet::Close);
        }
        if let Some(at) = self.next_ping.filter(|d| *d <= now) {
            self.next_ping = None;
            self.queue.push_back(Packet::Ping(String::new()));
            // Counted from when the ping was due, so that a timer firing late does not stretch
            // the session's life past `pingInterval + pingTimeout`.
            self.heartbeat_deadline = Some(at + timeout);
        }
        if self.probe.as_ref().is_some_and(|p| p.1 <= now)
            && let Some((ws, _)) = self.probe.take()
        {
            let _ = ws.tx.unbounded_send(WsCmd::Close);
            self.upgrade_abandoned();
        }
        let _ = interval;
    }

    async fn input(&mut self, i: EioIn) {
        match i {
            EioIn::Get { reply } => {
                self.polled = true;
                if self.closing_at.is_some() {
                    // The poll sent beside the client's close packet: it ends the session.
                    self.get = Some(reply);
                    return self.close(CloseReason::ClientGone, Packet::Noop);
                }
                if self.get.is_some() || self.upgrade_get.is_some() {
                    // A second concurrent poll: refused, and the session closes.
                    let _ = reply.send(PollAnswer::Refused(StatusCode::BAD_REQUEST));
                    return self.close(CloseReason::ClientGone, Packet::Close);
                }
                if self.ws.is_some() {
                    // Upgraded while this poll was on its way.
                    let _ = reply.send(PollAnswer::Upgraded);
                    return;
                }
                if self.probe.is_some() {
                    // A WebSocket is open (upgrade in progress): the poll ends with a noop, at
                    // once, or when the upgrade has settled if the WebSocket just opened.
                    let settled = self.probe_step + SETTLE;
                    if Instant::now() < settled {
                        self.upgrade_get = Some((reply, settled));
                    } else {
                        let _ = reply.send(self.body(&[Packet::Noop]));
                    }
                    return;
                }
                self.get = Some(reply);
            }
            EioIn::GetGone => {
                if self.get.as_ref().is_some_and(oneshot::Sender::is_closed) {
                    self.get = None;
                    self.close(CloseReason::ClientGone, Packet::Close);
                }
            }
            EioIn::Post {
                packets,
                failed,
                reply,
            } => {
                for p in packets {
                    if self.closed || self.closing_at.is_some() {
                        break;
                    }
                    self.packet(p, false).await;
                }
                if failed && !self.closed {
                    self.close(CloseReason::ClientGone, Packet::Close);
                }
                let _ = reply.send(());
            }
            EioIn::Close => self.close(CloseReason::ClientGone, Packet::Close),
            EioIn::WsOpen { id, tx } => {
                let ws = Ws { id, tx };
                let upgrading = self.ctx.config.socketio.allow_upgrades;
                if self.ws.is_none() && self.probe.is_none() && self.is_ws_session() {
                    // A session opened over WebSocket: this is its transport.
                    self.ws = Some(ws);
                } else if self.ws.is_none() && self.probe.is_none() && upgrading {
                    let until = Instant::now()
                        + Duration::from_millis(self.ctx.config.socketio.upgrade_timeout);
                    self.probe = Some((ws, until));
                    self.probe_step = Instant::now();
                    if let Some(g) = self.get.take() {
                        let _ = g.send(self.body(&[Packet::Noop]));
                    }
                } else {
                    // Already upgrading or upgraded: the newcomer is closed, nothing else moves.
                    let _ = ws.tx.unbounded_send(WsCmd::Close);
                }
            }
            EioIn::WsText { id, text } => {
                if self.probe.as_ref().is_some_and(|(w, _)| w.id == id) {
                    return self.probe_frame(&text);
                }
                if self.ws.as_ref().is_none_or(|w| w.id != id) {
                    return;
                }
                match eio::decode_packet(&text, self.rev, false) {
                    Ok(p) => self.packet(p, true).await,
                    Err(_) => self.close(CloseReason::ClientGone, Packet::Close),
                }
            }
            EioIn::WsBinary { id, data } => {
                if self.probe.as_ref().is_some_and(|(w, _)| w.id == id) {
                    if let Some((ws, _)) = self.probe.take() {
                        let _ = ws.tx.unbounded_send(WsCmd::Close);
                    }
                    return self.upgrade_abandoned();
                }
                if self.ws.as_ref().is_some_and(|w| w.id == id) {
                    self.packet(Packet::Binary(data), true).await;
                }
            }
            EioIn::WsBad { id } => {
                if self.ws.as_ref().is_some_and(|w| w.id == id) {
                    self.close(CloseReason::ClientGone, Packet::Close);
                } else if self.probe.as_ref().is_some_and(|(w, _)| w.id == id) {
                    self.probe = None;
                    self.upgrade_abandoned();
                }
            }
            EioIn::WsGone { id } => {
                if self.probe.as_ref().is_some_and(|(w, _)| w.id == id) {
                    self.probe = None;
                    self.upgrade_abandoned();
                } else if self.ws.as_ref().is_some_and(|w| w.id == id) {
                    self.ws = None;
                    self.close(CloseReason::ClientGone, Packet::Close);
                }
            }
        }
    }

    /// The upgrade ended without `5`: a poll held while it settled gets its noop now.
    fn upgrade_abandoned(&mut self) {
        if let Some((g, _)) = self.upgrade_get.take() {
            let _ = g.send(self.body(&[Packet::Noop]));
        }
    }

    fn is_ws_session(&self) -> bool {
        self.ctx
            .eio
            .get(&self.sid)
            .is_some_and(|e| e.on_ws.load(Ordering::Acquire))
    }

    /// A frame on the WebSocket being probed: `2probe` -> `3probe`, `5` completes the upgrade,
    /// anything else abandons it.
    fn probe_frame(&mut self, text: &str) {
        match eio::decode_packet(text, self.rev, false) {
            Ok(Packet::Ping(d)) if d == "probe" => {
                if let Some((ws, _)) = &self.probe {
                    let _ = ws.tx.unbounded_send(WsCmd::Text("3probe".into()));
                }
                self.probe_step = Instant::now();
                if let Some(g) = self.get.take() {
                    let _ = g.send(self.body(&[Packet::Noop]));
                }
            }
            Ok(Packet::Upgrade) => {
                if let Some((ws, _)) = self.probe.take() {
                    if let Some(e) = self.ctx.eio.get(&self.sid) {
                        e.on_ws.store(true, Ordering::Release);
                    }
                    self.ctx.eio_metrics.upgrades.inc();
                    if let Some(g) = self.get.take() {
                        let _ = g.send(self.body(&[Packet::Noop]));
                    }
                    // A poll that came while the upgrade settled is one after the upgrade; it is
                    // answered once `3probe` is written, which the client sent its poll after.
                    if let Some((g, _)) = self.upgrade_get.take() {
                        let _ = ws.tx.unbounded_send(WsCmd::Answer(g, PollAnswer::Upgraded));
                    }
                    self.ws = Some(ws);
                }
            }
            _ => {
                if let Some((ws, _)) = self.probe.take() {
                    let _ = ws.tx.unbounded_send(WsCmd::Close);
                }
                self.upgrade_abandoned();
            }
        }
    }

    /// One Engine.IO packet from the client.
    async fn packet(&mut self, p: Packet, on_ws: bool) {
        match p {
            Packet::Ping(d) => match self.rev {
                Revision::V3 => {
                    let s = &self.ctx.config.socketio;
                    self.heartbeat_deadline = Some(
                        Instant::now() + Duration::from_millis(s.ping_interval + s.ping_timeout),
                    );
                    self.queue.push_back(Packet::Pong(d));
                }
                // The server pings in EIO4: a client ping is the wrong direction.
                Revision::V4 => self.close(CloseReason::ClientGone, Packet::Close),
            },
            Packet::Pong(_) => match self.rev {
                Revision::V4 => {
                    if self.heartbeat_deadline.take().is_some() {
                        self.next_ping = Some(
                            Instant::now()
                                + Duration::from_millis(self.ctx.config.socketio.ping_interval),
                        );
                    }
                }
                Revision::V3 => self.close(CloseReason::ClientGone, Packet::Close),
            },
            Packet::Close => {
                if on_ws || self.polled || self.probe.is_some() || self.ws.is_some() {
                    self.close(CloseReason::ClientGone, Packet::Noop);
                } else {
                    // Polling, and no poll yet: the first poll, sent together with this POST,
                    // may arrive a moment later; it gets what is queued (or its noop) before the
                    // session ends.
                    self.closing_at = Some(Instant::now() + SETTLE);
                }
            }
            Packet::Message(text) => {
                if self.mode == Mode::Echo {
                    self.queue.push_back(Packet::Message(text));
                    return;
                }
                match self.assembler.push_text(&text) {
                    Ok(Some(p)) => self.sio(p).await,
                    Ok(None) => {}
                    Err(e) => self.malformed(&e.to_string()),
                }
            }
            Packet::Binary(data) => {
                if self.mode == Mode::Echo {
                    self.queue.push_back(Packet::Binary(data));
                    return;
                }
                match self.assembler.push_binary(data) {
                    Ok(Some(p)) => self.sio(p).await,
                    Ok(None) => {}
                    Err(e) => self.malformed(&e.to_string()),
                }
            }
            Packet::Upgrade if on_ws => {}
            Packet::Noop => {}
            Packet::Open(_) | Packet::Upgrade => {
                self.malformed("unexpected packet type");
            }
        }
    }

    fn malformed(&mut self, why: &str) {
        tracing::debug!(sid = %self.sid, why, "malformed packet; closing the session");
        self.ctx.eio_metrics.errors.inc();
        self.close(CloseReason::ClientGone, Packet::Close);
    }

    /// One complete Socket.IO packet from the client.
    async fn sio(&mut self, p: sio::Packet) {
        match p.kind {
            // Boxed: the connect's future (the router's call) is large and rare; inline, every
            // session's task would carry its size.
            Kind::Connect => Box::pin(self.connect(p)).await,
            Kind::Disconnect => match self.namespaces.remove(&p.nsp) {
                Some(ns) => ns.client.terminate(CloseReason::ClientGone),
                None => self.malformed("DISCONNECT for a namespace not joined"),
            },
            Kind::Event => match self.namespaces.get(&p.nsp) {
                Some(ns) => {
                    let item = modern::incoming_event(p);
                    if ns.client.input(vec![item]).is_err() {
                        // The socket ended meanwhile; its stream's end tells the client.
                        tracing::debug!(sid = %self.sid, "event for an ended namespace socket");
                    }
                }
                None => self.malformed("EVENT for a namespace not joined"),
            },
            // An answer to a server-requested ack; unknown ids are ignored by the socket.
            Kind::Ack => match (self.namespaces.get(&p.nsp), p.id) {
                (Some(ns), Some(id)) => {
                    let args =
                        sio::to_markers(p.data.unwrap_or(Value::Array(Vec::new())), &p.attachments);
                    let _ = ns.client.input(vec![crate::events::In::Ack { id, args }]);
                }
                (Some(_), None) => {}
                (None, _) => self.malformed("ACK for a namespace not joined"),
            },
            Kind::ConnectError => self.malformed("CONNECT_ERROR from a client"),
        }
    }

    /// A namespace CONNECT: unknown -> `Invalid namespace`; already joined -> close; otherwise a
    /// client actor through the router, whose `on_connect` decides.
    async fn connect(&mut self, p: sio::Packet) {
        let (nsp, query) = match self.rev {
            Revision::V3 => sio::split_nsp_query(&p.nsp),
            Revision::V4 => (p.nsp.clone(), Map::new()),
        };
        if self.namespaces.contains_key(&nsp) {
            return self.malformed("CONNECT for a namespace already joined");
        }
        if self.ctx.config.socketio.namespaces.get(&nsp).is_none() {
            self.refuse(&nsp, json!({"message": "Invalid namespace"}));
            return;
        }
        let auth = match (self.rev, p.data) {
            (Revision::V3, _) => Value::Object(query),
            (_, Some(v)) => v,
            (_, None) => json!({}),
        };
        let hsid = match self.ctx.router.new_client().await {
            Ok(s) => s,
            Err(e) => {
                self.refuse(
                    &nsp,
                    json!({"message": e.description(), "data": {"error": e.code()}}),
                );
                return;
            }
        };
        let Some(client) = self.ctx.router.lookup(&hsid) else {
            self.refuse(
                &nsp,
                json!({"message": "Session ended before it connected"}),
            );
            return;
        };
        let (tx, rx) = ws_queue::channel(NS_QUEUE);
        let id = self.ctx.next_id();
        let hello = json!({"args": [auth], "nsp": nsp, "query": self.query});
        if client
            .attach_modern(Wire::Modern(Nsp::named(&nsp)), Sink::Ws { id, tx }, hello)
            .is_err()
        {
            self.refuse(
                &nsp,
                json!({"message": "Session ended before it connected"}),
            );
            return;
        }
        self.namespaces.insert(
            nsp,
            NsSock {
                sid: client.sid_arc(),
                client,
                connected: false,
                rx: Some(rx),
            },
        );
    }

    /// CONNECT_ERROR for `nsp`.
    fn refuse(&mut self, nsp: &str, data: Value) {
        self.ctx.eio_metrics.connect_errors.inc();
        let data = match self.rev {
            Revision::V4 => data,
            // Protocol 4: the data if any, else the message as a string (an unknown namespace
            // keeps the object, as the reference does).
            Revision::V3 => match data.get("data") {
                Some(d) if !d.is_null() && data["message"] != "Invalid namespace" => d.clone(),
                _ if data["message"] == "Invalid namespace" => data,
                _ => data.get("message").cloned().unwrap_or(Value::Null),
            },
        };
        let p = sio::Packet::with_data(Kind::ConnectError, nsp, data);
        self.queue.push_back(Packet::Message(sio::encode(&p)));
        if nsp == "/" {
            self.hold = false;
        }
    }

    /// The output of the namespace socket at index `i`.
    fn socket_output(&mut self, i: usize, out: Option<WsOut>) {
        let Some((nsp, sid)) = self
            .namespaces
            .0
            .get(i)
            .map(|(k, n)| (k.clone(), Arc::clone(&n.sid)))
        else {
            return;
        };
        match out {
            Some(WsOut::Frames(frames)) => self.frames(&nsp, &frames),
            Some(WsOut::Shared(frames)) => self.frames(&nsp, &frames),
            Some(WsOut::KeepAlive) => {}
            Some(WsOut::Close) | None => {
                if !self.ctx.router.is_enabled() || !self.ctx.router.is_current(&sid) {
                    // The node is stopping, or rejoining its cluster under a new tag: close the
                    // Engine.IO session without DISCONNECT packets, so that clients reconnect by
                    // themselves.
                    self.namespaces.remove(&nsp);
                    return self.close(CloseReason::Terminated("shutdown".into()), Packet::Close);
                }
                // The socket ended on the server's side (a stop, the API, a refused connect).
                if let Some(ns) = self.namespaces.remove(&nsp)
                    && ns.connected
                {
                    let p = sio::Packet::new(Kind::Disconnect, &nsp);
                    self.queue.push_back(Packet::Message(sio::encode(&p)));
                }
                if nsp == "/" {
                    self.hold = false;
                }
            }
        }
    }

    /// Frames of the modern wire from the socket of `nsp`, into the queue.
    fn frames(&mut self, nsp: &str, frames: &[Arc<str>]) {
        for f in frames {
            if f.is_empty() {
                continue;
            }
            if let Some(ws) = self.passthrough(f) {
                // Nothing queued before it: the socket's own frame goes out as it is, with no
                // decoding, re-encoding or copy.
                let _ = ws.tx.unbounded_send(WsCmd::Frame(Arc::clone(f)));
                continue;
            }
            for (i, part) in f.split('\x1e').enumerate() {
                let Ok(p) = eio::decode_packet(part, Revision::V4, true) else {
                    continue;
                };
                let p = if i == 0 {
                    self.outgoing_first(nsp, p)
                } else {
                    Some(p)
                };
                if let Some(p) = p {
                    self.queue.push_back(p);
                }
            }
        }
    }

    /// The WebSocket a socket's frame `f` can go to unchanged: an EIO4 WebSocket with nothing
    /// queued, and `f` one text packet that is neither a CONNECT answer nor a CONNECT_ERROR (which
    /// the session completes) nor followed by attachments.
    fn passthrough(&self, f: &str) -> Option<&Ws> {
        let b = f.as_bytes();
        let plain = self.rev == Revision::V4
            && self.queue.is_empty()
            && b.first() == Some(&b'4')
            && !matches!(b.get(1), Some(b'0' | b'4') | None)
            && !b.contains(&b'\x1e');
        if plain { self.ws.as_ref() } else { None }
    }

    /// Complete the packets whose spelling depends on the revision and the socket.
    fn outgoing_first(&mut self, nsp: &str, p: Packet) -> Option<Packet> {
        let Packet::Message(text) = &p else {
            return Some(p);
        };
        match text.as_bytes().first() {
            Some(b'0') => {
                let ns = self.namespaces.get_mut(nsp)?;
                ns.connected = true;
                self.joined_any = true;
                if nsp == "/" {
                    self.hold = false;
                }
                let answer = match self.rev {
                    Revision::V4 => sio::Packet::with_data(
                        Kind::Connect,
                        nsp,
                        json!({"sid": ns.sid.to_string()}),
                    ),
                    Revision::V3 => sio::Packet::new(Kind::Connect, nsp),
                };
                Some(Packet::Message(sio::encode(&answer)))
            }
            Some(b'4') => {
                // A refusal from `on_connect`: the socket is gone for this session.
                self.namespaces.remove(nsp);
                let data = sio::decode(text, usize::MAX)
                    .ok()
                    .and_then(|d| d.packet.data)
                    .unwrap_or(Value::Null);
                self.refuse(nsp, data);
                None
            }
            _ => Some(p),
        }
    }

    /// A poll answer of `packets` for this revision and client.
    fn body(&self, packets: &[Packet]) -> PollAnswer {
        match self.rev {
            Revision::V4 => PollAnswer::Body {
                bytes: eio::encode_payload_v4(packets).into(),
                binary: false,
            },
            Revision::V3 => {
                if !self.b64 && packets.iter().any(|p| matches!(p, Packet::Binary(_))) {
                    PollAnswer::Body {
                        bytes: eio::encode_binary_payload_v3(packets).into(),
                        binary: true,
                    }
                } else {
                    PollAnswer::Body {
                        bytes: eio::encode_payload_v3(packets).into(),
                        binary: false,
                    }
                }
            }
        }
    }

    /// Send what is queued: over the WebSocket, or to the pending poll.
    fn flush(&mut self) {
        if self.queue.is_empty() {
            return;
        }
        if let Some(ws) = &self.ws {
            for p in self.queue.drain(..) {
                let cmd = match p {
                    Packet::Binary(b) => WsCmd::Binary(eio::encode_ws_binary(self.rev, &b)),
                    other => WsCmd::Text(other.encode_text(self.rev)),
                };
                let _ = ws.tx.unbounded_send(cmd);
            }
            return;
        }
        if self.probe.is_some() {
            return;
        }
        if let Some(g) = self.get.take() {
            let packets: Vec<Packet> = self.queue.drain(..).collect();
            let _ = g.send(self.body(&packets));
        }
    }

    /// End the session: every namespace socket ends with `reason`; a pending poll gets what is
    /// queued and then `last` (`1` for a server close, a noop when the client closed); a
    /// WebSocket gets the queue, then closes.
    fn close(&mut self, reason: CloseReason, last: Packet) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.ctx.eio.remove(&self.sid);
        for (_, ns) in self.namespaces.drain() {
            ns.client.terminate(reason.clone());
        }
        if self.get.is_none() {
            self.get = self.upgrade_get.take().map(|(g, _)| g);
        }
        if let Some(g) = self.get.take() {
            let mut packets: Vec<Packet> = self.queue.drain(..).collect();
            // A client's close ends a held poll with what is queued, or a noop when nothing is.
            if last != Packet::Noop || packets.is_empty() {
                packets.push(last);
            }
            let _ = g.send(self.body(&packets));
        }
        if let Some((ws, _)) = self.probe.take() {
            let _ = ws.tx.unbounded_send(WsCmd::Close);
        }
        if self.ws.is_some() {
            self.flush();
            if let Some(ws) = self.ws.take() {
                let _ = ws.tx.unbounded_send(WsCmd::Close);
            }
        }
    }
}
