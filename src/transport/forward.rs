//! A transport request for a session of another cluster node, forwarded to that node (the owner)
//! through its `advertise` address, so that a load balancer without stickiness works
//! (docs/cluster.md, "Any load balancer").
//!
//! Which requests: a 0.9 XHR poll, POST or disconnect, a 0.9 WebSocket/FlashSocket upgrade, an
//! Engine.IO polling GET or POST and an Engine.IO WebSocket upgrade (the polling -> WebSocket
//! upgrade included), whose sid this node does not hold and whose tag (`cluster::sid_tag`) names
//! another node that is up. Handshakes are never forwarded: the receiving node creates the
//! session. The owner is found with one Redis `GET` of its record (no sid table); a gone node's
//! sids are answered here at once, as unknown, without any attempt to reach it.
//!
//! How: plain requests go to the owner over a pooled HTTP/1.1 connection (hyper's client), the
//! request body streamed, the response (status, headers, body) streamed back. An upgrade opens a
//! connection of its own, replays the request, relays the owner's `101` and then splices the two
//! sockets (`copy_bidirectional`). The client's headers (Origin included) go as they came, so the
//! owner applies its usual checks, plus `x-hive-forwarded: <this node>`: a forwarded request is
//! never forwarded again (one hop at most; an unknown sid there gets the usual answer).
//!
//! The owner unreachable: the protocol's answer for a dead session (0.9: the disconnect packet,
//! Engine.IO: `Session ID unknown`), a warning, and `cluster.forward_errors`. Each forwarded
//! request counts in `cluster.forwarded`.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::TransportCtx;
use crate::cluster::{NodeRecord, Owner, Shared};

/// The header that marks a forwarded request.
pub const FORWARDED: &str = "x-hive-forwarded";

/// How long connecting to an owner may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// An idle pooled connection older than this is not reused (well below any keep-alive idle
/// timeout of the owner, so the owner never closes one as it is reused).
const POOL_IDLE: Duration = Duration::from_secs(5);

/// Idle connections kept per owner.
const POOL_MAX: usize = 32;

/// A Socket.IO response: a whole body made here, or one streamed from the owner.
pub enum SioBody {
    /// Made by this node.
    Full(Full<Bytes>),
    /// Streamed from the owner of the session.
    Forwarded(Relayed),
}

impl From<Full<Bytes>> for SioBody {
    fn from(b: Full<Bytes>) -> Self {
        SioBody::Full(b)
    }
}

impl Body for SioBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            SioBody::Full(b) => match Pin::new(b).poll_frame(cx) {
                Poll::Ready(Some(Ok(f))) => Poll::Ready(Some(Ok(f))),
                Poll::Ready(Some(Err(never))) => match never {},
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            },
            SioBody::Forwarded(b) => Pin::new(b).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            SioBody::Full(b) => b.is_end_stream(),
            SioBody::Forwarded(b) => b.body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            SioBody::Full(b) => b.size_hint(),
            SioBody::Forwarded(b) => b.body.size_hint(),
        }
    }
}

/// The owner's response body; its connection goes back to the pool once the body has ended.
pub struct Relayed {
    body: Incoming,
    back: Option<(Arc<Pool>, String, SendRequest<Incoming>)>,
}

impl Relayed {
    fn done(&mut self) {
        if let Some((pool, addr, conn)) = self.back.take() {
            pool.put(addr, conn);
        }
    }
}

impl Drop for Relayed {
    fn drop(&mut self) {
        // An empty body is never polled: its connection is free all the same.
        if self.body.is_end_stream() {
            self.done();
        }
    }
}

impl Body for Relayed {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.body).poll_frame(cx);
        match &r {
            Poll::Ready(None) => this.done(),
            Poll::Ready(Some(Err(_))) => this.back = None,
            _ if this.body.is_end_stream() => this.done(),
            _ => {}
        }
        r
    }
}

/// Idle connections by owner address, each with the time it went idle.
type Idle = HashMap<String, Vec<(Instant, SendRequest<Incoming>)>>;

