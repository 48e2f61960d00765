//! Flood scenario loading and interpretation over the fixtures in tests/fixtures/flood/
//! (FLOOD.md 3, 4, 9): every construct, substitution, inheritance, goals and load errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use codec::{Kind, Message, encode};
use flood::action::Act;
use flood::ctx::{Ctx, Flow, TimerSink};
use flood::goal;
use flood::interp;
use flood::meta::{Lookup, Meta};
use flood::scenario::{self, Scenario};
use flood::stats::Stats;
use serde_json::json;

fn fixture(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("tests/fixtures/flood")
        .join(name)
}

fn constructs() -> Scenario {
    scenario::load(&fixture("constructs.json")).unwrap()
}

struct NoTimers;
impl TimerSink for NoTimers {
    fn arm(&self, _: Arc<str>, _: u32, _: Duration) -> Option<tokio::task::AbortHandle> {
        None
    }
}

/// FLOOD.md 3.3: phase fields are `$`-substituted with phase then server metadata; goal files
/// are read relative to the scenario and substituted (keeping `$schema`).
#[test]
fn phases_are_substituted_and_goals_loaded() {
    let sc = constructs();
    assert_eq!(sc.server.port, 9);
    let p = &sc.phases[0];
    assert_eq!(
        (p.name.as_str(), p.users, p.spawn_duration),
        ("first", 15, 100)
    );
    assert_eq!((p.test_interval, p.timeout), (Some(100), Some(1000)));
    assert_eq!(p.user_sessions, ["e", "d"]);
    assert_eq!(
        p.goal["properties"]["counters"]["properties"]["c1"]["maximum"],
        json!(7)
    );
    assert_eq!(
        p.goal["$schema"],
        json!("http://json-schema.org/draft-03/schema#")
    );
    assert_eq!(p.goal_raw, json!("constructs_goal.jsonschema"));
    let q = &sc.phases[1];
    assert_eq!((q.users, q.spawn_duration, q.test_interval), (0, 0, None));
    // A missing variable becomes the string "undefined" (FLOOD.md 3.5).
    assert_eq!(
        q.goal["properties"]["counters"]["properties"]["x"]["maximum"],
        json!("undefined")
    );
}

/// FLOOD.md 3.4.1: closure order a, d, c, b, e (examples/1.json).
#[test]
fn inheritance_orders_actions_and_metadata() {
    let sc = constructs();
    let e = &sc.sessions["e"];
    let logs: Vec<String> = e
        .actions
        .iter()
        .filter_map(|a| match a {
            Act::Log(v) => v["format"].as_str().map(str::to_owned),
            _ => None,
        })
        .take(5)
        .collect();
    assert_eq!(logs, ["In A!", "In D!", "In C!", "In B!", "In E!"]);
    let base = sc.base_meta(&sc.phases[0], e);
    // Deeper bases shadow shallower ones (a beats d), session beats phase beats server.
    assert_eq!(base.lookup("who"), Some(&json!("a")));
    assert_eq!(base.lookup("shared"), Some(&json!("session")));
    assert_eq!(base.lookup("srv_key"), Some(&json!("from_server")));
    assert_eq!(base.lookup("session.name"), Some(&json!("e")));
    assert_eq!(base.lookup("session.transport"), Some(&json!("websocket")));
    assert_eq!(base.lookup("phase.name"), Some(&json!("first")));
    assert_eq!(base.lookup("phase.users"), Some(&json!(15)));
    assert_eq!(
        base.lookup("server.url"),
        Some(&json!("127.0.0.1:9/socket.io/1/"))
    );
}

