//! Whole-document validation: collects every error (with its dotted path) and every unknown-key
//! warning before anything is deserialized. Key tables follow HIVE.md 2.4-2.10; the descriptor
//! sections (`clients`, `connectors`, `pubsub`) are in [`super::descriptors`], and both are
//! written with the schema vocabulary of [`super::schema`].

use serde_json::Value;

use super::ConfigError;
use super::descriptors;
use super::names::{LOG_LEVELS, SECTIONS, TRANSPORTS};
use super::schema::{Checker, Field, PORT, Ty, U32, U64, got, opt, req};

/// Validate the whole document: (errors, warnings).
pub(crate) fn check(root: &Value) -> (Vec<ConfigError>, Vec<String>) {
    let mut c = Checker {
        root,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let Some(top) = root.as_object() else {
        c.err(
            "",
            format!("expected a JSON object at the top level, got {}", got(root)),
        );
        return (c.errors, c.warnings);
    };
    for name in ["hive", "clients", "api"] {
        if !top.contains_key(name) {
            c.err(name, "missing required section");
        }
    }
    // Sections in the original's order, whatever their order in the file.
    for name in SECTIONS {
        let Some(v) = top.get(*name) else { continue };
        match *name {
            "hive" => hive(&mut c, v),
            "clients" => descriptors::clients(&mut c, v),
            "connectors" => descriptors::connectors(&mut c, v),
            "pubsub" => descriptors::pubsub(&mut c, v),
            "socketio" => socketio(&mut c, v),
            "api" => {
                c.object("api", v, API);
            }
            "monitor" => {
                c.object("monitor", v, MONITOR);
            }
            "http" => {
                c.object("http", v, HTTP);
            }
            "cluster" => {
                c.object("cluster", v, CLUSTER);
            }
            _ => {
                c.object("log", v, LOG);
            }
        }
    }
    for k in top.keys().filter(|k| !SECTIONS.contains(&k.as_str())) {
        c.warnings.push(format!("{k}: unknown section (ignored)"));
    }
    (c.errors, c.warnings)
}

fn hive(c: &mut Checker<'_>, v: &Value) {
    let Some(m) = c.object("hive", v, HIVE) else {
        return;
    };
    let port = |k| m.get(k).and_then(Value::as_u64);
    if let (Some(lo), Some(hi)) = (port("cluster_port_min"), port("cluster_port_max"))
        && lo > hi
    {
        c.err(
            "hive.cluster_port_max",
            format!("expected an integer >= cluster_port_min ({lo}), got {hi}"),
        );
    }
}

const HIVE: &[Field] = &[
    opt("acceptors", Ty::Int(1, U32)),
    req("port", PORT),
    opt("bind", Ty::Str(1)),
    req("allowed_origins", Ty::Custom(allowed_origins)),
    req("graceful_termination_timeout", Ty::Int(1, U64)),
    req("max_client_slots", Ty::Int(1, U32)),
    opt("name", Ty::Str(1)),
    opt("cluster_name", Ty::Str(1)),
    opt("cluster_nodes", Ty::Custom(cluster_nodes)),
    opt("cluster_port_min", PORT),
    opt("cluster_port_max", PORT),
    opt("direct_websocket", Ty::Bool),
    opt("websocket_ping_timeout", Ty::Int(1, U64)),
    opt("websocket_direct_write", Ty::Bool),
    opt("max_processes", Ty::Int(1, U64)),
    opt("cores", Ty::Int(0, 1024)),
    opt("io_events_per_busy_tick", Ty::Int(0, 1024)),
];

const SOCKETIO: &[Field] = &[
    opt("heartbeat_timeout", Ty::Int(1000, U64)),
    opt("reconnect_timeout", Ty::Int(1000, U64)),
    opt("poll_timeout", Ty::Int(0, U64)),
    opt("init_timeout", Ty::Int(1, U64)),
    opt("session_timeout", Ty::Int(1, U64)),
    opt("transports", Ty::Custom(transports)),
    opt("max_frame_size", Ty::Int(1, U64)),
    opt("max_outgoing_queue", Ty::Int(1, U64)),
    opt("protocols", Ty::Custom(protocols)),
    opt("engineio_versions", Ty::Custom(engineio_versions)),
    opt("path", Ty::Custom(v4_path)),
    opt("engineio_transports", Ty::Custom(engineio_transports)),
    opt("allow_upgrades", Ty::Bool),
    opt("ping_interval", Ty::Int(1, U64)),
    opt("ping_timeout", Ty::Int(1, U64)),
    opt("upgrade_timeout", Ty::Int(1, U64)),
    opt("connect_timeout", Ty::Int(1, U64)),
    opt("max_payload", Ty::Int(1, U64)),
    opt("max_attachments", Ty::Int(1, U32)),
    opt("cors", Ty::Custom(cors)),
    opt("namespaces", Ty::Custom(namespaces)),
    opt("engineio_echo_path", Ty::Custom(echo_path)),
    opt("websocket_echo_path", Ty::Custom(ws_echo_path)),
];

const CORS: &[Field] = &[opt("credentials", Ty::Bool)];

fn socketio(c: &mut Checker<'_>, v: &Value) {
    let Some(m) = c.object("socketio", v, SOCKETIO) else {
        return;
    };
    let path = m
        .get("path")
        .and_then(Value::as_str)
        .unwrap_or("/socket.io/");
    if let Some(echo) = m.get("engineio_echo_path").and_then(Value::as_str)
        && echo == path
    {
        c.err(
            "socketio.engineio_echo_path",
            format!("must differ from socketio.path ({path:?})"),
        );
    }
}

fn protocols(c: &mut Checker<'_>, path: &str, v: &Value) {
    c.unique_array(path, v, true, |c, p, x| {
        c.value(p, x, Ty::OneOf(&["0.9", "v4"]))
    });
}

fn engineio_versions(c: &mut Checker<'_>, path: &str, v: &Value) {
    c.unique_array(path, v, true, |c, p, x| c.value(p, x, Ty::Int(3, 4)));
}

fn engineio_transports(c: &mut Checker<'_>, path: &str, v: &Value) {
    c.unique_array(path, v, true, |c, p, x| {
        c.value(p, x, Ty::OneOf(&["polling", "websocket"]))
    });
}

/// A path starting and ending with `/`, outside 0.9's `/socket.io/1/`.
fn path_rule(c: &mut Checker<'_>, path: &str, v: &Value) {
    match v.as_str() {
        Some(s) if s.starts_with('/') && s.ends_with('/') && s.len() > 1 => {
            if s.starts_with("/socket.io/1/") || s == "/socket.io/1/" {
                c.err(
                    path,
                    format!("must not collide with 0.9's /socket.io/1/, got {s:?}"),
                );
            }
        }
        _ => c.err(
            path,
            format!(
                "expected a path starting and ending with '/', got {}",
                got(v)
            ),
        ),
    }
}

fn v4_path(c: &mut Checker<'_>, path: &str, v: &Value) {
    path_rule(c, path, v);
}

fn echo_path(c: &mut Checker<'_>, path: &str, v: &Value) {
    if !v.is_null() {
        path_rule(c, path, v);
    }
}

fn cors(c: &mut Checker<'_>, path: &str, v: &Value) {
    c.object(path, v, CORS);
}

/// `{"/": {}, "/custom": {}}`: names start with `/` and hold no `,` or `?`.
fn namespaces(c: &mut Checker<'_>, path: &str, v: &Value) {
    let Some(m) = v.as_object() else {
        c.err(path, format!("expected an object, got {}", got(v)));
        return;
    };
    if m.is_empty() {
        c.err(path, "expected at least one namespace, got {}");
    }
    for (k, x) in m {
        let p = format!("{path}.{k}");
        if !k.starts_with('/') || k.contains(',') || k.contains('?') {
            c.err(&p, "a namespace starts with '/' and contains no ',' or '?'");
        }
        if m.len() > 200 {
            c.err(&p, "at most 200 namespaces");
            break;
        }
        c.object(&p, x, NAMESPACE);
    }
}

const NAMESPACE: &[Field] = &[opt("hooks", Ty::Custom(descriptors::hooks))];

const API: &[Field] = &[
    opt("acceptors", Ty::Int(1, U32)),
    req("port", PORT),
    req("hash", Ty::Str(8)),
    opt("max_body_size", Ty::Int(1, U64)),
];

const MONITOR: &[Field] = &[
    opt("acceptors", Ty::Int(1, U32)),
    opt("port", PORT),
    opt("hash", Ty::Str(8)),
    opt("initialize_counters", Ty::Bool),
    opt("figures", Ty::Bool),
];

const HTTP: &[Field] = &[
    opt("header_read_timeout", Ty::Int(1, U64)),
    opt("idle_timeout", Ty::Int(1, U64)),
    opt("max_header_size", Ty::Int(1024, U32)),
    opt("max_connections", Ty::Int(1, U32)),
    opt("drain_timeout", Ty::Int(0, U64)),
];

const CLUSTER: &[Field] = &[
    opt("name", Ty::Str(1)),
    req("redis", Ty::Custom(cluster_redis)),
    opt("node", Ty::Custom(node_name)),
    opt("advertise", Ty::Custom(host_port)),
    opt("shards", Ty::Int(1, 1024)),
    opt("retention", Ty::Custom(retention)),
    opt("gone_after_ms", Ty::Int(100, U64)),
];

fn cluster_redis(c: &mut Checker<'_>, path: &str, v: &Value) {
    match v {
        Value::String(url) => {
            let scheme = url.starts_with("redis://") || url.starts_with("rediss://");
            let parsed = fred::prelude::Config::from_url(url).map_err(|e| e.to_string());
            if let Err(e) = parsed.and_then(|_| {
                scheme
                    .then_some(())
                    .ok_or_else(|| "not a redis:// URL".to_string())
            }) {
                c.err(
                    path,
                    format!("expected a redis://[:password@]host:port[/db] URL, got {url:?}: {e}"),
                );
            }
        }
        Value::Array(seeds) if !seeds.is_empty() => {
            c.unique_array(path, v, false, |c, p, x| host_port(c, p, x));
        }
        other => c.err(
            path,
            format!(
                "expected a redis:// URL or a non-empty list of host:port seeds, got {}",
                got(other)
            ),
        ),
    }
}

fn host_port(c: &mut Checker<'_>, path: &str, v: &Value) {
    let ok = v
        .as_str()
        .and_then(|s| s.rsplit_once(':'))
        .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
    if !ok {
        c.err(path, format!("expected \"host:port\", got {v}"));
    }
}

fn node_name(c: &mut Checker<'_>, path: &str, v: &Value) {
    let ok = v.as_str().is_some_and(|s| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    });
    if !ok {
        c.err(
            path,
            format!("expected 1-64 characters of [A-Za-z0-9-_.], got {v}"),
        );
    }
}

