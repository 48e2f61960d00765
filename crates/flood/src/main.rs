//! The `flood` binary: `flood SCENARIO.json [--duration S] [--users-scale X] [--out DIR] [--quiet]
//! [--server HOST:PORT]`.
//!
//! Exit status: 0 when the final phase's goal passed, 1 when it failed, 2 on a scenario (or
//! other tool) error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use flood::{FloodError, RunOptions, run};

/// Socket.IO 0.9 load tester (a re-creation of Brainly's Flood).
#[derive(Debug, Parser)]
#[command(name = "flood", version)]
struct Cli {
    /// Scenario file (JSON, the original Flood format).
    scenario: PathBuf,
    /// Stop after this many seconds and judge the final phase's goal then.
    #[arg(long)]
    duration: Option<f64>,
    /// Multiply every phase's `users` by this factor.
    #[arg(long, default_value_t = 1.0)]
    users_scale: f64,
    /// Directory for the result file and the HTML report (default: beside the scenario).
    #[arg(long)]
    out: Option<PathBuf>,
    /// No progress output.
    #[arg(long)]
    quiet: bool,
    /// Run against HOST:PORT instead of the scenario's `server.host`/`server.port`.
    #[arg(long, value_name = "HOST:PORT")]
    server: Option<String>,
    /// Runtimes: 0 = one work-stealing runtime over every core; N >= 1 = N single-threaded
    /// runtimes with the users spread over them round-robin (each served in arrival order).
    #[arg(long, default_value_t = 0, value_name = "N")]
    cores: usize,
    /// The most IO events a runtime worker that still has tasks takes per poll (0 = tokio's
    /// default, 1024): small batches keep users' sockets served in arrival order, so a
    /// minority of users does not wait in the runtime's overflow queue under saturation.
    #[arg(long, default_value_t = otp::cores::IO_EVENTS_PER_BUSY_TICK, value_name = "N")]
    io_busy_events: usize,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let rt = match otp::cores::runtime(cli.cores, "flood-core", cli.io_busy_events) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("flood: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = RunOptions {
        scenario: cli.scenario,
        duration: cli.duration.map(Duration::from_secs_f64),
        users_scale: cli.users_scale,
        out: cli.out,
        quiet: cli.quiet,
        server: cli.server,
        stop: None,
    };
    match rt.block_on(run(opts)) {
        Ok(o) if o.passed => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e @ FloodError::Scenario(_)) => {
            eprintln!("flood: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("flood: {e}");
            ExitCode::from(2)
        }
    }
}
