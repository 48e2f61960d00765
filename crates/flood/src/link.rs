//! A user's transport link (FLOOD.md 7): WebSocket (one text frame per packet) or XHR-polling
//! (a long-poll task plus one framed POST per flush). Reader tasks feed the user actor. The same
//! links carry the modern protocols' Engine.IO packets ([`Link::send_eio`]; the framing is
//! `flood::modern`'s).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ractor::ActorRef;
use tokio::task::AbortHandle;

use super::error::FloodError;
use super::http::Conn;
use super::scenario::Transport;
use super::stats::Builtin;
use super::user::msg::{Shared, UserMsg};
use super::ws::{self, Frame, WsWriter};
use codec::eio::{Packet as Eio, Revision, encode_ws_binary};
use codec::{Kind, LengthUnit, Message, encode, encode_batch};

/// The transport of one user.
pub enum Link {
    /// Not connected yet (or gone).
    None,
    /// WebSocket: the write half here, the read half in a task.
    Ws {
        /// Write half.
        w: WsWriter,
        /// Reader task.
        reader: AbortHandle,
    },
    /// XHR-polling: a POST connection here, the long-poll loop in a task.
    Xhr {
        /// Keep-alive connection for POSTs (opened on first use).
        post: Option<Conn>,
        /// `<endpoint>xhr-polling/<sid>`, or the Engine.IO path with its query (`?EIO=..&sid=..`).
        path: String,
        /// Poll task.
        poll: AbortHandle,
        /// Cache-busting counter for `?t=`.
        seq: u64,
    },
}

impl Link {
    /// Opens the transport at `path` (a WebSocket over `tcp` when given, with flood's
    /// `Origin: ws://<host>` when `origin`) and starts its reader task.
    ///
    /// # Errors
    /// `connect` / `ws_upgrade` when the WebSocket cannot be opened.
    pub async fn open(
        t: Transport,
        shared: &Arc<Shared>,
        user: &ActorRef<UserMsg>,
        path: String,
        tcp: Option<tokio::net::TcpStream>,
        origin: bool,
    ) -> Result<Self, FloodError> {
        let srv = &shared.server;
        match t {
            Transport::WebSocket => {
                let (mut r, w) = ws::connect(tcp, &srv.host, srv.port, &path, origin).await?;
                let user = user.clone();
                let reader = tokio::spawn(async move {
                    loop {
                        let msg = match r.next().await {
                            Ok(Frame::Text(t)) => UserMsg::WsText(t),
                            Ok(Frame::Binary(b)) => UserMsg::WsBinary(b),
                            Ok(Frame::Ping(p)) => UserMsg::WsPing(p),
                            Ok(Frame::Close) => UserMsg::Closed(None),
                            Err(e) => UserMsg::Closed(Some(e.kind())),
                        };
                        let last = matches!(msg, UserMsg::Closed(_));
                        if user.send_message(msg).is_err() || last {
                            break;
                        }
                    }
                });
                Ok(Self::Ws {
                    w,
                    reader: reader.abort_handle(),
                })
            }
            Transport::XhrPolling => {
                let user = user.clone();
                let shared2 = shared.clone();
                let poll_path = path.clone();
                let poll = tokio::spawn(async move {
                    let end = poll_loop(&shared2, &user, &poll_path).await;
                    let _ = user.send_message(UserMsg::Closed(end.err().map(|e| e.kind())));
                });
                Ok(Self::Xhr {
                    post: None,
                    path,
                    poll: poll.abort_handle(),
                    seq: 0,
                })
            }
        }
    }

    /// True once packets can be sent.
    pub fn is_up(&self) -> bool {
        !matches!(self, Self::None)
    }

