#!/usr/bin/env bash
# Installs what the tests need, then runs every test: formatting and lints,
# unit/property tests, end-to-end tests against the real binaries (kdig/dig,
# a real etcd, network namespaces), the DPDK tests (feature `dpdk`; they
# need root and skip with a message otherwise), and a brief run of every fuzz target.
#
# Every stage runs even when an earlier one failed, and every test binary runs
# even when an earlier one failed (`--no-fail-fast`), so a red run shows every
# failure. The last line is the summary: `N passed, N failed, N skipped`.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test || exit 1

export CARGO_TERM_COLOR=never
# In CI (root, everything installed) a test that would skip is a failure.
if [ -n "${CI:-}" ]; then export SKYLANE_REQUIRE_ALL_TESTS=1; fi

failed_stages=()
stage() {
  local name=$1 start=$SECONDS
  shift
  echo "== $name"
  "$@" || failed_stages+=("$name")
  echo "== $name: $((SECONDS - start)) s"
}

stage rustfmt cargo fmt --all -- --check
stage clippy cargo clippy --workspace --all-targets --features dpdk -- -D warnings
stage rustdoc env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --features dpdk

# One build for everything: the workspace with the dpdk feature (ffi/ included). No release
# build: it took longer than all the tests (docs/testing.md, "CI time"); the package test
# packages this build's binaries.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
stage tests bash -c 'set -o pipefail; cargo test --workspace --features dpdk --no-fail-fast -- --test-threads=2 2>&1 | tee "$0"' "$log"
# The fuzz targets (fuzz/, nightly): one build of them all (no sanitizer, no cargo-fuzz), then
# each replays its seed corpus and fuzzes for a few seconds; a crash fails the stage.
stage fuzz scripts/fuzz.sh "${FUZZ_CI_SECONDS:-10}"

# `test result: ok. 12 passed; 0 failed; 1 ignored; ...` per test binary.
read -r passed failed ignored < <(awk '/^test result:/ {
    for (i = 1; i <= NF; i++) {
      if ($(i+1) ~ /^passed/) p += $i
      if ($(i+1) ~ /^failed/) f += $i
      if ($(i+1) ~ /^ignored/) s += $i
    }
  } END { print p+0, f+0, s+0 }' "$log")
echo
echo "== all stages: $SECONDS s"
if ((${#failed_stages[@]})); then
  echo "failed stages: ${failed_stages[*]}"
  grep -E '^test .* FAILED$|^error: test failed' "$log" || true
fi
echo "$passed passed, $failed failed, $ignored skipped"
((${#failed_stages[@]} == 0))
