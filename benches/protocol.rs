//! Criterion benchmarks of the Socket.IO 0.9 codec.
fn main() {}
