//! Configuration loading and validation (HIVE.md section 2): the seed's chat config, merged files,
//! section files, `HIVE_` environment overrides, collected errors with dotted paths, warnings.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use hive::cli::check_config;
use hive::config::{self, ConfigErrors, from_value, load_with_env};
use serde_json::{Value, json};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn paths(e: &ConfigErrors) -> Vec<&str> {
    e.0.iter().map(|e| e.path.as_str()).collect()
}

/// A minimal valid document: only the required sections and keys.
fn minimal() -> Value {
    json!({
        "hive": {"port": 0, "allowed_origins": [null], "graceful_termination_timeout": 100,
                 "max_client_slots": 10},
        "clients": {"state": {"state_manager": "sm.local"}},
        "api": {"port": 0, "hash": "abcde12345"}
    })
}

fn write(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, serde_json::to_string_pretty(v).unwrap()).unwrap();
    p
}

/// Seed walkthrough: the chat config fragments, assembled verbatim, validate (with `cp.*` hooks and
/// no `rent_timeout`, `socketio`, `monitor` or `log`).
#[test]
fn seed_chat_config_validates_verbatim() {
    let l = load_with_env(&[fixture("tests/fixtures/config/seed.json")], &[]).unwrap();
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let c = &l.config;
    assert_eq!(c.hive.port, 8080);
    assert_eq!(
        c.hive.allowed_origins,
        [Some("null".to_string()), Some("ws://localhost".to_string())]
    );
    assert!(c.hive.direct_websocket);
    assert_eq!(c.clients.state.state_manager, "sm.redis");
    assert_eq!(
        c.clients.state.initial_value,
        json!({"nick": null, "rooms": []})
    );
    let pools: Vec<&String> = c.connectors.pools.iter().map(|(k, _)| k).collect();
    assert_eq!(pools, ["database", "backend"], "pools keep file order");
    assert_eq!(c.connectors.rent_timeout, 5000);
    let hooks: Vec<&String> = c.clients.hooks.iter().map(|(k, _)| k).collect();
    assert_eq!(
        hooks,
        [
            "on_disconnect",
            "authorize",
            "join_rooms",
            "publish_msg",
            "leave_rooms"
        ]
    );
    assert_eq!(c.clients.hooks.get("authorize").unwrap()[0].hook, "cp.post");
    assert_eq!(c.pubsub.channels.get("rooms").unwrap().timeout, 1000);
    assert_eq!((c.api.port, c.api.hash.as_str()), (1235, "abcde12345"));
    assert_eq!(
        (
            c.monitor.port,
            c.socketio.heartbeat_timeout,
            c.log.dir.as_str()
        ),
        (1234, 15000, "log/hive/")
    );
}

/// `hive check-config FILE`: exit 0 and `config OK: <files>` on the seed.
#[test]
fn check_config_accepts_seed_and_shipped_configs() {
    let seed = fixture("tests/fixtures/config/seed.json");
    let (code, text) = check_config(std::slice::from_ref(&seed), &[]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(text, format!("config OK: {}", seed.display()));
    for f in ["config/hive.json", "config/test.json"] {
        let (code, text) = check_config(&[fixture(f)], &[]);
        assert_eq!((code, text.lines().count()), (0, 1), "{f}: {text}");
    }
    let test = load_with_env(&[fixture("config/test.json")], &[])
        .unwrap()
        .config;
    assert_eq!(
        (test.hive.port, test.api.port, test.monitor.port),
        (0, 0, 0)
    );
}

/// Validation reports every problem at once, each with its dotted path; check-config exits 2.
#[test]
fn three_errors_are_all_reported_with_paths() {
    let dir = tempfile::tempdir().unwrap();
    let mut doc = minimal();
    doc["socketio"] = json!({"heartbeat_timeout": "abc"});
    doc["clients"]["hooks"] = json!({"authorize": [{"hook": "cp.pots", "args": null}]});
    doc["api"]["hash"] = json!("short");
    let f = write(dir.path(), "bad.json", &doc);
    let (code, text) = check_config(&[f], &[]);
    assert_eq!(code, 2);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            r#"socketio.heartbeat_timeout: expected an integer >= 1000, got "abc""#,
            r#"clients.hooks.authorize[0].hook: unknown hook "cp.pots""#,
            r#"api.hash: expected a string of at least 8 characters, got "short""#,
        ]
    );
}

