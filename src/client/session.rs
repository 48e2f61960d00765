//! The pure session state machine of HIVE.md 4.2 with the timers of 3.10: no runtime, no IO.
//!
//! Like a cowboy handler, [`Session`] takes inputs (a transport attached or went away, a timer
//! fired, the hooks queued replies, a write failed) and returns [`Cmd`]s (send these items, arm
//! that timer, run the connect hooks, end). The client actor (`actor.rs`) is the shell that owns
//! the sinks, the hooks and the state store and performs the commands in order. Time is an input
//! (`now`), so every rule is unit-tested without a clock (`session/tests.rs`).
//!
//! The batching window (`poll_timeout`) of a polling transport is the session's (the poll timer);
//! a WebSocket connection applies it to everything it writes (`transport::window`), so the
//! session hands WebSocket replies over at once, like the pub-sub shortcut does.
//!
//! Sinks are named, not held: [`Target::Current`] is the session's sink, [`Target::New`] the
//! one attaching in the call that returned the command. Writes to the current sink are assumed to
//! succeed; the shell reports a failure with [`Session::write_failed`].

use std::time::{Duration, Instant};

use super::handle::{CloseReason, Tick, Transport};
use super::outbox::Outbox;
use crate::error::{HiveError, Mode};
use crate::events::{Event, Out};
use crate::wire::Wire;

/// Session phases (HIVE.md 4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Spawned, no transport yet.
    Generic,
    /// Upgraded, no usable sink (XHR between polls).
    Transient,
    /// Sink available, nothing queued.
    Waiting,
    /// Sink available, replies queued, poll timer running.
    Polling,
    /// Ending.
    Terminated,
}

impl Phase {
    /// The lower-case name (`clients.states.<name>`, the monitor).
    pub fn name(self) -> &'static str {
        match self {
            Phase::Generic => "generic",
            Phase::Transient => "transient",
            Phase::Waiting => "waiting",
            Phase::Polling => "polling",
            Phase::Terminated => "terminated",
        }
    }
}

/// The timers and bounds of a session (`socketio.*`, milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// `init_timeout`.
    pub init: u64,
    /// `poll_timeout`: the batching window (0 = none).
    pub poll: u64,
    /// `heartbeat_timeout`.
    pub heartbeat: u64,
    /// `session_timeout`.
    pub session: u64,
    /// `max_outgoing_queue`.
    pub max_queue: usize,
}

/// What kind of sink a transport connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    /// A WebSocket: many writes, one frame per item.
    Ws,
    /// One XHR poll: answered once, then gone.
    Xhr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SinkRef {
    id: u64,
    kind: SinkKind,
}

/// Which sink a command is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The session's sink.
    Current,
    /// The sink attaching in this call.
    New,
}

/// One effect for the shell to perform, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    /// Send one item on its own (not a poll batch): `connect`, a noop answering a poll, a
    /// rejection. An XHR target is answered and gone.
    Send(Target, Out),
    /// Close the WebSocket `Target` (after what was sent to it).
    Close(Target),
    /// The new sink becomes the session's sink (the old one, if any, was answered).
    Keep,
    /// Lend the (WebSocket) current sink to the pub-sub shortcut.
    Lend,
    /// Flush these items to the current sink: WebSocket frames, or one poll body (which uses up
    /// an XHR sink).
    Write(Vec<Out>),
    /// A keep-alive on the current WebSocket sink.
    KeepAlive,
    /// Abort every armed timer.
    CancelTimers,
    /// Arm a timer.
    Arm(Tick, Duration),
    /// Run the `on_connect` chain, then call [`Session::after_work`].
    Connect,
    /// Count a failed session in `clients.errors`.
    CountError,
    /// Count a client that does not keep up in `clients.slow_dropped` (the session ends).
    CountSlow,
    /// The session is ending: take the sink back from the shortcut, run `on_disconnect` when
    /// `upgraded`, clean the state up.
    Ending {
        /// The reason.
        reason: CloseReason,
        /// A transport had attached.
        upgraded: bool,
    },
    /// Tell the current sink (if any) the session ended and drop it.
    Hangup,
    /// Stop the actor.
    Stop(CloseReason),
}

/// The state of one session.
#[derive(Debug)]
pub struct Session {
    timing: Timing,
    mode: Mode,
    phase: Phase,
    transport: Option<Transport>,
    wire: Wire,
    sink: Option<SinkRef>,
    outbox: Outbox,
    last_activity: Instant,
    last_flush: Instant,
    /// `last_flush` before the write in flight (restored when a poll vanished under it).
    flush_before: Instant,
    generation: u64,
    poll_armed: bool,
    /// Phase changes not yet taken by the shell (`clients.states.transitions`).
    transitions: u64,
}

