//! CPU accounting of a run: flood's own CPU time (utime + stime of `/proc/self/stat`) and the
//! machine's idle share (the aggregate `cpu` line of `/proc/stat`), sampled once a second, and
//! the saturation verdict: a run during which all cores were nearly busy measured the machine,
//! not (only) the server.
//!
//! Parsing and the verdict are pure functions of the file texts; [`CpuMeter`] does the reading.

use serde::Serialize;

/// Ticks per second of `/proc` times: Linux's `USER_HZ`, 100 on every architecture flood runs on
/// (the kernel converts its internal `HZ` to it for `/proc/stat` and `/proc/<pid>/stat`).
pub const USER_HZ: u64 = 100;

/// The machine counts as saturated in an interval whose idle time is below this share of all
/// cores (10%).
pub const SATURATED_IDLE: f64 = 0.10;

/// The run gets a warning when at least this share of its intervals were saturated (20%).
pub const SATURATED_SHARE: f64 = 0.20;

/// Aggregate CPU times of the machine, in ticks, from the `cpu` line of `/proc/stat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MachineTimes {
    /// user + nice + system + irq + softirq + steal.
    pub busy: u64,
    /// idle + iowait.
    pub idle: u64,
}

/// Parses `/proc/stat`: the aggregate times and the number of cores (`cpuN` lines).
pub fn parse_proc_stat(text: &str) -> Option<(MachineTimes, usize)> {
    let mut total = None;
    let mut cores = 0;
    for line in text.lines() {
        let mut f = line.split_whitespace();
        match f.next() {
            Some("cpu") => {
                // user nice system idle iowait irq softirq steal [guest guest_nice]: guest time
                // is already counted in user and nice.
                let v: Vec<u64> = f.take(8).map(|x| x.parse().unwrap_or(0)).collect();
                if v.len() < 4 {
                    return None;
                }
                let at = |i: usize| v.get(i).copied().unwrap_or(0);
                total = Some(MachineTimes {
                    busy: at(0) + at(1) + at(2) + at(5) + at(6) + at(7),
                    idle: at(3) + at(4),
                });
            }
            Some(name) if name.starts_with("cpu") => cores += 1,
            _ => {}
        }
    }
    total.map(|t| (t, cores.max(1)))
}

/// utime + stime (ticks) from a `/proc/<pid>/stat` text.
pub fn parse_process_ticks(text: &str) -> Option<u64> {
    // The command name is in parentheses and may hold spaces: count fields after the last `)`.
    let rest = text.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After `)`: state is field 3 of the file, so utime (14) and stime (15) are at 11 and 12.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Idle share (0..1) of all cores between two readings; `None` when no time passed.
pub fn idle_share(prev: MachineTimes, now: MachineTimes) -> Option<f64> {
    let idle = now.idle.saturating_sub(prev.idle);
    let busy = now.busy.saturating_sub(prev.busy);
    let all = idle + busy;
    (all > 0).then(|| idle as f64 / all as f64)
}

/// What the machine's idle samples of a run say.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Saturation {
    /// Cores of the machine.
    pub cores: usize,
    /// Intervals sampled.
    pub intervals: usize,
    /// Intervals with idle below [`SATURATED_IDLE`] of all cores.
    pub saturated_intervals: usize,
    /// `saturated_intervals / intervals`.
    pub saturated_share: f64,
    /// Lowest idle share seen.
    pub idle_min: f64,
    /// Mean idle share.
    pub idle_mean: f64,
    /// Whether the run should be read as measuring a saturated machine.
    pub saturated: bool,
}

/// The verdict on a run's idle samples (one share per interval).
pub fn saturation(cores: usize, idle: &[f64]) -> Saturation {
    let n = idle.len();
    let hot = idle.iter().filter(|&&i| i < SATURATED_IDLE).count();
    let share = if n == 0 { 0.0 } else { hot as f64 / n as f64 };
    Saturation {
        cores,
        intervals: n,
        saturated_intervals: hot,
        saturated_share: share,
        idle_min: idle.iter().copied().fold(f64::NAN, f64::min),
        idle_mean: if n == 0 {
            f64::NAN
        } else {
            idle.iter().sum::<f64>() / n as f64
        },
        saturated: n > 0 && share >= SATURATED_SHARE,
    }
}

/// The warning line for a saturated run, `None` otherwise.
pub fn warning(s: &Saturation) -> Option<String> {
    s.saturated.then(|| {
        format!(
            "the machine was saturated: idle below {:.0}% of its {} cores in {} of {} seconds \
             ({:.0}%; lowest idle {:.1}%, mean {:.1}%): latencies and rates measure the machine \
             as much as the server",
            SATURATED_IDLE * 100.0,
            s.cores,
            s.saturated_intervals,
            s.intervals,
            s.saturated_share * 100.0,
            s.idle_min * 100.0,
            s.idle_mean * 100.0
        )
    })
}