/// check-config also builds the hooks and dispatchers, so args only their constructor checks are
/// errors too, with their paths.
#[test]
fn check_config_builds_hooks_with_their_constructors() {
    let dir = tempfile::tempdir().unwrap();
    let mut doc = minimal();
    doc["clients"]["hooks"] = json!({"echo": [{"hook": "utils.echo", "args": 5}]});
    doc["clients"]["actions"] =
        json!({"join": [{"action": "action.pubsub.subscribe", "args": "secret"}]});
    let f = write(dir.path(), "bad_args.json", &doc);
    assert!(
        from_value(doc).is_ok(),
        "the schema alone accepts these args"
    );
    let (code, text) = check_config(&[f], &[]);
    assert_eq!(code, 2);
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            "clients.hooks.echo[0]: utils.echo takes null or an event object, got 5",
            "clients.actions.join[0]: Unknown Hive Pub-Sub privilege level: secret",
        ]
    );
}

/// Missing required sections and keys are all listed.
#[test]
fn missing_required_keys_are_collected() {
    let e = from_value(json!({"hive": {"allowed_origins": []}, "clients": {}})).unwrap_err();
    assert_eq!(
        paths(&e),
        [
            "api",
            "hive.port",
            "hive.allowed_origins",
            "hive.graceful_termination_timeout",
            "hive.max_client_slots",
            "clients.state"
        ]
    );
    assert!(e.0[2].message.contains("at least one item"), "{}", e.0[2]);
    let h: hive::HiveError = e.into();
    assert_eq!(h.code(), "invalid_config");
}

/// Omitted sections and keys take the documented defaults (HIVE.md 2.2).
#[test]
fn omitted_sections_take_defaults() {
    let c = from_value(minimal()).unwrap().config;
    assert_eq!(c.hive.acceptors, 100);
    assert_eq!(c.hive.name, "hive");
    assert!(!c.hive.direct_websocket);
    assert_eq!(c.hive.websocket_ping_timeout, 500);
    assert_eq!(c.hive.io_events_per_busy_tick, 61);
    assert_eq!(
        c.socketio.transports,
        ["websocket", "flashsocket", "xhr-polling"]
    );
    assert_eq!(
        (c.connectors.rent_timeout, c.connectors.backoff_num),
        (5000, 1)
    );
    assert!(c.connectors.pools.is_empty() && c.pubsub.channels.is_empty());
    assert_eq!(c.monitor.hash, "12345abcde");
    assert_eq!(c.log.console_level, "info");
}

/// `HIVE_<SECTION>__<KEY>` overrides single keys, case-insensitively, parsing JSON values.
#[test]
fn env_overrides_single_keys() {
    let seed = fixture("tests/fixtures/config/seed.json");
    let vars = env(&[
        ("HIVE_HIVE__PORT", "9000"),
        ("HIVE_SOCKETIO__POLL_TIMEOUT", "0"),
        (
            "HIVE_CONNECTORS__POOLS__BACKEND__ARGS__BASE_URL",
            "http://127.0.0.1:9999",
        ),
        ("HIVE_API__HASH", "87654321"),
        ("HIVE_hive__allowed_origins", r#"[null, "http://x"]"#),
        ("UNRELATED", "1"),
    ]);
    let l = load_with_env(std::slice::from_ref(&seed), &vars).unwrap();
    let c = &l.config;
    assert_eq!(c.hive.port, 9000);
    assert_eq!(c.socketio.poll_timeout, 0);
    assert_eq!(
        c.api.hash, "87654321",
        "stays a string where the file has one"
    );
    assert_eq!(c.hive.allowed_origins, [None, Some("http://x".to_string())]);
    let backend = c.connectors.pools.get("backend").unwrap();
    assert_eq!(backend.args["base_url"], "http://127.0.0.1:9999");
    assert_eq!(backend.args["max_connections"], 16, "siblings kept");
    let pools: Vec<&String> = c.connectors.pools.iter().map(|(k, _)| k).collect();
    assert_eq!(pools, ["database", "backend"]);

    let e = load_with_env(
        &[seed],
        &env(&[("HIVE_SOCKETIO__HEARTBEAT_TIMEOUT", "abc")]),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"socketio.heartbeat_timeout: expected an integer >= 1000, got "abc""#
    );
}

/// Files merge in order; sections may live in separate files named relative to the naming file.
#[test]
fn split_section_files_and_merge_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut main = minimal();
    let clients = main["clients"].take();
    main["clients"] = json!("./parts/clients.json");
    main["connectors"] = json!("parts/connectors.json");
    write(dir.path(), "parts/clients.json", &clients);
    write(
        dir.path(),
        "parts/connectors.json",
        &json!({"rent_timeout": 7, "pools": {"b": {"connector": "connector.tcp",
                 "args": {"port": 0, "restart_timeout": 1}}}}),
    );
    let main_file = write(dir.path(), "main.json", &main);
    let over = write(
        dir.path(),
        "other/override.json",
        &json!({"hive": {"port": 4242}, "connectors": {"pools": {"a": {"connector": "connector.http",
                 "args": {"base_url": "http://h"}}}}}),
    );
    let l = load_with_env(&[main_file, over], &[]).unwrap();
    let c = &l.config;
    assert_eq!(c.hive.port, 4242);
    assert_eq!(
        c.hive.max_client_slots, 10,
        "other keys of an overridden section survive"
    );
    assert_eq!(c.clients.state.state_manager, "sm.local");
    assert_eq!(c.connectors.rent_timeout, 7);
    let pools: Vec<&String> = c.connectors.pools.iter().map(|(k, _)| k).collect();
    assert_eq!(pools, ["b", "a"]);
}