/// Idle HTTP/1.1 connections to owners, by address.
#[derive(Default)]
pub struct Pool {
    idle: Mutex<Idle>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").finish_non_exhaustive()
    }
}

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, Idle> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An idle connection to `addr`, not closed and not idle for too long.
    fn pop(&self, addr: &str) -> Option<SendRequest<Incoming>> {
        let mut idle = self.lock();
        let list = idle.get_mut(addr)?;
        while let Some((since, conn)) = list.pop() {
            if since.elapsed() < POOL_IDLE && !conn.is_closed() {
                return Some(conn);
            }
        }
        None
    }

    /// An idle connection to `addr` ready for a request. A connection goes back to the pool when
    /// its response body ended; its task may not have seen that yet, hence the wait for ready.
    async fn take(&self, addr: &str) -> Option<SendRequest<Incoming>> {
        while let Some(mut conn) = self.pop(addr) {
            if conn.ready().await.is_ok() {
                return Some(conn);
            }
        }
        None
    }

    fn put(&self, addr: String, conn: SendRequest<Incoming>) {
        let mut idle = self.lock();
        let list = idle.entry(addr).or_default();
        list.retain(|(since, c)| since.elapsed() < POOL_IDLE && !c.is_closed());
        if list.len() < POOL_MAX {
            list.push((Instant::now(), conn));
        }
    }
}

/// Which protocol a forwarded request speaks (for the dead-session answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Sio09,
    Eio,
}

/// The sid of a transport request this node should forward, with its protocol: a sid this node
/// does not hold, tagged by another node (handshakes, preflights and forwarded requests: none).
fn foreign_sid(ctx: &TransportCtx, own: &str, req: &Request<Incoming>) -> Option<(String, Proto)> {
    if req.method() == hyper::Method::OPTIONS || req.headers().contains_key(FORWARDED) {
        return None;
    }
    let s = &ctx.config.socketio;
    let path = req.uri().path();
    let same = |want: &str| path == want || Some(path) == want.strip_suffix('/');
    let (sid, proto) =
        if (s.serves_v4() && same(&s.path)) || s.engineio_echo_path.as_deref().is_some_and(same) {
            let q = super::eio::query_map(req);
            let sid = q.into_iter().find(|(k, _)| k == "sid")?.1;
            if ctx.eio.get(&sid).is_some() {
                return None;
            }
            (sid, Proto::Eio)
        } else {
            let rest = path.strip_prefix("/socket.io/1/")?.trim_end_matches('/');
            let sid = match rest.split('/').collect::<Vec<_>>().as_slice() {
                ["websocket" | "flashsocket" | "xhr-polling" | "", sid] => (*sid).to_owned(),
                _ => return None,
            };
            if ctx.router.lookup(&sid).is_some() {
                return None;
            }
            (sid, Proto::Sio09)
        };
    let tag = crate::cluster::sid_tag(&sid)?;
    (tag != own).then_some((sid, proto))
}

/// Forward `req` when it belongs to another node's session; otherwise hand it back for local
/// routing (`Err`), which also gives the usual answer for a sid nobody holds.
pub async fn forward(
    ctx: &TransportCtx,
    req: Request<Incoming>,
) -> Result<Response<SioBody>, Request<Incoming>> {
    let Some((cluster, pool)) = &ctx.cluster else {
        return Err(req);
    };
    let Some((sid, proto)) = foreign_sid(ctx, &cluster.tag(), &req) else {
        return Err(req);
    };
    let tag = crate::cluster::sid_tag(&sid).unwrap_or_default();
    let owner = match crate::cluster::owner_of_tag(cluster, tag).await {
        Ok(Owner::Node(r)) => r,
        Ok(_) => return Err(req),
        Err(e) => {
            tracing::warn!(sid = %sid, error = %e, "cannot find the node owning a session");
            return Err(req);
        }
    };
    cluster.forwarded.inc();
    let upgrade = req
        .headers()
        .get(hyper::header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    let r = if upgrade {
        relay_upgrade(cluster, &owner, req).await
    } else {
        relay(cluster, pool, &owner, req).await
    };
    match r {
        Ok(resp) => Ok(resp),
        Err(Failed { req, reason }) => {
            cluster.forward_errors.inc();
            tracing::warn!(sid = %sid, owner = %owner.node, advertise = %owner.advertise, %reason,
                "cannot forward a transport request to the node owning its session");
            match req {
                // Nothing was sent: the local route answers as for any unknown sid.
                Some(req) => Err(req),
                None => Ok(dead(proto)),
            }
        }
    }
}

/// A forward that failed, with the request when nothing of it was sent.
struct Failed {
    req: Option<Request<Incoming>>,
    reason: String,
}

fn failed(req: Option<Request<Incoming>>, reason: impl std::fmt::Display) -> Failed {
    Failed {
        req,
        reason: reason.to_string(),
    }
}

/// The protocol's answer for a session that ended, when the request is gone.
fn dead(proto: Proto) -> Response<SioBody> {
    let (status, body) = match proto {
        Proto::Sio09 => (StatusCode::OK, crate::wire::sio09::DISCONNECT.to_owned()),
        Proto::Eio => {
            let (code, message) = codec::eio::error_code::SESSION_ID_UNKNOWN;
            (
                StatusCode::BAD_REQUEST,
                codec::eio::error_body(code, message),
            )
        }
    };
    let mut r = Response::new(SioBody::Full(Full::new(Bytes::from(body))));
    *r.status_mut() = status;
    r
}

async fn connect(addr: &str) -> Result<TcpStream, String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            Ok(s)
        }
        Ok(Err(e)) => Err(format!("connect to {addr}: {e}")),
        Err(_) => Err(format!("connect to {addr}: timed out")),
    }
}

