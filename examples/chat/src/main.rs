//! The seed's chat server in one command: `cargo run --release -p chat`.
//!
//! Makes sure the Socket.IO 0.9 browser client is installed (npm), starts the chat backend
//! (in-process, `examples/chat_backend/`), picks `examples/chat/config/config.json` (sm.redis)
//! when Redis answers on localhost:6379 or `config.local.json` (sm.local) otherwise, starts Hive,
//! serves the page on http://localhost:8000/ and stops everything cleanly on Ctrl-C.

use std::time::Duration;

use clap::{Parser, ValueEnum};

#[path = "backend/demo.rs"]
mod demo;

use demo::{DemoOptions, Ports, StateChoice, setup};

/// Which state manager to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StateArg {
    /// Redis when it answers PING on localhost, the embedded sm.local otherwise.
    Auto,
    /// sm.redis (fails when Redis is down).
    Redis,
    /// sm.local, the embedded default.
    Local,
}

/// Run the Hive chat example: backend, Hive and the chat page.
#[derive(Parser, Debug)]
#[command(name = "chat")]
struct Args {
    /// Hive's Socket.IO port.
    #[arg(long, default_value_t = 8080)]
    hive_port: u16,
    /// Hive's API port (the backend publishes through it).
    #[arg(long, default_value_t = 1235)]
    api_port: u16,
    /// Hive's monitor port.
    #[arg(long, default_value_t = 1234)]
    monitor_port: u16,
    /// The chat backend's port.
    #[arg(long, default_value_t = 8081)]
    backend_port: u16,
    /// Port of the page's web server.
    #[arg(long, default_value_t = 8000)]
    web_port: u16,
    /// State manager: auto, redis or local.
    #[arg(long, value_enum, default_value_t = StateArg::Auto)]
    state: StateArg,
    /// Redis port (host is localhost).
    #[arg(long, default_value_t = 6379)]
    redis_port: u16,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if let Err(err) = run(args).await {
        eprintln!("chat: {err}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), String> {
    let root = setup::repo_root();
    let socketio_js = tokio::task::spawn_blocking(move || setup::ensure_socketio_client(&root))
        .await
        .map_err(|e| e.to_string())??;

    let redis_up = args.state != StateArg::Local
        && setup::redis_alive("localhost", args.redis_port, Duration::from_millis(300));
    let state = match (args.state, redis_up) {
        (StateArg::Redis, false) => {
            return Err(format!(
                "--state redis: no Redis answers PING on localhost:{}",
                args.redis_port
            ));
        }
        (StateArg::Local, _) | (StateArg::Auto, false) => StateChoice::Local,
        (_, true) => StateChoice::Redis,
    };
    let ports = Ports {
        hive: args.hive_port,
        api: args.api_port,
        monitor: args.monitor_port,
        backend: args.backend_port,
        web: args.web_port,
        redis: args.redis_port,
    };
    let loaded = hive::config::from_value(setup::chat_config(state, &ports)?)
        .map_err(|e| format!("chat config: {e}"))?;
    let _log = hive::telemetry::init(&loaded.config.log, hive::telemetry::LogFormat::Text)
        .map_err(|e| format!("logging: {e}"))?;
    match state {
        StateChoice::Redis => tracing::info!(
            config = %setup::config_file(state).display(),
            "Redis answers on localhost:{}: client state in Redis (sm.redis)", args.redis_port
        ),
        StateChoice::Local => tracing::info!(
            config = %setup::config_file(state).display(),
            "{}: client state in memory (the embedded sm.local default)",
            if args.state == StateArg::Local { "--state local" } else { "no Redis on localhost" }
        ),
    }

    let demo = demo::start(DemoOptions {
        state,
        ports,
        external_backend: None,
        log_dir: None,
        socketio_js,
    })
    .await?;
    if let Some(backend) = &demo.backend {
        tracing::info!("chat backend on http://{}", backend.addr());
    }
    tracing::info!(
        "Hive: Socket.IO on {}, API on {}, monitor on {}",
        demo.hive.socketio_addr,
        demo.hive.api_addr,
        demo.hive.monitor_addr
    );
    println!();
    println!("Open {} in your browser", demo.page_url());
    println!("(Ctrl-C stops the chat.)");
    println!();

    tokio::signal::ctrl_c()
        .await
        .map_err(|e| format!("waiting for Ctrl-C: {e}"))?;
    println!("Stopping: page server, Hive (gracefully), backend... (Ctrl-C again to force)");
    tokio::select! {
        stopped = demo.shutdown() => stopped?,
        _ = tokio::signal::ctrl_c() => return Err("forced stop".into()),
    }
    println!("Chat stopped.");
    Ok(())
}
