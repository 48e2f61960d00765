//! The `hive` daemon: parse the command line, load and validate the configuration, start the
//! supervision tree, and run until SIGTERM/SIGINT or the API's `/hive/stop`.

use std::process::ExitCode;

use clap::Parser;
use hive::cli::{Cli, Command, check_config};

/// See `Cargo.toml` for why the daemon does not use the system allocator.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The one-thread runtime of the client subcommands (`tree`, `top`), or the exit code when it
/// cannot start.
fn small_runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("hive: cannot start a runtime: {e}");
            ExitCode::from(1)
        })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::CheckConfig { .. }) => {
            let env: Vec<(String, String)> = std::env::vars().collect();
            let (code, text) = check_config(&cli.check_files(), &env);
            println!("{text}");
            return ExitCode::from(code);
        }
        Some(Command::Tree {
            monitor,
            hash,
            all,
            node,
        }) => {
            let rt = match small_runtime() {
                Ok(rt) => rt,
                Err(code) => return code,
            };
            return match rt.block_on(hive::admin::fetch_and_print_node_tree(
                monitor,
                hash,
                *all,
                node.as_deref(),
            )) {
                Ok(text) => {
                    println!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("hive tree: {e}");
                    ExitCode::from(1)
                }
            };
        }
        Some(Command::Top { monitor, hash }) => {
            let rt = match small_runtime() {
                Ok(rt) => rt,
                Err(code) => return code,
            };
            let r = rt.block_on(hive::admin::run_top(monitor, hash));
            // The key reader thread may still block on stdin: do not wait for it.
            rt.shutdown_background();
            return match r {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("hive top: {e}");
                    ExitCode::from(1)
                }
            };
        }
        None => {}
    }
    let loaded = match hive::config::load(&cli.config) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let _telemetry = match hive::telemetry::init(&loaded.config.log, cli.log_format) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    for w in &loaded.warnings {
        tracing::warn!("config: {w}");
    }
    match hive::sys::raise_nofile_limit() {
        Ok((old, new)) => tracing::info!(old, new, "open-files limit raised to the hard limit"),
        Err(e) => tracing::warn!("cannot raise the open-files limit: {e}"),
    }
    let rt = match otp::cores::runtime(
        loaded.config.hive.cores as usize,
        "hive-core",
        loaded.config.hive.io_events_per_busy_tick as usize,
    ) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hive: cannot start a runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = rt.block_on(run(loaded.config, cli.mode));
    // Everything drained inside `run` (see `RunningHive::shutdown`): do not wait on stray
    // blocking tasks (a DNS lookup) beyond a moment.
    rt.shutdown_timeout(std::time::Duration::from_millis(500));
    code
}

async fn run(config: hive::config::Config, mode: hive::Mode) -> ExitCode {
    let node = match hive::app::start(
        config,
        hive::app::StartOptions {
            mode,
            ..Default::default()
        },
    )
    .await
    {
        Ok(n) => n,
        Err(e) => {
            eprintln!("hive: {e}");
            return ExitCode::from(1);
        }
    };
    let stop = node.stop_token();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("signal received: stopping (a second signal forces exit)");
        stop.cancel();
        wait_for_signal().await;
        eprintln!("hive: second signal, exiting now");
        std::process::exit(130);
    });
    match node.wait().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("hive: {e}");
            ExitCode::from(1)
        }
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
