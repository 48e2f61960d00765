//! The scenario model and its loader (FLOOD.md 3): server, phases, sessions with inheritance.
//!
//! Loading validates what the original only found out by hanging or crashing (zero weights,
//! `spawn_duration` 0, unknown sessions, cycles, missing transports) and reports it as a
//! [`FloodError::Scenario`] with a JSON path, so the binary can exit with status 2.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};

use super::action::{Acts, compile_list, unknown_names};
use super::error::FloodError;
use super::inherit::closure_order;
use super::meta::{Layers, substitute, substitute_with};

/// The two transports flood speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `websocket`.
    WebSocket,
    /// `xhr-polling`.
    XhrPolling,
}

impl Transport {
    /// The Socket.IO 0.9 transport name.
    pub fn name(self) -> &'static str {
        match self {
            Self::WebSocket => "websocket",
            Self::XhrPolling => "xhr-polling",
        }
    }

    /// The Engine.IO transport name (`websocket`, `polling`).
    pub fn eio_name(self) -> &'static str {
        match self {
            Self::WebSocket => "websocket",
            Self::XhrPolling => "polling",
        }
    }
}

/// The protocol a session speaks (session key `protocol`, inherited like metadata).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// `"0.9"` (the default): Socket.IO 0.9 at `server.endpoint`.
    #[default]
    V09,
    /// `"sio5"`: Socket.IO 5 over Engine.IO 4 (socket.io-client 3.x/4.x).
    Sio5,
    /// `"sio4"`: Socket.IO 4 over Engine.IO 3 (socket.io-client 2.x).
    Sio4,
}

impl Protocol {
    /// The protocol named `s` (`""` is the default, 0.9).
    pub fn parse(s: &str) -> Option<Protocol> {
        match s {
            "" | "0.9" => Some(Self::V09),
            "sio5" | "v4" => Some(Self::Sio5),
            "sio4" | "v2" => Some(Self::Sio4),
            _ => None,
        }
    }

    /// True for the Engine.IO based protocols.
    pub fn is_modern(self) -> bool {
        self != Self::V09
    }
}

/// `server` (FLOOD.md 3.2).
#[derive(Debug, Clone)]
pub struct Server {
    /// Host name or IP.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Handshake path with its trailing slash, e.g. `/socket.io/1/`.
    pub endpoint: String,
    /// Engine.IO path of the modern protocols: `server.path`, else `endpoint` without a final
    /// `1/` (`/socket.io/1/` gives `/socket.io/`).
    pub path: String,
    /// Server-wide metadata object.
    pub metadata: Value,
}

/// One phase (FLOOD.md 3.3), after `$` substitution of its fields.
#[derive(Debug, Clone)]
pub struct Phase {
    /// Phase name (its key).
    pub name: String,
    /// Users to spawn.
    pub users: u64,
    /// Session names a spawn batch may follow.
    pub user_sessions: Vec<String>,
    /// Run-clock ms of the first batch (and of the first periodic goal check).
    pub start_time: u64,
    /// Period over which users are spread, ms.
    pub spawn_duration: u64,
    /// Goal schema (`{}` when absent).
    pub goal: Value,
    /// The goal as written (object, path string, or `[]` when absent) for `phase.goal`.
    pub goal_raw: Value,
    /// Goal check period, ms.
    pub test_interval: Option<u64>,
    /// Absolute run-clock ms of the last goal check.
    pub timeout: Option<u64>,
    /// Phase metadata object.
    pub metadata: Value,
}

/// One session after inheritance (FLOOD.md 3.4).
#[derive(Debug, Clone)]
pub struct Session {
    /// Session name.
    pub name: String,
    /// `extends` as written.
    pub extends: Vec<String>,
    /// Relative pick weight.
    pub weight: f64,
    /// Transport name as written (may be empty for base-only sessions).
    pub transport: String,
    /// Protocol (own `protocol` key, else the first base session's in closure order).
    pub protocol: Protocol,
    /// Effective action list (closure order, own list last).
    pub actions: Acts,
    /// Effective metadata, first match wins (own keys, own metadata, closure members).
    pub metadata: Vec<(String, Value)>,
}

