//! skylane-perf
fn main() {}
