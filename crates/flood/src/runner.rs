//! The manager (FLOOD.md 5, 9): schedules spawn ticks and goal checks, shows progress, decides
//! the verdict, disconnects users cleanly and writes the result and the report.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ractor::ActorRef;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::console::{self, Progress};
use super::error::FloodError;
use super::goal;
use super::meta::Layers;
use super::pool::{MAX_CLIENTS, Pool};
use super::report;
use super::result::{Verdict, goal_doc, result_doc, result_paths};
use super::scenario::{self, Phase, Scenario, Session};
use super::schedule::{cadence, draw, final_phase, next_check};
use super::stats::{Builtin, Stats};
use super::user::{Shared, UserArgs, UserMsg};

/// Command-line options of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Scenario file.
    pub scenario: PathBuf,
    /// Stop after this long (judging the final phase's goal then), whatever the phases say.
    pub duration: Option<Duration>,
    /// Multiplies every phase's `users`.
    pub users_scale: f64,
    /// Directory for the result and the report (default: beside the scenario).
    pub out: Option<PathBuf>,
    /// No progress output.
    pub quiet: bool,
    /// `HOST:PORT` replacing the scenario's `server.host` and `server.port` (`--server`).
    pub server: Option<String>,
    /// Ends the run when cancelled, as Ctrl-C does: goals are judged then (for embedding flood).
    pub stop: Option<CancellationToken>,
}

impl RunOptions {
    /// Options for `scenario` with the defaults of the command line: no duration, scale 1,
    /// results beside the scenario, progress shown, the scenario's server.
    pub fn new(scenario: impl Into<PathBuf>) -> Self {
        Self {
            scenario: scenario.into(),
            duration: None,
            users_scale: 1.0,
            out: None,
            quiet: false,
            server: None,
            stop: None,
        }
    }
}

/// Parses `HOST:PORT` (an IPv6 host in brackets: `[::1]:8080`).
///
/// # Errors
/// [`FloodError::Scenario`] when the port is missing or not a port number.
pub fn parse_server(s: &str) -> Result<(String, u16), FloodError> {
    let bad = || FloodError::Scenario(format!("--server {s}: expected HOST:PORT"));
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_owned(), port))
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// Final verdict.
    pub passed: bool,
    /// Result JSON path.
    pub result_path: PathBuf,
    /// HTML report path.
    pub report_path: PathBuf,
    /// The result document.
    pub result: serde_json::Value,
}

struct Check {
    phase: usize,
    at: u64,
    passed: bool,
    errors: Vec<String>,
    deciding: bool,
}

type Registry = Arc<Mutex<Vec<ActorRef<UserMsg>>>>;

/// Raises RLIMIT_NOFILE as far as allowed and warns when it is short for `users`.
fn raise_nofile(users: u64) {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) if n < users * 2 + 64 => console::line(
            "warning",
            &format!(
                "RLIMIT_NOFILE is {n}; {users} users need about {}",
                users * 2 + 64
            ),
        ),
        Ok(_) => {}
        Err(e) => console::line("warning", &format!("cannot raise RLIMIT_NOFILE: {e}")),
    }
}

