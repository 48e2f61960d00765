//! The client actor: one per session, the shell of the pure [`Session`] state machine.
//!
//! All hooks of a session run inside this actor, one message at a time, so a slow backend blocks
//! only its own client. The session decides (phases, timers, batching, termination, see
//! [`super::session`]); this actor performs what it decides: it owns the sinks, the timers, the
//! hook table and the state store, runs the hook chains into the session's queue and encodes
//! with the session's wire.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::mpsc::error::TrySendError;
use tokio::task::JoinHandle;

type Timer = JoinHandle<Result<(), ractor::MessagingErr<ClientMsg>>>;

use super::handle::{ClientDetails, ClientInfo, ClientMsg, CloseReason, Delivery, Sink, XhrReply};
use super::session::{Cmd, Phase, Session, Target, Timing, WriteFailure};
use super::shortcut::Shortcut;
use super::ws_queue::WsOut;
use crate::config::StateManagerName;
use crate::error::HiveError;
use crate::events::{In, Out};
use crate::hooks::engine::{dispatch, run_chain};
use crate::hooks::{Cx, Flow, HookTable, Services, Trigger};
use crate::metrics::{ClientStateMetrics, Counter};
use crate::pubsub::{Privilege, Subscriber};
use crate::state::{StateStore, local::LocalState, redis::RedisState, redis::redis_state_args};
use codec::event::InternalEvent;

/// The client actor (stateless; everything lives in [`ClientState`]).
#[derive(Debug)]
pub struct ClientActor;

/// Spawn arguments.
#[derive(Debug)]
pub struct ClientArgs {
    /// Session id.
    pub sid: Arc<str>,
    /// Node-wide services.
    pub services: Arc<Services>,
    /// `clients.transports.websocket.ok`, for the session's [`Shortcut`].
    pub ws_ok: Counter,
    /// Where the actor leaves its [`Shortcut`] for the router's handle.
    pub made: Arc<std::sync::OnceLock<Arc<Shortcut>>>,
}

/// The `clients.states.<phase>` gauge of a live phase.
fn gauge(p: Phase, m: &ClientStateMetrics) -> Option<&Counter> {
    match p {
        Phase::Generic => Some(&m.generic),
        Phase::Transient => Some(&m.transient),
        Phase::Waiting => Some(&m.waiting),
        Phase::Polling => Some(&m.polling),
        Phase::Terminated => None,
    }
}

/// Mutable state of one session's shell.
pub struct ClientState {
    sid: Arc<str>,
    services: Arc<Services>,
    me: Arc<dyn Subscriber>,
    session: Session,
    /// The phase the gauges show.
    shown: Phase,
    /// The session's sink.
    sink: Option<Sink>,
    store: StateStore,
    hooks: Arc<HookTable>,
    shortcut: Arc<Shortcut>,
    timers: Vec<Timer>,
    /// The modern wire's `on_connect` trigger data (auth, namespace, query), until the connect
    /// chain takes it.
    hello: Option<Box<serde_json::Value>>,
    /// Server-requested acks (modern wire), from the first one asked for.
    acks: Option<Box<Acks>>,
}

/// Server-requested acks of a modern socket: the last id given, and the event name of each id
/// not yet acknowledged.
#[derive(Default)]
struct Acks {
    last: u64,
    pending: std::collections::HashMap<u64, String>,
}

/// A killed client actor (`exit(Pid, kill)`: the monitor's kill, or its supervisor's one_for_all
/// restart after a router crash) has its task aborted, so no handler runs: its state is dropped.
/// Hanging up here gives the client the wire's disconnect at once, instead of a bare TCP close when
/// the connection's own timers notice (about 5 s later). After a normal end the sink is gone
/// already and this does nothing.
impl Drop for ClientState {
    fn drop(&mut self) {
        self.hang_up();
    }
}