impl Session {
    /// A new session (phase generic) and its first commands (the init timer).
    pub fn new(timing: Timing, mode: Mode, now: Instant) -> (Self, Vec<Cmd>) {
        let s = Self {
            timing,
            mode,
            phase: Phase::Generic,
            transport: None,
            wire: Wire::default(),
            sink: None,
            outbox: Outbox::default(),
            last_activity: now,
            last_flush: now,
            flush_before: now,
            generation: 0,
            poll_armed: false,
            transitions: 0,
        };
        let init = Cmd::Arm(Tick::Init, Duration::from_millis(timing.init));
        (s, vec![init])
    }

    /// The phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }
    fn set_phase(&mut self, p: Phase) {
        if p != self.phase {
            self.phase = p;
            self.transitions += 1;
        }
    }
    /// Phase changes since the last call.
    pub fn take_transitions(&mut self) -> u64 {
        std::mem::take(&mut self.transitions)
    }
    /// The transport of the first connection.
    pub fn transport(&self) -> Option<Transport> {
        self.transport
    }
    /// The wire the session speaks.
    pub fn wire(&self) -> Wire {
        self.wire
    }
    /// When the client last showed activity (the session timeout counts from here).
    pub fn last_activity(&self) -> Instant {
        self.last_activity
    }

    /// Replies and deliveries waiting for a sink.
    pub fn queued(&self) -> usize {
        self.outbox.len()
    }
    /// The outgoing queue, for hooks to append to.
    pub fn replies(&mut self) -> &mut Vec<Out> {
        self.outbox.items_mut()
    }
    /// Queue one item.
    pub fn push(&mut self, item: Out) {
        self.outbox.push(item);
    }
    /// Queue items.
    pub fn extend(&mut self, items: impl IntoIterator<Item = Out>) {
        self.outbox.extend(items);
    }
    /// Queue an error as the `hive_error` event.
    pub fn push_error(&mut self, e: &HiveError) {
        self.outbox.push_error(e, self.mode);
    }
    /// True once a transport attached and until the session ends: client input and deliveries
    /// are processed only then.
    pub fn is_live(&self) -> bool {
        !matches!(self.phase, Phase::Generic | Phase::Terminated)
    }
    /// True when the session has ended.
    pub fn is_terminated(&self) -> bool {
        self.phase == Phase::Terminated
    }
    /// Channels may put ready frames straight on the WebSocket: nothing queued here, a
    /// WebSocket sink waiting (whose connection applies the batching window).
    pub fn shortcut_may_open(&self) -> bool {
        self.outbox.is_empty()
            && self.phase == Phase::Waiting
            && matches!(
                self.sink,
                Some(SinkRef {
                    kind: SinkKind::Ws,
                    ..
                })
            )
    }

    /// Client messages arrived (the session timeout restarts).
    pub fn client_activity(&mut self, now: Instant) {
        self.last_activity = now;
    }

    /// A transport connection `id` attached.
    pub fn attach(&mut self, transport: Transport, wire: Wire, id: u64, now: Instant) -> Vec<Cmd> {
        let kind = if transport.is_ws() {
            SinkKind::Ws
        } else {
            SinkKind::Xhr
        };
        let new = SinkRef { id, kind };
        let mut cmds = Vec::new();
        match self.phase {
            Phase::Generic => {
                // Upgrade: connect on the transport, then on_connect, then the session timers.
                cmds.push(Cmd::CancelTimers);
                self.transport = Some(transport);
                self.wire = wire;
                if wire.connects_on_attach() {
                    cmds.push(Cmd::Send(Target::New, Out::Connect));
                }
                match kind {
                    SinkKind::Ws => {
                        cmds.push(Cmd::Keep);
                        self.sink = Some(new);
                        // Lent closed; opened once the shell is idle (`shortcut_may_open`).
                        cmds.push(Cmd::Lend);
                        self.set_phase(Phase::Waiting);
                    }
                    SinkKind::Xhr => self.set_phase(Phase::Transient),
                }
                self.last_activity = now;
                self.last_flush = now;
                self.generation += 1;
                // One timer for both the heartbeat and the session timeout (`housekeeping`).
                let first = self.timing.heartbeat.min(self.timing.session);
                cmds.push(Cmd::Arm(
                    Tick::Heartbeat(self.generation),
                    Duration::from_millis(first),
                ));
                cmds.push(Cmd::Connect);
            }
            Phase::Transient => {
                cmds.push(Cmd::Keep);
                self.sink = Some(new);
                self.set_phase(Phase::Waiting);
                self.after_work_into(now, &mut cmds);
            }
            Phase::Waiting | Phase::Polling => match (self.sink, kind) {
                // A second XHR GET replaces the first, which is answered with a noop
                // (HIVE.md 16.2 #7).
                (
                    Some(SinkRef {
                        kind: SinkKind::Xhr,
                        ..
                    }),
                    SinkKind::Xhr,
                ) => {
                    cmds.push(Cmd::Send(Target::Current, Out::Noop));
                    cmds.push(Cmd::Keep);
                    self.sink = Some(new);
                }
                (_, SinkKind::Ws) => {
                    let e = HiveError::ClientError(
                        "This session already has a transport connection.".into(),
                    );
                    cmds.push(Cmd::Send(
                        Target::New,
                        Out::Event(Event::hive_error(&e, self.mode)),
                    ));
                    cmds.push(Cmd::Close(Target::New));
                }
                (_, SinkKind::Xhr) => cmds.push(Cmd::Send(Target::New, Out::Noop)),
            },
            Phase::Terminated => {}
        }
        cmds
    }

