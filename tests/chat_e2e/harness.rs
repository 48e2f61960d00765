//! Helpers of the chat end-to-end tests: a recording HTTP server (stands at the Hive API's place
//! when a backend is tested alone), a blocking-HTTP helper, the Python backend as a child process,
//! and free ports (the private redis-server is `tests/support/redis.rs`).

// Some helpers serve only the browser variants.
#![allow(dead_code)]

use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response, body::Incoming};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::mpsc as tmpsc;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A free TCP port on 127.0.0.1 (bound then released; used where a port must be known before the
/// listener that uses it exists).
pub fn free_port() -> u16 {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local addr").port()
}

/// A real HTTP server recording `POST .../pubsub/action/<cid>` bodies, answering 200.
pub struct Recorder {
    addr: SocketAddr,
    rx: tmpsc::UnboundedReceiver<(String, Value)>,
}

impl Recorder {
    /// Start on a free port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind recorder");
        let addr = listener.local_addr().expect("recorder addr");
        let (tx, rx) = tmpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let tx = tx.clone();
                        async move {
                            let path = req.uri().path().to_owned();
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let cid = path.rsplit('/').next().unwrap_or_default().to_owned();
                            let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                            let _ = tx.send((cid, value));
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, rx }
    }

    /// The "API URL" to give a backend.
    pub fn api_url(&self) -> String {
        format!("http://{}/api/abcde12345", self.addr)
    }

    /// Everything recorded so far, in arrival order.
    pub fn drain(&mut self) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        while let Ok(item) = self.rx.try_recv() {
            out.push(item);
        }
        out
    }
}

/// POST `body` to `url` (blocking ureq on the blocking pool): (status, body text).
pub async fn http_post(url: &str, body: String) -> (u16, String) {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .proxy(None)
            .build()
            .into();
        let mut resp = agent.post(&url).send(body).expect("HTTP request");
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        (status, text)
    })
    .await
    .expect("http task")
}

/// A child process killed on drop.
pub struct ChildGuard {
    child: Child,
    port: u16,
}

impl ChildGuard {
    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `python3 examples/chat/backend/backend.py --port 0 --api <api>`; waits for its
/// "Serving HTTP on <host> port <n>" line.
pub fn spawn_python_backend(api: &str, within: Duration) -> ChildGuard {
    let script = repo_root().join("examples/chat/backend/backend.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .args(["--port", "0", "--api", api])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 runs the chat backend");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx
        .recv_timeout(within)
        .expect("the Python backend prints its port");
    let port = line
        .split_whitespace()
        .skip_while(|w| *w != "port")
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line from backend.py: {line}"));
    ChildGuard { child, port }
}