/// Runs a scenario to its end.
///
/// # Errors
/// [`FloodError::Scenario`] for an invalid scenario, [`FloodError::Io`] when the result cannot
/// be written.
pub async fn run(opts: RunOptions) -> Result<RunOutcome, FloodError> {
    let mut sc = scenario::load(&opts.scenario)?;
    if let Some(s) = &opts.server {
        (sc.server.host, sc.server.port) = parse_server(s)?;
    }
    for p in &mut sc.phases {
        if p.users > 0 {
            p.users = ((p.users as f64 * opts.users_scale).round() as u64).max(1);
        }
    }
    let target: u64 = sc.phases.iter().map(|p| p.users).sum();
    raise_nofile(target);
    console::notice(&format!("Running test {}", opts.scenario.display()));
    let stats = Arc::new(Stats::new());
    let rss_base = super::stats::rss_bytes();
    stats.target.store(target as i64, Ordering::Relaxed);
    let shared = Arc::new(Shared {
        server: sc.server.clone(),
        stats: stats.clone(),
    });
    let pool = Pool::start(MAX_CLIENTS).await?;
    let registry: Registry = Arc::default();
    let sc = Arc::new(sc);
    let t0 = Instant::now();
    let ids = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for (i, p) in sc.phases.iter().enumerate() {
        if let Some(c) = cadence(p.users, p.spawn_duration) {
            console::notice(&format!(
                "Scheduling Flood phase {}: {} users every {} msecs ({} max) starting at {} ms.",
                p.name, c.bulk, c.interval_ms, p.users, p.start_time
            ));
            let (sc, sh, pool, reg, ids) = (
                sc.clone(),
                shared.clone(),
                pool.clone(),
                registry.clone(),
                ids.clone(),
            );
            tasks.push(tokio::spawn(async move {
                spawn_phase(&sc, i, c, t0, &sh, &pool, &reg, &ids).await;
            }));
        }
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<Check>();
    for (i, p) in sc.phases.iter().enumerate() {
        let (p, stats, tx) = (p.clone(), stats.clone(), tx.clone());
        tasks.push(tokio::spawn(async move {
            check_phase(i, &p, t0, &stats, &tx).await;
        }));
    }
    let final_idx = final_phase(&sc.phases);
    let ends_by_itself = final_idx.is_some_and(|i| sc.phases[i].timeout.is_some());
    if !ends_by_itself && opts.duration.is_none() {
        console::notice("No final phase timeout and no --duration: running until Ctrl-C.");
    }
    let progress = Progress::start(target, opts.quiet);
    let ticker = {
        let stats = stats.clone();
        let mut iv = tokio::time::interval(Duration::from_secs(1));
        iv.tick().await;
        async move {
            loop {
                iv.tick().await;
                let s = stats.tick();
                progress.update(&s);
            }
        }
    };
    let ticker = tokio::spawn(ticker);
    let deadline = opts.duration.map(|d| t0 + d);
    let mut last: HashMap<usize, Verdict> = HashMap::new();
    let passed = loop {
        let stop = async {
            match deadline {
                Some(d) => sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            c = rx.recv() => {
                let Some(c) = c else { continue };
                let name = sc.phases[c.phase].name.clone();
                if c.passed {
                    console::notice(&format!("Flood phase {name} reached its goal!"));
                    stats.set_goal_time(&name, c.at as i64);
                } else if c.deciding {
                    console::notice(&format!(
                        "Flood phase {name} failed to reach its goal: {}", c.errors.join("; ")
                    ));
                    stats.set_goal_time(&name, c.at as i64);
                }
                last.insert(c.phase, Verdict { phase: name, passed: c.passed, errors: c.errors });
                if Some(c.phase) == final_idx && (c.passed || c.deciding) {
                    break c.passed;
                }
            }
            () = stop => break judge_now(&sc.phases, final_idx, &stats, &mut last),
            _ = tokio::signal::ctrl_c() => {
                console::notice("Interrupted: judging goals now.");
                break judge_now(&sc.phases, final_idx, &stats, &mut last);
            }
            () = cancelled(opts.stop.as_ref()) => {
                console::notice("Stopped: judging goals now.");
                break judge_now(&sc.phases, final_idx, &stats, &mut last);
            }
        }
    };
    for t in &tasks {
        t.abort();
    }
    ticker.abort();
    stats.tick();
    // Counters are the snapshot at the decision, as in the original; then users disconnect.
    let mut verdicts: Vec<Verdict> = last.into_values().collect();
    verdicts.sort_by(|a, b| a.phase.cmp(&b.phase));
    let mut doc = result_doc(&stats, &verdicts, passed, &opts.scenario);
    let cpu = stats.cpu_summary();
    doc["run"]["cpu"] = serde_json::json!(cpu);
    let peak = stats.rss_peak.load(Ordering::Relaxed);
    doc["run"]["rss_base_bytes"] = serde_json::json!(rss_base);
    doc["run"]["rss_per_user_bytes"] =
        serde_json::json!(peak.saturating_sub(rss_base) / target.max(1));
    shutdown_users(&registry, &stats).await;
    pool.stop().await;
    Progress::start(0, true).finish();
    doc["errors"] = serde_json::json!(stats.errors());
    // The text report's CPU lines (the result's `run.cpu`).
    console::notice(&cpu.line());
    if let Some(w) = super::cpu::warning(&cpu.machine) {
        console::line("warning", &w);
    }
    let (result_path, report_path) = result_paths(&opts.scenario, opts.out.as_deref());
    if let Some(dir) = result_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| FloodError::Io(format!("{}: {e}", dir.display())))?;
    }
    let text = serde_json::to_string(&doc).map_err(|e| FloodError::Io(e.to_string()))?;
    std::fs::write(&result_path, text)
        .map_err(|e| FloodError::Io(format!("{}: {e}", result_path.display())))?;
    let html = report::render(&doc, &opts.scenario.display().to_string());
    std::fs::write(&report_path, html)
        .map_err(|e| FloodError::Io(format!("{}: {e}", report_path.display())))?;
    console::notice(&format!(
        "Results: {} and {}",
        result_path.display(),
        report_path.display()
    ));
    Ok(RunOutcome {
        passed,
        result_path,
        report_path,
        result: doc,
    })
}

