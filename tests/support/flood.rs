//! Flood fixtures shared by the flood tests (`tests/flood_hive.rs`, `tests/flood_reference.rs`,
//! `tests/flood_chat.rs`): the two-transport scenario of 50 users, scenario files, quiet runs.

// Each flood test uses some of these; the tests allow `unwrap`/`expect` at their roots.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};

use flood::{RunOptions, RunOutcome};
use serde_json::{Value, json};

/// 50 users against 127.0.0.1:`port`, 25 per transport (one phase each, so the split is exact),
/// every one running session `base`; the xhr phase judges `goal` every 250 ms for up to
/// `timeout_ms`.
pub fn fifty_users(port: u16, base: Value, timeout_ms: u64, goal: Value) -> Value {
    json!({
        "server": {"host": "127.0.0.1", "port": port, "endpoint": "/socket.io/1/"},
        "phases": {
            "ws": {"users": 25, "user_sessions": ["ws"], "start_time": 0, "spawn_duration": 500},
            "xhr": {"users": 25, "user_sessions": ["xhr"], "start_time": 0, "spawn_duration": 500,
                    "test_interval": 250, "timeout": timeout_ms, "goal": goal}
        },
        "sessions": {
            "base": base,
            "ws": {"extends": ["base"], "weight": 1, "transport": "websocket"},
            "xhr": {"extends": ["base"], "weight": 1, "transport": "xhr-polling"}
        }
    })
}

/// Write scenario `v` as `dir/name`; its path.
pub fn write(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(v).unwrap()).unwrap();
    p
}

/// The command line's defaults for `scenario`, without progress output.
pub fn quiet(scenario: PathBuf) -> RunOptions {
    RunOptions {
        quiet: true,
        ..RunOptions::new(scenario)
    }
}

/// The result file a run wrote, parsed.
pub fn result_file(out: &RunOutcome) -> Value {
    serde_json::from_str(&std::fs::read_to_string(&out.result_path).unwrap()).unwrap()
}
