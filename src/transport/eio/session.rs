//! One Engine.IO session: a task that owns the session's transports (the pending poll, the
//! WebSocket, or a WebSocket being probed for the upgrade), its heartbeat, its outgoing queue and
//! its Socket.IO namespace sockets.
//!
//! Inputs come from the HTTP side ([`EioIn`]: polls, posts, a WebSocket for the session), from
//! the session's WebSocket, which this task reads and writes itself (no task or channel of its
//! own: [`super::ws_conn`]), and from the namespace sockets' queues (each socket is a client actor whose
//! sink is this session: it writes frames of the modern wire, `crate::wire::modern`). The session
//! decodes Socket.IO packets with the pure codecs, answers CONNECT by spawning a client actor
//! through the router (which runs `on_connect`), routes events to the socket of their namespace as
//! neutral [`crate::events::In`] items, and completes the packets whose spelling depends on the
//! revision (the CONNECT answer carries the socket id in protocol 5; protocol 4 has none).
//! While an EIO4 WebSocket session with one joined namespace waits idle, it lends its socket's
//! write end to that socket's queue, so that the client actor (its reply) or a channel (a
//! publish) writes frames that go out unchanged into the socket itself, without waking this task.
//!
//! Rules (see docs/protocol-modern.md): the server pings in EIO4 and answers pings in EIO3;
//! a second concurrent poll, a parse error, a malformed Socket.IO packet, a packet for a namespace
//! not joined, a missed heartbeat or no namespace joined within `connect_timeout` close the
//! session; from the moment a WebSocket for the session opens, polls are answered with a noop at
//! once and queued packets wait for the WebSocket (behaviour (b) of the protocol's upgrade).
//! Writes to the WebSocket must make progress within `ping_interval` + `ping_timeout`: a client
//! that stops reading is dropped, and the session ends.

use std::collections::VecDeque;
use std::pin::Pin;
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
use super::ws_conn::{ReadIo, WsConn, close_aside};
use crate::client::ws_queue::{self, Woken, WsOut, WsReceiver};
use crate::client::ws_writer::WsWriter;
use crate::client::{ClientHandle, CloseReason, Sink};
use crate::transport::TransportCtx;
use crate::transport::ws_reader::{FrameReader, ReadError};
use crate::transport::ws_write::WriteEnd;
use crate::wire::Wire;
use crate::wire::modern::{self, Nsp};
use codec::eio::{self, Packet, Revision};
use codec::sio::{self, Kind};
use codec::ws::{Incoming, encode_close, encode_frame, opcode};

/// Queued batches a namespace socket may have in its session's queue before it counts as slow.
const NS_QUEUE: usize = 1024;

/// Most namespace outputs gathered into one socket write.
const MAX_BATCH: usize = 64;

/// How long the session waits for a request that the client sent before or together with another
/// one but that may reach the session a moment later, by another connection: a poll held right
/// after a WebSocket for an upgrade opened (or answered `3probe`) lets that WebSocket's `2probe`
/// and `5`, sent before the poll, complete the upgrade first (the poll then gets 400, as any poll
/// after the upgrade); a close packet POSTed before the session's first poll waits for that poll,
/// sent beside it, which gets what is queued or a noop.
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
    /// A WebSocket for this session is being upgraded (sent before the client sees the 101, so
    /// that a poll it sends once its WebSocket is open finds the upgrade begun); its socket follows
    /// in [`EioIn::WsOpen`], or [`EioIn::WsFailed`].
    WsComing,
    /// A WebSocket for this session opened (an upgrade, or a second WebSocket, which is closed).
    WsOpen(Box<WsConn>),
    /// A WebSocket upgrade announced by [`EioIn::WsComing`] did not complete.
    WsFailed,
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
    /// The handshake's application query.
    pub query: Map<String, Value>,
    /// Inputs.
    pub rx: mpsc::UnboundedReceiver<EioIn>,
    /// A packet to send first (the open packet of a WebSocket handshake).
    pub first: Option<Packet>,
    /// The session's WebSocket, for a session opened over WebSocket.
    pub conn: Option<WsConn>,
    /// When the handshake came: deadlines count from it, not from the task's first run.
    pub opened: Instant,
}

