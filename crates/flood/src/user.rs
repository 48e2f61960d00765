//! One simulated user as a ractor actor (FLOOD.md 6): init script, handshake, transport, packet
//! and timer dispatch, clean disconnect. The transport I/O lives in `link` (reader tasks).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef};
use serde_json::json;
use tokio::task::AbortHandle;

use super::ctx::{Ctx, Flow, Stop, TimerSink};
use super::error::FloodError;
use super::interp;
use super::link::Link;
use super::meta::{Layers, Meta};
use super::scenario::{Session, Transport, parse_transport};
use super::stats::{Builtin, Latency};
use codec::{Kind, Message, decode_payload, parse_handshake};

pub(crate) mod msg;

pub use msg::{Shared, UserMsg};

/// Start arguments of a user.
pub struct UserArgs {
    /// Run-wide shared data.
    pub shared: Arc<Shared>,
    /// The session the user follows.
    pub session: Arc<Session>,
    /// Shared metadata base for (phase, session).
    pub base: Arc<Layers>,
    /// Global user index (metadata `user.id`, a flood extension).
    pub id: u64,
    /// Index within the phase (metadata `user.phase_index`).
    pub phase_index: u64,
}

/// The user actor (stateless; everything is in [`UserState`]).
pub struct UserActor;

struct Sink(ActorRef<UserMsg>);

impl TimerSink for Sink {
    fn arm(&self, name: Arc<str>, generation: u32, after: Duration) -> Option<AbortHandle> {
        let h = self
            .0
            .send_after(after, move || UserMsg::Timer(name, generation));
        Some(h.abort_handle())
    }
}

/// A user's state.
pub struct UserState {
    ctx: Ctx,
    shared: Arc<Shared>,
    transport: Transport,
    link: Link,
    connected: bool,
    sio: bool,
    started: Instant,
    stopping: bool,
}

impl Drop for UserState {
    fn drop(&mut self) {
        let s = &self.shared.stats;
        s.add(Builtin::TerminatedUsers, 1);
        s.add(Builtin::AliveUsers, -1);
        s.add(
            if self.connected {
                Builtin::ConnectedUsers
            } else {
                Builtin::DisconnectedUsers
            },
            -1,
        );
        if self.sio {
            s.sio_connected.fetch_sub(1, Ordering::Relaxed);
        }
        self.link.abort();
    }
}

