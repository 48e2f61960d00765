//! Exit classification and the restart-intensity window shared by both supervisor kinds.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ractor::{ActorId, ActorRef, SupervisionEvent};

use super::msg::SupervisorMsg;

use super::spec::{Intensity, is_normal_exit};

/// A child exit, as a supervisor sees it.
#[derive(Debug)]
pub(crate) struct Exit {
    /// The incarnation that exited.
    pub(crate) id: ActorId,
    /// Abnormal (see [`is_normal_exit`]): failed, panicked, killed, or stopped with an odd reason.
    pub(crate) abnormal: bool,
    /// Human description for logs.
    pub(crate) reason: String,
}

/// The exit described by a supervision event, if it is one (`ActorStarted` etc. are not).
pub(crate) fn exit_of(evt: &SupervisionEvent) -> Option<Exit> {
    match evt {
        SupervisionEvent::ActorTerminated(cell, _, reason) => Some(Exit {
            id: cell.get_id(),
            abnormal: !is_normal_exit(reason.as_deref()),
            reason: reason.clone().unwrap_or_else(|| "normal".to_owned()),
        }),
        SupervisionEvent::ActorFailed(cell, err) => Some(Exit {
            id: cell.get_id(),
            abnormal: true,
            reason: format!("failed: {err}"),
        }),
        _ => None,
    }
}

/// Sliding window of restart times.
#[derive(Debug)]
pub(crate) struct RestartWindow {
    intensity: Intensity,
    times: VecDeque<Instant>,
}

impl RestartWindow {
    pub(crate) fn new(intensity: Intensity) -> Self {
        Self {
            intensity,
            times: VecDeque::new(),
        }
    }

    /// Record one restart now; false when that makes more than `max_restarts` restarts within
    /// the last `max_seconds` (the supervisor must give up).
    pub(crate) fn record(&mut self) -> bool {
        let now = Instant::now();
        let period = Duration::from_secs(self.intensity.max_seconds);
        while let Some(first) = self.times.front() {
            if now.duration_since(*first) >= period {
                self.times.pop_front();
            } else {
                break;
            }
        }
        self.times.push_back(now);
        self.times.len() <= self.intensity.max_restarts as usize
    }
}

/// Delay before retrying a restart that failed (each retry counts against the intensity).
pub(crate) const RETRY_DELAY: Duration = Duration::from_millis(20);

/// Ask `myself` to retry pending restarts after [`RETRY_DELAY`] (the timer task is detached).
pub(crate) fn schedule_retry(myself: &ActorRef<SupervisorMsg>) {
    drop(myself.send_after(RETRY_DELAY, || SupervisorMsg::RetryRestart));
}
