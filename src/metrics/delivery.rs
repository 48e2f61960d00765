//! [`DeliveryProbe`]: sampled publish-to-socket-write latency of channel deliveries (the
//! `("delivery", "websocket")` HDR histogram).
//!
//! Timing every delivery would put a clock read and a histogram lock on the fan-out path, once
//! per subscriber. Instead one publish in `every` is *stamped* when it is published; the first
//! frame each wire encodes for it is *armed* (its pointer kept in one of a few slots, the frame
//! itself held so that the pointer cannot be reused); a WebSocket connection that writes an armed
//! frame records the time since the stamp. So a sampled publish is timed for every subscriber
//! it reaches over a WebSocket, and everything else costs one relaxed add per publish and, per
//! frame written, a compare against the armed slots (relaxed loads).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::latency::Latency;

/// Frames armed at once (the oldest is replaced).
const SLOTS: usize = 4;

/// Default sampling: one publish in this many.
pub const DEFAULT_EVERY: u64 = 64;

/// An armed frame and its publish time.
type Armed = Option<(Arc<str>, Instant)>;

/// The sampler and its histogram (one per node).
#[derive(Debug)]
pub struct DeliveryProbe {
    every: AtomicU64,
    seen: AtomicU64,
    armed: [AtomicUsize; SLOTS],
    held: Mutex<[Armed; SLOTS]>,
    next: AtomicUsize,
    hist: Arc<Latency>,
    delivered: AtomicU64,
}

impl DeliveryProbe {
    /// A probe recording into `hist`, sampling one publish in [`DEFAULT_EVERY`].
    pub fn new(hist: Arc<Latency>) -> Self {
        Self {
            every: AtomicU64::new(DEFAULT_EVERY),
            seen: AtomicU64::new(0),
            armed: Default::default(),
            held: Mutex::new(Default::default()),
            next: AtomicUsize::new(0),
            hist,
            delivered: AtomicU64::new(0),
        }
    }

    /// Sample one publish in `every` (0: never).
    pub fn set_every(&self, every: u64) {
        self.every.store(every, Ordering::Relaxed);
    }

    /// Publish side: `Some(now)` for the publishes to time.
    pub fn sample(&self) -> Option<Instant> {
        let every = self.every.load(Ordering::Relaxed);
        if every == 0 || !super::figures::figures_on() {
            return None;
        }
        let n = self.seen.fetch_add(1, Ordering::Relaxed);
        n.is_multiple_of(every).then(Instant::now)
    }

    /// Encode side: time the writes of `frame`, published at `at`.
    pub fn arm(&self, frame: &Arc<str>, at: Instant) {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % SLOTS;
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held[i] = Some((Arc::clone(frame), at));
        self.armed[i].store(ptr(frame), Ordering::Release);
    }

    /// Write side: the publish time of `frame` if it is armed.
    pub fn check(&self, frame: &Arc<str>) -> Option<Instant> {
        let p = ptr(frame);
        let i = self
            .armed
            .iter()
            .position(|a| a.load(Ordering::Relaxed) == p)?;
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        match &held[i] {
            Some((f, at)) if Arc::ptr_eq(f, frame) => Some(*at),
            _ => None,
        }
    }

    /// The publish time of the first armed frame among `frames`.
    pub fn check_all(&self, frames: &[Arc<str>]) -> Option<Instant> {
        if !super::figures::figures_on() {
            return None;
        }
        frames.iter().find_map(|f| self.check(f))
    }

    /// A channel handed one publish to `n` subscribers (one relaxed add per publish).
    pub fn delivered_to(&self, n: usize) {
        if !super::figures::figures_on() {
            return;
        }
        self.delivered.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Deliveries handed to subscribers since start (the dashboard's deliveries per second).
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// A timed frame was written now.
    pub fn record(&self, published: Instant) {
        self.hist.record(published.elapsed());
    }
}

fn ptr(f: &Arc<str>) -> usize {
    Arc::as_ptr(f).cast::<u8>() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_arms_and_checks() {
        let hist = Arc::new(Latency::new());
        let p = DeliveryProbe::new(Arc::clone(&hist));
        p.set_every(3);
        let stamps: Vec<bool> = (0..6).map(|_| p.sample().is_some()).collect();
        assert_eq!(stamps, [true, false, false, true, false, false]);
        let f: Arc<str> = Arc::from("5:::{}");
        let same_text: Arc<str> = Arc::from("5:::{}");
        assert!(p.check(&f).is_none());
        let at = Instant::now();
        p.arm(&f, at);
        assert_eq!(p.check(&Arc::clone(&f)), Some(at));
        assert!(p.check(&same_text).is_none(), "by pointer, not by text");
        assert_eq!(
            p.check_all(&[Arc::clone(&same_text), Arc::clone(&f)]),
            Some(at)
        );
        p.record(at);
        assert_eq!(hist.summary(&[]).count, 1);
        for _ in 0..SLOTS {
            p.arm(&Arc::from("x"), at);
        }
        assert!(p.check(&f).is_none(), "replaced by newer ones");
        p.set_every(0);
        assert!(p.sample().is_none());
    }
}
