//! The session state machine without a runtime: upgrade, heartbeat and its expiry, an abandoned
//! poll, the batching window, a duplicate transport, and close with queued replies.

use std::time::{Duration, Instant};

use serde_json::json;

use super::*;

const MS: Duration = Duration::from_millis(1);

fn timing(poll: u64) -> Timing {
    Timing {
        init: 5_000,
        poll,
        heartbeat: 1_000,
        session: 10_000,
        max_queue: 8,
    }
}

fn item(n: u64) -> Out {
    Out::Json {
        data: json!(n),
        ack: None,
    }
}

/// A session upgraded by `transport` at `t0`, with the connect hooks done (nothing queued).
fn upgraded(poll: u64, transport: Transport, t0: Instant) -> Session {
    let (mut s, _) = Session::new(timing(poll), Mode::Dev, t0);
    let cmds = s.attach(transport, Wire::Sio09, 1, t0);
    assert!(cmds.contains(&Cmd::Connect));
    assert!(s.after_work(t0).is_empty());
    s
}

#[test]
fn new_session_arms_the_init_timer_and_its_expiry_ends_it() {
    let t0 = Instant::now();
    let (mut s, cmds) = Session::new(timing(0), Mode::Dev, t0);
    assert_eq!(cmds, [Cmd::Arm(Tick::Init, 5_000 * MS)]);
    assert_eq!(s.phase(), Phase::Generic);
    assert!(!s.is_live());
    let cmds = s.tick(Tick::Init, t0 + 5_000 * MS);
    assert_eq!(
        cmds,
        [
            Cmd::CountError,
            Cmd::Ending {
                reason: CloseReason::InitTimeout,
                upgraded: false
            },
            Cmd::Stop(CloseReason::InitTimeout)
        ]
    );
    assert!(s.is_terminated());
}

#[test]
fn websocket_upgrade_connects_keeps_the_sink_and_arms_the_heartbeat() {
    let t0 = Instant::now();
    let (mut s, _) = Session::new(timing(0), Mode::Dev, t0);
    let cmds = s.attach(Transport::WebSocket, Wire::Sio09, 7, t0);
    assert_eq!(
        cmds,
        [
            Cmd::CancelTimers,
            Cmd::Send(Target::New, Out::Connect),
            Cmd::Keep,
            Cmd::Lend,
            Cmd::Arm(Tick::Heartbeat(1), 1_000 * MS),
            Cmd::Connect,
        ]
    );
    assert_eq!(s.phase(), Phase::Waiting);
    assert!(s.is_live());
    assert!(s.shortcut_may_open());
    // The connect hooks' replies go out at once (no batching window).
    s.push(item(1));
    assert!(!s.shortcut_may_open());
    assert_eq!(s.after_work(t0), [Cmd::Write(vec![item(1)])]);
    assert_eq!(s.phase(), Phase::Waiting);
    assert!(s.take_transitions() >= 1);
}

#[test]
fn xhr_upgrade_answers_the_poll_and_waits_for_the_next() {
    let t0 = Instant::now();
    let (mut s, _) = Session::new(timing(0), Mode::Dev, t0);
    let cmds = s.attach(Transport::XhrPolling, Wire::Sio09, 1, t0);
    assert_eq!(
        cmds,
        [
            Cmd::CancelTimers,
            Cmd::Send(Target::New, Out::Connect),
            Cmd::Arm(Tick::Heartbeat(1), 1_000 * MS),
            Cmd::Connect,
        ]
    );
    assert_eq!(s.phase(), Phase::Transient);
    // Replies wait for a poll...
    s.push(item(1));
    assert!(s.after_work(t0).is_empty());
    // ...which takes them all, and is used up.
    let cmds = s.attach(Transport::XhrPolling, Wire::Sio09, 2, t0 + MS);
    assert_eq!(cmds, [Cmd::Keep, Cmd::Write(vec![item(1)])]);
    assert_eq!(s.phase(), Phase::Transient);
    assert!(!s.shortcut_may_open());
}

