//! The whole chat demo in one process: the Rust backend (or an external one), Hive with the chat
//! configuration, and the page's web server, started in dependency order and stopped in reverse.
//! Used by `examples/chat/src/main.rs` (the one-command runner) and `tests/chat_e2e.rs`.

// Shared by several example and test crates through `#[path]`; each uses a different subset.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::PathBuf;

use serde_json::{Value, json};

#[path = "cluster.rs"]
pub mod cluster;
#[path = "server.rs"]
pub mod server;
#[path = "setup.rs"]
pub mod setup;
#[path = "web.rs"]
pub mod web;

pub use setup::{Ports, StateChoice};

/// How to start the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// State manager (config.json with sm.redis, or config.local.json with sm.local).
    pub state: StateChoice,
    /// Ports; `hive`, `monitor` and `web` may be 0 (any free port). `api` must be known up front
    /// because the backend is started before Hive (Hive checks that the backend is up).
    pub ports: Ports,
    /// `Some(port)`: a backend already runs there (e.g. the Python one); `None`: start the Rust
    /// backend in-process on `ports.backend`.
    pub external_backend: Option<u16>,
    /// Where Hive writes `hive.log` (`None`: the config's `log.dir`).
    pub log_dir: Option<PathBuf>,
    /// The Socket.IO 0.9 browser bundle to serve as `/socket.io.js`.
    pub socketio_js: PathBuf,
}

/// The running demo.
pub struct Demo {
    /// Hive.
    pub hive: hive::app::RunningHive,
    /// The in-process backend, if any.
    pub backend: Option<server::Backend>,
    /// The page's web server.
    pub web: web::WebServer,
    /// The configuration Hive runs with.
    pub config: Value,
}

impl Demo {
    /// The URL of the page.
    pub fn page_url(&self) -> String {
        format!("http://localhost:{}/", self.web.addr().port())
    }

    /// Stop the web server, then Hive (gracefully: sessions end and `on_disconnect` hooks reach the
    /// backend), then the backend.
    ///
    /// # Errors
    /// Hive's shutdown error, as text.
    pub async fn shutdown(self) -> Result<(), String> {
        self.web.shutdown().await;
        let stopped = self
            .hive
            .shutdown()
            .await
            .map_err(|e| format!("Hive shutdown: {e}"));
        if let Some(backend) = self.backend {
            backend.shutdown().await;
        }
        stopped
    }
}

/// Start the backend (unless external), Hive, and the web server.
///
/// # Errors
/// What failed, as a message for the user.
pub async fn start(opts: DemoOptions) -> Result<Demo, String> {
    let localhost = |port| SocketAddr::from(([127, 0, 0, 1], port));
    let mut ports = opts.ports;
    let web_listener_port = ports.web;
    // The web port is needed in allowed_origins before Hive starts: bind it first when it is 0.
    let web_probe = std::net::TcpListener::bind(localhost(web_listener_port))
        .map_err(|e| format!("cannot listen on 127.0.0.1:{web_listener_port} for the page: {e}"))?;
    ports.web = web_probe.local_addr().map_err(|e| e.to_string())?.port();
    drop(web_probe);

    let mut config = setup::chat_config(opts.state, &ports)?;
    if let Some(dir) = &opts.log_dir {
        config["log"]["dir"] = json!(dir.display().to_string());
    }
    let api_url = setup::api_url(localhost(ports.api), &config);
    let backend = match opts.external_backend {
        Some(port) => {
            config["connectors"]["pools"]["backend"]["args"]["base_url"] =
                json!(format!("http://127.0.0.1:{port}"));
            None
        }
        None => {
            let backend = server::start(localhost(ports.backend), &api_url)
                .await
                .map_err(|e| {
                    format!(
                        "cannot start the chat backend on 127.0.0.1:{}: {e}",
                        ports.backend
                    )
                })?;
            config["connectors"]["pools"]["backend"]["args"]["base_url"] =
                json!(format!("http://127.0.0.1:{}", backend.addr().port()));
            Some(backend)
        }
    };

    let loaded =
        hive::config::from_value(config.clone()).map_err(|e| format!("chat config: {e}"))?;
    let started = hive::app::start(
        loaded.config,
        hive::app::StartOptions {
            mode: hive::Mode::Dev,
            ..Default::default()
        },
    )
    .await;
    let hive = match started {
        Ok(hive) => hive,
        Err(err) => {
            if let Some(backend) = backend {
                backend.shutdown().await;
            }
            return Err(format!("Hive did not start: {err}"));
        }
    };

    let site = web::Site {
        frontend_dir: setup::frontend_dir(),
        socketio_js: opts.socketio_js.clone(),
        hive_port: hive.socketio_addr.port(),
    };
    let web = match web::start(localhost(ports.web), site).await {
        Ok(web) => web,
        Err(err) => {
            let _ = hive.shutdown().await;
            if let Some(backend) = backend {
                backend.shutdown().await;
            }
            return Err(format!(
                "cannot serve the page on 127.0.0.1:{}: {err}",
                ports.web
            ));
        }
    };
    Ok(Demo {
        hive,
        backend,
        web,
        config,
    })
}
