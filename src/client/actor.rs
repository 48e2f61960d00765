//! The client actor: one per session, the state machine of HIVE.md 4.2 with the timers of 3.10.
//!
//! All hooks of a session run inside this actor, one message at a time, so a slow backend blocks only
//! its own client. Replies go to the [`Outbox`] and are flushed to the current sink after
//! `poll_timeout` (0 = at once; the WebSocket writer coalesces what queues up meanwhile).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::mpsc::error::TrySendError;
use tokio::task::JoinHandle;

type Timer = JoinHandle<Result<(), ractor::MessagingErr<ClientMsg>>>;

use super::handle::{
    ClientDetails, ClientHandle, ClientInfo, ClientMsg, CloseReason, Sink, Tick, Transport,
    XhrReply,
};
use super::outbox::{Outbox, ws_frames, xhr_body};
use super::shortcut::Shortcut;
use super::ws_queue::WsOut;
use crate::config::StateManagerName;
use crate::error::HiveError;
use crate::hooks::engine::{dispatch, run_chain};
use crate::hooks::{Cx, Flow, HookTable, Reply, Services, Trigger};
use crate::metrics::{ClientStateMetrics, Counter};
use crate::pubsub::{Delivery, Privilege, Subscriber};
use crate::state::{
    StateStore, initial_map, local::LocalState, redis::RedisState, redis::redis_state_args,
};
use codec::event::{InternalEvent, parse_external_event};
use codec::socketio::{Kind, Message, encode};

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
    /// Shared with the handle and the channels (see [`Shortcut`]).
    pub shortcut: Arc<Shortcut>,
}

/// Session phases (HIVE.md 4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Spawned, no transport yet.
    Generic,
    /// Upgraded, no usable sink (XHR between polls).
    Transient,
    /// Sink available, nothing queued.
    Waiting,
    /// Sink available, replies queued, poll timer running.
    Polling,
    /// Ending.
    Terminated,
}

impl Phase {
    /// The `clients.states.<phase>` gauge of a live phase.
    fn gauge(self, m: &ClientStateMetrics) -> Option<&Counter> {
        match self {
            Phase::Generic => Some(&m.generic),
            Phase::Transient => Some(&m.transient),
            Phase::Waiting => Some(&m.waiting),
            Phase::Polling => Some(&m.polling),
            Phase::Terminated => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Phase::Generic => "generic",
            Phase::Transient => "transient",
            Phase::Waiting => "waiting",
            Phase::Polling => "polling",
            Phase::Terminated => "terminated",
        }
    }
}

/// Mutable state of one session.
pub struct ClientState {
    sid: Arc<str>,
    services: Arc<Services>,
    me: Arc<dyn Subscriber>,
    phase: Phase,
    transport: Option<Transport>,
    sink: Option<Sink>,
    outbox: Outbox,
    store: StateStore,
    hooks: Arc<HookTable>,
    shortcut: Arc<Shortcut>,
    last_activity: Instant,
    last_flush: Instant,
    generation: u64,
    poll_armed: bool,
    timers: Vec<Timer>,
}

impl ClientState {
    fn set_phase(&mut self, p: Phase) {
        if p == self.phase {
            return;
        }
        let m = self.services.metrics.states();
        if let Some(g) = self.phase.gauge(m) {
            g.dec();
        }
        if let Some(g) = p.gauge(m) {
            g.inc();
        }
        m.transitions.inc();
        self.phase = p;
    }

    fn sockets(&self) -> &crate::config::SocketioSection {
        &self.services.config.socketio
    }

    /// The hook context over this session: replies go to the outbox.
    fn cx(&mut self) -> Cx<'_> {
        Cx {
            sid: &self.sid,
            services: &self.services,
            state: &mut self.store,
            hooks: &mut self.hooks,
            replies: self.outbox.items_mut(),
            me: Arc::clone(&self.me),
        }
    }

    fn push_error(&mut self, e: &HiveError) {
        self.outbox.push_error(e, self.services.mode);
    }
}

/// The `clients.websocket` or `clients.xhr_polling` gauge of a transport.
fn transport_gauge(services: &Services, t: Transport) -> &Counter {
    let m = services.metrics.clients();
    if t.is_ws() {
        &m.websocket
    } else {
        &m.xhr_polling
    }
}