fn retention(c: &mut Checker<'_>, path: &str, v: &Value) {
    c.object(path, v, RETENTION);
}

const RETENTION: &[Field] = &[opt("max_len", Ty::Int(100, U64))];

const LOG: &[Field] = &[
    opt("dir", Ty::Str(1)),
    opt("file_level", Ty::OneOf(LOG_LEVELS)),
    opt("console_level", Ty::OneOf(LOG_LEVELS)),
];

fn allowed_origins(c: &mut Checker<'_>, path: &str, v: &Value) {
    c.unique_array(path, v, true, |c, p, x| {
        if !(x.is_string() || x.is_null()) {
            c.err(p, format!("expected a string or null, got {}", got(x)));
        }
    });
}

fn cluster_nodes(c: &mut Checker<'_>, path: &str, v: &Value) {
    c.unique_array(path, v, false, |c, p, x| c.value(p, x, Ty::Str(1)));
}

fn transports(c: &mut Checker<'_>, path: &str, v: &Value) {
    c.unique_array(path, v, true, |c, p, x| {
        c.value(p, x, Ty::OneOf(TRANSPORTS))
    });
}

/// `null`, or an absolute path outside `/socket.io/`.
fn ws_echo_path(c: &mut Checker<'_>, path: &str, v: &Value) {
    match v {
        Value::Null => {}
        Value::String(s) if s.starts_with('/') && !s.starts_with("/socket.io/") => {}
        _ => c.err(
            path,
            "expected null or a path starting with '/' outside /socket.io/",
        ),
    }
}
