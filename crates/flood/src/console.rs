//! Console output: `HH:MM:SS.mmm [notice] text` log lines and live progress (an indicatif bar on
//! a terminal, plain periodic lines otherwise).

use std::io::IsTerminal;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::stats::Sample;

static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// UTC wall-clock `HH:MM:SS.mmm`.
fn clock() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let s = d.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        d.subsec_millis()
    )
}

/// Prints one log line at `level` (above the progress bar when there is one).
pub fn line(level: &str, text: &str) {
    let l = format!("{} [{level}] {text}", clock());
    let bar = BAR.lock().unwrap_or_else(PoisonError::into_inner);
    match bar.as_ref() {
        Some(b) => b.println(l),
        None => eprintln!("{l}"),
    }
}

static RARE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A line for events that can happen to thousands of users at once (crashes): the first 20
/// are printed, then one in every 1000 (the result file counts them all by kind).
pub fn rare(level: &str, text: &str) {
    let n = RARE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if n < 20 || n.is_multiple_of(1000) {
        line(level, &format!("{text} (#{})", n + 1));
    }
}

/// A `notice` line (the `log` action and the manager's messages).
pub fn notice(text: &str) {
    line("notice", text);
}

/// ` <name> p50 A p99 B ms` for each timer and event of the sample (at most four, the rest
/// counted), each name on its own: a think-time timer is not mixed into a latency.
pub fn latencies(s: &Sample) -> String {
    let mut out = String::new();
    for (name, l) in s.latency.iter().take(4) {
        let short = name
            .strip_prefix("timers.")
            .or_else(|| name.strip_prefix("events."))
            .unwrap_or(name);
        out.push_str(&format!(" {short} p50 {:.1} p99 {:.1} ms", l.p50, l.p99));
    }
    if s.latency.len() > 4 {
        out.push_str(&format!(" (+{} more)", s.latency.len() - 4));
    }
    if out.is_empty() {
        out.push_str(" no latencies");
    }
    out
}

/// Live progress display.
pub struct Progress {
    quiet: bool,
    tty: bool,
    target: u64,
}

impl Progress {
    /// Starts progress for `target` users; a bar on a terminal, plain lines otherwise.
    pub fn start(target: u64, quiet: bool) -> Self {
        let tty = !quiet && std::io::stderr().is_terminal();
        if tty {
            let bar = ProgressBar::with_draw_target(Some(target), ProgressDrawTarget::stderr());
            if let Ok(style) =
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} users {msg}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            *BAR.lock().unwrap_or_else(PoisonError::into_inner) = Some(bar);
        }
        Self { quiet, tty, target }
    }

    /// Shows one sample.
    pub fn update(&self, s: &Sample) {
        if self.quiet {
            return;
        }
        let msg = format!(
            "| sio {} | in {:.0}/s out {:.0}/s |{} | errors {} | flood cpu {:.2}{}",
            s.sio_connected,
            s.in_rate,
            s.out_rate,
            latencies(s),
            s.errors,
            s.flood_cores,
            s.idle
                .map(|i| format!(" machine idle {:.0}%", i * 100.0))
                .unwrap_or_default()
        );
        if self.tty {
            if let Some(b) = BAR.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
                b.set_position(u64::try_from(s.connected.max(0)).unwrap_or(0));
                b.set_message(msg);
            }
        } else {
            eprintln!(
                "{} [progress] t={:.1}s users {}/{} {msg}",
                clock(),
                s.t,
                s.connected,
                self.target
            );
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(b) = BAR.lock().unwrap_or_else(PoisonError::into_inner).take() {
            b.finish_and_clear();
        }
    }
}
