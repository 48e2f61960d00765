//! The modern Socket.IO listener: Engine.IO 4 and 3 at `socketio.path` (default `/socket.io/`)
//! beside 0.9's `/socket.io/1/`, on the same port.
//!
//! This module validates each request (revision, transport, session id, method, origin; the
//! Engine.IO error answers `{"code":<n>,"message":…}`), opens sessions, and hands polls, posts
//! and WebSocket connections to the session they name. One Engine.IO session is one task
//! ([`session`]): it owns the transports, the heartbeat, the upgrade and the outgoing queue, and
//! carries the Socket.IO namespace sockets, each of which is an ordinary supervised client actor
//! registered in the router (hooks, state, channels, API addressing, slots and metrics as for 0.9
//! sessions). [`ws`] is one WebSocket connection's task.
//!
//! The same code serves the raw Engine.IO echo (`socketio.engineio_echo_path`, a diagnostic off
//! by default): its sessions send every message back instead of carrying Socket.IO.

pub mod session;
pub mod ws;
pub mod ws_conn;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use futures::channel::mpsc;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use rand::RngCore;
use tokio::sync::oneshot;

use super::TransportCtx;
use codec::eio::{self, Revision, error_code};
use session::{EioIn, PollAnswer};

/// What a session serves: Socket.IO namespaces, or the raw echo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Socket.IO 5/4 over the Engine.IO session.
    SocketIo,
    /// Every message goes back to its session unchanged (diagnostic).
    Echo,
}

/// What the HTTP side knows of a live session.
#[derive(Debug)]
pub struct Entry {
    /// Its revision.
    pub rev: Revision,
    /// The session's task.
    pub tx: mpsc::UnboundedSender<EioIn>,
    /// The session moved to WebSocket (polling requests are refused).
    pub on_ws: AtomicBool,
    /// A WebSocket is open, coming or being probed for the session: another upgrade request for
    /// it is refused with 400 before the switch (released when a probe is abandoned).
    pub ws_claimed: AtomicBool,
    /// Served path's mode (a sid of one path is unknown on the other).
    pub mode: Mode,
}

/// The Engine.IO sessions of this node, by sid.
#[derive(Debug, Default)]
pub struct Table {
    map: Mutex<HashMap<Arc<str>, Arc<Entry>>>,
}

impl Table {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Arc<Entry>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// The session `sid`.
    pub fn get(&self, sid: &str) -> Option<Arc<Entry>> {
        self.lock().get(sid).cloned()
    }
    fn insert(&self, sid: Arc<str>, e: Arc<Entry>) {
        self.lock().insert(sid, e);
    }
    /// Forget `sid` (its session ended).
    pub fn remove(&self, sid: &str) {
        self.lock().remove(sid);
    }
    /// Live sessions.
    pub fn len(&self) -> usize {
        self.lock().len()
    }
    /// No live session.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A new session id: 15 random bytes as 20 characters of URL-safe base64; on a cluster node, its
/// 8-hex-digit tag and 12 random bytes (16 characters), so that any node finds its owner
/// (`cluster::sid_tag`).
fn new_sid(tag: Option<&str>) -> Arc<str> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    match tag {
        Some(tag) => {
            let mut b = [0u8; 12];
            rand::rng().fill_bytes(&mut b);
            Arc::from(format!("{tag}{}", b64.encode(b)))
        }
        None => {
            let mut b = [0u8; 15];
            rand::rng().fill_bytes(&mut b);
            Arc::from(b64.encode(b))
        }
    }
}

