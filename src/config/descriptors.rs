//! Validation of the descriptor sections: `clients` (state manager, actions, hooks), `connectors`
//! (pools and their per-connector args, HIVE.md 2.7 / 2.11) and `pubsub` (channel templates), plus
//! the integrity checks of HIVE.md 2.1 (names registered; `hp.*`/`cp.*` and `sm.redis` point at a
//! pool of the right type). No network checks: the connectors do those when they start.

use serde_json::Value;

use super::names::{ActionName, ConnectorName, HookName, StateManagerName};
use super::schema::{Checker, Field, PORT, Ty, U32, U64, got, join, opt, req};

/// Section `clients`.
pub(crate) fn clients(c: &mut Checker<'_>, v: &Value) {
    c.object("clients", v, CLIENTS);
}

/// Section `connectors`.
pub(crate) fn connectors(c: &mut Checker<'_>, v: &Value) {
    c.object("connectors", v, CONNECTORS_SECTION);
}

/// Section `pubsub`.
pub(crate) fn pubsub(c: &mut Checker<'_>, v: &Value) {
    c.object("pubsub", v, &[opt("channels", Ty::Custom(channels))]);
}

const CLIENTS: &[Field] = &[
    req("state", Ty::Custom(state)),
    opt("actions", Ty::Custom(actions)),
    opt("hooks", Ty::Custom(hooks)),
];

const CONNECTORS_SECTION: &[Field] = &[
    opt("rent_timeout", Ty::Int(1, U64)),
    opt("backoff_num", Ty::Int(1, U32)),
    opt("backoff_time", Ty::Int(0, U64)),
    opt("pools", Ty::Custom(pools)),
];

fn state(c: &mut Checker<'_>, path: &str, v: &Value) {
    let fields = [
        req(
            "state_manager",
            Ty::Custom(|c, p, v| {
                known(c, p, v, StateManagerName::from_name, "state manager");
            }),
        ),
        opt("initial_value", Ty::Any),
        opt("args", Ty::Any),
    ];
    let Some(m) = c.object(path, v, &fields) else {
        return;
    };
    let manager = m.get("state_manager").and_then(Value::as_str);
    if manager.and_then(StateManagerName::from_name) == Some(StateManagerName::Redis) {
        let args = join(path, "args");
        match m.get("args") {
            None => c.err(&args, "missing required key"),
            Some(a) => {
                let fields = [
                    req(
                        "connector",
                        Ty::Custom(|c, p, v| pool_ref(c, p, v, &[ConnectorName::Redis])),
                    ),
                    req("expiration_timeout", Ty::Int(1, U64)),
                ];
                c.object(&args, a, &fields);
            }
        }
    }
}

fn actions(c: &mut Checker<'_>, path: &str, v: &Value) {
    table(c, path, v, "action", ActionName::from_name, |_, _, _, _| {});
}

/// A hook table (`clients.hooks`, `socketio.namespaces.<nsp>.hooks`).
pub(crate) fn hooks(c: &mut Checker<'_>, path: &str, v: &Value) {
    table(
        c,
        path,
        v,
        "hook",
        HookName::from_name,
        |c, path, name, args| {
            if name.is_protocol() {
                protocol_hook_args(c, path, args);
            }
        },
    );
}

