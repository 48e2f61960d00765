//! The action interpreter (FLOOD.md 4): runs compiled actions against a user's [`Ctx`] and
//! dispatches incoming packets and timer firings to the handler tables.

use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::action::{Act, Acts, CounterOp, HandlerKind, compile_list};
use super::console;
use super::ctx::{Ctx, Flow, Stop};
use super::erlfmt;
use super::http;
use super::matching::{json_match, regex_match};
use super::meta::{UNDEFINED, substitute, substitute_key, to_text};
use codec::{Kind, Message, MsgId};

fn crash(why: impl Into<String>) -> Flow {
    Flow::Stop(Stop::Crashed(why.into()))
}

fn text(v: Option<&Value>) -> String {
    v.map_or_else(|| UNDEFINED.to_owned(), to_text)
}

/// Runs `list` in a temporary metadata scope with `temps` in front (handlers and branches).
pub async fn run_scoped(ctx: &mut Ctx, lists: &[Acts], temps: Vec<(&str, Value)>) -> Flow {
    let mark = ctx.meta.mark();
    for (k, v) in temps {
        ctx.meta.put(k, v);
    }
    let mut flow = Flow::Go;
    for l in lists {
        flow = run(ctx, l).await;
        if flow != Flow::Go {
            break;
        }
    }
    ctx.meta.reset(mark);
    flow
}

/// Runs an action list in the current scope.
pub fn run<'a>(ctx: &'a mut Ctx, list: &'a [Act]) -> BoxFuture<'a, Flow> {
    Box::pin(async move {
        for act in list {
            let flow = step(ctx, act).await;
            if flow != Flow::Go {
                return flow;
            }
        }
        Flow::Go
    })
}