    /// Sends packets: one text frame each on WebSocket, one framed POST on XHR.
    ///
    /// # Errors
    /// `ws_write` or `xhr_post` style network errors.
    pub async fn send(&mut self, shared: &Shared, msgs: &[Message]) -> Result<(), FloodError> {
        let stats = &shared.stats;
        match self {
            Self::None => Ok(()),
            Self::Ws { w, .. } => {
                for m in msgs {
                    w.text(&encode(m)).await?;
                    stats.add(Builtin::WsOutgoing, 1);
                    stats.packets_out.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            }
            Self::Xhr { .. } => {
                let body = encode_batch(msgs, LengthUnit::Utf16);
                self.post(shared, body, msgs.len()).await
            }
        }
    }

    /// Sends Engine.IO packets of revision `rev`: one frame each on WebSocket (binary messages
    /// in binary frames), one payload POST on polling.
    ///
    /// # Errors
    /// `ws_write` or `xhr_post` style network errors.
    pub async fn send_eio(
        &mut self,
        shared: &Shared,
        rev: Revision,
        packets: &[Eio],
    ) -> Result<(), FloodError> {
        let stats = &shared.stats;
        match self {
            Self::None => Ok(()),
            Self::Ws { w, .. } => {
                for p in packets {
                    match p {
                        Eio::Binary(b) => w.binary(&encode_ws_binary(rev, b)).await?,
                        p => w.text(&p.encode_text(rev)).await?,
                    }
                    stats.add(Builtin::WsOutgoing, 1);
                    stats.packets_out.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            }
            Self::Xhr { .. } => {
                let body = super::modern::payload(rev, packets);
                self.post(shared, body, packets.len()).await
            }
        }
    }

    /// One POST of `body` (holding `n` packets) on the keep-alive POST connection.
    async fn post(&mut self, shared: &Shared, body: String, n: usize) -> Result<(), FloodError> {
        let Self::Xhr {
            post, path, seq, ..
        } = self
        else {
            return Ok(());
        };
        let stats = &shared.stats;
        *seq += 1;
        let conn = match post {
            Some(c) => c,
            None => post.insert(Conn::open(&shared.server.host, shared.server.port).await?),
        };
        stats.add(Builtin::HttpOutgoing, 1);
        let sep = if path.contains('?') { '&' } else { '?' };
        let target = format!("{path}{sep}t={seq}");
        match conn.send(hyper::Method::POST, &target, &[], body).await {
            Ok(reply) => {
                stats.packets_out.fetch_add(n as u64, Ordering::Relaxed);
                // The original assumed empty POST replies; a Node server answers `1` (0.9) or
                // `ok` (Engine.IO), which is counted and otherwise ignored (FLOOD.md 14.15).
                if !reply.body.is_empty() {
                    stats.add(Builtin::HttpIncomming, 1);
                }
                if reply.status != 200 {
                    return Err(FloodError::net("xhr_post_status", reply.status));
                }
                Ok(())
            }
            Err(e) => {
                *post = None;
                Err(e)
            }
        }
    }

    /// Answers a WebSocket ping.
    pub async fn pong(&mut self, payload: &[u8]) {
        if let Self::Ws { w, .. } = self {
            let _ = w.pong(payload).await;
        }
    }

    /// Clean disconnect: a Socket.IO disconnect packet, then a close frame (WebSocket) or the
    /// end of polling (XHR).
    pub async fn disconnect(&mut self, shared: &Shared) {
        if self.is_up() {
            let _ = self.send(shared, &[Message::new(Kind::Disconnect)]).await;
        }
        self.close().await;
    }

    /// Ends the link: a close frame (WebSocket) and the end of the reader task.
    pub async fn close(&mut self) {
        if let Self::Ws { w, .. } = self {
            w.close().await;
        }
        self.abort();
    }

    /// Stops the reader task.
    pub fn abort(&mut self) {
        match self {
            Self::Ws { reader, .. } => reader.abort(),
            Self::Xhr { poll, .. } => poll.abort(),
            Self::None => {}
        }
    }
}

/// Long-polls until the connection fails or the server ends the session.
async fn poll_loop(
    shared: &Shared,
    user: &ActorRef<UserMsg>,
    path: &str,
) -> Result<(), FloodError> {
    let srv = &shared.server;
    let mut conn = Conn::open(&srv.host, srv.port).await?;
    loop {
        shared.stats.add(Builtin::HttpOutgoing, 1);
        let reply = conn
            .send(hyper::Method::GET, path, &[], String::new())
            .await?;
        if reply.status != 200 {
            return Err(FloodError::net("xhr_poll_status", reply.status));
        }
        if reply.body.is_empty() {
            continue;
        }
        let done = reply.body.starts_with("0:");
        if user.send_message(UserMsg::XhrBody(reply.body)).is_err() || done {
            return Ok(());
        }
    }
}
