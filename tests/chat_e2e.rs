//! The chat example end to end: its backends over HTTP, its configs through Hive's loader, and
//! headless Chromium driving the page against Hive with the Redis config, the local config and the
//! Python backend; and the seed's own config serving a 0.9 and a socket.io-client 4 Node user in
//! the same rooms. The seed walkthrough (`shared/seed/`) and HIVE.md 15.2.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    unreachable_pub
)]

mod common;

#[path = "../examples/chat/src/backend/demo.rs"]
mod demo;

#[path = "chat_e2e/backends.rs"]
mod backends;
#[path = "chat_e2e/browser.rs"]
mod browser;
#[path = "chat_e2e/cluster_lb.rs"]
mod cluster_lb;
#[path = "chat_e2e/harness.rs"]
mod harness;
#[path = "support/redis.rs"]
mod redis;
#[path = "chat_e2e/seed_mixed.rs"]
mod seed_mixed;