impl ClientState {
    /// Tell the transport still attached that the session is over: a WebSocket gets the wire's
    /// close (0.9: `0::` and a close frame), a pending poll the wire's disconnect.
    fn hang_up(&mut self) {
        let wire = self.session.wire();
        match self.sink.take() {
            Some(Sink::Ws { tx, .. }) => {
                let _ = tx.try_send(WsOut::Close);
            }
            Some(Sink::Xhr { tx, .. }) => {
                let _ = tx.send(XhrReply(wire.encode(&Out::Disconnect).to_string()));
            }
            None => {}
        }
    }
    /// Bring the phase gauges and the transition counter up to the session's phase.
    fn show_phase(&mut self) {
        let m = self.services.metrics.states();
        let n = self.session.take_transitions();
        if n > 0 {
            m.transitions.add(n as i64);
        }
        let p = self.session.phase();
        if p != self.shown {
            if let Some(g) = gauge(self.shown, m) {
                g.dec();
            }
            if let Some(g) = gauge(p, m) {
                g.inc();
            }
            self.shown = p;
        }
    }

    /// The hook context over this session: replies go to the session's queue.
    fn cx(&mut self) -> Cx<'_> {
        Cx {
            sid: &self.sid,
            services: &self.services,
            state: &mut self.store,
            hooks: &mut self.hooks,
            replies: self.session.replies(),
            me: Arc::clone(&self.me),
        }
    }
}

/// The `clients.websocket` or `clients.xhr_polling` gauge of a transport.
fn transport_gauge(services: &Services, ws: bool) -> &Counter {
    let m = services.metrics.clients();
    if ws { &m.websocket } else { &m.xhr_polling }
}

impl Actor for ClientActor {
    type Msg = ClientMsg;
    type State = ClientState;
    type Arguments = ClientArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<ClientMsg>,
        args: ClientArgs,
    ) -> Result<ClientState, ActorProcessingErr> {
        let services = args.services;
        let desc = &services.config.clients.state;
        // One arm per registered state manager (`config/names.rs`); validation rejects others.
        let Some(manager) = StateManagerName::from_name(&desc.state_manager) else {
            return Err(HiveError::InvalidConfig(format!(
                "unknown state manager \"{}\"",
                desc.state_manager
            ))
            .into());
        };
        let mut store = match manager {
            StateManagerName::Redis => {
                let (connector, expiration, prefix) = redis_state_args(&desc.args)?;
                let pool = match services.connectors()?.pool(&connector)? {
                    crate::connectors::Pool::Redis(p) => p,
                    _ => {
                        return Err(HiveError::BadConnectorDescriptor(format!(
                            "Connector {connector} is not a connector.redis pool"
                        ))
                        .into());
                    }
                };
                StateStore::Redis(Box::new(RedisState::new(
                    pool,
                    args.sid.to_string(),
                    expiration,
                    prefix,
                )))
            }
            StateManagerName::Local => StateStore::Local(LocalState::new()),
        };
        let m = services.metrics.state_mgr();
        m.call(&m.init);
        if let Err(e) = store.init(Arc::clone(&services.initial_state)).await {
            m.errors.inc();
            return Err(e.into());
        }
        // The session as its channels see it: they deliver through the shortcut.
        let shortcut = Shortcut::new(
            myself.get_cell(),
            services.config.socketio.max_outgoing_queue,
            args.ws_ok,
        );
        let _ = args.made.set(Arc::clone(&shortcut));
        let s = &services.config.socketio;
        let timing = Timing {
            init: s.init_timeout,
            poll: s.poll_timeout,
            heartbeat: s.heartbeat_timeout,
            session: s.session_timeout,
            max_queue: s.max_outgoing_queue,
        };
        let (session, cmds) = Session::new(timing, services.mode, Instant::now());
        services.metrics.states().generic.inc();
        services.metrics.clients().total.inc();
        let mut st = ClientState {
            sid: args.sid,
            hooks: Arc::clone(&services.tables.hooks),
            services,
            me: Arc::clone(&shortcut) as Arc<dyn Subscriber>,
            session,
            shown: Phase::Generic,
            sink: None,
            store,
            shortcut,
            timers: Vec::new(),
            hello: None,
            acks: None,
        };
        perform(&myself, &mut st, cmds, &mut None).await;
        Ok(st)
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<ClientMsg>,
        st: &mut ClientState,
    ) -> Result<(), ActorProcessingErr> {
        for t in st.timers.drain(..) {
            t.abort();
        }
        if let Some(g) = gauge(st.shown, st.services.metrics.states()) {
            g.dec();
        }
        if st.shown != Phase::Terminated {
            st.services.metrics.states().transitions.inc();
        }
        st.shown = Phase::Terminated;
        if let Some(t) = st.session.transport() {
            transport_gauge(&st.services, t.is_ws()).dec();
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<ClientMsg>,
        msg: ClientMsg,
        st: &mut ClientState,
    ) -> Result<(), ActorProcessingErr> {
        // ractor keeps the future of its processing loop, sized for the largest `handle` future,
        // for the whole life of the actor: inline, the hook paths (several KiB) would cost every
        // idle session that much. The hot path (ready frames from a channel) runs inline and stays
        // small; everything else runs in a box that lives only while its message is handled.
        match msg {
            ClientMsg::Deliver(Delivery::Frames(frames)) if !st.session.is_terminated() => {
                st.shortcut.release();
                if !st.session.is_live() {
                    return Ok(());
                }
                st.session
                    .extend(frames.iter().map(|f| Out::Encoded(Arc::clone(f))));
                let cmds = st.session.after_work(Instant::now());
                Box::pin(perform(&myself, st, cmds, &mut None)).await;
                open_shortcut(st);
                Ok(())
            }
            msg => {
                // What this message causes (a publish to a room just joined) must reach the
                // client after the replies it produces: channels go through the mailbox meanwhile.
                st.shortcut.close();
                let r = Box::pin(handle_msg(myself, msg, st)).await;
                open_shortcut(st);
                r
            }
        }
    }
}