/// A missing file (main or section file) is an error, never silently ignored.
#[test]
fn missing_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let nope = dir.path().join("nope.json");
    let e = load_with_env(std::slice::from_ref(&nope), &[]).unwrap_err();
    assert_eq!(e.to_string(), format!("{}: file not found", nope.display()));

    let mut main = minimal();
    main["clients"] = json!("clients.json");
    let f = write(dir.path(), "main.json", &main);
    let e = load_with_env(&[f], &[]).unwrap_err();
    assert_eq!(paths(&e), ["clients"]);
    assert!(
        e.0[0]
            .message
            .contains(&dir.path().join("clients.json").display().to_string()),
        "{e}"
    );
    assert!(e.0[0].message.contains("file not found"), "{e}");

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"hive\": ").unwrap();
    let e = load_with_env(&[bad], &[]).unwrap_err();
    assert!(e.0[0].message.starts_with("invalid JSON"), "{e}");
}

/// Unknown keys and sections are warnings with their path, not errors.
#[test]
fn unknown_keys_are_warnings() {
    let mut doc = minimal();
    doc["hive"]["colour"] = json!("blue");
    doc["clients"]["hooks"] = json!({"x": [{"hook": "utils.echo", "args": null, "extra": 1}]});
    doc["plugins"] = json!("plugins/");
    let l = from_value(doc).unwrap();
    assert_eq!(
        l.warnings,
        [
            "hive.colour: unknown key (ignored)",
            "clients.hooks.x[0].extra: unknown key (ignored)",
            "plugins: unknown section (ignored)"
        ]
    );
    let dir = tempfile::tempdir().unwrap();
    let mut doc = minimal();
    doc["log"] = json!({"colour": 1});
    let f = write(dir.path(), "w.json", &doc);
    let (code, text) = check_config(std::slice::from_ref(&f), &[]);
    assert_eq!(code, 0);
    assert_eq!(
        text,
        format!(
            "config OK: {}\nwarning: log.colour: unknown key (ignored)",
            f.display()
        )
    );
}

/// `cp.*` are aliases of `hp.*` (HIVE.md 1.4) and get the same integrity checks (HIVE.md 2.1).
#[test]
fn protocol_hooks_and_aliases_are_checked() {
    let mut doc = minimal();
    doc["connectors"] = json!({"pools": {
        "web": {"connector": "connector.http", "size": 1, "overflow": 0, "args": {"base_url": "http://localhost:8081"}},
        "db": {"connector": "connector.redis", "args": {"host": "localhost", "port": 6379, "database": 0,
               "password": "", "restart_timeout": 0, "reconnect_timeout": 0}}}});
    let mut hooks = serde_json::Map::new();
    for h in ["hp.get", "hp.put", "hp.post", "cp.get", "cp.put", "cp.post"] {
        hooks.insert(
            h.to_string(),
            json!([{"hook": h, "args": {"connector": "web", "endpoint": "/x"}}]),
        );
    }
    doc["clients"]["hooks"] = Value::Object(hooks);
    assert!(from_value(doc.clone()).is_ok());
    for h in config::HOOKS.iter().filter(|h| h.starts_with("cp.")) {
        assert!(config::HOOKS.contains(&h.replace("cp.", "hp.").as_str()));
    }

    doc["clients"]["hooks"] = json!({"e": [
        {"hook": "cp.post", "args": {"connector": "db", "endpoint": "/x"}},
        {"hook": "hp.get", "args": {"connector": "nope", "endpoint": 5}},
        {"hook": "hp.put"}]});
    doc["clients"]["state"] =
        json!({"state_manager": "sm.redis", "args": {"connector": "web", "expiration_timeout": 0}});
    doc["clients"]["actions"] = json!({"a": [{"action": "action.nope"}]});
    let e = from_value(doc).unwrap_err();
    let got: Vec<String> = e.0.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "clients.state.args.connector: connector \"web\" is of invalid type connector.http: expected connector.redis",
            "clients.state.args.expiration_timeout: expected an integer >= 1, got 0",
            "clients.actions.a[0].action: unknown action \"action.nope\"",
            "clients.hooks.e[0].args.connector: connector \"db\" is of invalid type connector.redis: expected connector.http or connector.tcp",
            "clients.hooks.e[1].args.connector: undefined connector \"nope\" (no such pool in connectors.pools)",
            "clients.hooks.e[1].args.endpoint: expected a string, got 5",
            "clients.hooks.e[2].args: missing required key",
        ]
    );
}

