//! Round trips of emitted events (a flood addition to FLOOD.md 8): every `emit_event` is timed
//! from the moment it is written to the transport until its answer, which is either
//!
//! * the **ack** packet `6:::<id>[+args]` when the emit asked for one (`"ack": true` in the
//!   `emit_event` arguments: the packet goes out as `5:<id>+::...`, a data ack), or
//! * otherwise the first later **reply event of the same name** (`emit ping` → `on ping`), matched
//!   oldest first.
//!
//! Each user keeps a short list of unanswered emits ([`RoundTrips`], at most [`MAX_PENDING`]; the
//! oldest is forgotten when it is full, so emits that never get an answer cost nothing in the
//! long run). Samples go to one HDR histogram per event name ([`EventStats`]), written to the
//! result file under `events` with the emit count.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::histogram::new_histogram;

/// Unanswered emits a user remembers.
pub const MAX_PENDING: usize = 8;

/// One emitted event waiting for its answer.
#[derive(Debug, Clone, Copy)]
struct Pending {
    /// Index of the event name in [`EventStats`].
    event: u32,
    /// The ack id asked for; 0 = answered by a reply event of the same name.
    ack: u32,
    /// When it was written to the transport (`None` while queued).
    sent: Option<Instant>,
}

/// A user's unanswered emits.
#[derive(Debug, Default)]
pub struct RoundTrips {
    pending: Vec<Pending>,
    last_id: u32,
}

impl RoundTrips {
    /// An event (name index `event`) was queued; returns the ack id to put on the packet when
    /// `ack` is asked for.
    pub fn emitted(&mut self, event: u32, ack: bool) -> Option<u32> {
        let id = if ack {
            self.last_id = self.last_id.checked_add(1).unwrap_or(1);
            self.last_id
        } else {
            0
        };
        if self.pending.len() >= MAX_PENDING {
            self.pending.remove(0);
        }
        self.pending.push(Pending {
            event,
            ack: id,
            sent: None,
        });
        (id != 0).then_some(id)
    }

    /// Queued emits were written to the transport at `now`.
    pub fn sent(&mut self, now: Instant) {
        for p in self.pending.iter_mut().filter(|p| p.sent.is_none()) {
            p.sent = Some(now);
        }
    }

    fn take(&mut self, f: impl Fn(&Pending) -> bool) -> Option<(u32, Duration)> {
        let i = self.pending.iter().position(|p| p.sent.is_some() && f(p))?;
        let p = self.pending.remove(i);
        Some((p.event, p.sent.map(|t| t.elapsed()).unwrap_or_default()))
    }

    /// An ack packet with data `data` (`"<id>"` or `"<id>+[args]"`) arrived: the answered event
    /// and its round trip, if it answers one of ours.
    pub fn on_ack(&mut self, data: &str) -> Option<(u32, Duration)> {
        let digits = data.bytes().take_while(u8::is_ascii_digit).count();
        let id: u32 = data[..digits].parse().ok().filter(|id| *id != 0)?;
        self.take(|p| p.ack == id)
    }

    /// An event whose name has index `event` arrived: the round trip of the oldest unanswered
    /// emit of that name that did not ask for an ack.
    pub fn on_event(&mut self, event: u32) -> Option<(u32, Duration)> {
        self.take(|p| p.ack == 0 && p.event == event)
    }
}

/// One event name's measurements.
#[derive(Debug)]
struct EventStat {
    name: String,
    emitted: AtomicU64,
    rtt: Mutex<Histogram<u64>>,
}

/// Round-trip histograms of every emitted event name, shared by all users.
#[derive(Debug, Default)]
pub struct EventStats {
    inner: RwLock<(HashMap<String, u32>, Vec<EventStat>)>,
}

