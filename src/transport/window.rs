//! [`WriteWindow`]: the batching window of a WebSocket connection (`socketio.poll_timeout`,
//! HIVE.md 3.10: every reply is delayed by up to `poll_timeout`, on every transport), pure.
//!
//! The window opens on a write: output that is ready while it is open is held and written in one
//! go when it closes; output ready after it closed is written at once and opens the next one.
//! So a connection writes at most once per window, a quiet one pays no timer at all, and several
//! deliveries within a window share one write.

use std::time::{Duration, Instant};

/// The batching window of one connection.
#[derive(Debug, Clone, Copy)]
pub struct WriteWindow {
    len: Duration,
    open_until: Option<Instant>,
}

impl WriteWindow {
    /// A window of `len` (zero: no batching, every output is written at once).
    pub fn new(len: Duration) -> Self {
        Self {
            len,
            open_until: None,
        }
    }

    /// Whether output may be held at all (a window of zero never holds: no need to read the clock).
    pub fn batches(&self) -> bool {
        !self.len.is_zero()
    }

    /// Output is ready at `now`: `None` to write it now (a window opens), `Some(t)` to hold it
    /// until `t`, when the open window closes.
    pub fn ready(&mut self, now: Instant) -> Option<Instant> {
        if self.len.is_zero() {
            return None;
        }
        match self.open_until {
            Some(t) if now < t => Some(t),
            _ => {
                self.open_until = Some(now + self.len);
                None
            }
        }
    }

    /// Held output was written at `now`: the next window opens.
    pub fn wrote(&mut self, now: Instant) {
        if !self.len.is_zero() {
            self.open_until = Some(now + self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn no_window_writes_everything_at_once() {
        let t0 = Instant::now();
        let mut w = WriteWindow::new(Duration::ZERO);
        assert_eq!(w.ready(t0), None);
        assert_eq!(w.ready(t0), None);
    }

    #[test]
    fn output_within_a_window_is_held_to_its_end() {
        let t0 = Instant::now();
        let mut w = WriteWindow::new(50 * MS);
        // Quiet connection: written at once, a window opens.
        assert_eq!(w.ready(t0), None);
        // Within it: held until it closes, however many.
        assert_eq!(w.ready(t0 + 10 * MS), Some(t0 + 50 * MS));
        assert_eq!(w.ready(t0 + 40 * MS), Some(t0 + 50 * MS));
        // Written at its end: the next window opens then.
        w.wrote(t0 + 50 * MS);
        assert_eq!(w.ready(t0 + 60 * MS), Some(t0 + 100 * MS));
        w.wrote(t0 + 100 * MS);
        // After a quiet window: at once again.
        assert_eq!(w.ready(t0 + 200 * MS), None);
    }
}