#[test]
fn heartbeat_sends_a_keep_alive_after_a_quiet_period_and_rearms() {
    let t0 = Instant::now();
    let mut s = upgraded(0, Transport::WebSocket, t0);
    // Early tick: nothing due, re-armed for the rest of the heartbeat.
    let cmds = s.tick(Tick::Heartbeat(1), t0 + 400 * MS);
    assert_eq!(cmds, [Cmd::Arm(Tick::Heartbeat(0), 600 * MS)]);
    let cmds = s.tick(Tick::Heartbeat(0), t0 + 1_000 * MS);
    assert_eq!(
        cmds,
        [Cmd::KeepAlive, Cmd::Arm(Tick::Heartbeat(0), 1_000 * MS)]
    );
    // A flush restarts it.
    s.push(item(1));
    let t1 = t0 + 1_500 * MS;
    assert_eq!(s.after_work(t1), [Cmd::Write(vec![item(1)])]);
    let cmds = s.tick(Tick::Heartbeat(0), t0 + 2_000 * MS);
    assert_eq!(cmds, [Cmd::Arm(Tick::Heartbeat(0), 500 * MS)]);
}

#[test]
fn heartbeat_answers_a_waiting_poll_with_a_noop() {
    let t0 = Instant::now();
    let mut s = upgraded(0, Transport::XhrPolling, t0);
    assert!(
        s.attach(Transport::XhrPolling, Wire::Sio09, 2, t0)
            .contains(&Cmd::Keep)
    );
    assert_eq!(s.phase(), Phase::Waiting);
    let cmds = s.tick(Tick::Heartbeat(1), t0 + 1_000 * MS);
    assert_eq!(
        cmds,
        [
            Cmd::Send(Target::Current, Out::Noop),
            Cmd::Arm(Tick::Heartbeat(0), 1_000 * MS)
        ]
    );
    assert_eq!(s.phase(), Phase::Transient);
}

#[test]
fn session_timeout_ends_a_silent_client_even_with_keep_alives() {
    let t0 = Instant::now();
    let mut s = upgraded(0, Transport::WebSocket, t0);
    let cmds = s.tick(Tick::Heartbeat(0), t0 + 10_000 * MS);
    assert_eq!(
        cmds,
        [
            Cmd::Ending {
                reason: CloseReason::SessionTimeout,
                upgraded: true
            },
            Cmd::Hangup,
            Cmd::Stop(CloseReason::SessionTimeout)
        ]
    );
    // Client activity restarts it.
    let mut s = upgraded(0, Transport::WebSocket, t0);
    s.client_activity(t0 + 9_000 * MS);
    let cmds = s.tick(Tick::Heartbeat(0), t0 + 10_000 * MS);
    assert_eq!(
        cmds,
        [Cmd::KeepAlive, Cmd::Arm(Tick::Heartbeat(0), 1_000 * MS)]
    );
}

#[test]
fn an_abandoned_poll_becomes_transient_and_expires_at_the_heartbeat() {
    let t0 = Instant::now();
    let mut s = upgraded(0, Transport::XhrPolling, t0);
    s.attach(Transport::XhrPolling, Wire::Sio09, 2, t0);
    assert_eq!(s.phase(), Phase::Waiting);
    // Another connection's end changes nothing.
    assert!(s.sink_gone(9, t0).is_empty());
    assert_eq!(s.phase(), Phase::Waiting);
    // The poll goes away: no sink, the session waits for the next one.
    assert!(s.sink_gone(2, t0 + MS).is_empty());
    assert_eq!(s.phase(), Phase::Transient);
    s.push(item(1));
    assert!(s.after_work(t0 + MS).is_empty(), "no sink: replies wait");
    // Queued replies, no poll, heartbeat expired: the client stopped polling.
    let cmds = s.tick(Tick::Heartbeat(0), t0 + 1_000 * MS);
    assert_eq!(
        cmds,
        [
            Cmd::Ending {
                reason: CloseReason::NoSink,
                upgraded: true
            },
            Cmd::Stop(CloseReason::NoSink)
        ]
    );
}