impl EventStats {
    /// The index of event `name` (created on first use), counting one emit.
    pub fn emit(&self, name: &str) -> u32 {
        if let Some(i) = self.lookup(name) {
            self.count(i);
            return i;
        }
        let mut g = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let i = match g.0.get(name) {
            Some(i) => *i,
            None => {
                let i = u32::try_from(g.1.len()).unwrap_or(u32::MAX);
                g.0.insert(name.to_owned(), i);
                g.1.push(EventStat {
                    name: name.to_owned(),
                    emitted: AtomicU64::new(0),
                    rtt: Mutex::new(new_histogram()),
                });
                i
            }
        };
        if let Some(e) = g.1.get(i as usize) {
            e.emitted.fetch_add(1, Ordering::Relaxed);
        }
        i
    }

    fn count(&self, i: u32) {
        let g = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(e) = g.1.get(i as usize) {
            e.emitted.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The index of event `name` if some user emitted it.
    pub fn lookup(&self, name: &str) -> Option<u32> {
        let g = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        g.0.get(name).copied()
    }

    /// Records a round trip of event `i`, in µs.
    pub fn record(&self, i: u32, us: u64) {
        let g = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(e) = g.1.get(i as usize) {
            e.rtt
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .saturating_record(us);
        }
    }

    /// Event names by index.
    pub fn names(&self) -> Vec<String> {
        let g = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        g.1.iter().map(|e| e.name.clone()).collect()
    }

    /// `(name, emits, round-trip histogram)` of every emitted event, in first-emit order.
    pub fn snapshot(&self) -> Vec<(String, u64, Histogram<u64>)> {
        let g = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        g.1.iter()
            .map(|e| {
                let h = e
                    .rtt
                    .lock()
                    .map(|h| h.clone())
                    .unwrap_or_else(|_| new_histogram());
                (e.name.clone(), e.emitted.load(Ordering::Relaxed), h)
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn acks_match_by_id_and_replies_by_name_oldest_first() {
        let mut r = RoundTrips::default();
        assert_eq!(r.emitted(0, true), Some(1));
        assert_eq!(r.emitted(1, false), None);
        assert_eq!(r.emitted(1, false), None);
        assert_eq!(r.emitted(0, true), Some(2));
        // Nothing is answered before it was written.
        assert_eq!(r.on_ack("1"), None);
        r.sent(Instant::now());
        assert_eq!(r.on_ack("2+[\"x\"]").map(|x| x.0), Some(0));
        assert_eq!(r.on_ack("2"), None, "an ack counts once");
        assert_eq!(r.on_ack("7"), None, "not ours");
        assert_eq!(r.on_ack("junk"), None);
        // An event of the name of an emit that asked for an ack is not its answer.
        assert_eq!(r.on_event(0), None);
        assert_eq!(r.on_event(1).map(|x| x.0), Some(1));
        assert_eq!(r.on_event(1).map(|x| x.0), Some(1));
        assert_eq!(r.on_event(1), None);
        assert_eq!(r.on_ack("1").map(|x| x.0), Some(0));
        assert!(r.pending.is_empty());
    }

    #[test]
    fn unanswered_emits_are_bounded() {
        let mut r = RoundTrips::default();
        for _ in 0..100 {
            r.emitted(3, false);
        }
        assert_eq!(r.pending.len(), MAX_PENDING);
    }

    #[test]
    fn event_stats_count_emits_and_record_round_trips() {
        let s = EventStats::default();
        let a = s.emit("ping");
        let b = s.emit("join");
        assert_eq!(s.emit("ping"), a);
        assert_ne!(a, b);
        assert_eq!(s.lookup("join"), Some(b));
        assert_eq!(s.lookup("other"), None);
        s.record(a, 1500);
        let snap = s.snapshot();
        assert_eq!(snap[0].0, "ping");
        assert_eq!(snap[0].1, 2);
        assert_eq!(snap[0].2.len(), 1);
        assert_eq!(snap[1].1, 1);
        assert!(snap[1].2.is_empty());
    }
}