/// FLOOD.md 4: every action of session `e`, then packet and timer dispatch.
#[tokio::test]
async fn every_action_runs() {
    let sc = constructs();
    let e = sc.sessions["e"].clone();
    let stats = Arc::new(Stats::new());
    let meta = Meta::new(Arc::new(sc.base_meta(&sc.phases[0], &e)));
    let mut ctx = Ctx::new(meta, stats.clone(), Arc::new(NoTimers));
    assert_eq!(interp::run(&mut ctx, &e.actions).await, Flow::Go);
    let counters: std::collections::HashMap<String, i64> = stats.counters().into_iter().collect();
    for (k, v) in [
        ("c1", 1),
        ("c2", 5),
        ("c3", -2),
        ("c4", 9),
        ("in_timed", 1),
        ("regex_ok", 1),
        ("json_ok", 1),
        ("http_error", 1),
        ("http_outgoing", 1),
    ] {
        assert_eq!(counters.get(k), Some(&v), "{k}: {counters:?}");
    }
    assert!(!counters.contains_key("regex_bad") && !counters.contains_key("http_reply"));
    let timers = stats.timers();
    assert_eq!(timers["t"].len(), 1);
    assert_eq!(timers["t2"].len(), 1, "restart_timer records a sample");
    assert_eq!(timers["tm"].len(), 1);
    // `def` at top level persists.
    assert_eq!(ctx.meta.lookup("k"), Some(&json!("a")));

    // Connect packet: the "1" handlers emit.
    let flow = interp::on_packet(&mut ctx, Message::connect()).await;
    assert_eq!(flow, Flow::Go);
    let out: Vec<String> = ctx.out.drain(..).map(|m| encode(&m)).collect();
    assert_eq!(out, [r#"5:::{"name":"hello","args":["a"]}"#, "3:::m"]);

    // Events by name; heartbeats are answered.
    let ev = Message::event(r#"{"name":"ev","args":[1]}"#);
    interp::on_packet(&mut ctx, ev).await;
    interp::on_packet(&mut ctx, Message::new(Kind::Heartbeat)).await;
    assert_eq!(
        ctx.out.drain(..).map(|m| encode(&m)).collect::<Vec<_>>(),
        ["2:::"]
    );
    // Timer t2 is generation 3 (t = 1, t2 = 2, restarted t2 = 3); a stale generation is ignored.
    interp::on_timer(&mut ctx, "t2", 2).await;
    interp::on_timer(&mut ctx, "t2", 3).await;
    let counters: std::collections::HashMap<String, i64> = stats.counters().into_iter().collect();
    assert_eq!(counters.get("evs"), Some(&1));
    assert_eq!(counters.get("fired"), Some(&1));
    // A disconnect packet stops the user.
    assert!(matches!(
        interp::on_packet(&mut ctx, Message::disconnect()).await,
        Flow::Stop(_)
    ));
}

/// FLOOD.md 4.4: `def` inside a handler lasts until the handler returns; temporaries too.
#[tokio::test]
async fn handler_scope_is_temporary() {
    let v = json!({"server": {"host": "h", "port": 1, "endpoint": "/"}, "phases": {},
        "sessions": {"s": {"do": [["on_event", {"e": [["def", {"tmp": "$event.name"}],
                                                      ["inc", "$tmp"]]}],
                                  ["terminate", "bye"], ["inc", "never"]]}}});
    let sc = scenario::parse(&v, Path::new("x.json")).unwrap();
    let s = sc.sessions["s"].clone();
    let stats = Arc::new(Stats::new());
    let mut ctx = Ctx::new(Meta::new(Arc::default()), stats.clone(), Arc::new(NoTimers));
    let flow = interp::run(&mut ctx, &s.actions).await;
    assert!(matches!(flow, Flow::Stop(_)), "terminate stops the list");
    interp::on_packet(&mut ctx, Message::event(r#"{"name":"e","args":[]}"#)).await;
    assert_eq!(ctx.meta.lookup("tmp"), None);
    assert_eq!(ctx.meta.lookup("event.name"), None);
    let c: std::collections::HashMap<String, i64> = stats.counters().into_iter().collect();
    assert_eq!(c.get("e"), Some(&1));
    assert!(!c.contains_key("never"));
}

/// FLOOD.md 9.1: the fixture's goal (file, substituted maximum) decides.
#[test]
fn goal_from_file_evaluates() {
    let sc = constructs();
    let g = &sc.phases[0].goal;
    assert!(goal::check(g, &json!({"counters": {"c1": 3}, "timers": {}})).is_empty());
    let e = goal::check(g, &json!({"counters": {"c1": 8}, "timers": {}}));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(goal::check(g, &json!({"counters": {}, "timers": {}}))[0].contains("required"));
}

/// Scenario errors the original hung or crashed on are load errors (exit status 2).
#[test]
fn invalid_scenarios_are_rejected() {
    for (file, needle) in [
        ("bad_weights.json", "weights are 0"),
        ("bad_cycle.json", "cycle"),
        ("bad_transport.json", "jsonp-polling"),
        ("bad_session.json", "unknown session nope"),
    ] {
        let e = scenario::load(&fixture(file)).unwrap_err();
        assert!(e.to_string().contains(needle), "{file}: {e}");
    }
    assert!(scenario::load(&fixture("missing.json")).is_err());
}

/// The seed's bots scenario loads (FLOOD.md 11): ten one-user phases, ws/xhr sessions.
#[test]
fn bots_scenario_loads() {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("examples/chat/tests/bots.json");
    let sc = scenario::load(&path).unwrap();
    assert_eq!(sc.phases.len(), 10);
    assert!(
        sc.phases
            .iter()
            .all(|p| p.users == 1 && p.timeout.is_none())
    );
    assert_eq!(sc.sessions["ws"].weight, 0.8);
    assert_eq!(sc.sessions["xhr"].transport, "xhr-polling");
    let base = sc.base_meta(&sc.phases[3], &sc.sessions["ws"]);
    assert_eq!(base.lookup("auth_timeout"), Some(&json!(5000)));
    assert_eq!(base.lookup("phase.name"), Some(&json!("bot_3")));
}
