//! The registered names, the `hive` binary and `docs/hooks.md` agree: every hook and action
//! dispatcher name of the registry (`hive::hooks::registry`) is accepted by `hive check-config`
//! (the real binary, on a generated config using that name with valid args) and is documented in
//! `docs/hooks.md` as a heading "### `name`"; every such heading names a registered name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use hive::config::{ActionName, ConnectorName, HookName, StateManagerName};
use hive::hooks::registry::{dispatcher_ctors, hook_ctors};
use serde_json::{Value, json};

/// The HTTP and TCP pools of the generated configs (never connected: check-config does no
/// network checks).
const HTTP_POOL: &str = "web";
const TCP_POOL: &str = "backend";

/// Every hook name of the registry.
fn hook_names() -> Vec<&'static str> {
    hook_ctors().into_iter().map(|(n, _)| n).collect()
}

/// Every action dispatcher name of the registry.
fn action_names() -> Vec<&'static str> {
    dispatcher_ctors().into_iter().map(|(n, _)| n).collect()
}

/// Descriptor args the constructor of hook `h` accepts. Exhaustive: a new hook does not compile
/// here until it has args to be tested with.
fn hook_args(h: HookName) -> Value {
    use HookName as H;
    match h {
        H::UtilsEcho => json!({"name": "hello", "args": ["world"]}),
        H::UtilsConsoleDump => json!("dump:"),
        H::UtilsDispatch | H::UtilsAck => Value::Null,
        H::PubsubSubscribe | H::PubsubUnsubscribe | H::PubsubResubscribe => json!("public"),
        H::PubsubPublish => json!({"cids": {"rooms": "main"}, "privilege": "public"}),
        H::HpGet | H::HpPut | H::HpPost => json!({"connector": HTTP_POOL, "endpoint": "/x"}),
        H::CpGet | H::CpPut | H::CpPost => json!({"connector": TCP_POOL, "endpoint": "/x"}),
    }
}

/// Descriptor args the constructor of dispatcher `a` accepts (exhaustive, as [`hook_args`]).
fn action_args(a: ActionName) -> Value {
    use ActionName as A;
    match a {
        A::Stop
        | A::Error
        | A::SendEvent
        | A::SendMessage
        | A::SendJson
        | A::SendAck
        | A::UpdateState
        | A::Dispatch
        | A::AddHooks
        | A::RemoveHooks
        | A::StartConnectors
        | A::StopConnectors => Value::Null,
        A::PubsubPublish
        | A::PubsubPublishRaw
        | A::PubsubSubscribe
        | A::PubsubUnsubscribe
        | A::PubsubResubscribe => json!("private"),
    }
}

/// A complete config whose `clients.<table>.e` is the one descriptor `{<key>: name, args}`.
fn config_with(table: &str, key: &str, name: &str, args: Value) -> Value {
    let mut doc = json!({
        "hive": {"port": 0, "allowed_origins": [null], "graceful_termination_timeout": 100,
                 "max_client_slots": 10},
        "clients": {"state": {"state_manager": StateManagerName::Local.name()}},
        "connectors": {"pools": {
            HTTP_POOL: {"connector": ConnectorName::Http.name(),
                        "args": {"base_url": "http://127.0.0.1:8081"}},
            TCP_POOL: {"connector": ConnectorName::Tcp.name(),
                       "args": {"port": 0, "restart_timeout": 1000}}}},
        "pubsub": {"channels": {"rooms": {"privilege": "public", "timeout": 0}}},
        "api": {"port": 0, "hash": "abcde12345"}
    });
    doc["clients"][table] = json!({"e": [{key: name, "args": args}]});
    doc
}

/// Run `hive check-config <file>` (without the caller's `HIVE_` overrides): (exit code, stdout).
fn check_config(file: &Path) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hive"));
    cmd.arg("check-config").arg(file);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("HIVE_")) {
        cmd.env_remove(k);
    }
    let out = cmd.output().expect("run the hive binary");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), stdout)
}

fn write(dir: &Path, stem: &str, doc: &Value) -> PathBuf {
    let p = dir.join(format!("{stem}.json"));
    std::fs::write(&p, serde_json::to_string_pretty(doc).unwrap()).unwrap();
    p
}

#[test]
fn check_config_accepts_every_registered_name() {
    let (hooks, actions) = (hook_names(), action_names());
    assert!(
        hooks.len() >= 13 && actions.len() >= 17,
        "{hooks:?} {actions:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut cases = Vec::new();
    for n in &hooks {
        let h = HookName::from_name(n).expect("a registry name parses");
        cases.push(("hooks", "hook", *n, hook_args(h)));
    }
    for n in &actions {
        let a = ActionName::from_name(n).expect("a registry name parses");
        cases.push(("actions", "action", *n, action_args(a)));
    }
    let mut failures = Vec::new();
    for (table, key, name, args) in cases {
        let file = write(dir.path(), name, &config_with(table, key, name, args));
        let (code, out) = check_config(&file);
        if code != 0 || !out.starts_with("config OK: ") {
            failures.push(format!("{name}: exit {code}: {out}"));
        }
    }
    assert!(
        failures.is_empty(),
        "check-config rejected:\n{}",
        failures.join("\n")
    );
}

/// The check discriminates: a name the registry does not know is rejected, with its path.
#[test]
fn check_config_rejects_unregistered_names() {
    let dir = tempfile::tempdir().unwrap();
    for (table, key, name, what) in [
        ("hooks", "hook", "utils.nope", "hook"),
        ("actions", "action", "action.nope", "action"),
        ("hooks", "hook", "action.send_event", "hook"),
    ] {
        let file = write(
            dir.path(),
            name,
            &config_with(table, key, name, Value::Null),
        );
        let (code, out) = check_config(&file);
        assert_eq!(code, 2, "{name}: {out}");
        assert_eq!(
            out.trim_end(),
            format!("clients.{table}.e[0].{key}: unknown {what} \"{name}\"")
        );
    }
}

/// The "### `name`" headings of docs/hooks.md, in order.
fn doc_headings() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/hooks.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("### `") else {
            continue;
        };
        let name = rest.trim_end().strip_suffix('`');
        match name {
            Some(n) if !n.is_empty() && !n.contains('`') => out.push(n.to_string()),
            _ => panic!("docs/hooks.md: a name heading is exactly \"### `name`\", got {line:?}"),
        }
    }
    out
}

#[test]
fn docs_document_every_registered_name_and_only_those() {
    let headings = doc_headings();
    let documented: BTreeSet<&str> = headings.iter().map(String::as_str).collect();
    assert_eq!(
        documented.len(),
        headings.len(),
        "a name is documented twice in docs/hooks.md: {headings:?}"
    );
    let missing: Vec<&str> = hook_names()
        .into_iter()
        .chain(action_names())
        .filter(|n| !documented.contains(n))
        .collect();
    assert!(
        missing.is_empty(),
        "registered but without a \"### `name`\" heading in docs/hooks.md: {missing:?}"
    );
    // The other registered names (state managers, connectors) may be documented there too.
    let registered: BTreeSet<&str> = hook_names()
        .into_iter()
        .chain(action_names())
        .chain(StateManagerName::NAMES.iter().copied())
        .chain(ConnectorName::NAMES.iter().copied())
        .collect();
    let unknown: Vec<&str> = documented
        .iter()
        .copied()
        .filter(|n| !registered.contains(n))
        .collect();
    assert!(
        unknown.is_empty(),
        "docs/hooks.md documents names that are not registered: {unknown:?}"
    );
}
