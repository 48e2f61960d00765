//! The `env_sup` worker (was `hive_env_sup`): the metrics refresher (`hive_monitor`), started
//! before anything that serves traffic. On each tick it also samples the dashboard's series
//! ([`crate::metrics::Series`]: the last 15 minutes, one sample a second).
//!
//! The original's configuration holder (`hive_config`) has no actor here: the validated
//! configuration is an immutable `Arc<Config>` that every part is given when it is built (and
//! rebuilt from after a restart), so a process holding it would have no message to answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::connectors::Connectors;
use crate::metrics::{HiveMetrics, Metrics};
use crate::slot::Slot;

/// Refreshes derived gauges once a second (was `hive_monitor`), so scrapes that do not go through
/// the monitor's own refresh still see current values.
#[derive(Debug)]
pub struct MetricsActor;

/// Metrics refresher messages.
#[derive(Debug)]
pub enum MetricsMsg {
    /// Refresh now.
    Tick,
}

/// Refresher state.
pub struct MetricsState {
    /// `hive.uptime`, `hive.memory.total`.
    hive: HiveMetrics,
    metrics: Arc<Metrics>,
    connectors: Slot<Connectors>,
    started: Instant,
    refresh: Arc<dyn Fn() + Send + Sync>,
    _timer: tokio::task::JoinHandle<()>,
}

/// Refresher arguments.
pub struct MetricsArgs {
    /// The registry.
    pub metrics: Arc<Metrics>,
    /// When the node started.
    pub started: Instant,
    /// App-level refresh (router and pub-sub gauges).
    pub refresh: Arc<dyn Fn() + Send + Sync>,
    /// The current pools (their utilisation goes into the series).
    pub connectors: Slot<Connectors>,
}

/// Resident set size in bytes, from /proc (0 where unavailable).
pub fn rss_bytes() -> i64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: i64 = s
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

impl Actor for MetricsActor {
    type Msg = MetricsMsg;
    type State = MetricsState;
    type Arguments = MetricsArgs;

    async fn pre_start(
        &self,
        me: ActorRef<MetricsMsg>,
        a: MetricsArgs,
    ) -> Result<MetricsState, ActorProcessingErr> {
        let timer = me.send_interval(Duration::from_secs(1), || MetricsMsg::Tick);
        Ok(MetricsState {
            hive: a.metrics.hive().clone(),
            metrics: a.metrics,
            connectors: a.connectors,
            started: a.started,
            refresh: a.refresh,
            _timer: timer,
        })
    }

    async fn post_stop(
        &self,
        _me: ActorRef<MetricsMsg>,
        st: &mut MetricsState,
    ) -> Result<(), ActorProcessingErr> {
        st._timer.abort();
        Ok(())
    }

    async fn handle(
        &self,
        _me: ActorRef<MetricsMsg>,
        msg: MetricsMsg,
        st: &mut MetricsState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            MetricsMsg::Tick => {
                st.hive.uptime.set(st.started.elapsed().as_millis() as i64);
                let rss = rss_bytes();
                st.hive.memory_total.set(rss);
                (st.refresh)();
                let pools = st
                    .connectors
                    .get()
                    .map(|c| c.utilisation())
                    .unwrap_or_default();
                st.metrics.sample_series(&pools, rss);
            }
        }
        Ok(())
    }
}
