//! Gauges the monitor derives itself before answering (HIVE.md 10.1): `hive.uptime`,
//! `hive.memory.total`, `hive.total_processes` and `hive.cluster.size`; then the app's own refresh.
//!
//! `hive.memory.total` is the resident set size (`VmRSS` of `/proc/self/status`, falling back to
//! `/proc/self/statm` pages x 4 KiB); the other `hive.memory.*` gauges are left to the app (0 by
//! default). `hive.total_processes` is the number of alive tokio tasks (every actor is one), or the
//! number of OS threads outside a runtime.

use super::ctx::MonitorCtx;

/// Refresh every derived gauge, then call the app's `refresh` hook.
pub(crate) fn refresh(ctx: &MonitorCtx) {
    let m = ctx.metrics.hive();
    let uptime = i64::try_from(ctx.started.elapsed().as_millis()).unwrap_or(i64::MAX);
    m.uptime.set(uptime);
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(rss) = rss_bytes(&status) {
        m.memory_total.set(rss);
    }
    if let Some(n) = processes(&status) {
        m.total_processes.set(n);
    }
    ctx.metrics.cluster().size.set(1);
    (ctx.refresh)();
}

/// `VmRSS` in bytes from a `/proc/self/status` text, else from `/proc/self/statm`.
fn rss_bytes(status: &str) -> Option<i64> {
    if let Some(kb) = status_field(status, "VmRSS:") {
        return Some(kb.saturating_mul(1024));
    }
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: i64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages.saturating_mul(4096))
}

/// Alive tokio tasks, or OS threads when not inside a runtime.
fn processes(status: &str) -> Option<i64> {
    if let Ok(h) = tokio::runtime::Handle::try_current() {
        return i64::try_from(h.metrics().num_alive_tasks()).ok();
    }
    status_field(status, "Threads:")
}

/// The first number after `key` on its line.
fn status_field(status: &str, key: &str) -> Option<i64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_status_fields() {
        let s = "Name:\thive\nVmRSS:\t  2048 kB\nThreads:\t7\n";
        assert_eq!(rss_bytes(s), Some(2048 * 1024));
        assert_eq!(status_field(s, "Threads:"), Some(7));
        assert_eq!(status_field(s, "VmSwap:"), None);
    }
}
