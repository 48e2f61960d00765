//! One simulated user as a ractor actor (FLOOD.md 6): init script, handshake, transport, packet
//! and timer dispatch, clean disconnect. The transport I/O lives in `link` (reader tasks); the
//! modern protocols' Engine.IO session (open packet, heartbeats, attachments) in [`Modern`].

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
use super::modern;
use super::scenario::{Protocol, Session, Transport, parse_session_transport};
use super::stats::{Builtin, Latency};
use codec::eio::{self, Packet as Eio, Revision};
use codec::sio;
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

/// The Engine.IO side of a modern-protocol user.
struct Modern {
    proto: Protocol,
    rev: Revision,
    /// Binary packets waiting for their attachments.
    asm: sio::Assembler,
    /// EIO3: the client's ping period (from the open packet).
    ping_every: Option<Duration>,
    /// The open packet arrived.
    open: bool,
}

/// A user's state.
pub struct UserState {
    ctx: Ctx,
    shared: Arc<Shared>,
    transport: Transport,
    modern: Option<Modern>,
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
        let transport = parse_session_transport(&args.session)
            .ok_or_else(|| FloodError::Scenario("session without a transport".into()))?;
        let proto = args.session.protocol;
        let modern = proto.is_modern().then(|| Modern {
            proto,
            rev: modern::revision(proto),
            asm: sio::Assembler::new(modern::MAX_ATTACHMENTS),
            ping_every: None,
            open: false,
        });
        stats.add(Builtin::AllUsers, 1);
        stats.add(Builtin::AliveUsers, 1);
        stats.add(Builtin::DisconnectedUsers, 1);
        myself.send_message(UserMsg::Connect)?;
        Ok(UserState {
            ctx,
            shared: args.shared,
            transport,
            modern,
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
            UserMsg::Connect if st.modern.is_some() => match connect_modern(&myself, st).await {
                Ok(()) => Flow::Go,
                Err(e) => {
                    st.shared.stats.error(e.kind());
                    Flow::Stop(Stop::Crashed(e.to_string()))
                }
            },
            UserMsg::Connect => match connect(&myself, st).await {
                Ok(()) => Flow::Go,
                Err(e) => {
                    st.shared.stats.error(e.kind());
                    Flow::Stop(Stop::Crashed(e.to_string()))
                }
            },
            UserMsg::WsText(t) => {
                st.shared.stats.add(Builtin::WsIncomming, 1);
                match &st.modern {
                    Some(m) => match eio::decode_packet(&t, m.rev, false) {
                        Ok(p) => incoming_modern(&myself, st, vec![p]).await,
                        Err(_) => parse_error(st),
                    },
                    None => incoming(st, &t).await,
                }
            }
            UserMsg::WsBinary(b) => {
                st.shared.stats.add(Builtin::WsIncomming, 1);
                match &st.modern {
                    Some(m) => match eio::decode_ws_binary(m.rev, &b) {
                        Ok(b) => incoming_modern(&myself, st, vec![Eio::Binary(b)]).await,
                        Err(_) => parse_error(st),
                    },
                    None => Flow::Go,
                }
            }
            UserMsg::XhrBody(b) => {
                st.shared.stats.add(Builtin::HttpIncomming, 1);
                match &st.modern {
                    Some(m) => {
                        let d = modern::decode_body(m.rev, &b);
                        let flow = incoming_modern(&myself, st, d.packets).await;
                        if d.error.is_some() && flow == Flow::Go {
                            parse_error(st)
                        } else {
                            flow
                        }
                    }
                    None => incoming(st, &b).await,
                }
            }
            UserMsg::EioPing => {
                if let Some(m) = &st.modern
                    && let Some(every) = m.ping_every
                {
                    let rev = m.rev;
                    let _ = st
                        .link
                        .send_eio(&st.shared, rev, &[Eio::Ping(String::new())])
                        .await;
                    myself.send_after(every, || UserMsg::EioPing);
                }
                Flow::Go
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
                match &st.modern {
                    Some(m) => {
                        // DISCONNECT of `/`, and on polling the Engine.IO close.
                        let mut bye = vec![Eio::Message("1".to_owned())];
                        if st.transport == Transport::XhrPolling {
                            bye.push(Eio::Close);
                        }
                        let rev = m.rev;
                        let _ = st.link.send_eio(&st.shared, rev, &bye).await;
                        st.link.close().await;
                    }
                    None => st.link.disconnect(&st.shared).await,
                }
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
    st.link = Link::open(st.transport, &st.shared, myself, path, tcp, true).await?;
    Ok(())
}

/// Opens an Engine.IO session: a WebSocket straight away (the open packet is its first frame),
/// or a polling handshake `GET` whose answer is the open packet (EIO3 with `b64=1`, so every
/// answer is text).
async fn connect_modern(myself: &ActorRef<UserMsg>, st: &mut UserState) -> Result<(), FloodError> {
    let shared = st.shared.clone();
    let (srv, stats) = (&shared.server, &shared.stats);
    let Some(m) = &st.modern else {
        return Ok(());
    };
    let rev = m.rev;
    let b64 = if rev == Revision::V3 { "&b64=1" } else { "" };
    let query = format!("{}?EIO={}&transport=", srv.path, rev.number());
    stats.add(Builtin::HttpOutgoing, 1);
    st.started = Instant::now();
    set_connected(st, true);
    if st.transport == Transport::WebSocket {
        let path = format!("{query}websocket");
        st.link = Link::open(st.transport, &shared, myself, path, None, false).await?;
        return Ok(());
    }
    let mut conn = super::http::Conn::open(&srv.host, srv.port).await?;
    let r = conn
        .send(
            hyper::Method::GET,
            &format!("{query}polling{b64}"),
            &[],
            String::new(),
        )
        .await?;
    stats.add(Builtin::HttpIncomming, 1);
    if r.status != 200 {
        return Err(FloodError::net(
            "handshake_status",
            format!("{} {}", r.status, r.body),
        ));
    }
    let d = modern::decode_body(rev, &r.body);
    let info = match d.packets.first() {
        Some(Eio::Open(j)) => eio::OpenInfo::parse(j),
        _ => None,
    }
    .ok_or_else(|| FloodError::net("handshake_parse", r.body.clone()))?;
    let path = format!("{query}polling&sid={}{b64}", info.sid);
    st.link = Link::open(st.transport, &shared, myself, path, None, false).await?;
    let rest = d.packets.into_iter().collect();
    let _ = incoming_modern(myself, st, rest).await;
    Ok(())
}

/// The open packet: metadata, heartbeat, and in Socket.IO 5 the CONNECT to `/` (with metadata
/// `auth` as its payload when that is an object), ahead of anything the script queued.
fn on_open(myself: &ActorRef<UserMsg>, st: &mut UserState, data: &str) -> Result<(), FloodError> {
    let info = eio::OpenInfo::parse(data)
        .ok_or_else(|| FloodError::net("handshake_parse", data.to_owned()))?;
    st.shared
        .stats
        .record_latency(Latency::Handshake, st.started.elapsed());
    let srv = &st.shared.server;
    let meta = &mut st.ctx.meta;
    meta.put("server.sid", json!(info.sid));
    meta.put("server.ping_interval", json!(info.ping_interval));
    meta.put("server.ping_timeout", json!(info.ping_timeout));
    meta.put("server.max_payload", json!(info.max_payload));
    meta.put("server.available_trasports", json!(info.upgrades));
    meta.put(
        "server.url",
        json!(format!("{}:{}{}", srv.host, srv.port, srv.path)),
    );
    let auth = super::meta::substitute(&json!("$auth"), &st.ctx.meta);
    let Some(m) = &mut st.modern else {
        return Ok(());
    };
    m.open = true;
    if m.rev == Revision::V3 {
        let every = Duration::from_millis(info.ping_interval.max(1));
        m.ping_every = Some(every);
        myself.send_after(every, || UserMsg::EioPing);
    }
    if m.proto == Protocol::Sio5 {
        let data = if auth.is_object() {
            auth.to_string()
        } else {
            String::new()
        };
        st.ctx
            .out
            .insert(0, Message::with_data(Kind::Connect, data));
    }
    Ok(())
}

fn parse_error(st: &UserState) -> Flow {
    st.shared.stats.error("protocol_parse");
    Flow::Go
}

/// Handles received Engine.IO packets in order: the open packet, heartbeats, and Socket.IO
/// packets (reassembled with their attachments) dispatched to the script as 0.9 messages.
async fn incoming_modern(
    myself: &ActorRef<UserMsg>,
    st: &mut UserState,
    packets: Vec<Eio>,
) -> Flow {
    for p in packets {
        st.shared.stats.packets_in.fetch_add(1, Ordering::Relaxed);
        let Some(m) = &mut st.modern else {
            return Flow::Go;
        };
        let sio = match p {
            Eio::Open(data) => {
                if let Err(e) = on_open(myself, st, &data) {
                    st.shared.stats.error(e.kind());
                    return Flow::Stop(Stop::Crashed(e.to_string()));
                }
                continue;
            }
            Eio::Ping(d) => {
                // EIO4: the server pings, the client answers at once (probes too).
                let rev = m.rev;
                if rev == Revision::V4 {
                    let _ = st.link.send_eio(&st.shared, rev, &[Eio::Pong(d)]).await;
                }
                continue;
            }
            Eio::Close => {
                set_connected(st, false);
                return Flow::Stop(Stop::Disconnected);
            }
            Eio::Pong(_) | Eio::Noop | Eio::Upgrade => continue,
            Eio::Message(t) => m.asm.push_text(&t),
            Eio::Binary(b) => m.asm.push_binary(b),
        };
        let packet = match sio {
            Ok(Some(p)) => p,
            Ok(None) => continue,
            Err(_) => {
                st.shared.stats.error("protocol_parse");
                continue;
            }
        };
        let msg = modern::from_sio(packet);
        if msg.kind == Kind::Connect && !st.sio {
            st.sio = true;
            st.shared.stats.sio_up();
            st.shared
                .stats
                .record_latency(Latency::Connect, st.started.elapsed());
        }
        if msg.kind == Kind::Error {
            st.shared.stats.error("connect_error");
        }
        let flow = interp::on_packet(&mut st.ctx, msg).await;
        if flow != Flow::Go {
            return flow;
        }
    }
    Flow::Go
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
    let rev = match &st.modern {
        Some(m) if !m.open => return,
        Some(m) => Some(m.rev),
        None => None,
    };
    let out: Vec<Message> = std::mem::take(&mut st.ctx.out);
    st.ctx.rtt.sent(Instant::now());
    let sent = match rev {
        None => st.link.send(&st.shared, &out).await,
        Some(rev) => {
            let mut packets = Vec::with_capacity(out.len());
            for p in out.iter().filter_map(modern::to_sio) {
                modern::to_eio(&p, &mut packets);
            }
            st.link.send_eio(&st.shared, rev, &packets).await
        }
    };
    if let Err(e) = sent {
        st.shared.stats.error(e.kind());
    }
}
