//! The `hive` binary's command line: `check-config` on the seed chat config and on a config with
//! three errors (issue acceptance), and start-up failures with one clear line.

use std::process::Command;

fn hive() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hive"))
}

#[test]
fn check_config_accepts_the_seed_chat_config_verbatim() {
    let out = hive()
        .args(["check-config", "examples/chat/config/seed.json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("config OK"));
}

#[test]
fn check_config_reports_every_error_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.json");
    std::fs::write(
        &f,
        r#"{"hive":{"port":"abc","allowed_origins":[null],"graceful_termination_timeout":1,"max_client_slots":1},
            "socketio":{"heartbeat_timeout":"abc"},
            "clients":{"state":{"state_manager":"sm.nope"}},
            "api":{"port":1,"hash":"abcdefgh"}}"#,
    )
    .unwrap();
    let out = hive().arg("check-config").arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines.iter().any(|l| l.starts_with("hive.port: ")), "{text}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("socketio.heartbeat_timeout: ") && l.contains("\"abc\"")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("clients.state.state_manager: ") && l.contains("sm.nope")),
        "{text}"
    );
}

#[test]
fn a_missing_config_file_is_an_error() {
    let out = hive()
        .args(["--config", "no/such/file.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/file.json"));
}

#[test]
fn a_port_in_use_fails_start_up_with_one_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = hive()
        .args(["--config", "config/test.json"])
        .env("HIVE_HIVE__PORT", port.to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.starts_with("hive: "))
        .unwrap_or_default();
    assert!(
        line.contains(&format!("127.0.0.1:{port}")) && line.contains("hive.port"),
        "{err}"
    );
}
