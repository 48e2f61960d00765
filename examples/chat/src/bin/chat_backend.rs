//! The chat example's backend in Rust, the twin of `examples/chat/backend/backend.py`:
//! `cargo run -p chat --bin chat_backend -- --port 8081 --api http://localhost:1235/api/abcde12345`.
//! (`cargo run -p chat` starts it in-process; this binary is for running the pieces apart.)

use std::net::{IpAddr, SocketAddr};

use clap::Parser;

#[path = "../backend/server.rs"]
mod server;

/// The Hive chat example's backend (Hive Protocol over HTTP).
#[derive(Parser, Debug)]
struct Args {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to bind (Hive's `backend` pool expects 8081).
    #[arg(long, default_value_t = 8081)]
    port: u16,
    /// Hive API base URL, including the hash.
    #[arg(long, default_value = "http://localhost:1235/api/abcde12345")]
    api: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .try_init();
    let backend = server::start(SocketAddr::new(args.host, args.port), &args.api).await?;
    println!(
        "Serving HTTP on {} ... (Hive API: {})",
        backend.addr(),
        args.api
    );
    tokio::signal::ctrl_c().await?;
    backend.shutdown().await;
    println!("Backend stopped.");
    Ok(())
}
