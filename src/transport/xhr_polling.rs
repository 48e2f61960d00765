//! XHR-polling: long-poll GET and batched POST (HIVE.md 3.9.2).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::oneshot;

use super::TransportCtx;
use super::origin::reply;
use crate::client::{ClientHandle, Sink, Transport, XhrReply};
use crate::error::HiveError;
use crate::events::{Event, Out};
use crate::wire::{Wire, sio09};
use codec::batch::decode_payload;

/// Tells the client its poll went away if the request future is dropped unanswered.
struct PollGuard {
    client: ClientHandle,
    id: u64,
    armed: bool,
}

impl Drop for PollGuard {
    fn drop(&mut self) {
        if self.armed {
            self.client.sink_gone(self.id);
        }
    }
}

/// Handle a GET or POST on `/socket.io/1/xhr-polling/<sid>`.
pub async fn handle(
    ctx: &TransportCtx,
    req: Request<Incoming>,
    sid: String,
) -> Response<Full<Bytes>> {
    let m = &ctx.http;
    let headers = req.headers().clone();
    match *req.method() {
        Method::GET => {
            let Some(client) = ctx.router.lookup(&sid) else {
                // Unknown or ended session: tell the browser at once (HIVE.md 16.2 #6).
                return reply(m, &headers, StatusCode::OK, sio09::DISCONNECT);
            };
            let (tx, rx) = oneshot::channel::<XhrReply>();
            let id = ctx.next_id();
            if client
                .attach(Transport::XhrPolling, Wire::Sio09, Sink::Xhr { id, tx })
                .is_err()
            {
                return reply(m, &headers, StatusCode::OK, sio09::DISCONNECT);
            }
            let mut guard = PollGuard {
                client,
                id,
                armed: true,
            };
            let s = &ctx.config.socketio;
            let wait = Duration::from_millis((s.session_timeout + s.heartbeat_timeout) * 11 / 10);
            let body = match tokio::time::timeout(wait, rx).await {
                Ok(Ok(XhrReply(body))) => {
                    guard.armed = false;
                    body
                }
                // The session ended without answering.
                Ok(Err(_)) => {
                    guard.armed = false;
                    sio09::DISCONNECT.to_string()
                }
                Err(_) => {
                    m.hang_up.inc();
                    sio09::NOOP.to_string()
                }
            };
            reply(m, &headers, StatusCode::OK, body)
        }
        Method::POST => {
            let limit = ctx.config.socketio.max_frame_size;
            let body = match Limited::new(req.into_body(), limit).collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => {
                    m.errors.inc();
                    let e = HiveError::ClientError(format!("Request body exceeds {limit} bytes."));
                    return reply(
                        m,
                        &headers,
                        StatusCode::PAYLOAD_TOO_LARGE,
                        error_frame(ctx, &e),
                    );
                }
            };
            let msgs = match std::str::from_utf8(&body)
                .map_err(|_| HiveError::ClientError("Bad Socket.IO payload: not UTF-8.".into()))
                .and_then(|text| decode_payload(text, None).map_err(HiveError::from))
            {
                Ok(msgs) => msgs,
                Err(e) => {
                    m.errors.inc();
                    tracing::warn!(sid = %sid, error = %e, "bad xhr-polling payload");
                    return reply(m, &headers, StatusCode::BAD_REQUEST, error_frame(ctx, &e));
                }
            };
            let items = msgs.into_iter().map(|m| Wire::Sio09.incoming(m)).collect();
            match ctx.router.route_input(&sid, items) {
                Ok(()) => reply(m, &headers, StatusCode::OK, "1"),
                Err(e) => reply(
                    m,
                    &headers,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    error_frame(ctx, &e),
                ),
            }
        }
        ref other => {
            m.errors.inc();
            let e = HiveError::BadRequest(format!("Unsupported HTTP request method: {other}"));
            reply(
                m,
                &headers,
                StatusCode::METHOD_NOT_ALLOWED,
                e.to_reply_text(),
            )
        }
    }
}

/// The encoded `hive_error` event for `e`.
pub fn error_frame(ctx: &TransportCtx, e: &HiveError) -> String {
    Wire::Sio09
        .encode(&Out::Event(Event::hive_error(e, ctx.mode)))
        .to_string()
}