/// Idle again: let channels put ready frames straight on the WebSocket (see [`Shortcut`]) when
/// the session allows it.
fn open_shortcut(st: &ClientState) {
    if st.session.shortcut_may_open() {
        st.shortcut.open();
    }
}

/// Every message but the hot one (see [`ClientActor::handle`]).
async fn handle_msg(
    myself: ActorRef<ClientMsg>,
    msg: ClientMsg,
    st: &mut ClientState,
) -> Result<(), ActorProcessingErr> {
    if st.session.is_terminated() {
        match msg {
            ClientMsg::Info(reply) => {
                let _ = reply.send(info(st));
            }
            ClientMsg::Inspect(reply) => {
                let _ = reply.send(inspect(st).await);
            }
            _ => {}
        }
        return Ok(());
    }
    let now = Instant::now();
    let cmds = match msg {
        ClientMsg::Attach {
            transport,
            wire,
            sink,
            hello,
        } => {
            let first = st.session.phase() == Phase::Generic;
            if first {
                // A namespace with a hook table of its own runs it instead of `clients.hooks`.
                let own = hello
                    .as_ref()
                    .and_then(|h| h.get("nsp"))
                    .and_then(serde_json::Value::as_str)
                    .and_then(|n| st.services.tables.namespaces.get(n));
                if let Some(t) = own {
                    st.hooks = Arc::clone(t);
                }
                st.hello = hello;
            }
            let cmds = st.session.attach(transport, wire, sink.id(), now);
            if first {
                transport_gauge(&st.services, transport.is_ws()).inc();
                st.shortcut.set_wire(wire);
            }
            let mut new = Some(sink);
            perform(&myself, st, cmds, &mut new).await;
            Vec::new()
        }
        ClientMsg::Input(items) => {
            if !st.session.is_live() {
                return Ok(());
            }
            st.session.client_activity(now);
            for m in items {
                if let Some(reason) = process_input(st, m).await {
                    let cmds = st.session.terminate(reason, Instant::now());
                    perform(&myself, st, cmds, &mut None).await;
                    return Ok(());
                }
            }
            st.session.after_work(Instant::now())
        }
        ClientMsg::Deliver(d) => {
            st.shortcut.release();
            if !st.session.is_live() {
                return Ok(());
            }
            match d {
                Delivery::Frames(frames) => {
                    st.session
                        .extend(frames.iter().map(|f| Out::Encoded(Arc::clone(f))));
                    st.session.after_work(now)
                }
                Delivery::Events(events) => events_then_work(st, &events).await,
            }
        }
        ClientMsg::Events(events) => {
            if !st.session.is_live() {
                return Ok(());
            }
            events_then_work(st, &events).await
        }
        ClientMsg::Subscribe { cids, join } => {
            if !st.session.is_live() {
                return Ok(());
            }
            let m = st.services.metrics.events();
            m.total.inc();
            m.control.inc();
            let r = match st.services.pubsub() {
                Err(e) => Err(e),
                Ok(ps) if join => ps.join(Privilege::Max, &cids, Arc::clone(&st.me)).await,
                Ok(ps) => ps.leave(Privilege::Max, &cids, &st.me.cell()).await,
            };
            if let Err(e) = r {
                m.control_errors.inc();
                st.session.push_error(&e);
            }
            st.session.after_work(Instant::now())
        }
        ClientMsg::Terminate(reason) => st.session.terminate(reason, now),
        ClientMsg::Graceful(reason) => {
            if st.session.phase() != Phase::Generic {
                st.services.metrics.events().control.inc();
                let t = Trigger::terminate(&reason);
                let flow = run_chain(&mut st.cx(), &t).await;
                apply_flow(st, flow);
            }
            st.session
                .terminate(CloseReason::Terminated(reason), Instant::now())
        }
        ClientMsg::SinkGone(id) => {
            if st.sink.as_ref().map(Sink::id) == Some(id) {
                st.shortcut.take_back();
                st.sink = None;
            }
            st.session.sink_gone(id, now)
        }
        ClientMsg::Tick(t) => st.session.tick(t, now),
        ClientMsg::Info(reply) => {
            let _ = reply.send(info(st));
            Vec::new()
        }
        ClientMsg::Inspect(reply) => {
            let _ = reply.send(inspect(st).await);
            Vec::new()
        }
    };
    perform(&myself, st, cmds, &mut None).await;
    st.shortcut.figures().set_outbox(st.session.queued());
    Ok(())
}