    /// The sink `id` went away.
    pub fn sink_gone(&mut self, id: u64, now: Instant) -> Vec<Cmd> {
        let _ = now;
        let mut cmds = Vec::new();
        if self.phase == Phase::Terminated || self.sink.map(|s| s.id) != Some(id) {
            return cmds;
        }
        let was_ws = matches!(
            self.sink,
            Some(SinkRef {
                kind: SinkKind::Ws,
                ..
            })
        );
        self.sink = None;
        if was_ws {
            self.terminate_into(CloseReason::ClientGone, &mut cmds);
        } else {
            self.set_phase(Phase::Transient);
        }
        cmds
    }

    /// Hooks ran and may have queued replies: flush now, or open the batching window.
    pub fn after_work(&mut self, now: Instant) -> Vec<Cmd> {
        let mut cmds = Vec::new();
        self.after_work_into(now, &mut cmds);
        cmds
    }

    fn after_work_into(&mut self, now: Instant, cmds: &mut Vec<Cmd>) {
        if self.phase == Phase::Terminated {
            return;
        }
        if self.outbox.len() > self.timing.max_queue {
            cmds.push(Cmd::CountSlow);
            self.terminate_into(CloseReason::SlowClient, cmds);
            return;
        }
        if self.outbox.is_empty() || self.sink.is_none() {
            return;
        }
        let ws = matches!(
            self.sink,
            Some(SinkRef {
                kind: SinkKind::Ws,
                ..
            })
        );
        if self.timing.poll == 0 || ws {
            // No batching window here: hand the replies to the transport now. A WebSocket
            // connection applies the window itself (`transport::window`), so that channels can
            // hand it ready frames without a trip through the session at any `poll_timeout`.
            self.flush_into(now, cmds);
        } else if !self.poll_armed {
            self.poll_armed = true;
            self.generation += 1;
            cmds.push(Cmd::Arm(
                Tick::Poll(self.generation),
                Duration::from_millis(self.timing.poll),
            ));
            self.set_phase(Phase::Polling);
        }
    }

    fn flush_into(&mut self, now: Instant, cmds: &mut Vec<Cmd>) {
        self.poll_armed = false;
        if self.outbox.is_empty() {
            if self.phase == Phase::Polling {
                self.set_phase(Phase::Waiting);
            }
            return;
        }
        let Some(sink) = self.sink else {
            return;
        };
        self.flush_before = self.last_flush;
        self.last_flush = now;
        cmds.push(Cmd::Write(self.outbox.take()));
        match sink.kind {
            SinkKind::Ws => self.set_phase(Phase::Waiting),
            SinkKind::Xhr => {
                self.sink = None;
                self.set_phase(Phase::Transient);
            }
        }
    }

    /// The last [`Cmd::Write`] failed: its items go back to the head of the queue. A WebSocket
    /// that is full (`slow`) or gone ends the session; a poll that went away leaves the items for
    /// the next one.
    pub fn write_failed(&mut self, batch: Vec<Out>, failure: WriteFailure) -> Vec<Cmd> {
        let mut cmds = Vec::new();
        self.outbox.requeue(batch);
        self.last_flush = self.flush_before;
        match failure {
            WriteFailure::PollGone => {}
            WriteFailure::Full => {
                // The connection keeps what it has; the session ends without it.
                self.sink = None;
                cmds.push(Cmd::CountSlow);
                self.terminate_into(CloseReason::SlowClient, &mut cmds);
            }
            WriteFailure::Closed => {
                self.sink = None;
                self.terminate_into(CloseReason::ClientGone, &mut cmds);
            }
        }
        cmds
    }

