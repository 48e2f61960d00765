//! Inputs for the fuzz targets of `hive::fuzz` and the proptest runner shared by `tests/fuzz.rs`,
//! `tests/fuzz_alloc.rs` and `benches/fuzz.rs`: arbitrary bytes, and mutations (byte flips,
//! insertions, deletions, truncation, splices of other seeds) of each target's valid seeds.

#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used
)]

use hive::fuzz::Target;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// One edit of a seed.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
    /// Repeat a slice many times (long inputs from short seeds).
    Repeat(usize, usize, u16),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        3 => (any::<usize>(), vec(prop_oneof![any::<u8>(), Just(b':'), Just(b'"'), Just(b'['), Just(b'{'), Just(0xEF), Just(0xBF), Just(0xBD), Just(b'9')], 1..8)).prop_map(|(i, b)| Edit::Insert(i, b)),
        2 => (any::<usize>(), 1usize..16).prop_map(|(i, n)| Edit::Delete(i, n)),
        1 => any::<usize>().prop_map(Edit::Truncate),
        1 => (any::<usize>(), 1usize..8, 1u16..2000).prop_map(|(i, n, k)| Edit::Repeat(i, n, k)),
    ]
}

fn apply(mut b: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = b.len();
        let at = |i: &usize| if len == 0 { 0 } else { i % (len + 1) };
        match e {
            Edit::Flip(i, x) if len > 0 => b[i % len] ^= x | 1,
            Edit::Flip(..) => {}
            Edit::Insert(i, bytes) => {
                let p = at(i);
                b.splice(p..p, bytes.iter().copied());
            }
            Edit::Delete(i, n) => {
                let p = at(i);
                let end = (p + n).min(len);
                b.drain(p..end);
            }
            Edit::Truncate(i) => b.truncate(at(i)),
            Edit::Repeat(i, n, k) => {
                let p = at(i);
                let end = (p + n).min(len);
                let piece = b[p..end].to_vec();
                for _ in 0..*k {
                    b.splice(p..p, piece.iter().copied());
                }
            }
        }
    }
    b
}

/// Inputs for `t`: arbitrary bytes, or one of its seeds with edits.
pub fn input(t: &Target) -> BoxedStrategy<Vec<u8>> {
    let seeds: Vec<Vec<u8>> = t.seeds.iter().map(|s| s.to_vec()).collect();
    let n = seeds.len().max(1);
    let mutated = (0..n, vec(edit(), 0..6))
        .prop_map(move |(i, edits)| apply(seeds.get(i).cloned().unwrap_or_default(), &edits));
    prop_oneof![
        1 => vec(any::<u8>(), 0..512),
        3 => mutated,
    ]
    .boxed()
}

/// Cases per target from `FUZZ_CASES`, else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// Run `check` on `cases` inputs of `t`; a panic in the target fails the run with the shrunk
/// input.
pub fn run(t: &Target, cases: u32, check: impl Fn(&[u8]) -> Result<(), TestCaseError>) {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    });
    let r = runner.run(&input(t), |b| check(&b));
    if let Err(e) = r {
        panic!("fuzz target {}: {e}", t.name);
    }
}