/// Pool descriptors: known connector, integer sizes, args schema per connector type (HIVE.md 2.11).
#[test]
fn pool_descriptors_are_checked() {
    let mut doc = minimal();
    doc["connectors"] = json!({"rent_timeout": 0, "pools": {
        "a": {"connector": "connector.http", "args": {"base_url": "https://h"}},
        "b": {"connector": "connector.http", "args": {"base_url": "http://h:99999"}},
        "c": {"connector": "connector.redis", "size": -1, "args": {"port": 6379}},
        "d": {"connector": "connector.ftp", "args": null},
        "e": {"connector": "connector.tcp"}}});
    let e = from_value(doc).unwrap_err();
    assert_eq!(
        paths(&e),
        [
            "connectors.rent_timeout",
            "connectors.pools.a.args.base_url",
            "connectors.pools.b.args.base_url",
            "connectors.pools.c.size",
            "connectors.pools.c.args.host",
            "connectors.pools.c.args.database",
            "connectors.pools.c.args.password",
            "connectors.pools.c.args.restart_timeout",
            "connectors.pools.c.args.reconnect_timeout",
            "connectors.pools.d.connector",
            "connectors.pools.e.args",
        ]
    );
    assert_eq!(e.0[9].message, "unknown connector \"connector.ftp\"");
}

/// Types, ranges, enums and uniqueness of the flat sections (HIVE.md 2.4-2.10).
#[test]
fn flat_section_types_ranges_and_enums() {
    let mut doc = minimal();
    doc["hive"]["port"] = json!(70000);
    doc["hive"]["allowed_origins"] = json!(["a", 5, "a"]);
    doc["hive"]["direct_websocket"] = json!("yes");
    doc["hive"]["io_events_per_busy_tick"] = json!(5000);
    doc["socketio"] =
        json!({"transports": ["websocket", "carrier-pigeon", "websocket"], "poll_timeout": 0});
    doc["pubsub"] = json!({"channels": {"rooms": {"privilege": "secret", "timeout": -1}, "a.b": {"privilege": "public", "timeout": 0}}});
    doc["log"] = json!({"console_level": "verbose"});
    doc["monitor"] = json!({"hash": 12345678});
    let e = from_value(doc).unwrap_err();
    let got: Vec<String> = e.0.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "hive.port: expected a port number (0..65535), got 70000",
            "hive.allowed_origins[1]: expected a string or null, got 5",
            "hive.allowed_origins[2]: duplicate item \"a\"",
            "hive.direct_websocket: expected true or false, got \"yes\"",
            "hive.io_events_per_busy_tick: expected an integer between 0 and 1024, got 5000",
            "socketio.transports[1]: expected one of \"xhr-polling\", \"websocket\", \"flashsocket\", got \"carrier-pigeon\"",
            "socketio.transports[2]: duplicate item \"websocket\"",
            "pubsub.channels.rooms.privilege: expected one of \"public\", \"private\", got \"secret\"",
            "pubsub.channels.rooms.timeout: expected an integer >= 0, got -1",
            "pubsub.channels.a.b: a channel prefix must be non-empty and contain no '.'",
            "monitor.hash: expected a string of at least 8 characters, got 12345678",
            "log.console_level: expected one of \"debug\", \"info\", \"notice\", \"warning\", \"error\", \"critical\", \"alert\", \"emergency\", \"none\", got \"verbose\"",
        ]
    );
}

