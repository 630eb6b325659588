#!/usr/bin/env bash
# Runs every fuzz target under fuzz/ (cargo-fuzz, libFuzzer, nightly) for SECONDS each
# (default 60), starting from the committed seed corpus in fuzz/corpus/<target>.
# Exits non-zero when a target crashes (the reproducer is left in fuzz/artifacts/<target>/).
#
#   scripts/fuzz.sh [SECONDS]
#   FUZZ_TARGETS="query_parse engine_answer" scripts/fuzz.sh 600   # a subset
#   FUZZ_RUNS=10000000 scripts/fuzz.sh 0                           # a fixed count each
#
# Needs: rustup's nightly toolchain and cargo-fuzz (scripts/setup.sh --fuzz installs
# them), DPDK development files (the responder target links dpdk-sys).
set -euo pipefail

seconds=${1:-60}
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: SECONDS must be a number, not '$seconds'" >&2; exit 2; }
cd "$(dirname "$0")/../fuzz"
cargo +nightly fuzz --version >/dev/null 2>&1 || {
  echo "fuzz.sh: cargo-fuzz (nightly) missing: run scripts/setup.sh --test" >&2
  exit 2
}
targets=${FUZZ_TARGETS:-$(cargo +nightly fuzz list)}
runs=${FUZZ_RUNS:--1}
if ((seconds == 0 && runs < 0)); then
  echo "fuzz.sh: SECONDS 0 runs without end: set FUZZ_RUNS" >&2
  exit 2
fi

# Build everything once (release, debug assertions, AddressSanitizer).
cargo +nightly fuzz build

failed=()
for t in $targets; do
  echo "== fuzz $t: ${seconds}s"
  # A scratch corpus seeded from the committed one: new inputs are not committed.
  work=$(mktemp -d)
  cp -r "corpus/$t/." "$work/" 2>/dev/null || true
  args=(-max_total_time="$seconds" -runs="$runs" -print_final_stats=1)
  if ! cargo +nightly fuzz run "$t" "$work" -- "${args[@]}" 2>&1 | tail -n 25; then
    failed+=("$t")
  fi
  rm -rf "$work"
done
if ((${#failed[@]})); then
  echo "fuzz.sh: crashes in: ${failed[*]} (see fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz.sh: every target ran ${seconds}s without a crash"
