//! `hive top`: a live terminal view of a running node, read from its monitor listener once a
//! second: the node's rates (sessions, messages in and out, deliveries, RSS), its pools
//! (utilisation, round-trip and rent-wait latency) and the top actors (sorted by mailbox, rate,
//! queued or age). Keys: `q` quits, `m` `r` `u` `a` change the sort.
//!
//! No terminal library: the view is plain text redrawn with two ANSI sequences (home, clear) in
//! the alternate screen, and keys are read from stdin in non-canonical mode, which `stty` sets
//! (and restores on exit). Without `stty` (or without a terminal) keys are read line by line:
//! `q` then Enter quits.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use super::client::{encode, get, reply_error};
use crate::error::HiveError;

/// Time between two refreshes.
const REFRESH: Duration = Duration::from_secs(1);
/// Longest wait for one refresh's requests.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// How the actor table is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopSort {
    /// Deepest mailbox first.
    Mailbox,
    /// Busiest first.
    Rate,
    /// Longest outgoing queue first.
    Queued,
    /// Youngest first.
    Age,
}

impl TopSort {
    fn word(self) -> &'static str {
        match self {
            TopSort::Mailbox => "mailbox",
            TopSort::Rate => "rate",
            TopSort::Queued => "queued",
            TopSort::Age => "age",
        }
    }
}

/// What one refresh read.
#[derive(Debug, Default)]
pub struct TopData {
    /// `/actors?sort=..&limit=..`
    pub actors: Value,
    /// `/dashboard/series`
    pub series: Value,
    /// `/latency`
    pub latency: Value,
}

async fn fetch_json(monitor: &str, path: &str) -> Result<Value, HiveError> {
    let (status, body) = get(monitor, path).await?;
    if status != 200 {
        return Err(reply_error(status, &body));
    }
    serde_json::from_slice(&body).map_err(|e| {
        HiveError::InternalError(format!("Hive Monitor sent invalid JSON for {path}: {e}"))
    })
}

/// Read the three routes the view shows.
///
/// # Errors
/// As [`super::fetch_and_print_tree`].
pub async fn fetch_top(
    monitor: &str,
    hash: &str,
    sort: TopSort,
    limit: usize,
) -> Result<TopData, HiveError> {
    let h = encode(hash);
    let all = async {
        let paths = [
            format!("/monitor/{h}/actors?sort={}&limit={limit}", sort.word()),
            format!("/monitor/{h}/dashboard/series"),
            format!("/monitor/{h}/latency"),
        ];
        let (actors, series, latency) = tokio::try_join!(
            fetch_json(monitor, &paths[0]),
            fetch_json(monitor, &paths[1]),
            fetch_json(monitor, &paths[2]),
        )?;
        Ok::<_, HiveError>(TopData {
            actors,
            series,
            latency,
        })
    };
    tokio::time::timeout(FETCH_TIMEOUT, all)
        .await
        .map_err(|_| HiveError::InternalError(format!("Hive Monitor at {monitor} timed out.")))?
}

/// The last value of column `key` of the series.
fn last(series: &Value, key: &str) -> Option<Value> {
    series[key].as_array()?.last().cloned()
}