async fn step(ctx: &mut Ctx, act: &Act) -> Flow {
    match act {
        Act::Counter(op, args) => {
            let a = substitute(args, &ctx.meta);
            let name = text(a.get("name"));
            let value = match (a.get("value"), op) {
                (None, CounterOp::Set) => return crash("set without a value"),
                (None, _) => 1,
                (Some(v), _) => match v.as_i64() {
                    Some(i) => i,
                    None => return crash(format!("{name}: counter value {v} is not an integer")),
                },
            };
            match op {
                CounterOp::Inc => ctx.stats.counter_add(&name, value),
                CounterOp::Dec => ctx.stats.counter_add(&name, -value),
                CounterOp::Set => ctx.stats.counter_set(&name, value),
            }
        }
        Act::StartTimer(args) | Act::RestartTimer(args) => {
            let a = substitute(args, &ctx.meta);
            let name = text(a.get("name"));
            let t = match a.get("time") {
                None if matches!(act, Act::RestartTimer(_)) => 0,
                v => match v.and_then(Value::as_u64) {
                    Some(t) => t,
                    None => return crash(format!("timer {name}: time is not an integer")),
                },
            };
            if matches!(act, Act::RestartTimer(_)) && !ctx.stop_timer(&name) {
                return crash(format!("restart_timer of a timer not running: {name}"));
            }
            ctx.start_timer(&name, t);
        }
        Act::StopTimer(args) => {
            let name = text(substitute(args, &ctx.meta).get("name"));
            if !ctx.stop_timer(&name) {
                return crash(format!("stop_timer of a timer not running: {name}"));
            }
        }
        Act::Timed(args, body) => {
            let name = text(substitute(args, &ctx.meta).get("name"));
            let t0 = Instant::now();
            let flow = run(ctx, body).await;
            ctx.stats.record_timer(&name, t0.elapsed());
            return flow;
        }
        Act::On(kind, table) => {
            for (key, acts) in table {
                let k = substitute_key(key, &ctx.meta);
                ctx.handlers.add(*kind, k, acts.clone());
            }
        }
        Act::EmitEvent(args) => {
            let mut a = substitute(args, &ctx.meta);
            // `"ack": true` asks for a data ack (`5:<id>+::`); the key is not part of the event.
            let ack = a.as_object_mut().and_then(|m| m.remove("ack")) == Some(Value::Bool(true));
            let event = ctx.stats.events.emit(&text(a.get("name")));
            let mut m = Message::event(a.to_string());
            if let Some(id) = ctx.rtt.emitted(event, ack) {
                m.id = MsgId::Client(u64::from(id));
            }
            ctx.out.push(m);
        }
        Act::EmitSocketio(args) => {
            let a = substitute(args, &ctx.meta);
            let kind = match a.get("opcode") {
                Some(Value::String(s)) if s.len() == 1 => {
                    Kind::from_digit(s.as_bytes()[0]).unwrap_or(Kind::Error)
                }
                _ => Kind::Error,
            };
            let mut m = Message::with_data(kind, a.get("data").map_or_else(String::new, to_text));
            m.endpoint = a.get("endpoint").map_or_else(String::new, to_text);
            ctx.out.push(m);
        }
        Act::EmitHttp(args, on_reply, on_error) => {
            return emit_http(ctx, args, on_reply, on_error).await;
        }
        Act::Match(args, on_match, on_nomatch) => {
            return do_match(ctx, args, on_match, on_nomatch).await;
        }
        Act::Case(args) => {
            let a = substitute(args, &ctx.meta);
            let cond = a.get("condition").cloned().unwrap_or(Value::Null);
            let Some(Value::Object(branches)) = a.get("branches") else {
                return crash("case without a branches object");
            };
            let Some(body) = branches
                .iter()
                .find(|(k, _)| cond.as_str() == Some(k.as_str()))
                .map(|(_, v)| v)
            else {
                return Flow::Go;
            };
            let acts = match compile_list(body, "case branch") {
                Ok(a) => a,
                Err(e) => return crash(e.to_string()),
            };
            return run_scoped(ctx, &[acts], Vec::new()).await;
        }
        Act::Def(obj) => {
            if let Value::Object(m) = obj {
                for (k, v) in m {
                    let v = substitute(v, &ctx.meta);
                    ctx.meta.put(k, v);
                }
            }
        }
        Act::Terminate(args) => {
            let reason = text(substitute(args, &ctx.meta).get("reason"));
            return Flow::Stop(Stop::Terminated(reason));
        }
        Act::Log(args) => {
            let a = substitute(args, &ctx.meta);
            let fmt = text(a.get("format"));
            let values = match a.get("values") {
                Some(Value::Array(v)) => v.clone(),
                Some(v) => vec![v.clone()],
                None => Vec::new(),
            };
            console::notice(&erlfmt::format(&fmt, &values));
        }
        Act::Nop => {}
        Act::Unknown(name) => return crash(format!("unknown_action {name}")),
    }
    Flow::Go
}

async fn do_match(ctx: &mut Ctx, args: &Value, on_match: &Acts, on_nomatch: &Acts) -> Flow {
    let get = |k: &str| args.get(k).map(|v| substitute(v, &ctx.meta));
    let subject = get("subject").unwrap_or(Value::Null);
    let name = get("name").map_or_else(|| "match".to_owned(), |v| to_text(&v));
    let result = match get("re") {
        Some(re) => match regex_match(&subject, &to_text(&re), &name) {
            Ok(r) => r,
            Err(e) => return crash(e),
        },
        None => json_match(&subject, args.get("json").unwrap_or(&Value::Null)),
    };
    match result {
        Some(binds) => {
            let mark = ctx.meta.mark();
            for (k, v) in binds {
                ctx.meta.put(&k, v);
            }
            let flow = run(ctx, on_match).await;
            ctx.meta.reset(mark);
            flow
        }
        None => {
            let temps = vec![(name.as_str(), json!(UNDEFINED))];
            run_scoped(ctx, std::slice::from_ref(on_nomatch), temps).await
        }
    }
}