fn after(
    myself: &ActorRef<ClientMsg>,
    ms: u64,
    tick: Tick,
) -> JoinHandle<Result<(), ractor::MessagingErr<ClientMsg>>> {
    myself.send_after(Duration::from_millis(ms), move || ClientMsg::Tick(tick))
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
                StateStore::Redis(RedisState::new(
                    pool,
                    args.sid.to_string(),
                    expiration,
                    prefix,
                ))
            }
            StateManagerName::Local => StateStore::Local(LocalState::new()),
        };
        let m = services.metrics.state_mgr();
        m.call(&m.init);
        if let Err(e) = store.init(initial_map(&desc.initial_value)).await {
            m.errors.inc();
            return Err(e.into());
        }
        let handle = ClientHandle::new(
            Arc::clone(&args.sid),
            myself.clone(),
            Arc::clone(&args.shortcut),
            services.config.socketio.max_outgoing_queue,
        );
        let init = after(&myself, services.config.socketio.init_timeout, Tick::Init);
        services.metrics.states().generic.inc();
        services.metrics.clients().total.inc();
        let now = Instant::now();
        Ok(ClientState {
            sid: args.sid,
            hooks: Arc::clone(&services.tables.hooks),
            services,
            me: Arc::new(handle),
            phase: Phase::Generic,
            transport: None,
            sink: None,
            outbox: Outbox::default(),
            store,
            shortcut: args.shortcut,
            last_activity: now,
            last_flush: now,
            generation: 0,
            poll_armed: false,
            timers: vec![init],
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<ClientMsg>,
        st: &mut ClientState,
    ) -> Result<(), ActorProcessingErr> {
        for t in st.timers.drain(..) {
            t.abort();
        }
        st.set_phase(Phase::Terminated);
        if let Some(t) = st.transport {
            transport_gauge(&st.services, t).dec();
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
            ClientMsg::Deliver(Delivery::Frames(frames)) if st.phase != Phase::Terminated => {
                st.shortcut.release();
                if st.phase == Phase::Generic {
                    return Ok(());
                }
                st.outbox
                    .extend(frames.iter().map(|f| Reply::Frame(Arc::clone(f))));
                after_work(&myself, st).await;
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
/// there is no batching window and everything this actor queued is already with the connection.
fn open_shortcut(st: &ClientState) {
    if st.sockets().poll_timeout != 0 || !st.outbox.is_empty() {
        return;
    }
    if let (Phase::Waiting, Some(Sink::Ws { .. })) = (st.phase, &st.sink) {
        st.shortcut.open();
    }
}

/// Every message but the hot one (see [`ClientActor::handle`]).
async fn handle_msg(
    myself: ActorRef<ClientMsg>,
    msg: ClientMsg,
    st: &mut ClientState,
) -> Result<(), ActorProcessingErr> {
    if st.phase == Phase::Terminated {
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
    match msg {
        ClientMsg::Attach { transport, sink } => attach(&myself, st, transport, sink).await,
        ClientMsg::Messages(msgs) => {
            if st.phase == Phase::Generic {
                return Ok(());
            }
            st.last_activity = Instant::now();
            for m in msgs {
                if let Some(reason) = process_message(st, m).await {
                    {
                        terminate(&myself, st, reason).await;
                        return Ok(());
                    }
                }
            }
            after_work(&myself, st).await;
        }
        ClientMsg::Deliver(d) => {
            st.shortcut.release();
            if st.phase == Phase::Generic {
                return Ok(());
            }
            match d {
                Delivery::Frames(frames) => {
                    st.outbox
                        .extend(frames.iter().map(|f| Reply::Frame(Arc::clone(f))));
                }
                Delivery::Events(events) => {
                    if run_events(st, &events).await {
                        {
                            terminate(&myself, st, CloseReason::Stopped).await;
                            return Ok(());
                        }
                    }
                }
            }
            after_work(&myself, st).await;
        }
        ClientMsg::Events(events) => {
            if st.phase == Phase::Generic {
                return Ok(());
            }
            if run_events(st, &events).await {
                {
                    terminate(&myself, st, CloseReason::Stopped).await;
                    return Ok(());
                }
            }
            after_work(&myself, st).await;
        }
        ClientMsg::Subscribe { cids, join } => {
            if st.phase == Phase::Generic {
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
                st.push_error(&e);
            }
            after_work(&myself, st).await;
        }
        ClientMsg::Terminate(reason) => terminate(&myself, st, reason).await,
        ClientMsg::Graceful(reason) => {
            if st.phase != Phase::Generic {
                st.services.metrics.events().control.inc();
                let t = Trigger::terminate(&reason);
                let flow = chain(st, &t).await;
                apply_flow(st, flow);
            }
            terminate(&myself, st, CloseReason::Terminated(reason)).await;
        }
        ClientMsg::SinkGone(id) => {
            if st.sink.as_ref().map(Sink::id) == Some(id) {
                let was_ws = matches!(st.sink, Some(Sink::Ws { .. }));
                st.shortcut.take_back();
                st.sink = None;
                if was_ws {
                    {
                        terminate(&myself, st, CloseReason::ClientGone).await;
                        return Ok(());
                    }
                }
                st.set_phase(Phase::Transient);
            }
        }
        ClientMsg::Tick(t) => tick(&myself, st, t).await,
        ClientMsg::Info(reply) => {
            let _ = reply.send(info(st));
        }
        ClientMsg::Inspect(reply) => {
            let _ = reply.send(inspect(st).await);
        }
    }
    Ok(())
}

/// The monitor's view of this session (reads the state manager's value).
async fn inspect(st: &mut ClientState) -> ClientDetails {
    ClientDetails {
        state: st.phase.name(),
        transport: st.transport,
        queued: st.outbox.len(),
        idle: st.last_activity.elapsed(),
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
        state: st.phase.name(),
        queued: st.outbox.len(),
    }
}

/// Run a hook chain; its replies go straight to the outbox, in order.
async fn chain(st: &mut ClientState, t: &Trigger) -> Flow {
    run_chain(&mut st.cx(), t).await
}

/// Dispatch internal events; returns true when the session must stop.
async fn run_events(st: &mut ClientState, events: &[InternalEvent]) -> bool {
    let flow = dispatch(&mut st.cx(), events).await;
    apply_flow(st, flow)
}

/// Queue the error of a failed flow; true when the session must stop.
fn apply_flow(st: &mut ClientState, flow: Flow) -> bool {
    match flow {
        Flow::Continue => false,
        Flow::Error(e) => {
            st.push_error(&e);
            false
        }
        Flow::Stop(e) => {
            st.push_error(&e);
            true
        }
    }
}

/// Handle one browser message; `Some(reason)` ends the session.
async fn process_message(st: &mut ClientState, m: Message) -> Option<CloseReason> {
    let services = Arc::clone(&st.services);
    let counters = services.metrics.events();
    counters.total.inc();
    counters.external.inc();
    match m.kind {
        Kind::Event => match parse_external_event(&m.data) {
            Err(e) => {
                counters.errors.inc();
                counters.external_errors.inc();
                st.push_error(&e.into());
                None
            }
            Ok(ev) => {
                let t = Trigger::event(ev.name, m, ev.raw);
                let flow = chain(st, &t).await;
                apply_flow(st, flow).then_some(CloseReason::Stopped)
            }
        },
        // A client disconnect ends the session at once; a client heartbeat is activity.
        Kind::Disconnect => Some(CloseReason::ClientGone),
        Kind::Heartbeat => None,
        _ => {
            counters.errors.inc();
            counters.external_errors.inc();
            let e = HiveError::ClientError(format!(
                "Unhandled Hive Hooks Client external event: {}",
                encode(&m)
            ));
            st.push_error(&e);
            None
        }
    }
}

async fn attach(
    myself: &ActorRef<ClientMsg>,
    st: &mut ClientState,
    transport: Transport,
    sink: Sink,
) {
    match st.phase {
        Phase::Generic => {
            // Upgrade: `1:::` on the transport, then on_connect, then the session timers.
            for t in st.timers.drain(..) {
                t.abort();
            }
            st.transport = Some(transport);
            transport_gauge(&st.services, transport).inc();
            match sink {
                Sink::Ws { id, tx } => {
                    let _ = tx.try_send(WsOut::Frames(vec![Arc::from("1:::")]));
                    if st.sockets().poll_timeout == 0 {
                        // Lent closed; opened once this actor is idle (see `open_shortcut`).
                        st.shortcut.lend(tx.clone());
                    }
                    st.sink = Some(Sink::Ws { id, tx });
                    st.set_phase(Phase::Waiting);
                }
                Sink::Xhr { tx, .. } => {
                    let _ = tx.send(XhrReply("1:::".into()));
                    st.set_phase(Phase::Transient);
                }
            }
            let now = Instant::now();
            st.last_activity = now;
            st.last_flush = now;
            st.generation += 1;
            // One timer task for both the heartbeat and the session timeout (see `housekeeping`).
            let (hb, session) = (st.sockets().heartbeat_timeout, st.sockets().session_timeout);
            st.timers.push(after(
                myself,
                hb.min(session),
                Tick::Heartbeat(st.generation),
            ));
            let flow = chain(st, &Trigger::special("on_connect")).await;
            if apply_flow(st, flow) {
                st.services.metrics.clients().errors.inc();
                terminate(myself, st, CloseReason::Stopped).await;
                return;
            }
            after_work(myself, st).await;
        }
        Phase::Transient => {
            st.sink = Some(sink);
            st.set_phase(Phase::Waiting);
            after_work(myself, st).await;
        }
        Phase::Waiting | Phase::Polling => match (st.sink.take(), sink) {
            // A second XHR GET replaces the first, which is answered with a noop (HIVE.md 16.2 #7).
            (Some(Sink::Xhr { tx: old, .. }), new @ Sink::Xhr { .. }) => {
                let _ = old.send(XhrReply("8:::".into()));
                st.sink = Some(new);
            }
            (current, Sink::Ws { tx, .. }) => {
                let e = HiveError::ClientError(
                    "This session already has a transport connection.".into(),
                );
                let _ = tx.try_send(WsOut::Frames(vec![Arc::from(encode(&Message::event(
                    e.to_client_event(st.services.mode),
                )))]));
                let _ = tx.try_send(WsOut::Close);
                st.sink = current;
            }
            (current, Sink::Xhr { tx, .. }) => {
                let _ = tx.send(XhrReply("8:::".into()));
                st.sink = current;
            }
        },
        Phase::Terminated => {}
    }
}

/// Schedule a flush after work queued replies.
async fn after_work(myself: &ActorRef<ClientMsg>, st: &mut ClientState) {
    if st.outbox.len() > st.sockets().max_outgoing_queue {
        tracing::warn!(sid = %st.sid, queued = st.outbox.len(), "client is not reading; disconnecting");
        st.services.metrics.clients().slow_dropped.inc();
        Box::pin(terminate(myself, st, CloseReason::SlowClient)).await;
        return;
    }
    if st.outbox.is_empty() || st.sink.is_none() {
        return;
    }
    let poll = st.sockets().poll_timeout;
    if poll == 0 {
        // No batching window: hand the replies to the transport now (its writer coalesces what
        // queues up while it is busy into one socket write).
        Box::pin(flush(myself, st)).await;
    } else if !st.poll_armed {
        st.poll_armed = true;
        st.generation += 1;
        let h = after(myself, poll, Tick::Poll(st.generation));
        st.timers.push(h);
        st.set_phase(Phase::Polling);
    }
}

/// Flush the outbox into the sink (if any).
async fn flush(myself: &ActorRef<ClientMsg>, st: &mut ClientState) {
    st.poll_armed = false;
    if st.outbox.is_empty() {
        if st.phase == Phase::Polling {
            st.set_phase(Phase::Waiting);
        }
        return;
    }
    match st.sink.take() {
        None => {}
        Some(Sink::Ws { id, tx }) => {
            let batch = st.outbox.take();
            let n = batch.len();
            match tx.try_send(WsOut::Frames(ws_frames(&batch))) {
                Ok(()) => {
                    st.shortcut.count_ws(n);
                    st.sink = Some(Sink::Ws { id, tx });
                    st.last_flush = Instant::now();
                    st.set_phase(Phase::Waiting);
                }
                Err(TrySendError::Full(_)) => {
                    st.outbox.requeue(batch);
                    st.services.metrics.clients().slow_dropped.inc();
                    tracing::warn!(sid = %st.sid, "websocket writer is full; disconnecting slow client");
                    Box::pin(terminate(myself, st, CloseReason::SlowClient)).await;
                }
                Err(TrySendError::Closed(_)) => {
                    st.outbox.requeue(batch);
                    Box::pin(terminate(myself, st, CloseReason::ClientGone)).await;
                }
            }
        }
        Some(Sink::Xhr { tx, .. }) => {
            let batch = st.outbox.take();
            if let Err(XhrReply(_)) = tx.send(XhrReply(xhr_body(&batch))) {
                // The poll went away under us: nothing is lost, the next poll gets it.
                st.outbox.requeue(batch);
            } else {
                st.last_flush = Instant::now();
            }
            st.set_phase(Phase::Transient);
        }
    }
}

async fn tick(myself: &ActorRef<ClientMsg>, st: &mut ClientState, t: Tick) {
    let now = Instant::now();
    match t {
        Tick::Init => {
            if st.phase == Phase::Generic {
                st.services.metrics.clients().errors.inc();
                terminate(myself, st, CloseReason::InitTimeout).await;
            }
        }
        Tick::Poll(g) => {
            if st.poll_armed && g == st.generation {
                flush(myself, st).await;
            } else if st.poll_armed {
                // An older poll tick: the current one is still armed.
            }
        }
        Tick::Heartbeat(_) | Tick::Session(_) => housekeeping(myself, st, now).await,
    }
}

/// The heartbeat (HIVE.md 3.10: a keep-alive, a flush or a noop once `heartbeat_timeout` passed
/// since the last flush) and the session timeout (no client activity for `session_timeout`),
/// checked by one timer, re-armed for whichever of the two is due first: one timer task per
/// session instead of two.
async fn housekeeping(myself: &ActorRef<ClientMsg>, st: &mut ClientState, now: Instant) {
    let limit = Duration::from_millis(st.sockets().session_timeout);
    if now.duration_since(st.last_activity) >= limit {
        tracing::info!(sid = %st.sid, "Client session timed out, closing connection.");
        return terminate(myself, st, CloseReason::SessionTimeout).await;
    }
    let hb = Duration::from_millis(st.sockets().heartbeat_timeout);
    if now.duration_since(st.last_flush) >= hb {
        if !st.outbox.is_empty() && st.sink.is_some() {
            flush(myself, st).await;
        } else {
            match st.sink.take() {
                Some(Sink::Ws { id, tx }) => {
                    let _ = tx.try_send(WsOut::KeepAlive);
                    st.sink = Some(Sink::Ws { id, tx });
                }
                Some(Sink::Xhr { tx, .. }) => {
                    let _ = tx.send(XhrReply("8:::".into()));
                    st.set_phase(Phase::Transient);
                }
                None => {
                    // An XHR client that stopped polling is dropped at the heartbeat expiry.
                    return terminate(myself, st, CloseReason::NoSink).await;
                }
            }
        }
        if st.phase == Phase::Terminated {
            return;
        }
        st.last_flush = Instant::now();
    }
    let due = (st.last_flush + hb).min(st.last_activity + limit);
    let rest = due.saturating_duration_since(Instant::now()).as_millis() as u64;
    st.timers.retain(|h| !h.is_finished());
    st.timers
        .push(after(myself, rest.max(1), Tick::Heartbeat(0)));
}

/// The termination steps of HIVE.md 4.1: flush, on_disconnect, state cleanup, tell the sink, stop.
async fn terminate(myself: &ActorRef<ClientMsg>, st: &mut ClientState, reason: CloseReason) {
    if st.phase == Phase::Terminated {
        return;
    }
    tracing::debug!(sid = %st.sid, ?reason, "session ends");
    // From here on channels deliver through this actor, which ignores them once terminated.
    st.shortcut.take_back();
    let upgraded = st.phase != Phase::Generic;
    if upgraded && !st.outbox.is_empty() && st.sink.is_some() {
        // An XHR poll answered with the last replies leaves no sink for `0:::`: the browser would
        // learn of the end only from its next poll, which may find the node gone (shutdown). End
        // that body with the disconnect frame instead.
        if matches!(st.sink, Some(Sink::Xhr { .. })) {
            st.outbox.push(Reply::Frame(Arc::from("0:::")));
        }
        Box::pin(flush(myself, st)).await;
    }
    st.set_phase(Phase::Terminated);
    if upgraded {
        // Replies of on_disconnect cannot be delivered (HIVE.md 4.6).
        let _ = run_chain(&mut st.cx(), &Trigger::special("on_disconnect")).await;
    }
    let services = Arc::clone(&st.services);
    let m = services.metrics.state_mgr();
    m.call(&m.cleanup);
    if let Err(e) = st.store.cleanup().await {
        m.errors.inc();
        tracing::warn!(sid = %st.sid, error = %e, "state cleanup failed");
    }
    match st.sink.take() {
        Some(Sink::Ws { tx, .. }) => {
            let _ = tx.try_send(WsOut::Close);
        }
        Some(Sink::Xhr { tx, .. }) => {
            let _ = tx.send(XhrReply("0:::".into()));
        }
        None => {}
    }
    myself.stop(Some(format!("{reason:?}")));
}
