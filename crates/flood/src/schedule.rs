//! Spawn cadence, session draws and goal-check plans (FLOOD.md 5.1, 5.3, 9.2).

use rand::Rng;

use super::scenario::{Phase, Session};

/// How a phase spawns: `bulk` users every `interval_ms`, `ticks` times from `start_time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    /// Users per tick.
    pub bulk: u64,
    /// Milliseconds between ticks.
    pub interval_ms: u64,
    /// Number of ticks (the last one may spawn fewer than `bulk`).
    pub ticks: u64,
}

/// The original's cadence: the smallest k with `D·10^k >= 10·U`, bulk `10^k`, interval
/// `floor(D·10^k / U)`. `spawn_duration` 0 (a hang in the original) spawns everyone in one tick.
pub fn cadence(users: u64, spawn_duration: u64) -> Option<Cadence> {
    if users == 0 {
        return None;
    }
    if spawn_duration == 0 {
        return Some(Cadence {
            bulk: users,
            interval_ms: 0,
            ticks: 1,
        });
    }
    let mut bulk: u64 = 1;
    while spawn_duration.saturating_mul(bulk) < users.saturating_mul(10) {
        bulk = bulk.saturating_mul(10);
    }
    Some(Cadence {
        bulk,
        interval_ms: spawn_duration.saturating_mul(bulk) / users,
        ticks: users.div_ceil(bulk),
    })
}

/// Draws a session by weight (fitness-proportionate). `None` when all weights are 0.
pub fn draw<'a, R: Rng>(sessions: &[&'a Session], rng: &mut R) -> Option<&'a Session> {
    let total: f64 = sessions.iter().map(|s| s.weight.max(0.0)).sum();
    if total <= 0.0 {
        return None;
    }
    let mut x = rng.random::<f64>() * total;
    for s in sessions {
        let w = s.weight.max(0.0);
        if w > 0.0 && x < w {
            return Some(s);
        }
        x -= w;
    }
    sessions.iter().rev().find(|s| s.weight > 0.0).copied()
}

/// Index of the final phase: the largest timeout (absent = -1), later phases win ties.
pub fn final_phase(phases: &[Phase]) -> Option<usize> {
    let mut best: Option<(i64, usize)> = None;
    for (i, p) in phases.iter().enumerate() {
        let t = p.timeout.map_or(-1, |t| t as i64);
        if best.is_none_or(|(bt, _)| t >= bt) {
            best = Some((t, i));
        }
    }
    best.map(|(_, i)| i)
}

/// The next goal check of a phase after the check at `prev` (FLOOD.md 9.2): its run-clock time
/// and whether it is the deciding one (the first check at or after the phase's timeout).
/// `None` when there is no further check.
pub fn next_check(phase: &Phase, prev: Option<u64>) -> Option<(u64, bool)> {
    match (phase.timeout, phase.test_interval) {
        (None, None) => None,
        (Some(t), None) => prev.is_none().then_some((t, true)),
        (timeout, Some(i)) => {
            let next = prev.map_or(phase.start_time, |p| p.saturating_add(i.max(1)));
            if prev.is_some_and(|p| timeout.is_some_and(|t| p >= t)) {
                return None;
            }
            Some((next, timeout.is_some_and(|t| next >= t)))
        }
    }
}

/// Every check time of a phase up to `horizon_ms` (for logs and tests).
pub fn check_times(phase: &Phase, horizon_ms: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut prev = None;
    while let Some((t, deciding)) = next_check(phase, prev) {
        if t > horizon_ms && !deciding {
            break;
        }
        out.push(t);
        if deciding {
            break;
        }
        prev = Some(t);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// FLOOD.md 5.1 table.
    #[test]
    fn cadence_table() {
        let c = |u, d| cadence(u, d).map(|c| (c.bulk, c.interval_ms, c.ticks));
        assert_eq!(c(1, 1000), Some((1, 1000, 1)));
        assert_eq!(c(50, 1000), Some((1, 20, 50)));
        assert_eq!(c(200, 2000), Some((1, 10, 200)));
        assert_eq!(c(15, 100), Some((10, 66, 2)));
        assert_eq!(c(1000, 100), Some((100, 10, 10)));
        assert_eq!(c(1000, 2000), Some((10, 20, 100)));
        assert_eq!(c(15000, 10000), Some((100, 66, 150)));
        assert_eq!(c(0, 1000), None);
        assert_eq!(c(7, 0), Some((7, 0, 1)));
    }

    fn session(name: &str, weight: f64) -> Session {
        Session {
            name: name.into(),
            extends: vec![],
            weight,
            transport: "websocket".into(),
            protocol: crate::scenario::Protocol::V09,
            actions: std::sync::Arc::from(Vec::new()),
            metadata: vec![],
        }
    }

    #[test]
    fn draw_is_proportional_and_skips_zero_weights() {
        let (a, b, z) = (session("a", 0.8), session("b", 0.2), session("z", 0.0));
        let list = [&a, &b, &z];
        let mut rng = rand::rng();
        let mut na = 0;
        for _ in 0..10_000 {
            let s = draw(&list, &mut rng).unwrap();
            assert_ne!(s.name, "z");
            if s.name == "a" {
                na += 1;
            }
        }
        assert!((7_500..8_500).contains(&na), "{na}");
        assert!(draw(&[&z], &mut rng).is_none());
    }

    fn phase(timeout: Option<u64>, interval: Option<u64>) -> Phase {
        Phase {
            name: "p".into(),
            users: 1,
            user_sessions: vec![],
            start_time: 100,
            spawn_duration: 10,
            goal: serde_json::json!({}),
            goal_raw: serde_json::json!([]),
            test_interval: interval,
            timeout,
            metadata: serde_json::json!({}),
        }
    }

    #[test]
    fn final_phase_and_check_times() {
        let ps = [
            phase(Some(5), None),
            phase(Some(9), None),
            phase(Some(9), None),
        ];
        assert_eq!(final_phase(&ps), Some(2));
        assert_eq!(final_phase(&[phase(None, None)]), Some(0));
        assert_eq!(check_times(&phase(None, None), 10_000), Vec::<u64>::new());
        assert_eq!(check_times(&phase(Some(3000), None), 10_000), vec![3000]);
        assert_eq!(
            check_times(&phase(Some(400), Some(100)), 10_000),
            vec![100, 200, 300, 400]
        );
        assert_eq!(
            check_times(&phase(Some(350), Some(100)), 10_000),
            vec![100, 200, 300, 400]
        );
        assert_eq!(
            check_times(&phase(None, Some(300)), 1000),
            vec![100, 400, 700, 1000]
        );
    }
}