    /// A timer fired.
    pub fn tick(&mut self, t: Tick, now: Instant) -> Vec<Cmd> {
        let mut cmds = Vec::new();
        if self.phase == Phase::Terminated {
            return cmds;
        }
        match t {
            Tick::Init => {
                if self.phase == Phase::Generic {
                    cmds.push(Cmd::CountError);
                    self.terminate_into(CloseReason::InitTimeout, &mut cmds);
                }
            }
            Tick::Poll(g) => {
                if self.poll_armed && g == self.generation {
                    self.flush_into(now, &mut cmds);
                }
            }
            Tick::Heartbeat(_) | Tick::Session(_) => self.housekeeping(now, &mut cmds),
        }
        cmds
    }

    /// The heartbeat (a keep-alive, a flush or a noop once `heartbeat_timeout` passed since the
    /// last flush) and the session timeout (no client activity for `session_timeout`), checked by
    /// one timer, re-armed for whichever of the two is due first.
    fn housekeeping(&mut self, now: Instant, cmds: &mut Vec<Cmd>) {
        let limit = Duration::from_millis(self.timing.session);
        if now.duration_since(self.last_activity) >= limit {
            return self.terminate_into(CloseReason::SessionTimeout, cmds);
        }
        let hb = Duration::from_millis(self.timing.heartbeat);
        if now.duration_since(self.last_flush) >= hb {
            if !self.outbox.is_empty() && self.sink.is_some() {
                self.flush_into(now, cmds);
            } else {
                match self.sink {
                    Some(SinkRef {
                        kind: SinkKind::Ws, ..
                    }) => cmds.push(Cmd::KeepAlive),
                    Some(SinkRef {
                        kind: SinkKind::Xhr,
                        ..
                    }) => {
                        cmds.push(Cmd::Send(Target::Current, Out::Noop));
                        self.sink = None;
                        self.set_phase(Phase::Transient);
                    }
                    // An XHR client that stopped polling is dropped at the heartbeat expiry.
                    None => return self.terminate_into(CloseReason::NoSink, cmds),
                }
            }
            self.last_flush = now;
        }
        let due = (self.last_flush + hb).min(self.last_activity + limit);
        let rest = due
            .saturating_duration_since(now)
            .max(Duration::from_millis(1));
        cmds.push(Cmd::Arm(Tick::Heartbeat(0), rest));
    }

    /// End the session (HIVE.md 4.1): flush, on_disconnect, state cleanup, tell the sink, stop.
    pub fn terminate(&mut self, reason: CloseReason, now: Instant) -> Vec<Cmd> {
        let _ = now;
        let mut cmds = Vec::new();
        self.terminate_into(reason, &mut cmds);
        cmds
    }

    fn terminate_into(&mut self, reason: CloseReason, cmds: &mut Vec<Cmd>) {
        if self.phase == Phase::Terminated {
            return;
        }
        let upgraded = self.phase != Phase::Generic;
        if upgraded && !self.outbox.is_empty() && self.sink.is_some() {
            // An XHR poll answered with the last replies leaves no sink for the disconnect: the
            // browser would learn of the end only from its next poll, which may find the node
            // gone (shutdown). End that body with the disconnect instead.
            if matches!(
                self.sink,
                Some(SinkRef {
                    kind: SinkKind::Xhr,
                    ..
                })
            ) {
                self.outbox.push(Out::Disconnect);
            }
            self.poll_armed = false;
            cmds.push(Cmd::Write(self.outbox.take()));
            if matches!(
                self.sink,
                Some(SinkRef {
                    kind: SinkKind::Xhr,
                    ..
                })
            ) {
                self.sink = None;
            }
        }
        self.set_phase(Phase::Terminated);
        cmds.push(Cmd::Ending {
            reason: reason.clone(),
            upgraded,
        });
        if self.sink.take().is_some() {
            cmds.push(Cmd::Hangup);
        }
        cmds.push(Cmd::Stop(reason));
    }
}

/// Why a [`Cmd::Write`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteFailure {
    /// The WebSocket queue is full: a slow client.
    Full,
    /// The WebSocket connection is gone.
    Closed,
    /// The XHR poll went away before its answer.
    PollGone,
}

#[cfg(test)]
mod tests;
