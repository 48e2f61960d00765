//! Whole-document validation: collects every error (with its dotted path) and every unknown-key
//! warning before anything is deserialized. Key tables follow HIVE.md 2.4-2.10; the descriptor
//! sections (`clients`, `connectors`, `pubsub`) are in [`super::descriptors`].

use serde_json::{Map, Value};

use super::ConfigError;
use super::descriptors;
use super::load::kind;
use super::names::{LOG_LEVELS, SECTIONS, TRANSPORTS};

/// What a key's value must be.
#[derive(Clone, Copy)]
pub(crate) enum Ty {
    /// An integer in `min..=max`.
    Int(i128, i128),
    /// A string of at least this many characters.
    Str(usize),
    /// `true`/`false`.
    Bool,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// Anything (free-form args).
    Any,
    /// A hand-written check.
    Custom(fn(&mut Checker<'_>, &str, &Value)),
}

/// One key of an object schema.
pub(crate) struct Field {
    /// Key name.
    pub(crate) name: &'static str,
    /// Expected value.
    pub(crate) ty: Ty,
    /// Must be present.
    pub(crate) required: bool,
}

/// A required key.
pub(crate) const fn req(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: true,
    }
}
/// An optional key (its default lives in `sections.rs`).
pub(crate) const fn opt(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: false,
    }
}

pub(crate) const U16: i128 = u16::MAX as i128;
pub(crate) const U32: i128 = u32::MAX as i128;
pub(crate) const U64: i128 = u64::MAX as i128;
/// A TCP port.
pub(crate) const PORT: Ty = Ty::Int(0, U16);

/// Collects errors and warnings while walking the document.
pub(crate) struct Checker<'a> {
    /// The whole document (integrity checks look up pools in it).
    pub(crate) root: &'a Value,
    /// Errors so far.
    pub(crate) errors: Vec<ConfigError>,
    /// Warnings so far.
    pub(crate) warnings: Vec<String>,
}

impl Checker<'_> {
    /// Record an error at `path`.
    pub(crate) fn err(&mut self, path: &str, msg: impl Into<String>) {
        self.errors.push(ConfigError::new(path, msg));
    }

    /// Check `v` against an object schema; returns the map when `v` is an object.
    pub(crate) fn object<'v>(
        &mut self,
        path: &str,
        v: &'v Value,
        fields: &[Field],
    ) -> Option<&'v Map<String, Value>> {
        let Some(map) = v.as_object() else {
            self.err(path, format!("expected an object, got {}", got(v)));
            return None;
        };
        for f in fields {
            let p = join(path, f.name);
            match map.get(f.name) {
                Some(x) => self.value(&p, x, f.ty),
                None if f.required => self.err(&p, "missing required key"),
                None => {}
            }
        }
        for k in map.keys() {
            if !fields.iter().any(|f| f.name == k) {
                self.warnings
                    .push(format!("{}: unknown key (ignored)", join(path, k)));
            }
        }
        Some(map)
    }

    /// Check one value.
    pub(crate) fn value(&mut self, path: &str, v: &Value, ty: Ty) {
        match ty {
            Ty::Int(min, max) => {
                let n = v
                    .as_i64()
                    .map(i128::from)
                    .or_else(|| v.as_u64().map(i128::from));
                if !matches!(n, Some(n) if n >= min && n <= max) {
                    self.err(
                        path,
                        format!("expected {}, got {}", int_text(min, max), got(v)),
                    );
                }
            }
            Ty::Str(min) => match v.as_str() {
                Some(s) if s.chars().count() >= min => {}
                _ => self.err(path, format!("expected {}, got {}", str_text(min), got(v))),
            },
            Ty::Bool => {
                if !v.is_boolean() {
                    self.err(path, format!("expected true or false, got {}", got(v)));
                }
            }
            Ty::OneOf(names) => {
                if !v.as_str().is_some_and(|s| names.contains(&s)) {
                    self.err(
                        path,
                        format!("expected one of {}, got {}", quoted(names), got(v)),
                    );
                }
            }
            Ty::Any => {}
            Ty::Custom(f) => f(self, path, v),
        }
    }

    /// Check a non-empty array of unique items, each checked by `item`.
    pub(crate) fn unique_array(
        &mut self,
        path: &str,
        v: &Value,
        non_empty: bool,
        item: impl Fn(&mut Self, &str, &Value),
    ) {
        let Some(items) = v.as_array() else {
            self.err(path, format!("expected an array, got {}", got(v)));
            return;
        };
        if non_empty && items.is_empty() {
            self.err(path, "expected at least one item, got []");
        }
        for (i, x) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            item(self, &p, x);
            if items[..i].contains(x) {
                self.err(&p, format!("duplicate item {}", got(x)));
            }
        }
    }
}

/// `a.b`, or `b` at the root.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// A short JSON rendering of an offending value.
pub(crate) fn got(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!(
            "{}... ({})",
            s.chars().take(57).collect::<String>(),
            kind(v)
        )
    } else {
        s
    }
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn int_text(min: i128, max: i128) -> String {
    if max == U16 && min == 0 {
        "a port number (0..65535)".into()
    } else if max >= U32 {
        format!("an integer >= {min}")
    } else {
        format!("an integer between {min} and {max}")
    }
}

fn str_text(min: usize) -> String {
    match min {
        0 => "a string".into(),
        1 => "a non-empty string".into(),
        n => format!("a string of at least {n} characters"),
    }
}

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
            "socketio" => {
                c.object("socketio", v, SOCKETIO);
            }
            "api" => {
                c.object("api", v, API);
            }
            "monitor" => {
                c.object("monitor", v, MONITOR);
            }
            "http" => {
                c.object("http", v, HTTP);
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
    opt("max_processes", Ty::Int(1, U64)),
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
];

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
];

const HTTP: &[Field] = &[
    opt("header_read_timeout", Ty::Int(1, U64)),
    opt("idle_timeout", Ty::Int(1, U64)),
    opt("max_header_size", Ty::Int(1024, U32)),
    opt("max_connections", Ty::Int(1, U32)),
    opt("drain_timeout", Ty::Int(0, U64)),
];

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
