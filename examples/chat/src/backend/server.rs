//! The chat backend's HTTP server (hyper): answers Hive Protocol requests with [`chat::Chat`] and
//! publishes to the chat rooms through Hive's API with a blocking `ureq` agent on tokio's blocking
//! pool. Shared by the `chat_backend` and `chat` binaries and `tests/chat_e2e.rs`.

// Shared by several example and test crates through `#[path]`; each uses a different subset.
#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

#[path = "serve.rs"]
pub mod serve;

#[path = "chat.rs"]
pub mod chat;

use chat::Chat;

/// Largest accepted request body.
const MAX_BODY: usize = 1 << 20;

/// A running backend.
pub struct Backend {
    addr: SocketAddr,
    chat: Arc<Chat>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

struct Shared {
    chat: Arc<Chat>,
    api: String,
    agent: ureq::Agent,
}

/// Bind `addr` (port 0 = any) and serve the chat backend; `api` is Hive's API base URL including
/// the hash, e.g. `http://127.0.0.1:1235/api/abcde12345`.
pub async fn start(addr: SocketAddr, api: &str) -> std::io::Result<Backend> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into();
    let chat = Arc::new(Chat::new());
    let shared = Arc::new(Shared {
        chat: chat.clone(),
        api: api.trim_end_matches('/').to_owned(),
        agent,
    });
    let stop = CancellationToken::new();
    let task = tokio::spawn(accept_loop(listener, shared, stop.clone()));
    Ok(Backend {
        addr,
        chat,
        stop,
        task,
    })
}

impl Backend {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The backend's logic (e.g. to check which nicks are reserved).
    pub fn chat(&self) -> &Chat {
        &self.chat
    }

    /// Stop accepting, finish the requests in flight, and return.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, stop: CancellationToken) {
    serve::accept_loop(listener, stop, move |req| handle(shared.clone(), req)).await;
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    if req.method() != Method::POST && req.method() != Method::PUT {
        return Ok(respond(
            StatusCode::METHOD_NOT_ALLOWED,
            error_body("Unsupported method"),
        ));
    }
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            return Ok(respond(
                StatusCode::BAD_REQUEST,
                error_body("Unreadable body"),
            ));
        }
    };
    let doc: Value = match serde_json::from_slice(&body) {
        Ok(doc @ Value::Object(_)) => doc,
        _ => {
            return Ok(respond(
                StatusCode::BAD_REQUEST,
                error_body("Bad Hive Protocol request"),
            ));
        }
    };
    let Some(outcome) = shared.chat.handle(&path, &doc) else {
        return Ok(respond(
            StatusCode::NOT_FOUND,
            error_body("Unhandled endpoint!"),
        ));
    };
    tracing::debug!(%path, publishes = outcome.publish.len(), "chat backend request");
    if !outcome.publish.is_empty() {
        let shared = shared.clone();
        let publish = outcome.publish;
        let sent = tokio::task::spawn_blocking(move || {
            for (cid, events) in publish {
                post_to_channel(&shared, &cid, &events);
            }
        })
        .await;
        if let Err(err) = sent {
            tracing::warn!(%err, "chat backend: publishing task failed");
        }
    }
    let body = outcome.reply.map(|v| v.to_string()).unwrap_or_default();
    Ok(respond(StatusCode::OK, body))
}

/// `POST <api>/pubsub/action/<cid>` with the events (blocking; runs on the blocking pool).
fn post_to_channel(shared: &Shared, cid: &str, events: &Value) {
    let url = format!("{}/pubsub/action/{cid}", shared.api);
    match shared.agent.post(&url).send(events.to_string()) {
        Ok(resp) if resp.status() == 200 => {}
        Ok(resp) => {
            tracing::warn!(%url, status = resp.status().as_u16(), "chat backend: Hive API refused")
        }
        Err(err) => tracing::warn!(%url, %err, "chat backend: Hive API unreachable"),
    }
}

fn error_body(description: &str) -> String {
    serde_json::json!({"error": "bad_request", "description": description}).to_string()
}

fn respond(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}