#[test]
fn a_vanished_poll_keeps_its_replies_for_the_next() {
    let t0 = Instant::now();
    let mut s = upgraded(0, Transport::XhrPolling, t0);
    s.push(item(1));
    let cmds = s.attach(Transport::XhrPolling, Wire::Sio09, 2, t0 + MS);
    assert_eq!(cmds, [Cmd::Keep, Cmd::Write(vec![item(1)])]);
    assert!(
        s.write_failed(vec![item(1)], WriteFailure::PollGone)
            .is_empty()
    );
    s.push(item(2));
    let cmds = s.attach(Transport::XhrPolling, Wire::Sio09, 3, t0 + 2 * MS);
    assert_eq!(cmds, [Cmd::Keep, Cmd::Write(vec![item(1), item(2)])]);
}

#[test]
fn the_batching_window_collects_replies_into_one_write() {
    let t0 = Instant::now();
    let mut s = upgraded(50, Transport::XhrPolling, t0);
    assert!(
        s.attach(Transport::XhrPolling, Wire::Sio09, 2, t0)
            .contains(&Cmd::Keep)
    );
    s.push(item(1));
    let cmds = s.after_work(t0);
    assert_eq!(cmds, [Cmd::Arm(Tick::Poll(2), 50 * MS)]);
    assert_eq!(s.phase(), Phase::Polling);
    // More replies within the window: no second timer.
    s.push(item(2));
    assert!(s.after_work(t0 + 10 * MS).is_empty());
    s.push(item(3));
    assert!(s.after_work(t0 + 20 * MS).is_empty());
    // A stale tick does nothing.
    assert!(s.tick(Tick::Poll(1), t0 + 30 * MS).is_empty());
    let cmds = s.tick(Tick::Poll(2), t0 + 50 * MS);
    assert_eq!(cmds, [Cmd::Write(vec![item(1), item(2), item(3)])]);
    assert_eq!(s.phase(), Phase::Transient, "the poll is answered");
    // The next poll finds the next reply waiting and opens a new window.
    s.push(item(4));
    assert!(s.after_work(t0 + 60 * MS).is_empty());
    let cmds = s.attach(Transport::XhrPolling, Wire::Sio09, 3, t0 + 70 * MS);
    assert_eq!(cmds, [Cmd::Keep, Cmd::Arm(Tick::Poll(3), 50 * MS)]);
    assert_eq!(s.phase(), Phase::Polling);
}

#[test]
fn a_websocket_hands_replies_over_at_once_and_its_connection_batches() {
    let t0 = Instant::now();
    let mut s = upgraded(50, Transport::WebSocket, t0);
    assert!(
        s.shortcut_may_open(),
        "the shortcut works at any poll_timeout"
    );
    s.push(item(1));
    assert!(!s.shortcut_may_open());
    assert_eq!(s.after_work(t0), [Cmd::Write(vec![item(1)])]);
    assert_eq!(s.phase(), Phase::Waiting);
    assert!(s.shortcut_may_open());
}

#[test]
fn a_full_queue_ends_a_slow_client() {
    let t0 = Instant::now();
    let mut s = upgraded(50, Transport::XhrPolling, t0);
    s.extend((0..9).map(item));
    let cmds = s.after_work(t0);
    assert_eq!(cmds[0], Cmd::CountSlow);
    assert_eq!(cmds.last(), Some(&Cmd::Stop(CloseReason::SlowClient)));
    // A full WebSocket writer too.
    let mut s = upgraded(0, Transport::WebSocket, t0);
    s.push(item(1));
    let batch = match s.after_work(t0).pop() {
        Some(Cmd::Write(b)) => b,
        other => panic!("expected a write, got {other:?}"),
    };
    let cmds = s.write_failed(batch, WriteFailure::Full);
    assert_eq!(cmds[0], Cmd::CountSlow);
    assert!(
        !cmds.contains(&Cmd::Hangup),
        "the full connection is dropped"
    );
    assert!(s.is_terminated());
}

