//! Echo floor for benches/load: the least a server can do to answer flood's echo loop, with no
//! Socket.IO parsing, no JSON, no sessions: what the load generator and the kernel cost on their
//! own, the bound any real server's echo rate and tail sit under on the same machine.
//!
//! Usage: `echo-floor <port>` (0 = any free port); prints `listening <port>` once it accepts.
//! - Socket.IO 5: `GET /socket.io/?EIO=4&transport=websocket`: the open packet, the CONNECT
//!   answer, and every event frame (`42…`) written back as it came. Pings are never sent (the
//!   open packet asks for one every 10 minutes), so a run must be shorter than that.
//! - Socket.IO 0.9: `GET /socket.io/1/` answers the handshake (`<sid>:60:60:websocket`), the
//!   WebSocket at `/socket.io/1/websocket/<sid>` gets `1::`, and every event frame (`5:…`) is
//!   written back as it came. No heartbeats either (60 s timeout: shorter runs only).

use std::sync::atomic::{AtomicU64, Ordering};

use fastwebsockets::{Frame, OpCode, Payload, upgrade};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};

static NEXT: AtomicU64 = AtomicU64::new(1);

async fn serve_09(fut: upgrade::UpgradeFut) -> Result<(), fastwebsockets::WebSocketError> {
    let mut ws = fastwebsockets::FragmentCollector::new(fut.await?);
    ws.write_frame(Frame::text(Payload::Borrowed(b"1::")))
        .await?;
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text if frame.payload.starts_with(b"5:") => {
                let echo = frame.payload.to_vec();
                ws.write_frame(Frame::text(Payload::Owned(echo))).await?;
            }
            _ => {}
        }
    }
}

async fn serve(fut: upgrade::UpgradeFut) -> Result<(), fastwebsockets::WebSocketError> {
    let mut ws = fastwebsockets::FragmentCollector::new(fut.await?);
    let sid = format!("f{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let open = format!(
        r#"0{{"sid":"{sid}","upgrades":[],"pingInterval":600000,"pingTimeout":20000,"maxPayload":1000000}}"#
    );
    ws.write_frame(Frame::text(Payload::Borrowed(open.as_bytes())))
        .await?;
    let connected = format!(r#"40{{"sid":"{sid}"}}"#);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text if frame.payload.starts_with(b"40") => {
                ws.write_frame(Frame::text(Payload::Borrowed(connected.as_bytes())))
                    .await?;
            }
            // An event (`42...`) or anything else the client sends: written back as it came.
            OpCode::Text if frame.payload.starts_with(b"42") => {
                let echo = frame.payload.to_vec();
                ws.write_frame(Frame::text(Payload::Owned(echo))).await?;
            }
            _ => {}
        }
    }
}

fn status(code: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = code;
    r
}

async fn route(mut req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let path = req.uri().path();
    if path == "/socket.io/1/" || path == "/socket.io/1" {
        let sid = NEXT.fetch_add(1, Ordering::Relaxed);
        return Ok(status(StatusCode::OK, format!("{sid}:60:60:websocket")));
    }
    let modern = path == "/socket.io/" && req.uri().query().is_some_and(|q| q.contains("EIO=4"));
    let old = path.starts_with("/socket.io/1/websocket/");
    if !(modern || old) || !upgrade::is_upgrade_request(&req) {
        return Ok(status(StatusCode::BAD_REQUEST, String::new()));
    }
    match upgrade::upgrade(&mut req) {
        Ok((resp, fut)) => {
            tokio::spawn(async move {
                let _ = if modern {
                    serve(fut).await
                } else {
                    serve_09(fut).await
                };
            });
            let (parts, _) = resp.into_parts();
            Ok(Response::from_parts(parts, Full::new(Bytes::new())))
        }
        Err(_) => Ok(status(StatusCode::BAD_REQUEST, String::new())),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    sioxide_bench::serve(service_fn(route)).await
}
