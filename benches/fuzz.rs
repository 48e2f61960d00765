//! The long fuzz run: every target of `hive::fuzz::TARGETS` (each parser of untrusted bytes) on
//! `FUZZ_CASES` inputs (default 1,000,000 per target), arbitrary bytes and mutated seeds; none may
//! panic (a panic prints the shrunk input and exits non-zero). Prints cases/s per target. The
//! short run is `tests/fuzz.rs`; allocation bounds are `tests/fuzz_alloc.rs`.
//!
//! Run: `cargo bench --bench fuzz` (or `FUZZ_CASES=N cargo bench --bench fuzz -- [target ...]`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]

#[path = "../tests/support/fuzz_input.rs"]
mod fuzz_input;

use std::time::Instant;

fn main() {
    let cases = fuzz_input::cases(1_000_000);
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let all = Instant::now();
    for t in hive::fuzz::TARGETS {
        if !only.is_empty() && !only.iter().any(|o| o == t.name) {
            continue;
        }
        let started = Instant::now();
        fuzz_input::run(t, cases, |b| {
            (t.run)(b);
            Ok(())
        });
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{:22} {cases} cases in {secs:7.1} s ({:.0} cases/s), no panic",
            t.name,
            f64::from(cases) / secs
        );
    }
    println!("total {:.0} s", all.elapsed().as_secs_f64());
}