/// Every this many turns, a session's loop polls the HTTP side's inputs and its timer first.
const FAIR_EVERY: u32 = 16;

/// What one turn of a session's loop took.
enum Turn {
    /// An input from the HTTP side (`None`: the session's entry is gone).
    Input(Option<EioIn>),
    /// A read from the WebSocket.
    Read(Result<Incoming, ReadError>),
    /// A namespace socket's output: its index and the item (`None`: its queue ended).
    Output(usize, Option<WsOut>),
    /// A sender wrote into the lent socket only in part: the rest waits in the write end.
    Rest,
    /// The timer fired.
    Timer,
}

/// Start a polling session's task.
pub fn spawn(args: Box<Args>) {
    tokio::spawn(run(args));
}

struct NsSock {
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
    fn contains_key(&self, nsp: &str) -> bool {
        self.position(nsp).is_some()
    }
    fn remove(&mut self, nsp: &str) -> Option<NsSock> {
        self.position(nsp).map(|i| self.0.swap_remove(i).1)
    }
    fn insert(&mut self, nsp: String, ns: NsSock) {
        // Room for one more only: most sessions join one namespace, and a vector's first growth
        // would make room for four.
        self.0.reserve_exact(1);
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
    /// An output already queued by a socket, if any (an ended queue shows at the next poll).
    fn try_output(&mut self) -> Option<(usize, WsOut)> {
        self.0
            .iter_mut()
            .enumerate()
            .find_map(|(i, (_, ns))| ns.rx.as_mut()?.try_recv().map(|o| (i, o)))
    }
}

struct State {
    ctx: TransportCtx,
    sid: Arc<str>,
    rev: Revision,
    mode: Mode,
    b64: bool,
    /// The handshake's application query (boxed, and only when there is one: it is read once
    /// per namespace CONNECT).
    query: Option<Box<Map<String, Value>>>,
    queue: VecDeque<Packet>,
    get: Option<oneshot::Sender<PollAnswer>>,
    /// The session's WebSocket: its transport, or the one being probed while `probe_until` is set.
    ws: Option<WsConn>,
    /// The end of the upgrade's probe, while `ws` is being probed.
    probe_until: Option<Instant>,
    /// When the upgrade last moved on (the WebSocket opened, `3probe` went out).
    probe_step: Instant,
    /// A poll held while an upgrade settles, and when it gets its noop.
    upgrade_get: Option<(oneshot::Sender<PollAnswer>, Instant)>,
    /// A polling client's close packet came before its first poll: when the session ends if that
    /// poll does not come first.
    closing_at: Option<Instant>,
    /// A poll has come.
    polled: bool,
    /// An upgrade's WebSocket is on its way ([`EioIn::WsComing`]), not yet in `ws`.
    ws_coming: bool,
    /// Frames for `ws`, written at the end of the loop's turn (released once written).
    out: Vec<u8>,
    /// The client's side of `ws` ended (closed, failed): dropped after this turn's write.
    ws_ended: bool,
    /// `hive.websocket_direct_write`: the socket's write end may be lent while idle.
    direct_write: bool,
    /// How long a WebSocket write may make no progress.
    patience: Duration,
    namespaces: Sockets,
    assembler: sio::Assembler,
    joined_any: bool,
    connect_deadline: Option<Instant>,
    /// EIO4: when the next ping goes out; EIO3: unused.
    next_ping: Option<Instant>,
    /// EIO4: the pong deadline; EIO3: the deadline for the client's next ping.
    heartbeat_deadline: Option<Instant>,
    /// EIO3: POSTs held until the implicit `/` connect is answered (a WebSocket is not read).
    held: Vec<EioIn>,
    hold: bool,
    closed: bool,
}

/// A timer deadline far away (no timer set): one sleep, reset in place, keeps the select simple.
fn far_away() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

/// The next frame of the session's WebSocket (pending while there is none). Cancel safe.
async fn read(reader: Option<&mut FrameReader<ReadIo>>) -> Result<Incoming, ReadError> {
    match reader {
        Some(r) => r.next().await,
        None => std::future::pending().await,
    }
}

/// The next output of the namespace sockets. With `lend` (the session's only socket is joined
/// and its WebSocket idle: [`State::lendable`]), the socket's write end is lent to that socket's
/// queue meanwhile, so that the client actor, or a channel, writes frames that go out unchanged
/// into the socket itself; it is back with the session when this returns or is dropped. Cancel
/// safe.
async fn output(sockets: &mut Sockets, lend: Option<&mut WsWriter>) -> Turn {
    if let Some(w) = lend
        && let [(_, ns)] = &mut sockets.0[..]
        && let Some(rx) = ns.rx.as_mut()
    {
        return match rx.recv_lending(w, true).await {
            Woken::Item(out) => {
                if out.is_none() {
                    ns.rx = None;
                }
                Turn::Output(0, out)
            }
            Woken::Rest => Turn::Rest,
        };
    }
    let (i, out) = std::future::poll_fn(|cx| sockets.poll_output(cx)).await;
    Turn::Output(i, out)
}

/// Whether a namespace socket's frame `f` goes to an EIO4 WebSocket unchanged: one text packet
/// that is neither a CONNECT answer nor a CONNECT_ERROR (which the session completes) nor
/// followed by attachments. Such frames may be written by the socket's senders themselves.
pub(super) fn unchanged(f: &str) -> bool {
    let b = f.as_bytes();
    b.first() == Some(&b'4')
        && !matches!(b.get(1), Some(b'0' | b'4') | None)
        && !b.contains(&b'\x1e')
}

impl State {
    /// A session's state from its arguments, its inputs and the packet to send first (not in the
    /// async `run`, whose task would keep a slot for every argument beside the state).
    fn new(args: Box<Args>) -> (State, mpsc::UnboundedReceiver<EioIn>, Option<Packet>) {
        let Args {
            ctx,
            sid,
            rev,
            mode,
            b64,
            query,
            rx,
            first,
            conn,
            opened,
        } = *args;
        let s = &ctx.config.socketio;
        let now = opened;
        let interval = Duration::from_millis(s.ping_interval);
        let timeout = Duration::from_millis(s.ping_timeout);
        let st = State {
            sid,
            rev,
            mode,
            b64,
            query: (!query.is_empty()).then(|| Box::new(query)),
            queue: VecDeque::new(),
            get: None,
            ws: conn,
            probe_until: None,
            probe_step: now,
            upgrade_get: None,
            closing_at: None,
            polled: false,
            ws_coming: false,
            out: Vec::new(),
            ws_ended: false,
            direct_write: ctx.config.hive.websocket_direct_write,
            patience: interval + timeout,
            namespaces: Sockets::default(),
            assembler: sio::Assembler::new(s.max_attachments),
            joined_any: false,
            connect_deadline: (mode == Mode::SocketIo)
                .then(|| now + Duration::from_millis(s.connect_timeout)),
            next_ping: (rev == Revision::V4).then(|| now + interval),
            heartbeat_deadline: (rev == Revision::V3).then(|| now + interval + timeout),
            held: Vec::new(),
            hold: false,
            closed: false,
            ctx,
        };
        (st, rx, first)
    }
}

/// Run a session until it ends.
pub async fn run(args: Box<Args>) {
    let (mut st, mut rx, first) = State::new(args);
    let gauge = match st.rev {
        Revision::V3 => st.ctx.eio_metrics.v3.clone(),
        Revision::V4 => st.ctx.eio_metrics.v4.clone(),
    };
    gauge.inc();
    if let Some(p) = first {
        // The open packet of a session opened over WebSocket goes out at once.
        st.queue.push_back(p);
        st.flush().await;
    }
    if st.mode == Mode::SocketIo && st.rev == Revision::V3 {
        // Protocol 4 joins `/` implicitly; the client's input waits for the answer.
        st.hold = true;
        st.connect_boxed(sio::Packet::new(Kind::Connect, "/")).await;
    }
    // One sleep for every deadline, moved only when the earliest deadline changes.
    let timer = sleep_until(far_away());
    tokio::pin!(timer);
    let mut armed: Option<Instant> = None;
    let mut turns: u32 = 0;
    let mut output_next = false;
    while !st.closed {
        let timer_at = [
            st.connect_deadline,
            st.next_ping,
            st.heartbeat_deadline,
            st.probe_until,
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
        // The branch expected to fire is polled first: a client's frame is mostly answered by
        // its socket's output (the reply), and that output by the client's next frame. Polling
        // an idle input is not free (it touches the session's cold memory and registers a
        // waker), and an unbiased select polls half of them on average. Read and output take
        // turns at being first, so neither starves the other; the HTTP side's inputs and the
        // timer come first every `FAIR_EVERY` turns, and whenever both others wait.
        turns = turns.wrapping_add(1);
        let lend = st.lendable();
        let (reader, writer) = match st.ws.as_mut() {
            Some(c) => (Some(&mut c.reader), lend.then_some(&mut c.writer)),
            None => (None, None),
        };
        let sockets = &mut st.namespaces;
        let turn = if turns.is_multiple_of(FAIR_EVERY) {
            tokio::select! {
                biased;
                () = &mut timer => Turn::Timer,
                i = rx.next() => Turn::Input(i),
                r = read(reader), if !st.hold => Turn::Read(r),
                t = output(sockets, writer) => t,
            }
        } else if output_next {
            tokio::select! {
                biased;
                t = output(sockets, writer) => t,
                r = read(reader), if !st.hold => Turn::Read(r),
                i = rx.next() => Turn::Input(i),
                () = &mut timer => Turn::Timer,
            }
        } else {
            tokio::select! {
                biased;
                r = read(reader), if !st.hold => Turn::Read(r),
                t = output(sockets, writer) => t,
                i = rx.next() => Turn::Input(i),
                () = &mut timer => Turn::Timer,
            }
        };
        output_next = matches!(turn, Turn::Read(_));
        match turn {
            Turn::Input(input) => match input {
                Some(i) => {
                    // A deadline that passed before this input is honoured first, even if its
                    // timer has not fired yet: a request just after a missed heartbeat finds the
                    // session closed (its reply dropped: the HTTP side answers 400, unknown sid).
                    if st.overdue() {
                        st.timers();
                    }
                    if !st.closed {
                        if st.hold && holdable(&i) {
                            st.held.push(i);
                        } else {
                            st.input(i).await;
                        }
                    }
                }
                None => st.close(CloseReason::ClientGone, Packet::Close),
            },
            Turn::Read(r) => {
                if let Some(c) = st.ws_frame(r) {
                    st.connect_boxed(c).await;
                }
            }
            Turn::Output(i, out) => {
                st.socket_output(i, out);
                // What the sockets queued meanwhile shares the socket write.
                for _ in 1..MAX_BATCH {
                    let Some((i, out)) = st.namespaces.try_output() else {
                        break;
                    };
                    st.socket_output(i, Some(out));
                }
                if !st.hold && !st.held.is_empty() {
                    for i in std::mem::take(&mut st.held) {
                        if st.closed {
                            break;
                        }
                        st.input(i).await;
                    }
                }
            }
            // Written by the turn's flush, before anything else.
            Turn::Rest => {}
            Turn::Timer => {
                // Fired: re-armed on the next round even if the deadline stays the same.
                armed = None;
                st.timers();
            }
        }
        st.flush().await;
    }
    // Late requests of a closed session: answered as unknown by the HTTP side once the task and
    // its receiver are gone.
    drop(rx);
    gauge.dec();
    if let Some(ws) = st.ws.as_mut() {
        // The last frames went out with the close: end the socket.
        ws.shutdown(st.patience).await;
        st.ctx.websocket.hang_up.inc();
    }
}

/// Client input held while protocol 4's implicit connect is pending (a WebSocket is not read
/// meanwhile).
fn holdable(i: &EioIn) -> bool {
    matches!(i, EioIn::Post { .. })
}

impl State {
    /// A deadline has passed.
    fn overdue(&self) -> bool {
        let now = Instant::now();
        [
            self.connect_deadline,
            self.next_ping,
            self.heartbeat_deadline,
            self.probe_until,
            self.upgrade_get.as_ref().map(|g| g.1),
            self.closing_at,
        ]
        .into_iter()
        .flatten()
        .any(|d| d <= now)
    }

    fn timers(&mut self) {
        let now = Instant::now();
        let timeout = Duration::from_millis(self.ctx.config.socketio.ping_timeout);
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
        if self.probe_until.is_some_and(|d| d <= now) {
            self.abandon_probe();
        }
    }

    /// The WebSocket is the session's transport (not a probe).
    fn on_ws(&self) -> bool {
        self.ws.is_some() && self.probe_until.is_none()
    }

    /// The probed WebSocket is closed (in the background); the session stays on polling.
    fn abandon_probe(&mut self) {
        if self.probe_until.take().is_some()
            && let Some(ws) = self.ws.take()
        {
            self.out.clear();
            close_aside(ws, self.patience);
            self.upgrade_abandoned();
        }
    }

    /// The upgrade ended without `5`: a poll held while it settled gets its noop now.
    fn upgrade_abandoned(&mut self) {
        // The client may try another upgrade.
        if let Some(e) = self.ctx.eio.get(&self.sid) {
            e.ws_claimed.store(false, Ordering::Release);
        }
        if let Some((g, _)) = self.upgrade_get.take() {
            let _ = g.send(self.body(&[Packet::Noop]));
        }
    }

    /// One input (a POST's future is boxed: polling only, and large).
    async fn input(&mut self, i: EioIn) {
        if let EioIn::Post {
            packets,
            failed,
            reply,
        } = i
        {
            return Box::pin(self.post(packets, failed, reply)).await;
        }
        self.input_now(i);
    }

    /// A POST's packets, in order (a CONNECT completes before what follows it).
    async fn post(&mut self, packets: Vec<Packet>, failed: bool, reply: oneshot::Sender<()>) {
        for p in packets {
            if self.closed || self.closing_at.is_some() {
                break;
            }
            if let Some(c) = self.packet(p, false) {
                self.connect_boxed(c).await;
            }
        }
        if failed && !self.closed {
            self.close(CloseReason::ClientGone, Packet::Close);
        }
        let _ = reply.send(());
    }

    /// Every input but a POST.
    fn input_now(&mut self, i: EioIn) {
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
                if self.on_ws() {
                    // Upgraded while this poll was on its way.
                    let _ = reply.send(PollAnswer::Upgraded);
                    return;
                }
                if self.ws.is_some() || self.ws_coming {
                    // A WebSocket is being probed: the poll ends with a noop, at once, or when
                    // the upgrade has settled if the WebSocket just opened.
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
            EioIn::Post { .. } => {}
            EioIn::Close => self.close(CloseReason::ClientGone, Packet::Close),
            EioIn::WsComing => {
                if self.ws.is_none() && !self.ws_coming && self.ctx.config.socketio.allow_upgrades {
                    self.ws_coming = true;
                    self.probe_step = Instant::now();
                    if let Some(g) = self.get.take() {
                        let _ = g.send(self.body(&[Packet::Noop]));
                    }
                }
            }
            EioIn::WsFailed => {
                if self.ws_coming && self.ws.is_none() {
                    self.ws_coming = false;
                    self.upgrade_abandoned();
                }
            }
            EioIn::WsOpen(conn) => {
                if self.ws.is_none() && !self.closed && self.ctx.config.socketio.allow_upgrades {
                    self.ws_coming = false;
                    let until = Instant::now()
                        + Duration::from_millis(self.ctx.config.socketio.upgrade_timeout);
                    self.ws = Some(*conn);
                    self.probe_until = Some(until);
                    self.probe_step = Instant::now();
                    if let Some(g) = self.get.take() {
                        let _ = g.send(self.body(&[Packet::Noop]));
                    }
                } else {
                    // Already upgrading or upgraded: the newcomer is closed, nothing else moves.
                    close_aside(*conn, self.patience);
                }
            }
        }
    }

    /// One read from the session's WebSocket (or the one being probed); a namespace CONNECT is
    /// returned, for the caller to run. When the client's side ended, `ws_ended` is set: the turn's
    /// flush writes what `out` holds (the answer to its close) and drops the socket.
    #[must_use]
    fn ws_frame(&mut self, r: Result<Incoming, ReadError>) -> Option<sio::Packet> {
        let probing = self.probe_until.is_some();
        match r {
            Ok(Incoming::Text(text)) => {
                self.ctx.websocket.frames.inc();
                if probing {
                    self.probe_frame(&text);
                    return None;
                }
                if self.mode == Mode::SocketIo
                    && let Some(message) = text.strip_prefix('4')
                {
                    // A message, nearly every frame: decoded from the frame's text in place.
                    return self.message(message);
                }
                match eio::decode_packet(&text, self.rev, false) {
                    Ok(p) => return self.packet(p, true),
                    Err(_) => self.close(CloseReason::ClientGone, Packet::Close),
                }
            }
            Ok(Incoming::Binary(data)) => {
                self.ctx.websocket.frames.inc();
                if probing {
                    self.abandon_probe();
                    return None;
                }
                match eio::decode_ws_binary(self.rev, &data) {
                    Ok(data) => return self.packet(Packet::Binary(data), true),
                    Err(_) => self.close(CloseReason::ClientGone, Packet::Close),
                }
            }
            Ok(Incoming::Ping(p)) => encode_frame(&mut self.out, opcode::PONG, &p),
            Ok(Incoming::Pong(_)) => {}
            Ok(Incoming::Close(_)) => {
                self.out.clear();
                encode_frame(&mut self.out, opcode::CLOSE, b"");
                self.ws_ended = true;
            }
            Err(ReadError::Eof) => {
                self.out.clear();
                self.ws_ended = true;
            }
            Err(e) => {
                tracing::debug!(sid = %self.sid, error = %e, "websocket read failed (modern protocol)");
                self.ctx.websocket.errors.inc();
                self.out.clear();
                if let Some(c) = e.close_code() {
                    encode_close(&mut self.out, c, b"");
                }
                self.ws_ended = true;
            }
        }
        None
    }

    /// A frame on the WebSocket being probed: `2probe` -> `3probe`, `5` completes the upgrade,
    /// anything else abandons it.
    fn probe_frame(&mut self, text: &str) {
        match eio::decode_packet(text, self.rev, false) {
            Ok(Packet::Ping(d)) if d == "probe" => {
                encode_frame(&mut self.out, opcode::TEXT, b"3probe");
                self.probe_step = Instant::now();
                if let Some(g) = self.get.take() {
                    let _ = g.send(self.body(&[Packet::Noop]));
                }
            }
            Ok(Packet::Upgrade) => {
                // The WebSocket is the transport from now on: what is queued goes out on it.
                self.probe_until = None;
                if let Some(e) = self.ctx.eio.get(&self.sid) {
                    e.on_ws.store(true, Ordering::Release);
                }
                self.ctx.eio_metrics.upgrades.inc();
                if let Some(g) = self.get.take() {
                    let _ = g.send(self.body(&[Packet::Noop]));
                }
                // A poll that came while the upgrade settled is one after the upgrade (`3probe`,
                // which the client sent its poll after, is already written).
                if let Some((g, _)) = self.upgrade_get.take() {
                    let _ = g.send(PollAnswer::Upgraded);
                }
            }
            _ => self.abandon_probe(),
        }
    }

    /// One Engine.IO packet from the client; a namespace CONNECT is returned, for the caller to
    /// run ([`State::connect_boxed`]): nothing else here waits.
    #[must_use]
    fn packet(&mut self, p: Packet, on_ws: bool) -> Option<sio::Packet> {
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
                if on_ws || self.polled || self.ws.is_some() {
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
                    return None;
                }
                return self.message(&text);
            }
            Packet::Binary(data) => {
                if self.mode == Mode::Echo {
                    self.queue.push_back(Packet::Binary(data));
                    return None;
                }
                match self.assembler.push_binary(data) {
                    Ok(Some(p)) => return self.sio(p),
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
        None
    }

    /// The text of a message packet in Socket.IO mode: a Socket.IO packet (a CONNECT is
    /// returned, to be run), or the start of a binary one.
    #[must_use]
    fn message(&mut self, text: &str) -> Option<sio::Packet> {
        match self.assembler.push_text(text) {
            Ok(Some(p)) => return self.sio(p),
            Ok(None) => {}
            Err(e) => self.malformed(&e.to_string()),
        }
        None
    }

    /// A namespace CONNECT to run, boxed: its future (the router's call) is large and rare;
    /// inline, every session's task would carry its size.
    fn connect_boxed(&mut self, p: sio::Packet) -> Pin<Box<impl Future<Output = ()> + '_>> {
        Box::pin(self.connect(p))
    }

    fn malformed(&mut self, why: &str) {
        tracing::debug!(sid = %self.sid, why, "malformed packet; closing the session");
        self.ctx.eio_metrics.errors.inc();
        self.close(CloseReason::ClientGone, Packet::Close);
    }

    /// One complete Socket.IO packet from the client (a CONNECT is returned, to be run).
    fn sio(&mut self, p: sio::Packet) -> Option<sio::Packet> {
        match p.kind {
            Kind::Connect => return Some(p),
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
        None
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
        // The queue counts into the socket's own figures (the monitor's queued items and bytes).
        let (tx, rx) = ws_queue::channel_counted(NS_QUEUE, client.queue_figures());
        let id = self.ctx.next_id();
        let query = self.query.as_deref().cloned().unwrap_or_default();
        let hello = json!({"args": [auth], "nsp": nsp, "query": query});
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
        match out {
            Some(WsOut::Frames(frames)) => self.frames(i, &frames),
            Some(WsOut::Shared(frames)) => self.frames(i, &frames),
            Some(WsOut::KeepAlive) => {}
            Some(WsOut::Close) | None => {
                let Some((nsp, ns)) = self.namespaces.0.get(i) else {
                    return;
                };
                if !self.ctx.router.is_enabled()
                    || !self.ctx.router.is_current(&ns.client.sid_arc())
                {
                    // The node is stopping, or rejoining its cluster under a new tag: close the
                    // Engine.IO session without DISCONNECT packets, so that clients reconnect by
                    // themselves.
                    self.namespaces.0.swap_remove(i);
                    return self.close(CloseReason::Terminated("shutdown".into()), Packet::Close);
                }
                // The socket ended on the server's side (a stop, the API, a refused connect).
                let nsp = nsp.clone();
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

    /// Frames of the modern wire from the socket at index `i`, for the client.
    fn frames(&mut self, i: usize, frames: &[Arc<str>]) {
        for f in frames {
            if f.is_empty() {
                continue;
            }
            if self.passthrough(f) {
                // Nothing queued before it: the socket's own frame goes out as it is, with no
                // decoding, re-encoding or copy of its text.
                encode_frame(&mut self.out, opcode::TEXT, f.as_bytes());
                continue;
            }
            for (n, part) in f.split('\x1e').enumerate() {
                let Ok(p) = eio::decode_packet(part, Revision::V4, true) else {
                    continue;
                };
                let p = if n == 0 {
                    self.outgoing_first(i, p)
                } else {
                    Some(p)
                };
                if let Some(p) = p {
                    self.queue.push_back(p);
                }
            }
        }
    }

    /// Whether a socket's frame `f` can go to the WebSocket unchanged: an EIO4 WebSocket with
    /// nothing queued, and `f` one text packet that is neither a CONNECT answer nor a
    /// CONNECT_ERROR (which the session completes) nor followed by attachments.
    fn passthrough(&self, f: &str) -> bool {
        self.rev == Revision::V4 && self.queue.is_empty() && unchanged(f) && self.on_ws()
    }

    /// Whether the socket's write end may be lent while the session waits ([`output`]): direct
    /// writes are on, and an EIO4 WebSocket (no probe) is idle, with nothing queued or encoded,
    /// under one joined namespace socket, whose frames would then pass through unchanged.
    fn lendable(&self) -> bool {
        self.direct_write
            && self.rev == Revision::V4
            && !self.ws_ended
            && !self.hold
            && self.queue.is_empty()
            && self.out.is_empty()
            && matches!(&self.namespaces.0[..], [(_, ns)] if ns.connected)
            && self.on_ws()
    }

    /// Complete the packets whose spelling depends on the revision and the socket at index `i`.
    fn outgoing_first(&mut self, i: usize, p: Packet) -> Option<Packet> {
        let Packet::Message(text) = &p else {
            return Some(p);
        };
        match text.as_bytes().first() {
            Some(b'0') => {
                let (nsp, ns) = self.namespaces.0.get_mut(i)?;
                ns.connected = true;
                self.joined_any = true;
                if nsp == "/" {
                    self.hold = false;
                }
                let answer = match self.rev {
                    Revision::V4 => {
                        sio::Packet::with_data(Kind::Connect, nsp, json!({"sid": ns.client.sid()}))
                    }
                    Revision::V3 => sio::Packet::new(Kind::Connect, nsp),
                };
                Some(Packet::Message(sio::encode(&answer)))
            }
            Some(b'4') => {
                // A refusal from `on_connect`: the socket is gone for this session.
                let (nsp, _) = self.namespaces.0.swap_remove(i);
                let data = sio::decode(text, usize::MAX)
                    .ok()
                    .and_then(|d| d.packet.data)
                    .unwrap_or(Value::Null);
                self.refuse(&nsp, data);
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

    /// The queue, encoded as WebSocket frames into `out`.
    fn queue_to_out(&mut self) {
        for p in self.queue.drain(..) {
            match p {
                Packet::Binary(b) => encode_frame(
                    &mut self.out,
                    opcode::BINARY,
                    &eio::encode_ws_binary(self.rev, &b),
                ),
                other => encode_frame(
                    &mut self.out,
                    opcode::TEXT,
                    other.encode_text(self.rev).as_bytes(),
                ),
            }
        }
        // Idle sessions hold no queue memory.
        self.queue = VecDeque::new();
    }

    /// Send what is queued, over the WebSocket or to the pending poll (while a WebSocket is
    /// probed, the queue waits for it), and write what this turn encoded for the WebSocket. A
    /// write that makes no progress within the patience drops the WebSocket (and ends the
    /// session, unless it was a probe).
    async fn flush(&mut self) {
        if !self.queue.is_empty() && !self.ws_ended {
            if self.on_ws() {
                self.queue_to_out();
            } else if self.ws.is_none()
                && let Some(g) = self.get.take()
            {
                let packets: Vec<Packet> = self.queue.drain(..).collect();
                let _ = g.send(self.body(&packets));
            }
        }
        let rest = self.ws.as_ref().is_some_and(|c| c.writer.has_rest());
        if self.out.is_empty() && !self.ws_ended && !rest {
            return;
        }
        // Taken, so that an idle session holds no write buffer.
        let out = std::mem::take(&mut self.out);
        let Some(ws) = self.ws.as_mut() else { return };
        let wrote = ws.write(&out, self.patience).await;
        if self.ws_ended {
            // The client's side ended: its socket goes, and with it the session (not a probe).
            self.ws_ended = false;
            self.ws = None;
            self.ctx.websocket.hang_up.inc();
            if self.probe_until.take().is_none() {
                self.close(CloseReason::ClientGone, Packet::Close);
            } else {
                self.upgrade_abandoned();
            }
            return;
        }
        if let Err(e) = wrote {
            if matches!(e, WriteEnd::Stalled) {
                tracing::debug!(sid = %self.sid, "websocket client is not reading; dropping it");
            }
            self.ctx.websocket.hang_up.inc();
            self.ws = None;
            if self.probe_until.take().is_none() {
                self.close(CloseReason::ClientGone, Packet::Close);
            } else {
                self.upgrade_abandoned();
            }
        }
    }

    /// End the session: every namespace socket ends with `reason`; a pending poll gets what is
    /// queued and then `last` (`1` for a server close, a noop when the client closed); a
    /// WebSocket gets the queue, then a close frame (written by the turn's flush), and the task
    /// ends the socket.
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
        self.abandon_probe();
        if self.ws.is_some() {
            self.queue_to_out();
            encode_frame(&mut self.out, opcode::CLOSE, b"");
        }
    }
}
