//! Echo floor for benches/load: the least a server can do to answer flood's Socket.IO 5 echo loop
//! over an Engine.IO 4 WebSocket (open packet, CONNECT answer, every event frame written back as
//! it came), with no Socket.IO parsing, no JSON, no sessions: what the load generator and the
//! kernel cost on their own, the bound any real server's echo rate and tail sit under here.
//!
//! Usage: `echo-floor <port>` (0 = any free port); prints `listening <port>` once it accepts.
//! Only `GET /socket.io/?EIO=4&transport=websocket` is served; pings are never sent (the open
//! packet asks for one every 10 minutes), so a run must be shorter than that.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use fastwebsockets::{Frame, OpCode, Payload, upgrade};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

static NEXT: AtomicU64 = AtomicU64::new(1);

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

async fn route(mut req: Request<Incoming>) -> Result<Response<Empty<Bytes>>, hyper::Error> {
    let ok = req.uri().path() == "/socket.io/"
        && req.uri().query().is_some_and(|q| q.contains("EIO=4"))
        && upgrade::is_upgrade_request(&req);
    if !ok {
        let mut r = Response::new(Empty::new());
        *r.status_mut() = StatusCode::BAD_REQUEST;
        return Ok(r);
    }
    match upgrade::upgrade(&mut req) {
        Ok((resp, fut)) => {
            tokio::spawn(async move {
                let _ = serve(fut).await;
            });
            Ok(resp)
        }
        Err(_) => {
            let mut r = Response::new(Empty::new());
            *r.status_mut() = StatusCode::BAD_REQUEST;
            Ok(r)
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    println!("listening {}", listener.local_addr()?.port());
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(c) => c,
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service_fn(route))
                .with_upgrades()
                .await;
        });
    }
}