fn num(v: &Value) -> String {
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 => format!("{f:.0}"),
        Some(f) => format!("{f:.1}"),
        None => "-".into(),
    }
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The screen for `d`, at most `width` columns (lines end with `\r\n`, for raw terminals).
pub fn render_top(monitor: &str, d: &TopData, sort: TopSort, width: usize) -> String {
    let mut lines = Vec::new();
    let s = &d.series;
    let rss = last(s, "rss")
        .and_then(|v| v.as_f64())
        .map(|b| format!("{:.1} MB", b / 1_048_576.0))
        .unwrap_or_else(|| "-".into());
    lines.push(format!(
        "hive top - {monitor}   sessions {}   actors {}   RSS {rss}",
        last(s, "sessions").map(|v| num(&v)).unwrap_or("-".into()),
        d.actors["total"]
            .as_u64()
            .map_or("-".into(), |n| n.to_string()),
    ));
    lines.push(format!(
        "msgs in {}/s   msgs out {}/s   deliveries {}/s",
        last(s, "msgs_in").map(|v| num(&v)).unwrap_or("-".into()),
        last(s, "msgs_out").map(|v| num(&v)).unwrap_or("-".into()),
        last(s, "deliveries").map(|v| num(&v)).unwrap_or("-".into()),
    ));
    lines.push(String::new());
    lines.push(format!(
        "{:<20} {:>7} {:>10} {:>10} {:>10} {:>10}",
        "POOL", "BUSY%", "REQUESTS", "P50 ms", "P99 ms", "RENT P99"
    ));
    let pools = d.series["pools"].as_object().cloned().unwrap_or_default();
    let ms = |v: &Value| {
        v.as_f64()
            .map_or("-".into(), |us| format!("{:.1}", us / 1000.0))
    };
    if pools.is_empty() {
        lines.push("(no pools)".into());
    }
    for (name, util) in &pools {
        let busy = util
            .as_array()
            .and_then(|a| a.last())
            .and_then(Value::as_f64)
            .map_or("-".into(), |u| format!("{:.0}", u * 100.0));
        let l = &d.latency["pools"][name];
        let r = &d.latency["rent_waits"][name];
        lines.push(format!(
            "{:<20} {:>7} {:>10} {:>10} {:>10} {:>10}",
            cut(name, 20),
            busy,
            l["count"].as_u64().map_or("-".into(), |n| n.to_string()),
            ms(&l["p50_us"]),
            ms(&l["p99_us"]),
            ms(&r["p99_us"]),
        ));
    }
    lines.push(String::new());
    lines.push(format!(
        "TOP ACTORS by {}   [m]ailbox [r]ate q[u]eued [a]ge   [q]uit",
        sort.word()
    ));
    lines.push(format!(
        "{:<42} {:<10} {:>8} {:>9} {:>7} {:>8} {:>8}",
        "ID", "KIND", "MAILBOX", "RATE/s", "QUEUED", "AGE s", "RESTARTS"
    ));
    for a in d.actors["actors"].as_array().into_iter().flatten() {
        lines.push(format!(
            "{:<42} {:<10} {:>8} {:>9} {:>7} {:>8} {:>8}",
            cut(a["id"].as_str().unwrap_or("?"), 42),
            cut(a["kind"].as_str().unwrap_or("?"), 10),
            a["mailbox"].to_string(),
            num(&a["rate"]),
            a.get("queued").map_or(String::new(), Value::to_string),
            a["age_ms"]
                .as_u64()
                .map_or("-".into(), |ms| (ms / 1000).to_string()),
            a["restarts"].to_string(),
        ));
    }
    let mut out = String::new();
    for l in lines {
        out.push_str(&cut(&l, width));
        out.push_str("\r\n");
    }
    out
}

/// The terminal in non-canonical, no-echo mode while it lives (through `stty`), restored on drop.
struct RawMode(Option<String>);

impl RawMode {
    fn enter() -> Self {
        let saved = stty(&["-g"]).filter(|s| !s.is_empty());
        if saved.is_some() && stty(&["-icanon", "-echo", "min", "1", "time", "0"]).is_none() {
            return RawMode(None);
        }
        RawMode(saved)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = self.0.take() {
            let _ = stty(&[saved.as_str()]);
        }
    }
}

