//! Headless Chromium (playwright-core, `tests/e2e/chat.e2e.js`) drives the chat page against the
//! real Hive started with the chat configuration: two users talk in main and in a room of their
//! own, a taken nick is refused, pages close and the others see them leave. Variants: the Redis
//! config (private redis-server; afterwards Redis holds no session state), the local config, and
//! the Python backend. The seed walkthrough, "Let's chat!". And both client generations in one room
//! (`tests/e2e/chat_modern.e2e.js`): a 0.9 user and a socket.io-client 4 user (`?client=v4`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::demo::{self, DemoOptions, Ports, StateChoice, setup};
use super::harness::{free_port, repo_root, spawn_python_backend};
use super::redis::RedisServer;

/// One browser run at a time: the machine has 2 cores.
static BROWSER: Mutex<()> = Mutex::const_new(());

/// The test's output directory, `target/e2e`.
fn out_dir() -> PathBuf {
    repo_root().join("target/e2e")
}

/// Whether node, playwright-core and Chromium are here; under CI their absence fails.
fn browser_available() -> bool {
    let root = repo_root();
    let missing: Vec<&str> = [
        (
            root.join("node_modules/playwright-core/package.json"),
            "node_modules/playwright-core",
        ),
        (PathBuf::from("/usr/bin/chromium"), "/usr/bin/chromium"),
    ]
    .iter()
    .filter(|(path, _)| !path.exists())
    .map(|(_, name)| *name)
    .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "missing under CI: {missing:?} (.ci/run installs them)"
    );
    eprintln!("skipping the browser test: missing {missing:?}");
    false
}

fn init_logs() {
    let log = hive::config::LogSection {
        dir: out_dir().join("log").display().to_string(),
        file_level: "debug".into(),
        console_level: "warning".into(),
    };
    let _ = hive::telemetry::init(&log, hive::telemetry::LogFormat::Text);
}

/// Run `tests/e2e/chat.e2e.js` against `url`; panics with its output unless every step passed.
async fn run_browser(url: &str, label: &str, screenshot: Option<&Path>) {
    let mut cmd = tokio::process::Command::new("node");
    cmd.current_dir(repo_root())
        .arg("tests/e2e/chat.e2e.js")
        .arg(url)
        .args(["--label", label]);
    if let Some(file) = screenshot {
        cmd.arg("--screenshot").arg(file);
    }
    cmd.kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(180), cmd.output())
        .await
        .expect("the browser test finishes within 180 s")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "browser test {label} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(!stdout.contains("not ok"), "a step failed:\n{stdout}");
    let steps = stdout.lines().filter(|l| l.starts_with("ok ")).count();
    let expected = if screenshot.is_some() { 10 } else { 9 };
    assert_eq!(steps, expected, "every step ran:\n{stdout}");
}

/// Keys that look like session ids (40 lowercase hex characters).
fn session_keys(redis: &RedisServer) -> Vec<String> {
    let keys = redis.cli(&["--scan"]);
    keys.lines()
        .filter(|k| k.len() == 40 && k.chars().all(|c| c.is_ascii_hexdigit()))
        .map(str::to_owned)
        .collect()
}

/// Calls to the hash-writing commands sm.redis uses (HSET/HMSET), from `INFO commandstats`.
fn hash_writes(redis: &RedisServer) -> u64 {
    let stats = redis.cli(&["INFO", "commandstats"]);
    stats
        .lines()
        .filter(|l| l.starts_with("cmdstat_hset:") || l.starts_with("cmdstat_hmset:"))
        .filter_map(|l| {
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

async fn chat_variant(label: &str, state: StateChoice, python: bool, screenshot: Option<PathBuf>) {
    if !browser_available() {
        return;
    }
    let _one = BROWSER.lock().await;
    init_logs();
    let redis = match state {
        StateChoice::Redis => match RedisServer::start() {
            Some(redis) => Some(redis),
            None => return,
        },
        StateChoice::Local => None,
    };
    let api = free_port();
    let python = python.then(|| {
        spawn_python_backend(
            &format!("http://127.0.0.1:{api}/api/abcde12345"),
            Duration::from_secs(10),
        )
    });
    let ports = Ports {
        hive: 0,
        api,
        monitor: 0,
        backend: 0,
        web: 0,
        redis: redis.as_ref().map_or(0, |r| r.port),
    };
    let socketio_js =
        setup::ensure_socketio_client(&repo_root()).expect("socket.io-client 0.9 installed");
    let opts = DemoOptions {
        state,
        ports,
        external_backend: python.as_ref().map(|p| p.port()),
        log_dir: Some(out_dir().join("log")),
        socketio_js,
    };
    let demo = demo::start(opts).await.expect("the chat demo starts");
    run_browser(&demo.page_url(), label, screenshot.as_deref()).await;

    if let Some(redis) = &redis {
        // sm.redis really stored the sessions (4 browser sessions: alice, bob, carol, dave)...
        assert!(
            hash_writes(redis) >= 4,
            "sm.redis wrote session hashes: {}",
            hash_writes(redis)
        );
        // ...and every session that ended cleanly deleted its state.
        let deadline = Instant::now() + Duration::from_secs(15);
        while !session_keys(redis).is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            session_keys(redis),
            Vec::<String>::new(),
            "no session state left in Redis"
        );
        assert_eq!(redis.cli(&["DBSIZE"]), "0", "Redis is empty");
    }
    demo.shutdown().await.expect("the demo stops cleanly");
}

/// Redis config (sm.redis) with the Rust backend; Redis is empty once the sessions ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_in_chromium_with_redis_state() {
    chat_variant(
        "redis",
        StateChoice::Redis,
        false,
        Some(out_dir().join("chat-redis.png")),
    )
    .await;
}

/// Local config (sm.local) with the Rust backend; saves `target/e2e/chat.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_in_chromium_with_local_state() {
    chat_variant(
        "local",
        StateChoice::Local,
        false,
        Some(out_dir().join("chat.png")),
    )
    .await;
}

