//! Setting up the chat demo: the Socket.IO 0.9 browser client from npm, the Redis probe, and the
//! chat configuration (`examples/chat/config/config.json` or `config.local.json`) patched with the
//! ports actually used.

// Shared by several example and test crates through `#[path]`; each uses a different subset.
#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

/// Which state manager the chat runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateChoice {
    /// `sm.redis` (config.json), Redis at `redis_port`.
    Redis,
    /// `sm.local`, the embedded default (config.local.json).
    Local,
}

/// The ports of one chat deployment.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    /// Hive's Socket.IO listener (0 = any).
    pub hive: u16,
    /// Hive's API listener.
    pub api: u16,
    /// Hive's monitor listener (0 = any).
    pub monitor: u16,
    /// The chat backend.
    pub backend: u16,
    /// The web server of the page (added to `allowed_origins`).
    pub web: u16,
    /// Redis (used with [`StateChoice::Redis`]).
    pub redis: u16,
}

/// The repository root (where `package.json` and `node_modules/` are). These files are built both
/// by the `chat` package (manifest in `examples/chat/`) and by the server's tests (manifest at the
/// root), so the root is the nearest ancestor holding `examples/chat/frontend`.
pub fn repo_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .find(|d| d.join("examples/chat/frontend").is_dir())
        .unwrap_or(here)
        .to_path_buf()
}

/// `examples/chat/frontend`.
pub fn frontend_dir() -> PathBuf {
    repo_root().join("examples/chat/frontend")
}

/// `examples/chat/config`.
pub fn config_dir() -> PathBuf {
    repo_root().join("examples/chat/config")
}

/// Path of the Socket.IO 0.9 browser bundle under `root`.
pub fn socketio_js(root: &Path) -> PathBuf {
    root.join("node_modules/socket.io-client/dist/socket.io.js")
}

/// Make sure the Socket.IO 0.9 browser client is installed: if missing, run
/// `npm install --no-audit --no-fund` in `root` (it is listed in `package.json`).
///
/// # Errors
/// A message for the user when npm is missing or the install failed.
pub fn ensure_socketio_client(root: &Path) -> Result<PathBuf, String> {
    let js = socketio_js(root);
    if js.is_file() {
        return Ok(js);
    }
    println!(
        "The Socket.IO 0.9 browser client is missing: running `npm install --no-audit --no-fund` in {}",
        root.display()
    );
    let status = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund"])
        .current_dir(root)
        .status();
    match status {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Err(format!(
            "npm was not found: install Node.js and npm (e.g. `apt-get install nodejs npm`), then run \
             `npm install` in {} (it installs socket.io-client@0.9.16 for the chat page)",
            root.display()
        )),
        Err(err) => Err(format!("could not run npm: {err}")),
        Ok(status) if !status.success() => Err(format!(
            "`npm install` failed ({status}) in {}",
            root.display()
        )),
        Ok(_) if js.is_file() => Ok(js),
        Ok(_) => Err(format!("`npm install` did not produce {}", js.display())),
    }
}

/// Whether a Redis server answers `PING` at `host:port` within `timeout`.
pub fn redis_alive(host: &str, port: u16, timeout: Duration) -> bool {
    let Ok(addrs) = (host, port).to_socket_addrs() else {
        return false;
    };
    addrs.into_iter().any(|addr| ping(addr, timeout))
}

fn ping(addr: SocketAddr, timeout: Duration) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, timeout) else {
        return false;
    };
    if stream.set_read_timeout(Some(timeout)).is_err() || stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    while !got.ends_with(b"\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
        if got.len() > 256 {
            return false;
        }
    }
    got.starts_with(b"+PONG")
}

/// The config file for a state choice.
pub fn config_file(choice: StateChoice) -> PathBuf {
    config_dir().join(match choice {
        StateChoice::Redis => "config.json",
        StateChoice::Local => "config.local.json",
    })
}

/// Read the chat config for `choice` and patch it for `ports`: listener ports, the backend's base
/// URL, Redis' port, and the page's HTTP origins added to `hive.allowed_origins`.
///
/// # Errors
/// A message when the file cannot be read or does not have the chat config's shape.
pub fn chat_config(choice: StateChoice, ports: &Ports) -> Result<Value, String> {
    let file = config_file(choice);
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let mut config: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    patch(&mut config, choice, ports)
        .ok_or_else(|| format!("{} is not the chat config", file.display()))?;
    Ok(config)
}

fn patch(config: &mut Value, choice: StateChoice, ports: &Ports) -> Option<()> {
    config
        .pointer_mut("/hive/port")
        .map(|v| *v = json!(ports.hive))?;
    config
        .pointer_mut("/api/port")
        .map(|v| *v = json!(ports.api))?;
    config
        .pointer_mut("/monitor/port")
        .map(|v| *v = json!(ports.monitor))?;
    config
        .pointer_mut("/connectors/pools/backend/args/base_url")
        .map(|v| *v = json!(format!("http://127.0.0.1:{}", ports.backend)))?;
    if choice == StateChoice::Redis {
        let args = config.pointer_mut("/connectors/pools/database/args")?;
        args["host"] = json!("127.0.0.1");
        args["port"] = json!(ports.redis);
    }
    let origins = config
        .pointer_mut("/hive/allowed_origins")?
        .as_array_mut()?;
    for origin in [
        format!("http://localhost:{}", ports.web),
        format!("http://127.0.0.1:{}", ports.web),
    ] {
        if !origins.iter().any(|o| o.as_str() == Some(origin.as_str())) {
            origins.push(json!(origin));
        }
    }
    Some(())
}

/// The API base URL the backend uses.
pub fn api_url(api: SocketAddr, config: &Value) -> String {
    let hash = config
        .pointer("/api/hash")
        .and_then(Value::as_str)
        .unwrap_or("abcde12345");
    format!("http://{api}/api/{hash}")
}
