//! The full Autobahn WebSocket test suite (PyPI `kosoku` 0.1.0) against Hive's echo endpoint
//! (`socketio.websocket_echo_path`): every case, compression (12.*, 13.*) included, with a summary
//! per group and every case that did not pass with its verdicts and its listed reason. The test
//! suite runs 1.* to 10.* (`tests/autobahn.rs`).
//!
//! Run: `cargo bench --bench autobahn [-- --parallel N]`; reports in `target/autobahn/full/`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]

#[path = "../tests/support/autobahn.rs"]
mod autobahn;
#[path = "../tests/common/mod.rs"]
mod common;

use common::{TestHive, root};
use serde_json::json;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let parallel = args
        .iter()
        .position(|a| a == "--parallel")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(2usize);
    let Some(kosoku) = autobahn::kosoku() else {
        std::process::exit(1);
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let hive = TestHive::start(json!({"socketio": {
            "websocket_echo_path": autobahn::ECHO_PATH,
            "max_frame_size": 20 * 1024 * 1024,
        }}))
        .await;
        let url = format!("ws://{}{}", hive.sio, autobahn::ECHO_PATH);
        let out = root().join("target/autobahn/full");
        let started = std::time::Instant::now();
        let verdicts =
            tokio::task::spawn_blocking(move || autobahn::run(&kosoku, &url, &[], parallel, &out))
                .await
                .unwrap();
        let (table, unlisted) = autobahn::summary(&verdicts);
        println!(
            "{} cases in {:.0} s (parallelism {parallel})\n{table}",
            verdicts.len(),
            started.elapsed().as_secs_f64()
        );
        let mut by_verdict = std::collections::BTreeMap::<(String, String), usize>::new();
        for v in verdicts.values() {
            *by_verdict
                .entry((v.behavior.clone(), v.behavior_close.clone()))
                .or_default() += 1;
        }
        println!("verdicts (behavior, close): {by_verdict:?}");
        for (pat, why) in autobahn::EXPECTED {
            println!("listed: {pat}: {why}");
        }
        for line in &unlisted {
            println!("{line}");
        }
        if !unlisted.is_empty() {
            std::process::exit(1);
        }
    });
}