/// The same flow with the Python backend (local config).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_in_chromium_with_python_backend() {
    chat_variant("python", StateChoice::Local, true, None).await;
}

/// A Socket.IO 0.9 user and a socket.io-client 4 user (Socket.IO 5 over Engine.IO 4, the page's
/// `?client=v4`) in the same room of the demo, with its configuration unchanged: they see each
/// other join, talk both ways with non-ASCII text, and see each other leave.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_in_chromium_09_and_v4_users_together() {
    if !browser_available() {
        return;
    }
    let _one = BROWSER.lock().await;
    init_logs();
    let ports = Ports {
        hive: 0,
        api: free_port(),
        monitor: 0,
        backend: 0,
        web: 0,
        redis: 0,
    };
    let socketio_js =
        setup::ensure_socketio_client(&repo_root()).expect("socket.io-client 0.9 installed");
    let v4 = repo_root().join("node_modules/socket.io-client-4/dist/socket.io.min.js");
    assert!(
        v4.is_file(),
        "socket.io-client 4 (npm alias socket.io-client-4) installed"
    );
    let opts = DemoOptions {
        state: StateChoice::Local,
        ports,
        external_backend: None,
        log_dir: Some(out_dir().join("log")),
        socketio_js,
    };
    let demo = demo::start(opts).await.expect("the chat demo starts");
    let mut cmd = tokio::process::Command::new("node");
    cmd.current_dir(repo_root())
        .arg("tests/e2e/chat_modern.e2e.js")
        .arg(demo.page_url())
        .args(["--label", "0.9+v4"])
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(180), cmd.output())
        .await
        .expect("the browser test finishes within 180 s")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "mixed browser test failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("not ok"), "a step failed:\n{stdout}");
    let steps = stdout.lines().filter(|l| l.starts_with("ok ")).count();
    assert_eq!(steps, 5, "every step ran:\n{stdout}");
    demo.shutdown().await.expect("the demo stops cleanly");
}

/// The seed's configuration, kept verbatim with the unshown sections at their defaults, validates;
/// so do the demo's two variants.
#[test]
fn chat_configs_validate() {
    for file in ["seed.json", "config.json", "config.local.json"] {
        let path = setup::config_dir().join(file);
        let loaded = hive::config::load(std::slice::from_ref(&path))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(loaded.warnings.is_empty(), "{file}: {:?}", loaded.warnings);
        let hooks = &loaded.raw["clients"]["hooks"];
        assert_eq!(
            hooks["authorize"][0]["hook"], "cp.post",
            "{file} keeps the seed's cp.* names"
        );
    }
    let seed = hive::config::load(&[setup::config_dir().join("seed.json")]).expect("seed");
    assert_eq!(seed.config.clients.state.state_manager, "sm.redis");
    assert_eq!(seed.config.api.port, 1235);
    assert_eq!(seed.config.api.hash, "abcde12345");
    let local =
        hive::config::load(&[setup::config_dir().join("config.local.json")]).expect("local");
    assert_eq!(local.config.clients.state.state_manager, "sm.local");
    assert!(
        local.raw["connectors"]["pools"].get("database").is_none(),
        "no Redis pool without Redis"
    );
}