/// The monitor's view of this session (reads the state manager's value).
async fn inspect(st: &mut ClientState) -> ClientDetails {
    ClientDetails {
        state: st.session.phase().name(),
        transport: st.session.transport(),
        queued: st.session.queued(),
        idle: st.session.last_activity().elapsed(),
        value: st
            .store
            .get_all()
            .await
            .map(serde_json::Value::Object)
            .map_err(|e| e.to_string()),
    }
}

fn info(st: &ClientState) -> ClientInfo {
    ClientInfo {
        sid: st.sid.to_string(),
        state: st.session.phase().name(),
        queued: st.session.queued(),
    }
}

/// Dispatch internal events, then what the session makes of the replies.
async fn events_then_work(st: &mut ClientState, events: &[InternalEvent]) -> Vec<Cmd> {
    let flow = dispatch(&mut st.cx(), events).await;
    if apply_flow(st, flow) {
        st.session.terminate(CloseReason::Stopped, Instant::now())
    } else {
        st.session.after_work(Instant::now())
    }
}

/// Queue the error of a failed flow; true when the session must stop.
fn apply_flow(st: &mut ClientState, flow: Flow) -> bool {
    match flow {
        Flow::Continue => false,
        Flow::Error(e) => {
            st.session.push_error(&e);
            false
        }
        Flow::Stop(e) => {
            st.session.push_error(&e);
            true
        }
    }
}

/// Handle one item the client sent; `Some(reason)` ends the session.
async fn process_input(st: &mut ClientState, m: In) -> Option<CloseReason> {
    let services = Arc::clone(&st.services);
    let counters = services.metrics.events();
    counters.total.inc();
    counters.external.inc();
    match m {
        In::Event(ev) => {
            let t = Trigger::event(ev);
            let flow = run_chain(&mut st.cx(), &t).await;
            apply_flow(st, flow).then_some(CloseReason::Stopped)
        }
        In::Ack { id, args } => {
            // Unknown or repeated ids are ignored.
            let event = st.acks.as_mut()?.pending.remove(&id)?;
            let obj = serde_json::json!({"name": "on_ack", "args": args, "event": event});
            let t = Trigger::event(crate::events::Event::new(obj));
            let flow = run_chain(&mut st.cx(), &t).await;
            apply_flow(st, flow).then_some(CloseReason::Stopped)
        }
        // A client disconnect ends the session at once; a client heartbeat is activity.
        In::Disconnect => Some(CloseReason::ClientGone),
        In::Heartbeat => None,
        In::Invalid(e) => {
            counters.errors.inc();
            counters.external_errors.inc();
            st.session.push_error(&e);
            None
        }
    }
}

