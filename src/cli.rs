//! Command line of the `hive` binary (clap derive): `hive [--config FILE]... [--mode dev|prod]
//! [--log-format text|json] [check-config FILE... | tree ... | top ...]` (HIVE.md 1.5, 2.12).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::error::Mode;
use crate::hooks::Tables;
pub use crate::telemetry::LogFormat;

/// Hive: a Socket.IO 0.9 application server.
#[derive(Debug, Parser)]
#[command(name = "hive", version, about)]
pub struct Cli {
    /// What to do; without a command the server starts.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Configuration file; repeat to merge several in order (later files override single keys).
    /// `HIVE_<SECTION>__<KEY>` environment variables override the merged result.
    #[arg(
        short,
        long = "config",
        value_name = "FILE",
        default_value = "config/hive.json",
        global = true
    )]
    pub config: Vec<PathBuf>,
    /// Build mode: `prod` masks every error sent to browsers as `internal_error` (docs/errors.md).
    #[arg(long, value_name = "dev|prod", default_value = "dev", value_parser = parse_mode, global = true)]
    pub mode: Mode,
    /// Log line format on the console and in hive.log.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate configuration files (merged in order, with HIVE_ overrides) without starting
    /// anything; exit 0 when valid, 2 otherwise. Without FILEs, the `--config` files are checked.
    CheckConfig {
        /// Files to merge and check.
        #[arg(value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Print the supervision tree of a running node, read from its monitor listener.
    Tree {
        /// Base URL of the monitor listener.
        #[arg(long, default_value = "http://127.0.0.1:1234")]
        monitor: String,
        /// Monitor hash.
        #[arg(long, default_value = "12345abcde")]
        hash: String,
        /// Also list every child of dynamic supervisors (clients, channels).
        #[arg(long)]
        all: bool,
        /// In a cluster: the tree of this node (its name or tag), or of every node (`all`),
        /// fetched through the node the monitor URL points at.
        #[arg(long)]
        node: Option<String>,
    },
    /// A live terminal view of a running node (top actors, rates, pools), read from its monitor
    /// listener every second; `q` quits, `m` `r` `u` `a` sort by mailbox, rate, queued, age.
    Top {
        /// Base URL of the monitor listener.
        #[arg(long, default_value = "http://127.0.0.1:1234")]
        monitor: String,
        /// Monitor hash.
        #[arg(long, default_value = "12345abcde")]
        hash: String,
    },
}

impl Cli {
    /// The files `check-config` should check: its own arguments, else the `--config` files.
    pub fn check_files(&self) -> Vec<PathBuf> {
        match &self.command {
            Some(Command::CheckConfig { files }) if !files.is_empty() => files.clone(),
            _ => self.config.clone(),
        }
    }
}

/// Run `check-config`: merge and validate `files` with the `HIVE_` overrides found in `env`, then
/// build every hook and dispatcher with the registry's constructors (as a starting node does), so
/// that their args are checked too.
///
/// Returns the exit code (0 valid, 2 invalid) and the text to print on stdout: `config OK: <files>`
/// followed by one `warning: ...` line per warning, or one line per error (`path: message`).
pub fn check_config(files: &[PathBuf], env: &[(String, String)]) -> (u8, String) {
    match crate::config::load_with_env(files, env) {
        Ok(loaded) => {
            if let Err(e) = Tables::build(&loaded.config, &crate::metrics::Metrics::new()) {
                return (2, e.to_string());
            }
            let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            let mut text = format!("config OK: {}", names.join(", "));
            for w in &loaded.warnings {
                text.push_str("\nwarning: ");
                text.push_str(w);
            }
            (0, text)
        }
        Err(errors) => (2, errors.to_string()),
    }
}

/// `dev`/`development` or `prod`/`production`.
fn parse_mode(s: &str) -> Result<Mode, String> {
    match s {
        "dev" | "development" => Ok(Mode::Dev),
        "prod" | "production" => Ok(Mode::Prod),
        other => Err(format!("expected dev or prod, got {other:?}")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_flags_and_subcommands() {
        let c = Cli::try_parse_from(["hive"]).unwrap();
        assert_eq!(c.config, [PathBuf::from("config/hive.json")]);
        assert_eq!(c.mode, Mode::Dev);
        assert!(c.command.is_none());
        let c = Cli::try_parse_from([
            "hive",
            "--config",
            "a.json",
            "-c",
            "b.json",
            "--mode",
            "prod",
            "--log-format",
            "json",
        ])
        .unwrap();
        assert_eq!(c.config, [PathBuf::from("a.json"), PathBuf::from("b.json")]);
        assert_eq!((c.mode, c.log_format), (Mode::Prod, LogFormat::Json));
        let c = Cli::try_parse_from(["hive", "check-config", "x.json", "y.json"]).unwrap();
        assert_eq!(
            c.check_files(),
            [PathBuf::from("x.json"), PathBuf::from("y.json")]
        );
        let c = Cli::try_parse_from(["hive", "--config", "z.json", "check-config"]).unwrap();
        assert_eq!(c.check_files(), [PathBuf::from("z.json")]);
        let c = Cli::try_parse_from(["hive", "tree", "--all", "--hash", "h"]).unwrap();
        assert!(
            matches!(c.command, Some(Command::Tree { all: true, ref hash, .. }) if hash == "h")
        );
        assert!(Cli::try_parse_from(["hive", "--mode", "staging"]).is_err());
    }
}
