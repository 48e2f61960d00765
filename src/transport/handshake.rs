//! `GET /socket.io/1/`: create a session and answer `sid:heartbeat:close:transports` (HIVE.md 3.3).

use bytes::Bytes;
use http_body_util::Full;
use hyper::{HeaderMap, Method, Response, StatusCode};

use super::TransportCtx;
use super::origin::reply;
use crate::error::HiveError;
use codec::handshake::handshake_body;

/// Handle a handshake request (origin already checked).
pub async fn handle(
    ctx: &TransportCtx,
    method: &Method,
    headers: &HeaderMap,
) -> Response<Full<Bytes>> {
    let m = &ctx.http;
    if method != Method::GET {
        m.errors.inc();
        let e = HiveError::BadRequest(format!("Unsupported method: {method}"));
        return reply(
            m,
            headers,
            StatusCode::METHOD_NOT_ALLOWED,
            e.to_reply_text(),
        );
    }
    match ctx.router.new_client().await {
        Ok(sid) => {
            let s = &ctx.config.socketio;
            let body = handshake_body(
                &sid,
                s.heartbeat_timeout,
                s.reconnect_timeout,
                &s.transports,
            );
            reply(m, headers, StatusCode::OK, body)
        }
        Err(e @ HiveError::NoSlots(_)) => {
            tracing::warn!(error = %e, "handshake refused");
            reply(m, headers, StatusCode::FORBIDDEN, e.to_reply_text())
        }
        Err(e) => {
            tracing::warn!(error = %e, "handshake failed");
            reply(
                m,
                headers,
                StatusCode::INTERNAL_SERVER_ERROR,
                e.to_reply_text(),
            )
        }
    }
}
