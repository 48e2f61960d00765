//! Logging set-up (HIVE.md 12): a `tracing-subscriber` registry with a console sink (stderr) and a
//! `<log.dir>/hive.log` file sink, each with its own level; text or JSON lines.
//!
//! Lines are written for operators: no ANSI colour unless stderr is a terminal (the file never),
//! and instead of ractor's nested `Actor{id="0.0"}:Actor{id="0.4"}:...` span chain, the one tree
//! name of the actor the line comes from (`[client]`, `[router]`, `[worker:backend:0]`; JSON: an
//! `actor` key). The actor is the one whose message loop runs on the current task (a task-local
//! of the vendored ractor, no tracing span per live actor), named from the `otp` crate's table of
//! tree names ([`otp::tree_name`], or [`otp::starting`] while the actor's `pre_start` runs).
//! ractor's own `Actor` spans stay off unless `RUST_LOG` asks for them: a span per live actor
//! would cost a registry slot for the actor's whole life.
//!
//! Hive's level names map onto tracing's: `notice` -> info, `warning` -> warn,
//! `critical`/`alert`/`emergency` -> error, `none` -> off. `RUST_LOG`, when set, replaces the
//! console filter (the file keeps `log.file_level`). Dependencies (hyper, fred, ...) log at most at
//! `info` unless `RUST_LOG` says otherwise, so `debug` means Hive's own debug output.

use std::fs::{File, OpenOptions};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
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
    let json = format == LogFormat::Json;
    let mut layers: Vec<BoxedLayer> = vec![
        fmt::layer()
            .with_ansi(!json && std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .event_format(Lines {
                json,
                detail: false,
            })
            .with_filter(console_filter)
            .boxed(),
    ];
    let mut guard = TelemetryGuard::default();
    if file_level != LevelFilter::OFF
        && let Some((path, file)) = open_log_file(&log.dir)
    {
        layers.push(
            fmt::layer()
                .with_ansi(false)
                .with_writer(file)
                .event_format(Lines { json, detail: true })
                .with_filter(filter(file_level))
                .boxed(),
        );
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

/// The tree name of the actor whose message loop runs on this task, if any: the actor id comes
/// from the task-local the vendored ractor sets around every processing loop
/// ([`ractor::current_actor`]); while an actor's `pre_start` runs (on its supervisor's task), the
/// name of the child being started ([`otp::starting`]).
fn current_actor() -> Option<Arc<str>> {
    let name = match ractor::current_actor() {
        Some(id) if id.is_local() => otp::tree_name(id.pid()),
        _ => None,
    }
    .or_else(otp::starting)?;
    Some(display_name(name))
}

/// How a tree name shows in a line: a session is a `client`, a channel a `channel`.
fn display_name(name: otp::TreeName) -> Arc<str> {
    match name {
        otp::TreeName::Child(id) => id,
        otp::TreeName::DynamicChildOf(sup) => match &*sup {
            "clients_sup" => Arc::from("client"),
            "channels_sup" => Arc::from("channel"),
            _ => sup,
        },
    }
}

/// Hive's line format, text or JSON: time, level, actor, target, message and fields. `detail`
/// (the file sink) adds the thread and the source file and line.
struct Lines {
    json: bool,
    detail: bool,
}

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        let actor = current_actor();
        if self.json {
            let mut time = String::new();
            SystemTime.format_time(&mut Writer::new(&mut time))?;
            let mut fields = JsonFields::default();
            event.record(&mut fields);
            let mut line = serde_json::Map::new();
            line.insert("timestamp".into(), time.into());
            line.insert("level".into(), meta.level().as_str().into());
            if let Some(a) = actor {
                line.insert("actor".into(), a.as_ref().into());
            }
            line.insert("target".into(), meta.target().into());
            line.insert("fields".into(), fields.0.into());
            if self.detail {
                line.insert(
                    "threadId".into(),
                    format!("{:?}", std::thread::current().id()).into(),
                );
                if let Some(f) = meta.file() {
                    line.insert("filename".into(), f.into());
                }
                if let Some(l) = meta.line() {
                    line.insert("line_number".into(), l.into());
                }
            }
            return writeln!(w, "{}", serde_json::Value::Object(line));
        }
        let ansi = w.has_ansi_escapes();
        SystemTime.format_time(&mut w)?;
        let level = meta.level();
        if ansi {
            write!(w, " {}{level:>5}\x1b[0m", level_colour(level))?;
        } else {
            write!(w, " {level:>5}")?;
        }
        if self.detail {
            write!(w, " {:?}", std::thread::current().id())?;
        }
        if let Some(a) = actor {
            write!(w, " [{a}]")?;
        }
        write!(w, " {}:", meta.target())?;
        if self.detail
            && let (Some(f), Some(l)) = (meta.file(), meta.line())
        {
            write!(w, " {f}:{l}:")?;
        }
        w.write_char(' ')?;
        ctx.format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

fn level_colour(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "\x1b[31m",
        Level::WARN => "\x1b[33m",
        Level::INFO => "\x1b[32m",
        Level::DEBUG => "\x1b[34m",
        Level::TRACE => "\x1b[35m",
    }
}

/// An event's fields as a JSON object (`message` included).
#[derive(Default)]
struct JsonFields(serde_json::Map<String, serde_json::Value>);

impl Visit for JsonFields {
    fn record_str(&mut self, f: &Field, v: &str) {
        self.0.insert(f.name().into(), v.into());
    }
    fn record_i64(&mut self, f: &Field, v: i64) {
        self.0.insert(f.name().into(), v.into());
    }
    fn record_u64(&mut self, f: &Field, v: u64) {
        self.0.insert(f.name().into(), v.into());
    }
    fn record_bool(&mut self, f: &Field, v: bool) {
        self.0.insert(f.name().into(), v.into());
    }
    fn record_f64(&mut self, f: &Field, v: f64) {
        self.0.insert(f.name().into(), v.into());
    }
    fn record_debug(&mut self, f: &Field, v: &dyn std::fmt::Debug) {
        self.0.insert(f.name().into(), format!("{v:?}").into());
    }
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
    let directives = format!("{deps},hive={lvl},flood={lvl},ractor=warn").to_lowercase();
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
            "ractor=warn,flood=debug,hive=debug,info"
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
