//! The one latency histogram shape of flood: microseconds from 1 µs to 1 h, 3 significant
//! digits. A leaf shared by `stats` and `rtt`.

use hdrhistogram::Histogram;

/// A latency histogram in microseconds (1 µs .. 1 h, 3 significant digits).
#[allow(clippy::expect_used)]
pub fn new_histogram() -> Histogram<u64> {
    // Proof: the bounds are constants that satisfy hdrhistogram's checks (low >= 1,
    // high >= 2 * low, sigfig <= 5), so this never fails.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("constant histogram bounds are valid")
}
