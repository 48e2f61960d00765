//! The result document (FLOOD.md 10): `{"counters", "timers"}` in the original's shape, computed
//! over *all* samples (HDR), plus flood's additions: more percentiles, connection latencies,
//! errors by kind and the time series.

use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use serde_json::{Map, Value, json};

use super::stats::{Latency, Stats};

/// Rounds ms to µs precision for readable JSON.
fn ms(us: f64) -> f64 {
    (us / 1000.0 * 1000.0).round() / 1000.0
}

/// Statistics of one histogram in the original's shape (values in ms), plus `p99.9`-style keys.
pub fn timer_stats(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return json!({"n": 0});
    }
    let n = h.len() as f64;
    let mean_us = h.mean();
    let (mut log_sum, mut inv_sum, mut m3, mut m4) = (0.0, 0.0, 0.0, 0.0);
    for it in h.iter_recorded() {
        let x = h.highest_equivalent(it.value_iterated_to()) as f64;
        let c = it.count_at_value() as f64;
        let xm = x.max(1.0) / 1000.0;
        log_sum += c * xm.ln();
        inv_sum += c / xm;
        let d = x - mean_us;
        m3 += c * d.powi(3);
        m4 += c * d.powi(4);
    }
    let var_us = h.stdev().powi(2);
    let sd_us = h.stdev();
    let skew = if sd_us > 0.0 {
        m3 / n / sd_us.powi(3)
    } else {
        0.0
    };
    let kurt = if sd_us > 0.0 {
        m4 / n / var_us.powi(2) - 3.0
    } else {
        0.0
    };
    let q = |p: f64| ms(h.value_at_quantile(p) as f64);
    let mut pct = Map::new();
    for (k, p) in [
        ("50", 0.5),
        ("75", 0.75),
        ("90", 0.9),
        ("95", 0.95),
        ("99", 0.99),
        ("999", 0.999),
        ("99.9", 0.999),
        ("99.99", 0.9999),
    ] {
        pct.insert(k.to_owned(), json!(q(p)));
    }
    json!({
        "min": ms(h.min() as f64),
        "max": ms(h.max() as f64),
        "arithmetic_mean": ms(mean_us),
        "geometric_mean": (log_sum / n).exp(),
        "harmonic_mean": n / inv_sum,
        "median": q(0.5),
        "variance": var_us / 1e6,
        "standard_deviation": ms(sd_us),
        "skewness": skew,
        "kurtosis": kurt,
        "percentile": Value::Object(pct),
        "histogram": buckets(h),
        "n": h.len(),
    })
}

/// Ten equal-width buckets between min and max: `{"x": upper bounds (ms), "y": counts}`.
fn buckets(h: &Histogram<u64>) -> Value {
    let (lo, hi) = (h.min() as f64, h.max() as f64);
    let width = ((hi - lo) / 10.0).max(1.0);
    let mut xs = Vec::new();
    let mut ys = vec![0u64; 10];
    for i in 0..10 {
        xs.push(ms(lo + width * (i as f64 + 1.0)));
    }
    for it in h.iter_recorded() {
        let x = h.highest_equivalent(it.value_iterated_to()) as f64;
        let i = (((x - lo) / width) as usize).min(9);
        ys[i] += it.count_at_value();
    }
    json!({"x": xs, "y": ys})
}

/// The goal document: exactly `{"counters", "timers"}` (what goals are checked against).
pub fn goal_doc(stats: &Stats) -> Value {
    let counters: Map<String, Value> = stats
        .counters()
        .into_iter()
        .map(|(k, v)| (k, json!(v)))
        .collect();
    let timers: Map<String, Value> = stats
        .timers()
        .iter()
        .map(|(k, h)| (k.clone(), timer_stats(h)))
        .collect();
    json!({"counters": counters, "timers": timers})
}

/// `events`: per emitted event name, the round-trip statistics (as timers; `n` = answered) and
/// `emitted`, the number of emits.
pub fn events_doc(stats: &Stats) -> Value {
    let m: Map<String, Value> = stats
        .events
        .snapshot()
        .into_iter()
        .map(|(name, emitted, h)| {
            let mut v = timer_stats(&h);
            v["emitted"] = json!(emitted);
            (name, v)
        })
        .collect();
    Value::Object(m)
}

