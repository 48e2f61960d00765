//! A simulated user's script state: metadata, handler tables, named timers and queued packets
//! (FLOOD.md 4.4, 8.3). Pure data plus a [`TimerSink`], so the interpreter can be tested without
//! sockets.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::AbortHandle;

use super::action::{Acts, HandlerKind};
use super::meta::Meta;
use super::rtt::RoundTrips;
use super::stats::Stats;
use codec::Message;

/// Arms one-shot timers for a user; the firing comes back as `(name, generation)`.
pub trait TimerSink: Send + Sync {
    /// Arms timer `name` (generation `generation`) to fire after `after`.
    fn arm(&self, name: Arc<str>, generation: u32, after: Duration) -> Option<AbortHandle>;
}

/// Why a user stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// `terminate` with a reason.
    Terminated(String),
    /// The server sent a disconnect packet (`0::`).
    Disconnected,
    /// A script error the original crashed on (unknown action, bad value, unknown timer, ...).
    Crashed(String),
}

/// Result of running an action list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    /// Go on.
    Go,
    /// The user must stop.
    Stop(Stop),
}

#[derive(Debug)]
struct Timer {
    name: Arc<str>,
    started: Instant,
    t_ms: u64,
    generation: u32,
    fired: bool,
    abort: Option<AbortHandle>,
}

/// Per-key handler lists; registering a key again appends.
#[derive(Debug, Default)]
pub struct Handlers {
    tables: [Vec<(Box<str>, Acts)>; 3],
}

impl Handlers {
    fn idx(kind: HandlerKind) -> usize {
        match kind {
            HandlerKind::Event => 0,
            HandlerKind::Socketio => 1,
            HandlerKind::Timeout => 2,
        }
    }

    /// Appends a handler list for `key`.
    pub fn add(&mut self, kind: HandlerKind, key: String, acts: Acts) {
        self.tables[Self::idx(kind)].push((key.into_boxed_str(), acts));
    }

    /// Every list registered for `key`, in registration order.
    pub fn get(&self, kind: HandlerKind, key: &str) -> Vec<Acts> {
        self.tables[Self::idx(kind)]
            .iter()
            .filter(|(k, _)| &**k == key)
            .map(|(_, a)| a.clone())
            .collect()
    }
}

/// A user's script state.
pub struct Ctx {
    /// Metadata.
    pub meta: Meta,
    /// Handler tables.
    pub handlers: Handlers,
    timers: Vec<Timer>,
    generation: u32,
    /// Packets queued by the actions, sent when the transport is ready.
    pub out: Vec<Message>,
    /// Global measurements.
    pub stats: Arc<Stats>,
    /// Emitted events waiting for their ack or reply.
    pub rtt: RoundTrips,
    sink: Arc<dyn TimerSink>,
}

impl Ctx {
    /// A fresh context.
    pub fn new(meta: Meta, stats: Arc<Stats>, sink: Arc<dyn TimerSink>) -> Self {
        Self {
            meta,
            handlers: Handlers::default(),
            timers: Vec::new(),
            generation: 0,
            out: Vec::new(),
            stats,
            rtt: RoundTrips::default(),
            sink,
        }
    }

    /// `start_timer`: (re)arms `name` for `t_ms`. Unlike the original, an earlier running timer
    /// of the same name is cancelled, not left to fire as well (FLOOD.md 14.11).
    pub fn start_timer(&mut self, name: &str, t_ms: u64) {
        self.generation = self.generation.wrapping_add(1);
        let name: Arc<str> = Arc::from(name);
        let abort = self
            .sink
            .arm(name.clone(), self.generation, Duration::from_millis(t_ms));
        let timer = Timer {
            name,
            started: Instant::now(),
            t_ms,
            generation: self.generation,
            fired: false,
            abort,
        };
        match self.timers.iter_mut().find(|t| t.name == timer.name) {
            Some(old) => {
                if let Some(a) = old.abort.take() {
                    a.abort();
                }
                *old = timer;
            }
            None => self.timers.push(timer),
        }
    }

    /// `stop_timer`: cancels `name` and records its elapsed time (the full T when it already
    /// fired). Returns `false` when the timer was never started or already stopped.
    pub fn stop_timer(&mut self, name: &str) -> bool {
        let Some(i) = self.timers.iter().position(|t| &*t.name == name) else {
            return false;
        };
        let t = self.timers.swap_remove(i);
        if let Some(a) = t.abort {
            a.abort();
        }
        let elapsed = if t.fired {
            Duration::from_millis(t.t_ms)
        } else {
            t.started.elapsed().min(Duration::from_millis(t.t_ms))
        };
        self.stats.record_timer(name, elapsed);
        true
    }

    /// A timer fired: records T and returns true when `(name, generation)` is current. The
    /// entry is kept (a later `stop_timer` records T again), as in the original.
    pub fn timer_fired(&mut self, name: &str, generation: u32) -> bool {
        let Some(t) = self
            .timers
            .iter_mut()
            .find(|t| &*t.name == name && t.generation == generation)
        else {
            return false;
        };
        t.fired = true;
        t.abort = None;
        self.stats.record_timer(name, Duration::from_millis(t.t_ms));
        true
    }

    /// Cancels every timer (user shutdown).
    pub fn cancel_timers(&mut self) {
        for t in self.timers.drain(..) {
            if let Some(a) = t.abort {
                a.abort();
            }
        }
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        self.cancel_timers();
    }
}
