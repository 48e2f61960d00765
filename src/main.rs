//! The `hive` daemon binary.
fn main() {}
