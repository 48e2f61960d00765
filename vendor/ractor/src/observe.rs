//! Hive patch: per-actor figures an observer reads without messaging the actor.
//!
//! Each actor owns its figures: the depth of its message queue (the queue's own length), the
//! messages its processing loop has handled (one relaxed atomic add per message, made by the
//! actor itself) and when it was created. Read them through [`crate::ActorCell::mailbox_len`],
//! [`crate::ActorCell::messages_handled`] and [`crate::ActorCell::age`].

use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Whether processing loops count their messages (on by default).
static COUNTING: AtomicBool = AtomicBool::new(true);

/// Turn the per-message count on or off for every actor of the process (`handled` stays where it
/// is while off). One relaxed load per message replaces the relaxed add when off.
pub fn set_counting(on: bool) {
    COUNTING.store(on, Ordering::Relaxed);
}

/// Whether messages are counted.
#[inline]
pub fn counting() -> bool {
    COUNTING.load(Ordering::Relaxed)
}

static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// The instant creation times are counted from (the first actor created in this process).
pub fn epoch() -> Instant {
    *EPOCH
}

/// Milliseconds since [`epoch`].
pub(crate) fn now_ms() -> u64 {
    u64::try_from(EPOCH.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The time elapsed since `created_ms` (ms since [`epoch`]).
pub(crate) fn since(created_ms: u64) -> Duration {
    Duration::from_millis(now_ms().saturating_sub(created_ms))
}
