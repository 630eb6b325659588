#!/usr/bin/env bash
# Installs what the tests need, then runs every test: formatting and lints,
# unit/property tests, end-to-end tests against the real binaries (kdig/dig,
# a real etcd, network namespaces), and the DPDK tests (feature `dpdk`; they
# need root and skip with a message otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test

export CARGO_TERM_COLOR=never
# In CI (root, everything installed) a test that would skip is a failure.
if [ -n "${CI:-}" ]; then export SKYLANE_REQUIRE_ALL_TESTS=1; fi
echo "== rustfmt"
cargo fmt --all -- --check
echo "== clippy"
cargo clippy --workspace --all-targets --features dpdk -- -D warnings
echo "== tests (all crates, DPDK feature on)"
# One build for everything: the workspace with the dpdk feature (ffi/ included).
cargo test --workspace --features dpdk -- --test-threads=2
echo "== release build"
cargo build --release --features dpdk --bins