/// Every value of the seed (leaves and objects) replaced, one at a time, by each of a set of
/// adversarial values: validation either accepts (and the typed config builds) or reports errors
/// with paths; it never falls through to a deserialization failure it missed (path "").
#[test]
fn validation_catches_everything_deserialization_rejects() {
    let text = std::fs::read_to_string(fixture("tests/fixtures/config/seed.json")).unwrap();
    let seed: Value = serde_json::from_str(&text).unwrap();
    let mut pointers = Vec::new();
    collect_pointers(&seed, String::new(), &mut pointers);
    let values = [
        json!(null),
        json!(true),
        json!(-1),
        json!(0),
        json!(1),
        json!(999),
        json!(70000),
        json!(4_294_967_296u64),
        json!(u64::MAX),
        json!(1.5),
        json!(""),
        json!("x"),
        json!("http://h:1"),
        json!("sm.redis"),
        json!("connector.http"),
        json!([]),
        json!([null]),
        json!(["x", "x"]),
        json!({}),
        json!({"a": 1}),
        json!({"hook": "utils.echo"}),
    ];
    let mut checked = 0;
    for p in &pointers {
        for v in &values {
            let mut doc = seed.clone();
            *doc.pointer_mut(p).unwrap() = v.clone();
            if let Err(e) = from_value(doc) {
                assert!(e.0.iter().all(|e| !e.path.is_empty()), "{p} = {v}: {e}");
            }
            checked += 1;
        }
    }
    assert!(checked > 1000, "{checked}");
}

fn collect_pointers(v: &Value, at: String, out: &mut Vec<String>) {
    if !at.is_empty() {
        out.push(at.clone());
    }
    match v {
        Value::Object(m) => m
            .iter()
            .for_each(|(k, x)| collect_pointers(x, format!("{at}/{k}"), out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| collect_pointers(x, format!("{at}/{i}"), out)),
        _ => {}
    }
}

/// Telemetry: the file sink writes `<log.dir>/hive.log`; a directory that cannot be created only
/// warns; a second init succeeds.
#[test]
fn telemetry_writes_hive_log_and_tolerates_bad_dir() {
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("logs");
    let mut log = hive::config::LogSection {
        dir: log_dir.display().to_string(),
        file_level: "notice".into(),
        console_level: "none".into(),
    };
    let g = hive::telemetry::init(&log, hive::telemetry::LogFormat::Text).unwrap();
    assert_eq!(
        g.log_file.as_deref(),
        Some(log_dir.join("hive.log").as_path())
    );
    tracing::info!(target: "hive::test", "telemetry marker 42");
    tracing::debug!(target: "hive::test", "below file level");
    let text = std::fs::read_to_string(log_dir.join("hive.log")).unwrap();
    assert!(text.contains("telemetry marker 42"), "{text}");
    assert!(!text.contains("below file level"), "{text}");

    let file = dir.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    log.dir = file.join("sub").display().to_string();
    let g = hive::telemetry::init(&log, hive::telemetry::LogFormat::Json).unwrap();
    assert!(g.log_file.is_none());
}

/// The `cluster` section (docs/cluster.md): absent means a single node; present, every key is
/// checked with its path, and the defaults are filled in.
#[test]
fn cluster_section_is_optional_and_checked() {
    assert!(from_value(minimal()).unwrap().config.cluster.is_none());
    let mut doc = minimal();
    doc["cluster"] = json!({"redis": "redis://127.0.0.1:6379/0"});
    let c = from_value(doc).unwrap().config.cluster.unwrap();
    assert_eq!(
        (c.shards, c.gone_after_ms, c.retention.max_len),
        (8, 10_000, 100_000)
    );
    assert!(c.name.is_none() && c.node.is_none() && c.advertise.is_none());
    let mut doc = minimal();
    doc["cluster"] = json!({"redis": ["127.0.0.1:7000", "127.0.0.1:7001"], "node": "a-1"});
    assert!(from_value(doc).is_ok());
    let mut doc = minimal();
    doc["cluster"] = json!({
        "redis": "http://nope",
        "node": "a b",
        "advertise": "nohost",
        "shards": 0,
        "retention": {"max_len": 1},
        "gone_after_ms": 5
    });
    let e = from_value(doc).unwrap_err();
    assert_eq!(
        paths(&e),
        [
            "cluster.redis",
            "cluster.node",
            "cluster.advertise",
            "cluster.shards",
            "cluster.retention.max_len",
            "cluster.gone_after_ms"
        ]
    );
    let mut doc = minimal();
    doc["cluster"] = json!({"redis": []});
    assert_eq!(paths(&from_value(doc).unwrap_err()), ["cluster.redis"]);
    let mut doc = minimal();
    doc["cluster"] = json!({});
    assert_eq!(paths(&from_value(doc).unwrap_err()), ["cluster.redis"]);
}