async fn emit_http(ctx: &mut Ctx, args: &Value, on_reply: &Acts, on_error: &Acts) -> Flow {
    let a = substitute(args, &ctx.meta);
    ctx.stats.add(super::stats::Builtin::HttpOutgoing, 1);
    let url = text(a.get("url"));
    let method = a.get("method").map_or_else(|| "GET".to_owned(), to_text);
    let body = a.get("body").map_or_else(String::new, to_text);
    let headers: Vec<(String, String)> = match a.get("headers") {
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), to_text(v))).collect(),
        _ => vec![("origin".to_owned(), "null".to_owned())],
    };
    let timeout = a
        .get("timeout")
        .and_then(Value::as_u64)
        .map(Duration::from_millis);
    match http::request(&method, &url, &headers, body, timeout).await {
        Ok(reply) => {
            let hdrs: Vec<Value> = reply.headers.iter().map(|(k, v)| json!([k, v])).collect();
            let temps = vec![
                ("reply.status", json!(reply.status.to_string())),
                ("reply.headers", Value::Array(hdrs)),
                ("reply.body", json!(reply.body)),
            ];
            run_scoped(ctx, std::slice::from_ref(on_reply), temps).await
        }
        Err(e) => {
            ctx.stats.error(e.kind());
            let temps = vec![("reply.error", json!(e.to_string()))];
            run_scoped(ctx, std::slice::from_ref(on_error), temps).await
        }
    }
}

/// Dispatches one received packet (FLOOD.md 4.4). Heartbeats are answered automatically
/// (FLOOD.md 6.3 recommendation) before any `"2"` handlers run.
pub async fn on_packet(ctx: &mut Ctx, msg: Message) -> Flow {
    let opcode = char::from(msg.kind.ascii()).to_string();
    match msg.kind {
        Kind::Disconnect => return Flow::Stop(Stop::Disconnected),
        Kind::Heartbeat => ctx.out.push(Message::new(Kind::Heartbeat)),
        Kind::Ack => {
            if let Some((event, d)) = ctx.rtt.on_ack(&msg.data) {
                ctx.stats.record_event(event, d);
            }
        }
        _ => {}
    }
    let mut temps = vec![
        ("message.opcode", json!(opcode)),
        ("message.endpoint", json!(msg.endpoint)),
        ("message.data", json!(msg.data)),
    ];
    let op_handlers = ctx.handlers.get(HandlerKind::Socketio, &opcode);
    if msg.kind != Kind::Event {
        if op_handlers.is_empty() {
            return Flow::Go;
        }
        return run_scoped(ctx, &op_handlers, temps).await;
    }
    let ev: Value = serde_json::from_str(&msg.data).unwrap_or(Value::Null);
    let name = ev.get("name").map_or_else(|| UNDEFINED.to_owned(), to_text);
    if let Some(event) = ctx.stats.events.lookup(&name)
        && let Some((event, d)) = ctx.rtt.on_event(event)
    {
        ctx.stats.record_event(event, d);
    }
    let ev_handlers = ctx.handlers.get(HandlerKind::Event, &name);
    if op_handlers.is_empty() && ev_handlers.is_empty() {
        return Flow::Go;
    }
    temps.push(("event", json!(msg.data)));
    temps.push(("event.name", json!(name)));
    temps.push(("event.args", ev.get("args").cloned().unwrap_or(Value::Null)));
    if !op_handlers.is_empty() {
        let flow = run_scoped(ctx, &op_handlers, temps.clone()).await;
        if flow != Flow::Go {
            return flow;
        }
    }
    run_scoped(ctx, &ev_handlers, temps).await
}

/// Dispatches a timer firing: records T, then runs the timer's handlers with `timer` = name.
pub async fn on_timer(ctx: &mut Ctx, name: &str, generation: u32) -> Flow {
    if !ctx.timer_fired(name, generation) {
        return Flow::Go;
    }
    let handlers = ctx.handlers.get(HandlerKind::Timeout, name);
    run_scoped(ctx, &handlers, vec![("timer", json!(name))]).await
}