/// One interval's reading: flood's CPU (cores used) and the machine's idle share.
#[derive(Debug, Clone, Copy, Default)]
pub struct Interval {
    /// Cores flood used over the interval (CPU seconds per second).
    pub flood_cores: f64,
    /// Idle share of all cores, when readable.
    pub idle: Option<f64>,
}

/// Reads `/proc/self/stat` and `/proc/stat` at each tick.
#[derive(Debug)]
pub struct CpuMeter {
    start_ticks: u64,
    last_ticks: u64,
    last_machine: Option<MachineTimes>,
    /// Cores of the machine (`cpuN` lines of `/proc/stat`).
    pub cores: usize,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

impl CpuMeter {
    /// Starts counting now.
    pub fn start() -> Self {
        let ticks = parse_process_ticks(&read("/proc/self/stat")).unwrap_or(0);
        let m = parse_proc_stat(&read("/proc/stat"));
        Self {
            start_ticks: ticks,
            last_ticks: ticks,
            last_machine: m.map(|m| m.0),
            cores: m.map_or(1, |m| m.1),
        }
    }

    /// Closes an interval of `secs` seconds.
    pub fn tick(&mut self, secs: f64) -> Interval {
        let ticks = parse_process_ticks(&read("/proc/self/stat")).unwrap_or(self.last_ticks);
        let used = ticks.saturating_sub(self.last_ticks) as f64 / USER_HZ as f64;
        self.last_ticks = ticks;
        let now = parse_proc_stat(&read("/proc/stat")).map(|m| m.0);
        let idle = match (self.last_machine, now) {
            (Some(a), Some(b)) => idle_share(a, b),
            _ => None,
        };
        if now.is_some() {
            self.last_machine = now;
        }
        Interval {
            flood_cores: used / secs.max(1e-3),
            idle,
        }
    }

    /// flood's CPU seconds since [`CpuMeter::start`].
    pub fn total_secs(&self) -> f64 {
        let ticks = parse_process_ticks(&read("/proc/self/stat")).unwrap_or(self.last_ticks);
        ticks.saturating_sub(self.start_ticks) as f64 / USER_HZ as f64
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  100 5 50 800 20 3 2 1 7 0\n\
                        cpu0 50 2 25 400 10 1 1 0 0 0\n\
                        cpu1 50 3 25 400 10 2 1 1 7 0\n\
                        intr 12345\nctxt 999\n";

    #[test]
    fn proc_stat_gives_busy_idle_and_cores() {
        let (t, cores) = parse_proc_stat(STAT).unwrap();
        assert_eq!(cores, 2);
        assert_eq!(
            t.busy,
            100 + 5 + 50 + 3 + 2 + 1,
            "guest time is not counted twice"
        );
        assert_eq!(t.idle, 820);
        assert!(parse_proc_stat("intr 1\n").is_none());
    }

    #[test]
    fn process_ticks_skip_a_command_name_with_spaces() {
        let s = "4242 (flood (x) y) S 1 4242 4242 0 -1 4194560 1 0 0 0 123 45 0 0 20 0 9 0";
        assert_eq!(parse_process_ticks(s), Some(168));
        assert_eq!(parse_process_ticks("garbage"), None);
    }

    #[test]
    fn idle_share_is_the_idle_part_of_the_elapsed_ticks() {
        let a = MachineTimes {
            busy: 1000,
            idle: 1000,
        };
        let b = MachineTimes {
            busy: 1190,
            idle: 1010,
        };
        assert!((idle_share(a, b).unwrap() - 0.05).abs() < 1e-9);
        assert_eq!(idle_share(a, a), None);
    }

    #[test]
    fn a_run_mostly_below_ten_percent_idle_is_saturated_and_says_what_it_saw() {
        let s = saturation(2, &[0.5, 0.02, 0.04, 0.08, 0.3]);
        assert_eq!(s.saturated_intervals, 3);
        assert!(s.saturated);
        assert!((s.idle_min - 0.02).abs() < 1e-9);
        let w = warning(&s).unwrap();
        assert!(w.contains("2 cores") && w.contains("3 of 5 seconds"), "{w}");
    }

    #[test]
    fn a_run_with_short_busy_moments_is_not_saturated() {
        let mut idle = vec![0.6; 9];
        idle.push(0.01);
        let s = saturation(2, &idle);
        assert_eq!(s.saturated_intervals, 1);
        assert!(!s.saturated);
        assert!(warning(&s).is_none());
        assert!(!saturation(2, &[]).saturated);
    }
}