/// A loaded scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Path of the scenario file.
    pub path: PathBuf,
    /// Server under test.
    pub server: Server,
    /// Phases in file order.
    pub phases: Vec<Phase>,
    /// Sessions by name.
    pub sessions: HashMap<String, Arc<Session>>,
}

fn obj<'a>(v: &'a Value, path: &str) -> Result<&'a serde_json::Map<String, Value>, FloodError> {
    v.as_object()
        .ok_or_else(|| FloodError::scenario(path, "must be an object"))
}

fn uint(v: Option<&Value>, path: &str) -> Result<u64, FloodError> {
    v.and_then(Value::as_u64)
        .ok_or_else(|| FloodError::scenario(path, "must be a non-negative integer"))
}

fn opt_uint(v: Option<&Value>, path: &str) -> Result<Option<u64>, FloodError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_i64() == Some(-1) => Ok(None),
        Some(x) => uint(Some(x), path).map(Some),
    }
}

/// Reads and loads a scenario file.
///
/// # Errors
/// [`FloodError::Scenario`] for unreadable, unparsable or invalid scenarios.
pub fn load(path: &Path) -> Result<Scenario, FloodError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| FloodError::Scenario(format!("{}: {e}", path.display())))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| FloodError::Scenario(format!("{}: invalid JSON: {e}", path.display())))?;
    parse(&v, path)
}

/// Loads a scenario from parsed JSON; `path` locates goal files (relative to its directory).
///
/// # Errors
/// [`FloodError::Scenario`] with the JSON path of the first problem found.
pub fn parse(v: &Value, path: &Path) -> Result<Scenario, FloodError> {
    let top = obj(v, "scenario")?;
    for key in ["server", "phases", "sessions"] {
        if !top.contains_key(key) {
            return Err(FloodError::scenario(key, "missing"));
        }
    }
    let server = parse_server(&top["server"])?;
    let sessions = parse_sessions(&top["sessions"])?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut phases = Vec::new();
    for (name, p) in obj(&top["phases"], "phases")? {
        phases.push(parse_phase(name, p, &server, &sessions, dir)?);
    }
    Ok(Scenario {
        path: path.to_path_buf(),
        server,
        phases,
        sessions,
    })
}

