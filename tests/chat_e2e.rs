//! The chat example end to end: its backends over HTTP, and (once Hive's server is in) headless
//! Chromium driving the page against Hive with the Redis config, the local config and the Python
//! backend. The seed walkthrough (`shared/seed/`) and HIVE.md 15.2.
#![allow(
    clippy::mod_module_files,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]

#[path = "../examples/chat_backend/server.rs"]
mod server;

#[path = "chat_e2e/backends.rs"]
mod backends;
#[path = "chat_e2e/harness.rs"]
mod harness;