/// Send one item on its own to a sink; an XHR sink is answered and gone.
fn send_one(st: &ClientState, sink: &mut Option<Sink>, item: &Out) {
    let wire = st.session.wire();
    match sink {
        Some(Sink::Ws { tx, .. }) => {
            let _ = tx.try_send(WsOut::Frames(vec![wire.encode(item)]));
        }
        Some(Sink::Xhr { .. }) => {
            if let Some(Sink::Xhr { tx, .. }) = sink.take() {
                let _ = tx.send(XhrReply(wire.encode(item).to_string()));
            }
        }
        None => {}
    }
}

/// Perform the session's commands in order; what a command causes (a failed write, the connect
/// hooks' replies) is performed before the rest. `new` is the sink attaching, if any.
async fn perform(
    myself: &ActorRef<ClientMsg>,
    st: &mut ClientState,
    cmds: Vec<Cmd>,
    new: &mut Option<Sink>,
) {
    let mut todo: VecDeque<Cmd> = cmds.into();
    while let Some(cmd) = todo.pop_front() {
        let more = match cmd {
            Cmd::Send(Target::New, item) => {
                send_one(st, new, &item);
                Vec::new()
            }
            Cmd::Send(Target::Current, item) => {
                let mut sink = st.sink.take();
                send_one(st, &mut sink, &item);
                st.sink = sink;
                Vec::new()
            }
            Cmd::Close(Target::New) => {
                if let Some(Sink::Ws { tx, .. }) = new.take() {
                    let _ = tx.try_send(WsOut::Close);
                }
                Vec::new()
            }
            Cmd::Close(Target::Current) => {
                if let Some(Sink::Ws { tx, .. }) = &st.sink {
                    let _ = tx.try_send(WsOut::Close);
                }
                Vec::new()
            }
            Cmd::Keep => {
                st.sink = new.take();
                Vec::new()
            }
            Cmd::Lend => {
                if let Some(Sink::Ws { tx, .. }) = &st.sink {
                    // Lent closed; opened once this actor is idle (see `open_shortcut`).
                    st.shortcut.lend(tx.clone());
                }
                Vec::new()
            }
            Cmd::Write(batch) => write(st, batch),
            Cmd::KeepAlive => {
                if let Some(Sink::Ws { tx, .. }) = &st.sink {
                    let _ = tx.try_send(WsOut::KeepAlive);
                }
                Vec::new()
            }
            Cmd::CancelTimers => {
                for t in st.timers.drain(..) {
                    t.abort();
                }
                Vec::new()
            }
            Cmd::Arm(tick, after) => {
                st.timers.retain(|h| !h.is_finished());
                st.timers
                    .push(myself.send_after(after, move || ClientMsg::Tick(tick)));
                Vec::new()
            }
            Cmd::Connect if st.hello.is_some() => connect_modern(st).await,
            Cmd::Connect => {
                let flow = run_chain(&mut st.cx(), &Trigger::special("on_connect")).await;
                if apply_flow(st, flow) {
                    st.services.metrics.clients().errors.inc();
                    st.session.terminate(CloseReason::Stopped, Instant::now())
                } else {
                    st.session.after_work(Instant::now())
                }
            }
            Cmd::CountError => {
                st.services.metrics.clients().errors.inc();
                Vec::new()
            }
            Cmd::CountSlow => {
                st.services.metrics.clients().slow_dropped.inc();
                tracing::warn!(sid = %st.sid, queued = st.session.queued(), "client is not reading; disconnecting");
                Vec::new()
            }
            Cmd::Ending { reason, upgraded } => {
                ending(st, reason, upgraded).await;
                Vec::new()
            }
            Cmd::Hangup => {
                st.hang_up();
                Vec::new()
            }
            Cmd::Stop(reason) => {
                myself.stop(Some(format!("{reason:?}")));
                Vec::new()
            }
        };
        for c in more.into_iter().rev() {
            todo.push_front(c);
        }
    }
    st.show_phase();
}

