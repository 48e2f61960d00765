//! The Autobahn WebSocket test cases against Hive's echo endpoint (`socketio.websocket_echo_path`),
//! run by PyPI `kosoku` 0.1.0 (`.venv/bin/kosoku`) as a fuzzing client; shared by
//! `tests/autobahn.rs` (cases 1.* to 10.*) and `benches/autobahn.rs` (the full set).
//!
//! [`EXPECTED`] lists every case that is allowed not to pass, with its reason.

#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The echo endpoint's path in the runs.
pub const ECHO_PATH: &str = "/autobahn-echo";

/// Cases allowed not to pass (a glob: `12.*` or an exact id), with the reason.
pub const EXPECTED: &[(&str, &str)] = &[
    (
        "12.*",
        "permessage-deflate (RFC 7692) is not implemented: the upgrade never accepts the extension",
    ),
    (
        "13.*",
        "permessage-deflate (RFC 7692) is not implemented: the upgrade never accepts the extension",
    ),
];

/// The verdicts of one case.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub behavior: String,
    pub behavior_close: String,
    pub remote_close_code: Option<u64>,
    pub duration_ms: u64,
}

impl Verdict {
    /// Passed as kosoku counts it: both verdicts OK, NON-STRICT or INFORMATIONAL.
    pub fn passed(&self) -> bool {
        let good = |v: &str| matches!(v, "OK" | "NON-STRICT" | "INFORMATIONAL");
        good(&self.behavior) && good(&self.behavior_close)
    }
}

/// The kosoku executable of the checkout's venv, if installed. Under `CI=true` a missing one
/// fails the caller.
pub fn kosoku() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/kosoku");
    let works = Command::new(&p)
        .arg("--help")
        .output()
        .is_ok_and(|o| o.status.success());
    if works {
        return Some(p);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "kosoku is required under CI=true but {} does not run \
         (python3 -m venv .venv && .venv/bin/pip install kosoku==0.1.0, as scripts/test.sh does)",
        p.display()
    );
    eprintln!(
        "SKIPPED: {} is missing (scripts/test.sh installs it)",
        p.display()
    );
    None
}

/// The reason a case is allowed not to pass, if it is listed.
pub fn expected(case: &str) -> Option<&'static str> {
    EXPECTED.iter().find_map(|(pat, why)| {
        let hit = match pat.strip_suffix('*') {
            Some(prefix) => case.starts_with(prefix),
            None => case == *pat,
        };
        hit.then_some(*why)
    })
}

/// Run `include` (kosoku globs) against `url` with `parallel` cases at once; reports go to
/// `outdir`. The verdict of every case run, by case id.
pub fn run(
    kosoku: &Path,
    url: &str,
    include: &[&str],
    parallel: usize,
    outdir: &Path,
) -> BTreeMap<String, Verdict> {
    let _ = std::fs::remove_dir_all(outdir);
    let mut cmd = Command::new(kosoku);
    cmd.arg(url)
        .arg("-p")
        .arg(parallel.to_string())
        .arg("-o")
        .arg(outdir);
    for i in include {
        cmd.arg("-i").arg(i);
    }
    let out = cmd.output().expect("kosoku runs");
    let index = std::fs::read_to_string(outdir.join("index.json")).unwrap_or_else(|e| {
        panic!(
            "kosoku wrote no report ({e}); exit {:?}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let index: Value = serde_json::from_str(&index).unwrap();
    let mut verdicts = BTreeMap::new();
    for (_agent, cases) in index.as_object().unwrap() {
        for (id, c) in cases.as_object().unwrap() {
            verdicts.insert(
                id.clone(),
                Verdict {
                    behavior: c["behavior"].as_str().unwrap_or("?").to_string(),
                    behavior_close: c["behaviorClose"].as_str().unwrap_or("?").to_string(),
                    remote_close_code: c["remoteCloseCode"].as_u64(),
                    duration_ms: c["duration"].as_u64().unwrap_or(0),
                },
            );
        }
    }
    verdicts
}

/// Sort case ids numerically (`1.1.10` after `1.1.9`).
pub fn sort_key(id: &str) -> Vec<u32> {
    id.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// A summary: per top-level group, cases passed / listed / failed; and every case that did not
/// pass with its verdicts and its reason (or "NOT LISTED").
pub fn summary(verdicts: &BTreeMap<String, Verdict>) -> (String, Vec<String>) {
    let mut groups: BTreeMap<u32, (usize, usize, usize)> = BTreeMap::new();
    let mut unlisted = Vec::new();
    let mut ids: Vec<&String> = verdicts.keys().collect();
    ids.sort_by_key(|id| sort_key(id));
    let mut lines = String::new();
    for id in ids {
        let v = &verdicts[id];
        let g = groups.entry(sort_key(id)[0]).or_default();
        if v.passed() {
            g.0 += 1;
        } else if let Some(why) = expected(id) {
            g.1 += 1;
            let _ = why;
        } else {
            g.2 += 1;
            unlisted.push(format!(
                "{id}: behavior {} close {} (remote close code {:?}) NOT LISTED",
                v.behavior, v.behavior_close, v.remote_close_code
            ));
        }
    }
    lines.push_str(
        "| cases | passed | not passing, listed | not passing, unlisted |\n|---|---|---|---|\n",
    );
    for (g, (ok, listed, bad)) in &groups {
        lines.push_str(&format!("| {g}.* | {ok} | {listed} | {bad} |\n"));
    }
    (lines, unlisted)
}
