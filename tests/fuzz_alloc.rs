//! Allocation stays bounded by the input: every target of `hive::fuzz::TARGETS` runs under a
//! counting global allocator (`stats_alloc`, a crate-provided wrapper of the system allocator: the
//! project forbids `unsafe_code`), and the bytes it allocates for one input (reallocation growth
//! included) must stay under `PER_BYTE` x the input's length + `FIXED`. Its own test binary, so no
//! other test allocates while a target is measured (one test, one thread).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/fuzz_input.rs"]
mod fuzz_input;

use std::alloc::System;
use std::cell::Cell;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Allowed bytes allocated per input byte. JSON is the costly part: a `serde_json::Value` tree
/// (with `preserve_order`) takes up to ~150 bytes per input byte for shapes like `[[1],[1],...]`,
/// and the API body target parses its input with each of the API's three body parsers.
const PER_BYTE: usize = 512;
/// Allowed bytes allocated whatever the input (buffers of fixed size, the config's defaults).
const FIXED: usize = 64 * 1024;

/// Bytes allocated while `f` runs.
fn allocated(f: impl FnOnce()) -> usize {
    let region = Region::new(GLOBAL);
    f();
    let s = region.change();
    s.bytes_allocated + usize::try_from(s.bytes_reallocated.max(0)).unwrap_or(0)
}

/// JSON shapes that cost the most per byte, ~100 KB each.
fn dense_json() -> Vec<(&'static str, Vec<u8>)> {
    let shapes = [
        ("ints", "1,"),
        ("empty arrays", "[],"),
        ("empty objects", "{},"),
        ("strings", "\"a\","),
        ("nested", "[[1]],"),
    ];
    shapes
        .iter()
        .map(|(name, unit)| {
            let mut b = String::from("[");
            while b.len() < 100_000 {
                b.push_str(unit);
            }
            b.push_str("1]");
            (*name, b.into_bytes())
        })
        .collect()
}

#[test]
fn allocation_is_bounded_by_the_input() {
    let cases = fuzz_input::cases(256);
    let mut report = Vec::new();
    for (shape, b) in dense_json() {
        for t in hive::fuzz::TARGETS {
            let n = allocated(|| (t.run)(&b));
            assert!(
                n <= PER_BYTE * b.len() + FIXED,
                "{} allocated {n} bytes for {shape} ({} bytes)",
                t.name,
                b.len()
            );
            if n > 10 * b.len() {
                report.push(format!(
                    "{}: {shape}: {} bytes per input byte",
                    t.name,
                    n / b.len()
                ));
            }
        }
    }
    for t in hive::fuzz::TARGETS {
        // The worst input seen: (bytes allocated, its length); the largest bytes per input byte
        // over inputs of at least 1 KiB.
        let worst = Cell::new((0usize, 0usize));
        let ratio = Cell::new(0usize);
        fuzz_input::run(t, cases, |b| {
            let n = allocated(|| (t.run)(b));
            if n > worst.get().0 {
                worst.set((n, b.len()));
            }
            if b.len() >= 1024 {
                ratio.set(ratio.get().max(n / b.len()));
            }
            proptest::prop_assert!(
                n <= PER_BYTE * b.len() + FIXED,
                "{} allocated {n} bytes for an input of {} bytes (bound {} x len + {})",
                t.name,
                b.len(),
                PER_BYTE,
                FIXED
            );
            Ok(())
        });
        let (n, len) = worst.get();
        report.push(format!(
            "{}: most allocated {n} bytes (input of {len} bytes); at most {} bytes per input byte \
             (inputs >= 1 KiB)",
            t.name,
            ratio.get()
        ));
    }
    println!("{}", report.join("\n"));
}
