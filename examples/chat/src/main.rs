//! The seed's chat server in one command: `cargo run --release -p chat`.
//!
//! Makes sure the Socket.IO 0.9 browser client is installed (npm), starts the chat backend
//! (in-process, `examples/chat_backend/`), picks `examples/chat/config/config.json` (sm.redis)
//! when Redis answers on localhost:6379 or `config.local.json` (sm.local) otherwise, starts Hive,
//! serves the page on http://localhost:8000/ and stops everything cleanly on Ctrl-C.
//!
//! `--cluster 3` runs the chat on three Hive nodes of one cluster behind a load balancer without
//! stickiness (HAProxy when installed, an embedded round-robin TCP proxy otherwise), with Redis
//! (the one on localhost, or a `redis-server` it starts): `backend/cluster.rs`.

use std::time::Duration;

use clap::{Parser, ValueEnum};

#[path = "backend/demo.rs"]
mod demo;

use demo::{DemoOptions, Ports, StateChoice, cluster, setup};

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

/// The load balancer of `--cluster`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LbArg {
    /// HAProxy when installed, the embedded proxy otherwise.
    Auto,
    /// HAProxy (fails when it is not installed).
    Haproxy,
    /// The embedded round-robin TCP proxy.
    Embedded,
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
    /// Run N Hive nodes of one cluster behind a load balancer (on --hive-port) instead of one
    /// node; needs Redis (the one on --redis-port, or a redis-server started for the demo).
    #[arg(long, value_name = "N")]
    cluster: Option<usize>,
    /// The load balancer of --cluster: auto (HAProxy if installed), haproxy or embedded.
    #[arg(long, value_enum, default_value_t = LbArg::Auto)]
    lb: LbArg,
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
    if let Some(n) = args.cluster {
        return run_cluster(args, n, socketio_js).await;
    }

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

/// `--cluster N`: N nodes, Redis, a load balancer and the page.
async fn run_cluster(args: Args, n: usize, socketio_js: std::path::PathBuf) -> Result<(), String> {
    if n == 0 {
        return Err("--cluster needs at least 1 node".into());
    }
    if args.state == StateArg::Local {
        return Err(
            "--cluster shares sessions' state and publishes through Redis: not with --state local"
                .into(),
        );
    }
    let ports = Ports {
        hive: args.hive_port,
        api: args.api_port,
        monitor: args.monitor_port,
        backend: args.backend_port,
        web: args.web_port,
        redis: args.redis_port,
    };
    let config = hive::config::from_value(setup::chat_config(StateChoice::Redis, &ports)?)
        .map_err(|e| format!("chat config: {e}"))?;
    let _log = hive::telemetry::init(&config.config.log, hive::telemetry::LogFormat::Text)
        .map_err(|e| format!("logging: {e}"))?;
    let demo = cluster::start(cluster::ClusterOptions {
        nodes: n,
        ports,
        balancer: match args.lb {
            LbArg::Auto => cluster::Balancer::Auto,
            LbArg::Haproxy => cluster::Balancer::Haproxy,
            LbArg::Embedded => cluster::Balancer::Embedded,
        },
        socketio_js,
    })
    .await?;
    tracing::info!(
        "Redis on localhost:{} ({})",
        args.redis_port,
        if demo.started_redis() {
            "a redis-server started for the demo"
        } else {
            "already running"
        }
    );
    tracing::info!("chat backend on http://{}", demo.backend.addr());
    for (i, h) in demo.nodes.iter().enumerate() {
        tracing::info!(
            "Hive node-{}: Socket.IO on {}, API on {}, monitor on {}",
            i + 1,
            h.socketio_addr,
            h.api_addr,
            h.monitor_addr
        );
    }
    tracing::info!(
        "load balancer ({}, round robin, no stickiness) on {}",
        demo.balancer_name,
        demo.balancer_addr
    );
    println!();
    println!("Open {} in your browser", demo.page_url());
    println!(
        "({n} nodes: GET http://127.0.0.1:{}/monitor/12345abcde/cluster lists them; Ctrl-C stops the chat.)",
        demo.nodes[0].monitor_addr.port()
    );
    println!();
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| format!("waiting for Ctrl-C: {e}"))?;
    println!(
        "Stopping: page server, balancer, Hive nodes (gracefully), backend, Redis... (Ctrl-C again to force)"
    );
    tokio::select! {
        stopped = demo.shutdown() => stopped?,
        _ = tokio::signal::ctrl_c() => return Err("forced stop".into()),
    }
    println!("Chat stopped.");
    Ok(())
}
