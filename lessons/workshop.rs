//! The workshop's default binary: `cargo run` with no `--bin`.
fn main() {}