/// Per-phase verdicts for the result file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verdict {
    /// Phase name.
    pub phase: String,
    /// Whether its goal passed at its last check.
    pub passed: bool,
    /// Failures at the last check.
    pub errors: Vec<String>,
}

/// The full result document: the goal document plus flood's additions.
pub fn result_doc(stats: &Stats, verdicts: &[Verdict], passed: bool, scenario: &Path) -> Value {
    let mut doc = goal_doc(stats);
    if let Value::Object(m) = &mut doc {
        m.insert(
            "connection".to_owned(),
            json!({
                "handshake": timer_stats(&stats.latency(Latency::Handshake)),
                "connect": timer_stats(&stats.latency(Latency::Connect)),
            }),
        );
        m.insert("events".to_owned(), events_doc(stats));
        m.insert("errors".to_owned(), json!(stats.errors()));
        m.insert(
            "run".to_owned(),
            json!({
                "tool": concat!("flood (hive ", env!("CARGO_PKG_VERSION"), ")"),
                "scenario": scenario.display().to_string(),
                "duration_ms": stats.now_ms(),
                "target_users": stats.target.load(std::sync::atomic::Ordering::Relaxed),
                "all_connected_ms": stats.all_connected_ms.load(std::sync::atomic::Ordering::Relaxed),
                "rss_peak_bytes": stats.rss_peak.load(std::sync::atomic::Ordering::Relaxed),
                "passed": passed,
                "phases": verdicts,
            }),
        );
        m.insert("series".to_owned(), json!(stats.series()));
        if let Some(run) = m.get_mut("run") {
            run["cpu"] = json!(stats.cpu_summary());
        }
    }
    doc
}

/// Where the result goes: `<scenario without extension>_flood_result.json` beside the scenario,
/// or in `out` when given. The report is `<same stem>_flood_report.html`.
pub fn result_paths(scenario: &Path, out: Option<&Path>) -> (PathBuf, PathBuf) {
    let stem = scenario.file_stem().map_or_else(
        || "scenario".to_owned(),
        |s| s.to_string_lossy().into_owned(),
    );
    let dir = out
        .map(Path::to_path_buf)
        .or_else(|| scenario.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    (
        dir.join(format!("{stem}_flood_result.json")),
        dir.join(format!("{stem}_flood_report.html")),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stats_have_the_original_keys_and_sane_values() {
        let s = Stats::new();
        for ms in [10u64, 20, 30, 40] {
            s.record_timer("rtt", Duration::from_millis(ms));
        }
        let doc = goal_doc(&s);
        let t = &doc["timers"]["rtt"];
        for k in [
            "min",
            "max",
            "arithmetic_mean",
            "geometric_mean",
            "harmonic_mean",
            "median",
            "variance",
            "standard_deviation",
            "skewness",
            "kurtosis",
            "percentile",
            "histogram",
            "n",
        ] {
            assert!(t.get(k).is_some(), "missing {k}");
        }
        assert_eq!(t["n"], 4);
        let mean = t["arithmetic_mean"].as_f64().unwrap();
        assert!((mean - 25.0).abs() < 0.1, "{mean}");
        let g = t["geometric_mean"].as_f64().unwrap();
        assert!(g > 20.0 && g < 25.0, "{g}");
        assert!(t["percentile"]["999"].as_f64().unwrap() >= 39.9);
        assert_eq!(
            t["histogram"]["y"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .sum::<u64>(),
            4
        );
        assert_eq!(doc["counters"]["ws_incomming"], 0);
    }

    #[test]
    fn empty_timers_are_an_object() {
        assert_eq!(goal_doc(&Stats::new())["timers"], json!({}));
    }

    #[test]
    fn result_file_goes_beside_the_scenario() {
        let (r, h) = result_paths(Path::new("examples/2.json"), None);
        assert_eq!(r, Path::new("examples/2_flood_result.json"));
        assert_eq!(h, Path::new("examples/2_flood_report.html"));
        let (r, _) = result_paths(Path::new("a/b.json"), Some(Path::new("/tmp/x")));
        assert_eq!(r, Path::new("/tmp/x/b_flood_result.json"));
    }
}