/// Run `stty args` on our terminal (stdin); its output, or `None` when it failed.
fn stty(args: &[&str]) -> Option<String> {
    let out = Command::new("stty")
        .args(args)
        .stdin(Stdio::inherit())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The terminal's columns and rows (`stty size`; 120x40 when unknown).
fn size() -> (usize, usize) {
    stty(&["size"])
        .and_then(|s| {
            let (r, c) = s.split_once(' ')?;
            Some((c.parse().ok()?, r.parse().ok()?))
        })
        .unwrap_or((120, 40))
}

/// Run `hive top` against the monitor at `monitor` until `q` (or end of input, or Ctrl-C).
///
/// # Errors
/// When the first refresh fails (unreachable monitor, wrong hash); later failures are shown on
/// the screen and retried.
pub async fn run_top(monitor: &str, hash: &str) -> Result<(), HiveError> {
    let mut sort = TopSort::Mailbox;
    let (cols, rows) = size();
    let limit = rows.saturating_sub(10).clamp(5, 200);
    // Fail before touching the terminal when the monitor cannot be read at all.
    let mut data = fetch_top(monitor, hash, sort, limit).await?;

    let (tx, mut keys) = mpsc::unbounded_channel::<u8>();
    std::thread::spawn(move || {
        let mut b = [0u8; 1];
        let mut stdin = std::io::stdin();
        while let Ok(1) = stdin.read(&mut b) {
            if tx.send(b[0]).is_err() {
                return;
            }
        }
        let _ = tx.send(b'q'); // end of input
    });
    let _raw = RawMode::enter();
    let mut out = std::io::stdout();
    let _ = write!(out, "\x1b[?1049h\x1b[?25l");
    let mut note = String::new();
    loop {
        let mut screen = render_top(monitor, &data, sort, cols);
        if !note.is_empty() {
            screen.push_str(&format!("\r\n{note}\r\n"));
        }
        let _ = write!(out, "\x1b[H\x1b[2J{screen}");
        let _ = out.flush();
        let deadline = tokio::time::sleep(REFRESH);
        tokio::pin!(deadline);
        let mut quit = false;
        loop {
            tokio::select! {
                k = keys.recv() => match k.unwrap_or(b'q') {
                    b'q' | b'Q' | 3 => { quit = true; break; }
                    b'm' => { sort = TopSort::Mailbox; break; }
                    b'r' => { sort = TopSort::Rate; break; }
                    b'u' => { sort = TopSort::Queued; break; }
                    b'a' => { sort = TopSort::Age; break; }
                    _ => {}
                },
                _ = tokio::signal::ctrl_c() => { quit = true; break; }
                () = &mut deadline => break,
            }
        }
        if quit {
            break;
        }
        match fetch_top(monitor, hash, sort, limit).await {
            Ok(d) => {
                data = d;
                note.clear();
            }
            Err(e) => note = format!("refresh failed: {e}"),
        }
    }
    let _ = write!(out, "\x1b[?25h\x1b[?1049l");
    let _ = out.flush();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_rates_pools_and_actors() {
        let d = TopData {
            actors: json!({"total": 3, "actors": [
                {"id": "worker:backend:0", "kind": "worker", "mailbox": 4, "rate": 2.5,
                 "age_ms": 3000, "restarts": 1},
                {"id": "abc", "kind": "worker", "mailbox": 0, "rate": 0.0, "age_ms": 10,
                 "restarts": 0, "queued": 7}]}),
            series: json!({"sessions": [1, 2], "msgs_in": [0.0, 3.5], "msgs_out": [1.0, 4.0],
                "deliveries": [0.0, 12.0], "rss": [1048576, 20971520],
                "pools": {"backend": [0.0, 0.5]}}),
            latency: json!({"pools": {"backend": {"count": 9, "p50_us": 1500, "p99_us": 4200}},
                "rent_waits": {"backend": {"p99_us": 100}}}),
        };
        let s = render_top("http://x", &d, TopSort::Queued, 200);
        assert!(s.contains("sessions 2") && s.contains("actors 3"), "{s}");
        assert!(s.contains("RSS 20.0 MB"), "{s}");
        assert!(
            s.contains("msgs in 3.5/s") && s.contains("deliveries 12/s"),
            "{s}"
        );
        assert!(
            s.contains("backend") && s.contains("4.2") && s.contains("1.5"),
            "{s}"
        );
        assert!(s.contains("TOP ACTORS by queued"), "{s}");
        assert!(s.contains("worker:backend:0"), "{s}");
        assert!(
            s.ends_with("\r\n") && !s.replace("\r\n", "").contains('\n'),
            "every line ends with CR LF: {s:?}"
        );
        let narrow = render_top("http://x", &d, TopSort::Mailbox, 30);
        assert!(
            narrow.split("\r\n").all(|l| l.chars().count() <= 30),
            "{narrow}"
        );
    }
}
