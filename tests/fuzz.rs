//! Short fuzz run (property tests) of every parser of untrusted bytes in `hive::fuzz::TARGETS`:
//! the Socket.IO 0.9 frames, batches, event JSON and handshake, WebSocket frames in both roles,
//! the TCP connector framing, the API bodies and route, and the configuration loader. None may
//! panic. `FUZZ_CASES` sets the cases per target (default 256); the long run is
//! `cargo bench --bench fuzz` (1,000,000 per target). Allocation bounds: `tests/fuzz_alloc.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/fuzz_input.rs"]
mod fuzz_input;

#[test]
fn no_target_panics_on_any_input() {
    let cases = fuzz_input::cases(256);
    for t in hive::fuzz::TARGETS {
        fuzz_input::run(t, cases, |b| {
            (t.run)(b);
            Ok(())
        });
    }
}
