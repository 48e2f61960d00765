//! The chat example end to end: its backends over HTTP, its configs through Hive's loader, and
//! headless Chromium driving the page against Hive with the Redis config, the local config and the
//! Python backend. The seed walkthrough (`shared/seed/`) and HIVE.md 15.2.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    unreachable_pub
)]

#[path = "../examples/chat/src/backend/demo.rs"]
mod demo;

#[path = "chat_e2e/backends.rs"]
mod backends;
#[path = "chat_e2e/browser.rs"]
mod browser;
#[path = "chat_e2e/harness.rs"]
mod harness;
#[path = "support/redis.rs"]
mod redis;