/// The query parameters of a request.
pub(crate) fn query_map(req: &Request<Incoming>) -> Vec<(String, String)> {
    req.uri()
        .query()
        .map(|q| {
            codec::sio::parse_query(q)
                .into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn param<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
    q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

/// Is the request's origin allowed by `hive.allowed_origins`? The 0.9 rule (exact match, JSON
/// `null` = no Origin), plus: `"*"` allows any origin, and on this path the string `"null"` also
/// admits a request without Origin. Such a request cannot come from a browser page (Node, Python
/// and native clients send none), and a listed `"null"` already admits every `file://` page, so
/// nothing a browser enforces is weakened; it lets a configuration written for 0.9 (the seed's
/// `["null", …]`) serve Node clients of the modern protocol. 0.9 stays strict.
fn origin_allowed(allowed: &[Option<String>], headers: &HeaderMap) -> Result<(), String> {
    if allowed.iter().any(|a| a.as_deref() == Some("*")) {
        return Ok(());
    }
    if !headers.contains_key(hyper::header::ORIGIN)
        && allowed.iter().any(|a| a.as_deref() == Some("null"))
    {
        return Ok(());
    }
    super::origin::check(allowed, headers)
}

/// Adds the CORS headers of the modern protocol to `r`.
fn cors(ctx: &TransportCtx, req: &HeaderMap, r: &mut Response<Full<Bytes>>) {
    let Some(origin) = req.get(hyper::header::ORIGIN).cloned() else {
        return;
    };
    if origin_allowed(&ctx.config.hive.allowed_origins, req).is_err() {
        return;
    }
    let star = ctx
        .config
        .hive
        .allowed_origins
        .iter()
        .any(|a| a.as_deref() == Some("*"));
    let creds = ctx.config.socketio.cors.credentials;
    let h = r.headers_mut();
    if star && !creds {
        h.insert(
            hyper::header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    } else {
        h.insert(hyper::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(hyper::header::VARY, HeaderValue::from_static("Origin"));
    }
    if creds {
        h.insert(
            hyper::header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}

/// A response with the CORS headers, counted by status class.
fn respond(
    ctx: &TransportCtx,
    req: &HeaderMap,
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    ctx.http.status(status.as_u16()).inc();
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    cors(ctx, req, &mut r);
    r
}

/// An Engine.IO error answer: 400 (403 for code 4) with `{"code":<n>,"message":"<text>"}`.
fn error(
    ctx: &TransportCtx,
    req: &HeaderMap,
    (code, message): (u8, &str),
) -> Response<Full<Bytes>> {
    ctx.http.errors.inc();
    let status = if code == 4 {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::BAD_REQUEST
    };
    respond(
        ctx,
        req,
        status,
        "application/json",
        eio::error_body(code, message),
    )
}

/// A bare 400 (request-level failure on an existing session).
fn bad(ctx: &TransportCtx, req: &HeaderMap, status: StatusCode) -> Response<Full<Bytes>> {
    ctx.http.errors.inc();
    respond(ctx, req, status, "text/plain; charset=UTF-8", "")
}

/// Route one request on the modern path (`mode` Socket.IO) or the echo path.
pub async fn route(
    ctx: &TransportCtx,
    req: Request<Incoming>,
    mode: Mode,
) -> Response<Full<Bytes>> {
    ctx.http.requests.inc();
    let headers = req.headers().clone();
    let s = &ctx.config.socketio;
    if req.method() == Method::OPTIONS {
        let mut r = respond(ctx, &headers, StatusCode::NO_CONTENT, "text/plain", "");
        let h = r.headers_mut();
        h.insert(
            hyper::header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET,HEAD,PUT,PATCH,POST,DELETE"),
        );
        if let Some(rh) = headers.get(hyper::header::ACCESS_CONTROL_REQUEST_HEADERS) {
            h.insert(hyper::header::ACCESS_CONTROL_ALLOW_HEADERS, rh.clone());
            h.insert(
                hyper::header::VARY,
                HeaderValue::from_static("Access-Control-Request-Headers"),
            );
        }
        return r;
    }
    let q = query_map(&req);
    let transport = param(&q, "transport").unwrap_or_default();
    if !s.engineio_transports.iter().any(|t| t == transport) {
        return error(ctx, &headers, error_code::TRANSPORT_UNKNOWN);
    }
    if let Err(origin) = origin_allowed(&ctx.config.hive.allowed_origins, &headers) {
        tracing::warn!(origin = %origin, "origin rejected (modern protocol)");
        let text = if origin.is_empty() {
            "No origin specified in the request header".to_owned()
        } else {
            format!("Origin {origin} is not allowed")
        };
        return error(ctx, &headers, (4, &text));
    }
    let rev = Revision::from_query(param(&q, "EIO"))
        .filter(|r| s.engineio_versions.contains(&r.number()));
    let is_ws = hyper_upgrade(&headers);
    match param(&q, "sid") {
        Some(sid) => {
            let Some(entry) = ctx.eio.get(sid).filter(|e| e.mode == mode) else {
                return error(ctx, &headers, error_code::SESSION_ID_UNKNOWN);
            };
            if rev != Some(entry.rev) {
                return error(ctx, &headers, error_code::BAD_REQUEST);
            }
            if transport == "websocket" {
                if !is_ws {
                    return error(ctx, &headers, error_code::BAD_REQUEST);
                }
                if entry.ws_claimed.swap(true, Ordering::AcqRel) && entry.rev == Revision::V4 {
                    // A second WebSocket for a session already upgrading or upgraded (Engine.IO
                    // 3's is accepted, then closed by the session, as its clients expect).
                    return error(ctx, &headers, error_code::BAD_REQUEST);
                }
                return ws::upgrade(ctx, req, entry).await;
            }
            if entry.on_ws.load(Ordering::Acquire) {
                return error(ctx, &headers, error_code::BAD_REQUEST);
            }
            match *req.method() {
                Method::GET => poll(ctx, &headers, &entry).await,
                Method::POST => post(ctx, req, &entry).await,
                _ => bad(ctx, &headers, StatusCode::BAD_REQUEST),
            }
        }
        None => {
            if req.method() != Method::GET {
                return error(ctx, &headers, error_code::BAD_HANDSHAKE_METHOD);
            }
            if transport == "websocket" && !is_ws {
                return error(ctx, &headers, error_code::BAD_REQUEST);
            }
            let Some(rev) = rev else {
                return error(ctx, &headers, error_code::UNSUPPORTED_PROTOCOL_VERSION);
            };
            if !ctx.router.is_enabled() {
                return error(ctx, &headers, (4, "Hive is not accepting connections"));
            }
            let b64 = param(&q, "b64").is_some_and(|v| !v.is_empty() && v != "0");
            let app_query: serde_json::Map<String, serde_json::Value> = q
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "EIO" | "transport" | "sid" | "t" | "b64"))
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            let ws_first = transport == "websocket";
            let upgrades = if !ws_first
                && s.allow_upgrades
                && s.engineio_transports.iter().any(|t| t == "websocket")
            {
                vec!["websocket".to_owned()]
            } else {
                Vec::new()
            };
            let sid = new_sid(ctx.sid_tag().as_deref());
            let open = eio::OpenInfo {
                sid: sid.to_string(),
                upgrades,
                ping_interval: s.ping_interval,
                ping_timeout: s.ping_timeout,
                max_payload: s.max_payload as u64,
            };
            let (tx, rx) = mpsc::unbounded();
            let entry = Arc::new(Entry {
                rev,
                tx,
                on_ws: AtomicBool::new(ws_first),
                ws_claimed: AtomicBool::new(ws_first),
                mode,
            });
            ctx.eio.insert(Arc::clone(&sid), Arc::clone(&entry));
            ctx.eio_metrics.handshakes.inc();
            let open_packet = eio::Packet::Open(open.to_json());
            let args = Box::new(session::Args {
                ctx: ctx.clone(),
                sid: Arc::clone(&sid),
                rev,
                mode,
                b64,
                query: app_query,
                rx,
                first: ws_first.then(|| open_packet.clone()),
                conn: None,
                opened: tokio::time::Instant::now(),
            });
            if ws_first {
                // The session runs in the task that completes the upgrade, with its socket.
                return ws::open(ctx, req, args).await;
            }
            session::spawn(args);
            let body = match rev {
                Revision::V4 => open_packet.encode_text(rev),
                Revision::V3 => eio::encode_payload_v3(&[open_packet]),
            };
            let mut r = respond(
                ctx,
                &headers,
                StatusCode::OK,
                "text/plain; charset=UTF-8",
                body,
            );
            r.headers_mut().insert(
                hyper::header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            );
            r
        }
    }
}

/// The request asks for a WebSocket upgrade.
fn hyper_upgrade(h: &HeaderMap) -> bool {
    h.get(hyper::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Tells the session a pending poll went away when its request is dropped unanswered.
struct GetGuard(Option<mpsc::UnboundedSender<EioIn>>);

impl Drop for GetGuard {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.unbounded_send(EioIn::GetGone);
        }
    }
}

async fn poll(ctx: &TransportCtx, headers: &HeaderMap, entry: &Entry) -> Response<Full<Bytes>> {
    let (reply, rx) = oneshot::channel();
    if entry.tx.unbounded_send(EioIn::Get { reply }).is_err() {
        return error(ctx, headers, error_code::SESSION_ID_UNKNOWN);
    }
    let mut guard = GetGuard(Some(entry.tx.clone()));
    let answer = rx.await;
    guard.0 = None;
    match answer {
        Ok(PollAnswer::Body { bytes, binary }) => {
            let ct = if binary {
                "application/octet-stream"
            } else {
                "text/plain; charset=UTF-8"
            };
            let mut r = respond(ctx, headers, StatusCode::OK, ct, bytes);
            r.headers_mut().insert(
                hyper::header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            );
            r
        }
        Ok(PollAnswer::Refused(status)) => bad(ctx, headers, status),
        Ok(PollAnswer::Upgraded) => error(ctx, headers, error_code::BAD_REQUEST),
        Err(_) => error(ctx, headers, error_code::SESSION_ID_UNKNOWN),
    }
}

async fn post(ctx: &TransportCtx, req: Request<Incoming>, entry: &Entry) -> Response<Full<Bytes>> {
    let headers = req.headers().clone();
    let max = ctx.config.socketio.max_payload;
    let binary = headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/octet-stream"));
    if binary && entry.rev == Revision::V4 {
        let _ = entry.tx.unbounded_send(EioIn::Close);
        return bad(ctx, &headers, StatusCode::BAD_REQUEST);
    }
    let body = match Limited::new(req.into_body(), max).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            let _ = entry.tx.unbounded_send(EioIn::Close);
            let too_big = e
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            let status = if too_big {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            return bad(ctx, &headers, status);
        }
    };
    let decoded = if binary {
        eio::decode_binary_payload_v3(&body)
    } else {
        match std::str::from_utf8(&body) {
            Ok(text) => match entry.rev {
                Revision::V4 => eio::decode_payload_v4(text),
                Revision::V3 => eio::decode_payload_v3(text),
            },
            Err(_) => eio::Decoded {
                packets: Vec::new(),
                error: Some(eio::EioError::Empty),
            },
        }
    };
    let failed = decoded.error.is_some();
    let (reply, rx) = oneshot::channel();
    if entry
        .tx
        .unbounded_send(EioIn::Post {
            packets: decoded.packets,
            failed,
            reply,
        })
        .is_err()
    {
        return error(ctx, &headers, error_code::SESSION_ID_UNKNOWN);
    }
    match rx.await {
        Ok(()) if !failed => respond(ctx, &headers, StatusCode::OK, "text/html", "ok"),
        Ok(()) => bad(ctx, &headers, StatusCode::BAD_REQUEST),
        Err(_) => error(ctx, &headers, error_code::SESSION_ID_UNKNOWN),
    }
}

#[cfg(test)]
mod tests {
    use super::{HeaderMap, HeaderValue, new_sid, origin_allowed};

    #[test]
    fn a_cluster_node_tags_its_engine_io_sids() {
        let single = new_sid(None);
        assert_eq!(single.len(), 20);
        assert_eq!(crate::cluster::sid_tag(&single), None);
        let tagged = new_sid(Some("00c0ffee"));
        assert_eq!(tagged.len(), crate::cluster::EIO_SID_LEN);
        assert_eq!(crate::cluster::sid_tag(&tagged), Some("00c0ffee"));
    }

    fn allowed(list: &[Option<&str>]) -> Vec<Option<String>> {
        list.iter().map(|a| a.map(str::to_owned)).collect()
    }

    fn origin(value: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = value {
            h.insert(hyper::header::ORIGIN, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_string_null_admits_a_request_without_origin_on_the_modern_path() {
        let seed = allowed(&[Some("null"), Some("ws://localhost")]);
        assert_eq!(origin_allowed(&seed, &origin(None)), Ok(()));
        assert_eq!(origin_allowed(&seed, &origin(Some("null"))), Ok(()));
        assert_eq!(
            origin_allowed(&seed, &origin(Some("ws://localhost"))),
            Ok(())
        );
        assert_eq!(
            origin_allowed(&seed, &origin(Some("http://evil.example"))),
            Err("http://evil.example".to_owned())
        );
        // 0.9 keeps HIVE.md 3.4: the string "null" is only the literal header `null`.
        assert_eq!(
            crate::transport::origin::check(&seed, &origin(None)),
            Err(String::new())
        );
    }

    #[test]
    fn json_null_star_and_exact_matches_keep_their_meaning() {
        let json_null = allowed(&[None]);
        assert_eq!(origin_allowed(&json_null, &origin(None)), Ok(()));
        assert_eq!(
            origin_allowed(&json_null, &origin(Some("null"))),
            Err("null".to_owned())
        );
        let exact = allowed(&[Some("http://a.example")]);
        assert_eq!(origin_allowed(&exact, &origin(None)), Err(String::new()));
        assert_eq!(
            origin_allowed(&exact, &origin(Some("http://a.example"))),
            Ok(())
        );
        assert_eq!(
            origin_allowed(&exact, &origin(Some("http://a.example:80"))),
            Err("http://a.example:80".to_owned())
        );
        let star = allowed(&[Some("*")]);
        assert_eq!(origin_allowed(&star, &origin(None)), Ok(()));
        assert_eq!(
            origin_allowed(&star, &origin(Some("http://b.example"))),
            Ok(())
        );
        assert_eq!(origin_allowed(&[], &origin(None)), Err(String::new()));
    }
}