/// The request as the owner gets it: the client's head, marked, hop-by-hop headers dropped
/// (kept for an upgrade, which needs `Connection: Upgrade`).
fn outgoing(node: &str, req: Request<Incoming>, upgrade: bool) -> Request<Incoming> {
    let (mut parts, body) = req.into_parts();
    let h = &mut parts.headers;
    if !upgrade {
        for name in [
            "connection",
            "keep-alive",
            "proxy-connection",
            "te",
            "trailer",
            "upgrade",
        ] {
            h.remove(name);
        }
    }
    if let Ok(v) = HeaderValue::from_str(node) {
        h.insert(HeaderName::from_static(FORWARDED), v);
    }
    parts.version = hyper::Version::HTTP_11;
    Request::from_parts(parts, body)
}

fn relayed_head(parts: &mut hyper::http::response::Parts) {
    for name in ["connection", "keep-alive", "proxy-connection"] {
        parts.headers.remove(name);
    }
}

/// A plain request: over a pooled connection, both bodies streamed.
async fn relay(
    cluster: &Shared,
    pool: &Arc<Pool>,
    owner: &NodeRecord,
    req: Request<Incoming>,
) -> Result<Response<SioBody>, Failed> {
    let addr = owner.advertise.clone();
    let mut conn = match pool.take(&addr).await {
        Some(c) => c,
        None => {
            let stream = match connect(&addr).await {
                Ok(s) => s,
                Err(e) => return Err(failed(Some(req), e)),
            };
            let (send, conn) = match http1::handshake(TokioIo::new(stream)).await {
                Ok(x) => x,
                Err(e) => return Err(failed(Some(req), e)),
            };
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "forwarding connection ended");
                }
            });
            send
        }
    };
    let out = outgoing(&cluster.spec.node, req, false);
    let resp = conn.send_request(out).await.map_err(|e| failed(None, e))?;
    let (mut parts, body) = resp.into_parts();
    relayed_head(&mut parts);
    let body = Relayed {
        body,
        back: Some((Arc::clone(pool), addr, conn)),
    };
    Ok(Response::from_parts(parts, SioBody::Forwarded(body)))
}

/// A WebSocket upgrade: its own connection to the owner, the owner's `101` relayed, then the two
/// sockets spliced until either side closes.
async fn relay_upgrade(
    cluster: &Shared,
    owner: &NodeRecord,
    mut req: Request<Incoming>,
) -> Result<Response<SioBody>, Failed> {
    let stream = match connect(&owner.advertise).await {
        Ok(s) => s,
        Err(e) => return Err(failed(Some(req), e)),
    };
    let (mut send, conn) = match http1::handshake::<_, Incoming>(TokioIo::new(stream)).await {
        Ok(x) => x,
        Err(e) => return Err(failed(Some(req), e)),
    };
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "forwarded upgrade connection ended");
        }
    });
    let client_side = hyper::upgrade::on(&mut req);
    let out = outgoing(&cluster.spec.node, req, true);
    let mut resp = send.send_request(out).await.map_err(|e| failed(None, e))?;
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        // The owner refused (a bad request, an unknown sid): its answer as it is.
        let (mut parts, body) = resp.into_parts();
        relayed_head(&mut parts);
        let body = Relayed { body, back: None };
        return Ok(Response::from_parts(parts, SioBody::Forwarded(body)));
    }
    let owner_side = hyper::upgrade::on(&mut resp);
    let node = owner.node.clone();
    tokio::spawn(async move {
        let (client, owner) = match tokio::join!(client_side, owner_side) {
            (Ok(c), Ok(o)) => (c, o),
            (c, o) => {
                tracing::debug!(client = ?c.err(), owner = ?o.err(), "forwarded upgrade did not complete");
                return;
            }
        };
        let (mut client, mut owner) = (TokioIo::new(client), TokioIo::new(owner));
        if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut owner).await {
            tracing::debug!(owner = %node, error = %e, "forwarded WebSocket ended");
        }
    });
    let (parts, _) = resp.into_parts();
    Ok(Response::from_parts(
        parts,
        SioBody::Full(Full::new(Bytes::new())),
    ))
}
