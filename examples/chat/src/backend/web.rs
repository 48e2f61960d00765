//! A tiny static HTTP server (hyper) for the chat page: `examples/chat/frontend/*`, the Socket.IO
//! 0.9 browser client from `node_modules/` (and socket.io-client 4's bundle, `/socket.io.v4.js`, for
//! `?client=v4`), and a generated `/config.js` telling the page which port Hive listens on. Files
//! are read on each request, so editing the page and reloading works.

// Shared by several example and test crates through `#[path]`; each uses a different subset.
#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::server::serve;

/// What the web server serves.
#[derive(Debug, Clone)]
pub struct Site {
    /// `examples/chat/frontend`.
    pub frontend_dir: PathBuf,
    /// `node_modules/socket.io-client/dist/socket.io.js`.
    pub socketio_js: PathBuf,
    /// Port of Hive's Socket.IO listener, written into `/config.js`.
    pub hive_port: u16,
}

/// A running web server.
pub struct WebServer {
    addr: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// Bind `addr` (port 0 = any) and serve `site`.
pub async fn start(addr: SocketAddr, site: Site) -> std::io::Result<WebServer> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let stop = CancellationToken::new();
    let site = Arc::new(site);
    let task = tokio::spawn(accept_loop(listener, site, stop.clone()));
    Ok(WebServer { addr, stop, task })
}

impl WebServer {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop serving.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

async fn accept_loop(listener: TcpListener, site: Arc<Site>, stop: CancellationToken) {
    serve::accept_loop(listener, stop, move |req| serve(site.clone(), req)).await;
}

async fn serve(
    site: Arc<Site>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Ok(respond(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            Bytes::from("method not allowed\n"),
        ));
    }
    let (file, mime) = match req.uri().path() {
        "/" | "/index.html" => (
            site.frontend_dir.join("index.html"),
            "text/html; charset=utf-8",
        ),
        "/chat.js" => (
            site.frontend_dir.join("chat.js"),
            "text/javascript; charset=utf-8",
        ),
        "/chat.css" => (
            site.frontend_dir.join("chat.css"),
            "text/css; charset=utf-8",
        ),
        "/socket.io.js" => (site.socketio_js.clone(), "text/javascript; charset=utf-8"),
        "/socket.io.v4.js" => (v4_bundle(&site), "text/javascript; charset=utf-8"),
        "/config.js" => {
            let js = format!("window.HIVE_CHAT = {{\"hivePort\": {}}};\n", site.hive_port);
            return Ok(respond(
                StatusCode::OK,
                "text/javascript; charset=utf-8",
                Bytes::from(js),
            ));
        }
        "/favicon.ico" => return Ok(respond(StatusCode::NO_CONTENT, "text/plain", Bytes::new())),
        _ => {
            return Ok(respond(
                StatusCode::NOT_FOUND,
                "text/plain",
                Bytes::from("not found\n"),
            ));
        }
    };
    Ok(match tokio::fs::read(&file).await {
        Ok(bytes) => respond(StatusCode::OK, mime, Bytes::from(bytes)),
        Err(err) => {
            tracing::warn!(file = %file.display(), %err, "chat web server: cannot read file");
            respond(
                StatusCode::NOT_FOUND,
                "text/plain",
                Bytes::from("not found\n"),
            )
        }
    })
}

/// socket.io-client 4's browser bundle: the `socket.io-client-4` npm alias beside the 0.9 client
/// (`node_modules/socket.io-client/dist/socket.io.js` gives
/// `node_modules/socket.io-client-4/dist/socket.io.min.js`).
fn v4_bundle(site: &Site) -> PathBuf {
    let node_modules = site
        .socketio_js
        .ancestors()
        .nth(3)
        .map_or_else(|| PathBuf::from("node_modules"), PathBuf::from);
    node_modules.join("socket.io-client-4/dist/socket.io.min.js")
}

fn respond(status: StatusCode, mime: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(mime));
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