/// `on_connect` of a modern namespace socket (its trigger carries the CONNECT's auth as `args`):
/// accepted, the CONNECT answer goes out first, then the chain's replies; refused (error or
/// stop), a CONNECT_ERROR `{message, data}` (masked in production) and the socket ends without
/// `on_disconnect`.
async fn connect_modern(st: &mut ClientState) -> Vec<Cmd> {
    // Taken: a session connects once, and the trigger data need not live as long as it does.
    let hello = st.hello.take().map_or(serde_json::Value::Null, |h| *h);
    let t = Trigger::connect(hello);
    let flow = run_chain(&mut st.cx(), &t).await;
    match flow {
        Flow::Continue => {
            st.session.replies().insert(0, Out::Connect);
            st.session.after_work(Instant::now())
        }
        Flow::Error(e) | Flow::Stop(e) => {
            st.services.metrics.clients().errors.inc();
            let obj = e.to_client_object(st.services.mode);
            let args = obj.get("args").and_then(|a| a.get(0)).cloned();
            let description = args
                .as_ref()
                .and_then(|a| a.get("description"))
                .cloned()
                .unwrap_or_else(|| serde_json::Value::String(e.to_string()));
            st.session.replies().clear();
            st.session.push(Out::ConnectError(serde_json::json!({
                "message": description,
                "data": args,
            })));
            st.session.terminate(CloseReason::Refused, Instant::now())
        }
    }
}

/// Most server-requested acks a socket waits for; beyond, the oldest ids are forgotten.
const MAX_PENDING_ACKS: usize = 1024;

/// On the modern wire, an event whose object says `"ack": true` asks the client for an ack: it
/// gets the socket's next id (from 1), remembered with its event name for `on_ack`.
fn request_acks(st: &mut ClientState, batch: &mut [Out]) {
    for item in batch {
        let Out::Event(e) = item else { continue };
        if e.object.get("ack") != Some(&serde_json::Value::Bool(true)) {
            continue;
        }
        if let Some(o) = e.object.as_object_mut() {
            o.remove("ack");
        }
        e.text = None;
        let acks = st.acks.get_or_insert_default();
        acks.last += 1;
        if acks.pending.len() >= MAX_PENDING_ACKS
            && let Some(oldest) = acks.pending.keys().min().copied()
        {
            acks.pending.remove(&oldest);
        }
        acks.pending.insert(acks.last, e.name().to_owned());
        e.ack = Some(crate::events::AckId {
            id: acks.last,
            with_data: false,
        });
    }
}

/// Flush a batch into the sink; what the session makes of a failure.
fn write(st: &mut ClientState, mut batch: Vec<Out>) -> Vec<Cmd> {
    let wire = st.session.wire();
    if matches!(wire, crate::wire::Wire::Modern(_)) {
        request_acks(st, &mut batch);
    }
    match st.sink.take() {
        None => st.session.write_failed(batch, WriteFailure::PollGone),
        Some(Sink::Ws { id, tx }) => {
            let n = batch.len();
            match tx.try_send(WsOut::Frames(wire.frames(&batch))) {
                Ok(()) => {
                    st.shortcut.count_ws(n);
                    st.sink = Some(Sink::Ws { id, tx });
                    Vec::new()
                }
                Err(TrySendError::Full(_)) => {
                    tracing::warn!(sid = %st.sid, "websocket writer is full; disconnecting slow client");
                    st.session.write_failed(batch, WriteFailure::Full)
                }
                Err(TrySendError::Closed(_)) => {
                    st.session.write_failed(batch, WriteFailure::Closed)
                }
            }
        }
        Some(Sink::Xhr { tx, .. }) => match tx.send(XhrReply(wire.poll_body(&batch))) {
            Ok(()) => Vec::new(),
            // The poll went away under us: nothing is lost, the next poll gets it.
            Err(_) => st.session.write_failed(batch, WriteFailure::PollGone),
        },
    }
}

/// The end of a session (HIVE.md 4.1) after its last flush: `on_disconnect` (its replies cannot
/// be delivered, HIVE.md 4.6), then the state cleanup.
async fn ending(st: &mut ClientState, reason: CloseReason, upgraded: bool) {
    if reason == CloseReason::SessionTimeout {
        tracing::info!(sid = %st.sid, "Client session timed out, closing connection.");
    }
    tracing::debug!(sid = %st.sid, ?reason, "session ends");
    // From here on channels deliver through this actor, which ignores them once terminated.
    st.shortcut.take_back();
    st.show_phase();
    if upgraded && reason != CloseReason::Refused {
        let _ = run_chain(&mut st.cx(), &Trigger::special("on_disconnect")).await;
    }
    let services = Arc::clone(&st.services);
    let m = services.metrics.state_mgr();
    m.call(&m.cleanup);
    if let Err(e) = st.store.cleanup().await {
        m.errors.inc();
        tracing::warn!(sid = %st.sid, error = %e, "state cleanup failed");
    }
}