#[test]
fn a_duplicate_websocket_is_refused_and_a_second_poll_replaces_the_first() {
    let t0 = Instant::now();
    let mut s = upgraded(0, Transport::WebSocket, t0);
    let cmds = s.attach(Transport::WebSocket, Wire::Sio09, 2, t0);
    let e = HiveError::ClientError("This session already has a transport connection.".into());
    assert_eq!(
        cmds,
        [
            Cmd::Send(Target::New, Out::Event(Event::hive_error(&e, Mode::Dev))),
            Cmd::Close(Target::New)
        ]
    );
    // A poll beside a WebSocket gets a noop.
    let cmds = s.attach(Transport::XhrPolling, Wire::Sio09, 3, t0);
    assert_eq!(cmds, [Cmd::Send(Target::New, Out::Noop)]);
    // The WebSocket is still the sink.
    s.push(item(1));
    assert_eq!(s.after_work(t0), [Cmd::Write(vec![item(1)])]);

    // XHR: the second GET replaces the first, which gets a noop (HIVE.md 16.2 #7).
    let mut s = upgraded(0, Transport::XhrPolling, t0);
    s.attach(Transport::XhrPolling, Wire::Sio09, 2, t0);
    let cmds = s.attach(Transport::XhrPolling, Wire::Sio09, 3, t0);
    assert_eq!(cmds, [Cmd::Send(Target::Current, Out::Noop), Cmd::Keep]);
    assert!(
        s.sink_gone(2, t0).is_empty(),
        "the replaced poll is no longer the sink"
    );
    assert_eq!(s.phase(), Phase::Waiting);
}

#[test]
fn close_flushes_queued_replies_first() {
    let t0 = Instant::now();
    // XHR: the last body carries the replies and the disconnect.
    let mut s = upgraded(50, Transport::XhrPolling, t0);
    s.attach(Transport::XhrPolling, Wire::Sio09, 2, t0);
    s.push(item(1));
    s.after_work(t0);
    assert_eq!(s.phase(), Phase::Polling);
    let cmds = s.terminate(CloseReason::Stopped, t0 + MS);
    assert_eq!(
        cmds,
        [
            Cmd::Write(vec![item(1), Out::Disconnect]),
            Cmd::Ending {
                reason: CloseReason::Stopped,
                upgraded: true
            },
            Cmd::Stop(CloseReason::Stopped)
        ]
    );
    assert!(s.is_terminated());
    // Nothing after the end.
    assert!(s.tick(Tick::Poll(3), t0 + 50 * MS).is_empty());
    assert!(s.terminate(CloseReason::Stopped, t0).is_empty());

    // WebSocket: the replies, then the hang-up.
    let mut s = upgraded(50, Transport::WebSocket, t0);
    s.push(item(1));
    let cmds = s.terminate(CloseReason::ClientGone, t0 + MS);
    assert_eq!(
        cmds,
        [
            Cmd::Write(vec![item(1)]),
            Cmd::Ending {
                reason: CloseReason::ClientGone,
                upgraded: true
            },
            Cmd::Hangup,
            Cmd::Stop(CloseReason::ClientGone)
        ]
    );
}

#[test]
fn a_websocket_that_goes_away_ends_the_session() {
    let t0 = Instant::now();
    let mut s = upgraded(0, Transport::WebSocket, t0);
    let cmds = s.sink_gone(1, t0);
    assert_eq!(
        cmds,
        [
            Cmd::Ending {
                reason: CloseReason::ClientGone,
                upgraded: true
            },
            Cmd::Stop(CloseReason::ClientGone)
        ]
    );
}