/// An object of name -> array of `{<key>: registered name, args: any}` descriptors; `args` is
/// called with the path of `args` for every descriptor whose name is registered.
fn table<T>(
    c: &mut Checker<'_>,
    path: &str,
    v: &Value,
    key: &'static str,
    parse: fn(&str) -> Option<T>,
    args: fn(&mut Checker<'_>, &str, T, Option<&Value>),
) {
    let Some(map) = v.as_object() else {
        c.err(path, format!("expected an object, got {}", got(v)));
        return;
    };
    for (event, list) in map {
        let p = join(path, event);
        let Some(items) = list.as_array() else {
            c.err(
                &p,
                format!("expected an array of {key} descriptors, got {}", got(list)),
            );
            continue;
        };
        for (i, d) in items.iter().enumerate() {
            let dp = format!("{p}[{i}]");
            let fields = [req(key, Ty::Any), opt("args", Ty::Any)];
            let Some(m) = c.object(&dp, d, &fields) else {
                continue;
            };
            let Some(name) = m.get(key) else { continue };
            if let Some(name) = known(c, &join(&dp, key), name, parse, key) {
                args(c, &join(&dp, "args"), name, m.get("args"));
            }
        }
    }
}

/// `hp.*` / `cp.*` args: `{connector: <http or tcp pool>, endpoint: string}`.
fn protocol_hook_args(c: &mut Checker<'_>, path: &str, args: Option<&Value>) {
    let Some(a) = args else {
        c.err(path, "missing required key");
        return;
    };
    let fields = [
        req(
            "connector",
            Ty::Custom(|c, p, v| pool_ref(c, p, v, &[ConnectorName::Http, ConnectorName::Tcp])),
        ),
        req("endpoint", Ty::Str(0)),
    ];
    c.object(path, a, &fields);
}

/// A registered name, parsed by `parse`; reports `unknown <what> "x"`.
fn known<T>(
    c: &mut Checker<'_>,
    path: &str,
    v: &Value,
    parse: fn(&str) -> Option<T>,
    what: &str,
) -> Option<T> {
    let Some(s) = v.as_str() else {
        c.err(path, format!("expected a {what} name, got {}", got(v)));
        return None;
    };
    let name = parse(s);
    if name.is_none() {
        c.err(path, format!("unknown {what} \"{s}\""));
    }
    name
}

/// A pool name that must exist in `connectors.pools` with one of the `types`.
fn pool_ref(c: &mut Checker<'_>, path: &str, v: &Value, types: &[ConnectorName]) {
    let Some(name) = v.as_str() else {
        c.err(path, format!("expected a pool name, got {}", got(v)));
        return;
    };
    let pool = c
        .root
        .get("connectors")
        .and_then(|s| s.get("pools"))
        .and_then(|p| p.get(name));
    match pool.map(|p| p.get("connector").and_then(Value::as_str)) {
        None => c.err(
            path,
            format!("undefined connector \"{name}\" (no such pool in connectors.pools)"),
        ),
        Some(Some(t)) if ConnectorName::from_name(t).is_some_and(|t| types.contains(&t)) => {}
        Some(t) => c.err(
            path,
            format!(
                "connector \"{name}\" is of invalid type {}: expected {}",
                t.unwrap_or("(none)"),
                types
                    .iter()
                    .map(|t| t.name())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        ),
    }
}

fn pools(c: &mut Checker<'_>, path: &str, v: &Value) {
    let Some(map) = v.as_object() else {
        c.err(path, format!("expected an object, got {}", got(v)));
        return;
    };
    for (name, d) in map {
        let p = join(path, name);
        let fields = [
            req(
                "connector",
                Ty::Custom(|c, p, v| {
                    known(c, p, v, ConnectorName::from_name, "connector");
                }),
            ),
            opt("size", Ty::Int(0, U32)),
            opt("overflow", Ty::Int(0, U32)),
            opt("args", Ty::Any),
        ];
        let Some(m) = c.object(&p, d, &fields) else {
            continue;
        };
        let connector = m.get("connector").and_then(Value::as_str);
        let schema: &[Field] = match connector.and_then(ConnectorName::from_name) {
            Some(ConnectorName::Http) => HTTP_ARGS,
            Some(ConnectorName::Tcp) => TCP_ARGS,
            Some(ConnectorName::Redis) => REDIS_ARGS,
            None => continue,
        };
        let ap = join(&p, "args");
        match m.get("args") {
            None => c.err(&ap, "missing required key"),
            Some(a) => {
                c.object(&ap, a, schema);
            }
        }
    }
}

const HTTP_ARGS: &[Field] = &[
    req("base_url", Ty::Custom(base_url)),
    opt("max_connection_timeout", Ty::Int(0, U64)),
    opt("max_connections", Ty::Int(0, U32)),
];

const TCP_ARGS: &[Field] = &[
    req("port", PORT),
    req("restart_timeout", Ty::Int(0, U64)),
    opt("max_connection_timeout", Ty::Int(0, U64)),
    opt("bind", Ty::Str(1)),
];

const REDIS_ARGS: &[Field] = &[
    req("host", Ty::Str(1)),
    req("port", PORT),
    req("database", Ty::Int(0, U32)),
    req("password", Ty::Str(0)),
    req("restart_timeout", Ty::Int(0, U64)),
    req("reconnect_timeout", Ty::Int(0, U64)),
    opt("max_reconnect_timeout", Ty::Int(0, U64)),
];

/// `http://host[:port]` with an optional path prefix (HIVE.md 2.11: only http works).
fn base_url(c: &mut Checker<'_>, path: &str, v: &Value) {
    let Some(s) = v.as_str() else {
        c.err(
            path,
            format!("expected an http://host[:port] URL, got {}", got(v)),
        );
        return;
    };
    let ok = s.strip_prefix("http://").is_some_and(|rest| {
        let authority = rest.split('/').next().unwrap_or("");
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (h, Some(p)),
            _ => (authority, None),
        };
        !host.is_empty()
            && !authority.contains('@')
            && port.is_none_or(|p| !p.is_empty() && p.parse::<u16>().is_ok())
    });
    if !ok {
        c.err(
            path,
            format!(
                "expected an http://host[:port] URL (only http is supported), got {}",
                got(v)
            ),
        );
    }
}

fn channels(c: &mut Checker<'_>, path: &str, v: &Value) {
    let Some(map) = v.as_object() else {
        c.err(path, format!("expected an object, got {}", got(v)));
        return;
    };
    for (prefix, t) in map {
        let p = join(path, prefix);
        if prefix.is_empty() || prefix.contains('.') {
            c.err(&p, "a channel prefix must be non-empty and contain no '.'");
        }
        let fields = [
            req("privilege", Ty::OneOf(&["public", "private"])),
            req("timeout", Ty::Int(0, U64)),
        ];
        c.object(&p, t, &fields);
    }
}