impl Actor for UserActor {
    type Msg = UserMsg;
    type State = UserState;
    type Arguments = UserArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<UserMsg>,
        args: UserArgs,
    ) -> Result<UserState, ActorProcessingErr> {
        let stats = args.shared.stats.clone();
        let mut meta = Meta::new(args.base);
        meta.put("user.id", json!(args.id));
        meta.put("user.phase_index", json!(args.phase_index));
        let mut ctx = Ctx::new(meta, stats.clone(), Arc::new(Sink(myself.clone())));
        // Top-level `do` runs at spawn, before any network activity (FLOOD.md 6.2). Packets it
        // queues are sent once the transport is up instead of failing the user (FLOOD.md 14.1).
        let flow = interp::run(&mut ctx, &args.session.actions).await;
        if let Flow::Stop(why) = flow {
            stats.error("init_failed");
            return Err(FloodError::Scenario(format!("user init stopped: {why:?}")).into());
        }
        let transport = parse_transport(&args.session.transport)
            .ok_or_else(|| FloodError::Scenario("session without a transport".into()))?;
        stats.add(Builtin::AllUsers, 1);
        stats.add(Builtin::AliveUsers, 1);
        stats.add(Builtin::DisconnectedUsers, 1);
        myself.send_message(UserMsg::Connect)?;
        Ok(UserState {
            ctx,
            shared: args.shared,
            transport,
            link: Link::None,
            connected: false,
            sio: false,
            started: Instant::now(),
            stopping: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<UserMsg>,
        msg: UserMsg,
        st: &mut UserState,
    ) -> Result<(), ActorProcessingErr> {
        if st.stopping {
            return Ok(());
        }
        let flow = match msg {
            UserMsg::Connect => match connect(&myself, st).await {
                Ok(()) => Flow::Go,
                Err(e) => {
                    st.shared.stats.error(e.kind());
                    Flow::Stop(Stop::Crashed(e.to_string()))
                }
            },
            UserMsg::WsText(t) => {
                st.shared.stats.add(Builtin::WsIncomming, 1);
                incoming(st, &t).await
            }
            UserMsg::XhrBody(b) => {
                st.shared.stats.add(Builtin::HttpIncomming, 1);
                incoming(st, &b).await
            }
            UserMsg::WsPing(p) => {
                st.link.pong(&p).await;
                Flow::Go
            }
            UserMsg::Timer(name, generation) if st.connected => {
                interp::on_timer(&mut st.ctx, &name, generation).await
            }
            UserMsg::Timer(..) => Flow::Go,
            UserMsg::Closed(kind) => {
                if let Some(k) = kind {
                    st.shared.stats.error(k);
                }
                set_connected(st, false);
                Flow::Stop(Stop::Disconnected)
            }
            UserMsg::Shutdown => Flow::Stop(Stop::Terminated("end of run".into())),
        };
        flush(st).await;
        if let Flow::Stop(why) = flow {
            st.stopping = true;
            match &why {
                Stop::Crashed(e) => {
                    st.shared.stats.error("user_crash");
                    super::console::rare("warning", &format!("user crashed: {e}"));
                }
                Stop::Disconnected => {}
                Stop::Terminated(_) => {}
            }
            if why != Stop::Disconnected {
                st.link.disconnect(&st.shared).await;
            }
            st.ctx.cancel_timers();
            myself.stop(None);
        }
        Ok(())
    }
}

fn set_connected(st: &mut UserState, on: bool) {
    if st.connected == on {
        return;
    }
    st.connected = on;
    let s = &st.shared.stats;
    let (up, down) = if on {
        (Builtin::ConnectedUsers, Builtin::DisconnectedUsers)
    } else {
        (Builtin::DisconnectedUsers, Builtin::ConnectedUsers)
    };
    s.add(up, 1);
    s.add(down, -1);
}

/// A handshake reply.
struct Reply {
    status: u16,
    body: String,
}

/// Handshake, then open the session's transport (FLOOD.md 6.2 steps 3-5).
async fn connect(myself: &ActorRef<UserMsg>, st: &mut UserState) -> Result<(), FloodError> {
    let shared = st.shared.clone();
    let (srv, stats) = (&shared.server, &shared.stats);
    stats.add(Builtin::HttpOutgoing, 1);
    let t0 = Instant::now();
    st.started = t0;
    set_connected(st, true);
    // WebSocket users keep the handshake's connection for the upgrade (flood::dial); XHR users
    // poll and post on keep-alive connections of their own.
    let (reply, tcp) = if st.transport == Transport::WebSocket {
        let mut tcp = super::dial::dial(&srv.host, srv.port).await?;
        let r = super::dial::get(&mut tcp, &srv.host, srv.port, &srv.endpoint).await?;
        let reuse = r.reusable.then_some(tcp);
        ((r.status, r.body), reuse)
    } else {
        let mut conn = super::http::Conn::open(&srv.host, srv.port).await?;
        let r = conn
            .send(hyper::Method::GET, &srv.endpoint, &[], String::new())
            .await?;
        ((r.status, r.body), None)
    };
    let reply = Reply {
        status: reply.0,
        body: reply.1,
    };
    stats.add(Builtin::HttpIncomming, 1);
    stats.record_latency(Latency::Handshake, t0.elapsed());
    if reply.status != 200 {
        return Err(FloodError::net(
            "handshake_status",
            format!("{} {}", reply.status, reply.body),
        ));
    }
    let hs = parse_handshake(&reply.body).map_err(|e| FloodError::net("handshake_parse", e))?;
    let meta = &mut st.ctx.meta;
    meta.put("server.sid", json!(hs.sid));
    meta.put("server.heartbeat_timeout", json!(hs.heartbeat_secs * 1000));
    meta.put("server.reconnect_timeout", json!(hs.close_secs * 1000));
    meta.put("server.available_trasports", json!(hs.transports));
    let name = st.transport.name();
    meta.put(
        "server.url",
        json!(format!(
            "{}:{}{}{name}/{}",
            srv.host, srv.port, srv.endpoint, hs.sid
        )),
    );
    if !hs.offers(name) {
        return Err(FloodError::net(
            "transport_not_offered",
            format!("{name} not in {:?}", hs.transports),
        ));
    }
    let path = format!("{}{name}/{}", srv.endpoint, hs.sid);
    st.link = Link::open(st.transport, &st.shared, myself, path, tcp).await?;
    Ok(())
}

/// Decodes a transport message and dispatches its packets in order.
async fn incoming(st: &mut UserState, text: &str) -> Flow {
    if text.is_empty() {
        return Flow::Go;
    }
    let msgs = match decode_payload(text, None) {
        Ok(m) => m,
        Err(_) => {
            st.shared.stats.error("protocol_parse");
            return Flow::Go;
        }
    };
    for m in msgs {
        st.shared.stats.packets_in.fetch_add(1, Ordering::Relaxed);
        if m.kind == Kind::Connect && !st.sio {
            st.sio = true;
            st.shared.stats.sio_up();
            st.shared
                .stats
                .record_latency(Latency::Connect, st.started.elapsed());
        }
        let flow = interp::on_packet(&mut st.ctx, m).await;
        if flow != Flow::Go {
            return flow;
        }
    }
    Flow::Go
}

/// Sends queued packets once the transport is up.
async fn flush(st: &mut UserState) {
    if st.ctx.out.is_empty() || !st.link.is_up() {
        return;
    }
    let out: Vec<Message> = std::mem::take(&mut st.ctx.out);
    st.ctx.rtt.sent(Instant::now());
    if let Err(e) = st.link.send(&st.shared, &out).await {
        st.shared.stats.error(e.kind());
    }
}
