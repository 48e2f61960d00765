//! Logging set-up (HIVE.md 12): a `tracing-subscriber` registry with a console sink (stderr) and a
//! `<log.dir>/hive.log` file sink, each with its own level; text or JSON lines.
//!
//! Hive's level names map onto tracing's: `notice` -> info, `warning` -> warn,
//! `critical`/`alert`/`emergency` -> error, `none` -> off. `RUST_LOG`, when set, replaces the
//! console filter (the file keeps `log.file_level`). Dependencies (hyper, fred, ...) log at most at
//! `info` unless `RUST_LOG` says otherwise, so `debug` means Hive's own debug output.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::sync::Arc;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, fmt};

use crate::config::LogSection;
use crate::error::HiveError;

/// Output format of both sinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Keeps the logging set-up alive; hold it for the life of the process.
#[derive(Debug, Default)]
pub struct TelemetryGuard {
    /// The file sink, when one was opened and installed (`None` on a repeated `init`).
    pub log_file: Option<PathBuf>,
}

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// Install the global subscriber. A second call (tests) keeps the first subscriber and succeeds.
///
/// # Errors
/// `InvalidConfig` when a level is not one of Hive's level names. A log directory that cannot be
/// created is not an error: a warning goes to stderr and only the console sink is used.
pub fn init(log: &LogSection, format: LogFormat) -> Result<TelemetryGuard, HiveError> {
    let console_level = level(&log.console_level)?;
    let file_level = level(&log.file_level)?;
    let console_filter = match std::env::var("RUST_LOG") {
        Ok(s) if !s.trim().is_empty() => EnvFilter::try_new(&s).unwrap_or_else(|e| {
            eprintln!("hive: ignoring invalid RUST_LOG {s:?}: {e}");
            filter(console_level)
        }),
        _ => filter(console_level),
    };
    let mut layers: Vec<BoxedLayer> = vec![match format {
        LogFormat::Text => fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(console_filter)
            .boxed(),
        LogFormat::Json => fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_filter(console_filter)
            .boxed(),
    }];
    let mut guard = TelemetryGuard::default();
    if file_level != LevelFilter::OFF
        && let Some((path, file)) = open_log_file(&log.dir)
    {
        let base = fmt::layer()
            .with_ansi(false)
            .with_writer(file)
            .with_thread_ids(true)
            .with_file(true)
            .with_line_number(true);
        layers.push(match format {
            LogFormat::Text => base.with_filter(filter(file_level)).boxed(),
            LogFormat::Json => base.json().with_filter(filter(file_level)).boxed(),
        });
        guard.log_file = Some(path);
    }
    // Err only when a global subscriber is already set (a second init in tests): keep the first.
    if tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .is_err()
    {
        guard.log_file = None;
    }
    Ok(guard)
}

/// Map a Hive level name (HIVE.md 12) to a tracing level filter.
///
/// # Errors
/// `InvalidConfig` for an unknown name.
pub fn level(name: &str) -> Result<LevelFilter, HiveError> {
    Ok(match name {
        "debug" => LevelFilter::DEBUG,
        "info" | "notice" => LevelFilter::INFO,
        "warning" => LevelFilter::WARN,
        "error" | "critical" | "alert" | "emergency" => LevelFilter::ERROR,
        "none" => LevelFilter::OFF,
        other => {
            return Err(HiveError::InvalidConfig(format!(
                "log: unknown level \"{other}\""
            )));
        }
    })
}

/// Hive's own targets at `lvl`; everything else at most at `info`.
fn filter(lvl: LevelFilter) -> EnvFilter {
    let deps = lvl.min(LevelFilter::INFO);
    let directives = format!("{deps},hive={lvl},flood={lvl}").to_lowercase();
    EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new(deps.to_string()))
}

/// Create `dir` and open `dir/hive.log` for appending; warn on stderr and give up on failure.
fn open_log_file(dir: &str) -> Option<(PathBuf, Arc<File>)> {
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!("hive: cannot create log directory {dir:?}: {e}; logging to the console only");
        return None;
    }
    let path = PathBuf::from(dir).join("hive.log");
    match OpenOptions::new().create(true).append(true).open(&path) {
        Ok(f) => Some((path, Arc::new(f))),
        Err(e) => {
            eprintln!(
                "hive: cannot open {}: {e}; logging to the console only",
                path.display()
            );
            None
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hive_levels_map_to_tracing_levels() {
        assert_eq!(level("notice").unwrap(), LevelFilter::INFO);
        assert_eq!(level("warning").unwrap(), LevelFilter::WARN);
        assert_eq!(level("emergency").unwrap(), LevelFilter::ERROR);
        assert_eq!(level("none").unwrap(), LevelFilter::OFF);
        assert_eq!(level("trace").unwrap_err().code(), "invalid_config");
        assert_eq!(
            filter(LevelFilter::DEBUG).to_string(),
            "flood=debug,hive=debug,info"
        );
    }

    #[test]
    fn log_dir_that_cannot_be_created_is_skipped() {
        let dir = std::env::temp_dir().join(format!("hive-telemetry-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("plain-file");
        std::fs::write(&file, "x").unwrap();
        assert!(open_log_file(&file.join("sub").display().to_string()).is_none());
        let (path, _f) = open_log_file(&dir.join("ok").display().to_string()).unwrap();
        assert!(path.ends_with("ok/hive.log") && path.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
