//! The `flood` load tester binary.
fn main() {}