/// Resolves when `stop` is cancelled; never without one.
async fn cancelled(stop: Option<&CancellationToken>) {
    match stop {
        Some(t) => t.cancelled().await,
        None => std::future::pending().await,
    }
}

/// Judges every phase with a goal right now; the final phase's verdict is the run's.
fn judge_now(
    phases: &[Phase],
    final_idx: Option<usize>,
    stats: &Stats,
    last: &mut HashMap<usize, Verdict>,
) -> bool {
    let doc = goal_doc(stats);
    let mut out = true;
    for (i, p) in phases.iter().enumerate() {
        let errors = goal::check(&p.goal, &doc);
        let passed = errors.is_empty();
        if Some(i) == final_idx {
            out = passed;
        }
        last.insert(
            i,
            Verdict {
                phase: p.name.clone(),
                passed,
                errors,
            },
        );
    }
    out
}

#[allow(clippy::too_many_arguments)]
async fn spawn_phase(
    sc: &Scenario,
    idx: usize,
    c: super::schedule::Cadence,
    t0: Instant,
    shared: &Arc<Shared>,
    pool: &Pool,
    reg: &Registry,
    ids: &AtomicU64,
) {
    let phase = &sc.phases[idx];
    let sessions: Vec<&Session> = phase
        .user_sessions
        .iter()
        .filter_map(|n| sc.sessions.get(n).map(|s| &**s))
        .collect();
    let mut bases: HashMap<String, Arc<Layers>> = HashMap::new();
    let mut spawned = 0;
    for tick in 0..c.ticks {
        let at = t0 + Duration::from_millis(phase.start_time + tick * c.interval_ms);
        sleep_until(at).await;
        // One session per tick, as the original (FLOOD.md 5.3).
        let Some(session) = draw(&sessions, &mut rand::rng()) else {
            return;
        };
        let Some(arc_session) = sc.sessions.get(&session.name).cloned() else {
            return;
        };
        let base = bases
            .entry(session.name.clone())
            .or_insert_with(|| Arc::new(sc.base_meta(phase, session)))
            .clone();
        let n = c.bulk.min(phase.users - spawned);
        for _ in 0..n {
            let args = UserArgs {
                shared: shared.clone(),
                session: arc_session.clone(),
                base: base.clone(),
                id: ids.fetch_add(1, Ordering::Relaxed),
                phase_index: spawned,
            };
            spawned += 1;
            match pool.start_user(args).await {
                Ok(Some(r)) => reg.lock().unwrap_or_else(PoisonError::into_inner).push(r),
                Ok(None) => {
                    shared.stats.error("max_clients");
                }
                Err(e) => console::line("warning", &format!("user failed to start: {e}")),
            }
        }
    }
}

async fn check_phase(
    idx: usize,
    p: &Phase,
    t0: Instant,
    stats: &Stats,
    tx: &mpsc::UnboundedSender<Check>,
) {
    let mut prev = None;
    while let Some((at, deciding)) = next_check(p, prev) {
        sleep_until(t0 + Duration::from_millis(at)).await;
        let errors = goal::check(&p.goal, &goal_doc(stats));
        let passed = errors.is_empty();
        let _ = tx.send(Check {
            phase: idx,
            at,
            passed,
            errors,
            deciding,
        });
        if passed || deciding {
            return;
        }
        prev = Some(at);
    }
}

/// Sends every user a clean shutdown and waits (bounded) until they are gone.
async fn shutdown_users(reg: &Registry, stats: &Stats) {
    let users: Vec<ActorRef<UserMsg>> =
        std::mem::take(&mut *reg.lock().unwrap_or_else(PoisonError::into_inner));
    for u in &users {
        let _ = u.send_message(UserMsg::Shutdown);
    }
    let until = Instant::now() + Duration::from_secs(5);
    while stats.get(Builtin::AliveUsers) > 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for u in &users {
        u.stop(None);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::parse_server;

    #[test]
    fn server_override_parses_host_and_port() {
        assert_eq!(
            parse_server("localhost:8080").unwrap(),
            ("localhost".to_owned(), 8080)
        );
        assert_eq!(parse_server("[::1]:81").unwrap(), ("::1".to_owned(), 81));
        assert!(parse_server("localhost").is_err());
        assert!(parse_server(":80").is_err());
        assert!(parse_server("h:99999").is_err());
    }
}