fn parse_server(v: &Value) -> Result<Server, FloodError> {
    let o = obj(v, "server")?;
    let host = o
        .get("host")
        .and_then(Value::as_str)
        .ok_or_else(|| FloodError::scenario("server.host", "must be a string"))?;
    let port = uint(o.get("port"), "server.port")?;
    let port = u16::try_from(port).map_err(|_| FloodError::scenario("server.port", "too large"))?;
    let endpoint = o
        .get("endpoint")
        .and_then(Value::as_str)
        .ok_or_else(|| FloodError::scenario("server.endpoint", "must be a string"))?;
    let path = match o.get("path") {
        Some(Value::String(p)) if p.starts_with('/') => p.clone(),
        Some(_) => return Err(FloodError::scenario("server.path", "must be a path string")),
        None => endpoint
            .strip_suffix("1/")
            .filter(|p| p.ends_with('/'))
            .unwrap_or(endpoint)
            .to_owned(),
    };
    Ok(Server {
        host: host.to_owned(),
        port,
        endpoint: endpoint.to_owned(),
        path,
        metadata: o.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

fn parse_phase(
    name: &str,
    raw: &Value,
    server: &Server,
    sessions: &HashMap<String, Arc<Session>>,
    dir: &Path,
) -> Result<Phase, FloodError> {
    let path = format!("phases.{name}");
    let o = obj(raw, &path)?;
    let metadata = o.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let mut layers = Layers::new();
    layers.add_object(&metadata);
    layers.add_object(&server.metadata);
    let field = |k: &str| o.get(k).map(|v| substitute(v, &layers));
    let users = uint(field("users").as_ref(), &format!("{path}.users"))?;
    let start_time = uint(field("start_time").as_ref(), &format!("{path}.start_time"))?;
    let spawn_duration = uint(
        field("spawn_duration").as_ref(),
        &format!("{path}.spawn_duration"),
    )?;
    let test_interval = opt_uint(
        field("test_interval").as_ref(),
        &format!("{path}.test_interval"),
    )?;
    let timeout = opt_uint(field("timeout").as_ref(), &format!("{path}.timeout"))?;
    let user_sessions: Vec<String> = match field("user_sessions") {
        Some(Value::Array(a)) => a.iter().map(|s| s.as_str().map(str::to_owned)).collect(),
        _ => None,
    }
    .ok_or_else(|| {
        FloodError::scenario(
            &format!("{path}.user_sessions"),
            "must be an array of names",
        )
    })?;
    let mut total = 0.0;
    for s in &user_sessions {
        let sess = sessions.get(s).ok_or_else(|| {
            FloodError::scenario(
                &format!("{path}.user_sessions"),
                format!("unknown session {s}"),
            )
        })?;
        if users > 0 && parse_session_transport(sess).is_none() {
            let names = if sess.protocol.is_modern() {
                "websocket or polling"
            } else {
                "websocket or xhr-polling"
            };
            return Err(FloodError::scenario(
                &format!("sessions.{s}.transport"),
                format!("{:?} is not {names} (used by phase {name})", sess.transport),
            ));
        }
        total += sess.weight.max(0.0);
    }
    if users > 0 && total <= 0.0 {
        return Err(FloodError::scenario(
            &format!("{path}.user_sessions"),
            "all session weights are 0 (the original hangs here)",
        ));
    }
    let goal_raw = o.get("goal").cloned().unwrap_or_else(|| json!([]));
    let goal = match o.get("goal") {
        None | Some(Value::Null) => json!({}),
        Some(Value::String(file)) => {
            let p = dir.join(file);
            let text = std::fs::read_to_string(&p).map_err(|e| {
                FloodError::scenario(&format!("{path}.goal"), format!("{}: {e}", p.display()))
            })?;
            let g: Value = serde_json::from_str(&text).map_err(|e| {
                FloodError::scenario(&format!("{path}.goal"), format!("{}: {e}", p.display()))
            })?;
            substitute_with(&g, &layers, KEEP_KEYS)
        }
        Some(g @ Value::Object(_)) => substitute_with(g, &layers, KEEP_KEYS),
        Some(_) => {
            return Err(FloodError::scenario(
                &format!("{path}.goal"),
                "must be an object or a file name",
            ));
        }
    };
    Ok(Phase {
        name: name.to_owned(),
        users,
        user_sessions,
        start_time,
        spawn_duration,
        goal,
        goal_raw,
        test_interval,
        timeout,
        metadata,
    })
}

/// Schema keywords left alone by goal substitution.
const KEEP_KEYS: &[&str] = &["$schema", "$ref", "$id"];

/// The transport named `s`, if flood supports it.
pub fn parse_transport(s: &str) -> Option<Transport> {
    match s {
        "websocket" => Some(Transport::WebSocket),
        "xhr-polling" => Some(Transport::XhrPolling),
        _ => None,
    }
}

/// The transport of `s`: `websocket` or `xhr-polling`, and for the modern protocols also
/// `polling` (Engine.IO's name for the same thing).
pub fn parse_session_transport(s: &Session) -> Option<Transport> {
    match (s.transport.as_str(), s.protocol.is_modern()) {
        ("polling", true) => Some(Transport::XhrPolling),
        (t, _) => parse_transport(t),
    }
}

struct RawSession<'a> {
    extends: Vec<&'a str>,
    weight: f64,
    transport: &'a str,
    protocol: Option<Protocol>,
    metadata: &'a Value,
    actions: Acts,
}

fn parse_sessions(v: &Value) -> Result<HashMap<String, Arc<Session>>, FloodError> {
    let o = obj(v, "sessions")?;
    let empty = Value::Object(serde_json::Map::new());
    let mut raw: HashMap<&str, RawSession<'_>> = HashMap::new();
    for (name, s) in o {
        let path = format!("sessions.{name}");
        let so = obj(s, &path)?;
        let extends = match so.get("extends") {
            None => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(Value::as_str)
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| FloodError::scenario(&format!("{path}.extends"), "names only"))?,
            Some(_) => return Err(FloodError::scenario(&format!("{path}.extends"), "array")),
        };
        let actions = match so.get("do") {
            Some(d) => compile_list(d, &format!("{path}.do"))?,
            None => Arc::from(Vec::new()),
        };
        let mut unknown = Vec::new();
        unknown_names(&actions, &mut unknown);
        for u in unknown {
            tracing::warn!("{path}: unknown action {u:?} (stops the user when it runs)");
        }
        let protocol = match so.get("protocol") {
            None => None,
            Some(p) => Some(p.as_str().and_then(Protocol::parse).ok_or_else(|| {
                FloodError::scenario(
                    &format!("{path}.protocol"),
                    format!("{p} is not \"0.9\", \"sio5\" or \"sio4\""),
                )
            })?),
        };
        raw.insert(
            name,
            RawSession {
                extends,
                weight: so.get("weight").and_then(Value::as_f64).unwrap_or(0.0),
                transport: so.get("transport").and_then(Value::as_str).unwrap_or(""),
                protocol,
                metadata: so.get("metadata").unwrap_or(&empty),
                actions,
            },
        );
    }
    let graph: HashMap<&str, Vec<&str>> =
        raw.iter().map(|(k, r)| (*k, r.extends.clone())).collect();
    let mut out = HashMap::new();
    for name in o.keys() {
        let order = closure_order(name, &graph)?;
        let mut actions = Vec::new();
        let mut metadata = own_keys(name, &raw[name.as_str()]);
        push_object(&mut metadata, raw[name.as_str()].metadata);
        for member in &order {
            let r = &raw[member];
            actions.extend(r.actions.iter().cloned());
            metadata.extend(own_keys(member, r));
            push_object(&mut metadata, r.metadata);
        }
        let r = &raw[name.as_str()];
        let protocol = r
            .protocol
            .or_else(|| order.iter().find_map(|m| raw[m].protocol))
            .unwrap_or_default();
        out.insert(
            name.clone(),
            Arc::new(Session {
                name: name.clone(),
                extends: r.extends.iter().map(|s| (*s).to_owned()).collect(),
                weight: r.weight,
                transport: r.transport.to_owned(),
                protocol,
                actions: Arc::from(actions),
                metadata,
            }),
        );
    }
    Ok(out)
}

fn own_keys(name: &str, r: &RawSession<'_>) -> Vec<(String, Value)> {
    vec![
        ("session.name".to_owned(), json!(name)),
        ("session.base_sessions".to_owned(), json!(r.extends)),
        ("session.transport".to_owned(), json!(r.transport)),
        ("session.weight".to_owned(), json!(r.weight)),
    ]
}

fn push_object(out: &mut Vec<(String, Value)>, v: &Value) {
    if let Value::Object(m) = v {
        out.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
}

impl Scenario {
    /// The shared metadata base of users of `phase` following `session`. Precedence (first match
    /// wins) follows the guide, not the original code (FLOOD.md 14.2): session (with inheritance
    /// shadowing as in 3.4.1), then phase built-ins and metadata, then server built-ins and
    /// metadata. Run-time entries (`def`, handshake results) go in front of all of these.
    pub fn base_meta(&self, phase: &Phase, session: &Session) -> Layers {
        let mut l = Layers::new();
        for (k, v) in &session.metadata {
            l.add(k.clone(), v.clone());
        }
        l.add("phase.name", json!(phase.name));
        l.add("phase.users", json!(phase.users));
        l.add("phase.user_sessions", json!(phase.user_sessions));
        l.add("phase.start_time", json!(phase.start_time));
        l.add("phase.spawn_duration", json!(phase.spawn_duration));
        l.add(
            "phase.test_interval",
            json!(phase.test_interval.map_or(-1, |t| t as i64)),
        );
        l.add(
            "phase.timeout",
            json!(phase.timeout.map_or(-1, |t| t as i64)),
        );
        l.add("phase.goal", phase.goal_raw.clone());
        l.add_object(&phase.metadata);
        let s = &self.server;
        l.add(
            "server.url",
            json!(format!("{}:{}{}", s.host, s.port, s.endpoint)),
        );
        l.add("server.host", json!(s.host));
        l.add("server.port", json!(s.port));
        l.add("server.endpoint", json!(s.endpoint));
        l.add_object(&s.metadata);
        l
    }
}
