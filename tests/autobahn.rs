//! WebSocket conformance: the Autobahn test cases 1.* to 10.* (there is no 8.*; framing, pings and pongs, reserved
//! bits, opcodes, fragmentation, UTF-8, close handling, limits and performance) run by PyPI
//! `kosoku` against Hive's echo endpoint (`socketio.websocket_echo_path`), which reads and writes
//! with the Socket.IO WebSocket transport's frame reader and the codec's writer. Every case passes
//! or is listed with its reason in `tests/support/autobahn.rs`. The full set (with 12.* and 13.*,
//! compression, listed as unimplemented) is `cargo bench --bench autobahn`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/autobahn.rs"]
mod autobahn;
mod common;

use common::{TestHive, root};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autobahn_cases_1_to_10_pass_or_are_listed() {
    let Some(kosoku) = autobahn::kosoku() else {
        return;
    };
    // 9.* sends messages of up to 16 MiB.
    let hive = TestHive::start(json!({"socketio": {
        "websocket_echo_path": autobahn::ECHO_PATH,
        "max_frame_size": 20 * 1024 * 1024,
    }}))
    .await;
    let url = format!("ws://{}{}", hive.sio, autobahn::ECHO_PATH);
    let out = root().join("target/autobahn/cases-1-10");
    let verdicts = tokio::task::spawn_blocking(move || {
        let include: Vec<String> = [1, 2, 3, 4, 5, 6, 7, 9, 10]
            .iter()
            .map(|g| format!("{g}.*"))
            .collect();
        let include: Vec<&str> = include.iter().map(String::as_str).collect();
        autobahn::run(&kosoku, &url, &include, 2, &out)
    })
    .await
    .unwrap();
    let (table, unlisted) = autobahn::summary(&verdicts);
    println!("{table}");
    assert!(
        verdicts.len() > 200,
        "kosoku ran only {} cases",
        verdicts.len()
    );
    assert!(
        unlisted.is_empty(),
        "{} case(s) failed and are not listed (reports in target/autobahn/cases-1-10):\n{}",
        unlisted.len(),
        unlisted.join("\n")
    );
}
