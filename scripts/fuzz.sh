#!/usr/bin/env bash
# Builds every fuzz target under fuzz/ (libFuzzer, nightly) and runs each for SECONDS
# (default 60), starting from the committed seed corpus in fuzz/corpus/<target>: the corpus
# is replayed first, then mutated. Exits non-zero when a target crashes (the reproducer is
# left in fuzz/artifacts/<target>/).
#
#   scripts/fuzz.sh [SECONDS]
#   FUZZ_TARGETS="query_parse engine_answer" scripts/fuzz.sh 600   # a subset
#   FUZZ_RUNS=10000000 scripts/fuzz.sh 0                           # a fixed count each
#   FUZZ_ASAN=1 scripts/fuzz.sh 60                                 # with AddressSanitizer
#   FUZZ_BUILD_ONLY=1 scripts/fuzz.sh                              # build, run nothing
#
# The build is cargo-fuzz's (the same sanitizer-coverage flags, `--cfg fuzzing`, release with
# debug assertions) made by one plain `cargo +nightly build` of every target, so cargo-fuzz
# is not needed. Unlike `cargo fuzz build` it keeps cargo's default codegen units (cargo-fuzz
# forces one per crate: faster fuzzing, a slower build) and builds without AddressSanitizer
# unless FUZZ_ASAN=1: the fuzzed code is safe Rust (`unsafe` lives in ffi/, which no target
# reaches). docs/testing.md has the build times. Binaries go to CARGO_TARGET_DIR (default
# fuzz/target), under plain/ or asan/.
#
# Needs: rustup's nightly toolchain (scripts/setup.sh --test installs it), DPDK development
# files (the responder target links dpdk-sys).
set -euo pipefail

seconds=${1:-60}
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: SECONDS must be a number, not '$seconds'" >&2; exit 2; }
runs=${FUZZ_RUNS:--1}
[[ "$runs" =~ ^-?[0-9]+$ ]] || { echo "fuzz.sh: FUZZ_RUNS must be a number, not '$runs'" >&2; exit 2; }
if ((seconds == 0 && runs < 0)); then
  echo "fuzz.sh: SECONDS 0 runs without end: set FUZZ_RUNS" >&2
  exit 2
fi
fuzz=$(cd "$(dirname "$0")/../fuzz" && pwd)
cargo +nightly --version >/dev/null 2>&1 || {
  echo "fuzz.sh: the nightly toolchain is missing: run scripts/setup.sh --test" >&2
  exit 2
}
all=$(cd "$fuzz/fuzz_targets" && ls -- *.rs | sed 's/\.rs$//')
targets=${FUZZ_TARGETS:-$all}
for t in $targets; do
  grep -qx -- "$t" <<<"$all" || { echo "fuzz.sh: no fuzz target '$t' (targets: $(echo $all))" >&2; exit 2; }
done

# cargo-fuzz's instrumentation (cargo-fuzz 0.13, src/project.rs).
flags=(-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4
  -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table
  -Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-sanitizer-coverage-stack-depth
  -Cllvm-args=-simplifycfg-branch-fold-threshold=0 --cfg fuzzing -Cdebug-assertions)
kind=plain
if [[ "${FUZZ_ASAN:-0}" == 1 ]]; then
  flags+=(-Zsanitizer=address)
  kind=asan
fi
target_dir=${CARGO_TARGET_DIR:-$fuzz/target}/$kind
# --target: RUSTFLAGS then reach the targets' crates only, not build scripts and proc macros.
triple=$(rustc +nightly -vV | sed -n 's/^host: //p')
# Not --locked: fuzz/Cargo.lock follows a dependency the data plane gains.
cargo_fuzz() {
  RUSTFLAGS="${flags[*]}" cargo +nightly "$@" --release \
    --manifest-path "$fuzz/Cargo.toml" --target "$triple" --target-dir "$target_dir" \
    --config 'profile.release.debug="line-tables-only"'
}
echo "== fuzz build ($kind) into $target_dir"
start=$SECONDS
cargo_fuzz build --bins
echo "fuzz.sh: built in $((SECONDS - start)) s"
[[ "${FUZZ_BUILD_ONLY:-0}" == 1 ]] && exit 0
# The seed corpora reach the paths worth fuzzing (fuzz/tests/corpus.rs).
echo "== fuzz seeds"
cargo_fuzz test --test corpus

failed=()
for t in $targets; do
  echo "== fuzz $t: ${seconds}s"
  # A scratch corpus seeded from the committed one: new inputs are not committed.
  work=$(mktemp -d)
  cp -r "$fuzz/corpus/$t/." "$work/" 2>/dev/null || true
  mkdir -p "$fuzz/artifacts/$t"
  args=(-max_total_time="$seconds" -runs="$runs" -print_final_stats=1
    -artifact_prefix="$fuzz/artifacts/$t/")
  if ! "$target_dir/$triple/release/$t" "$work" "${args[@]}" 2>&1 | tail -n 25; then
    failed+=("$t")
  fi
  rm -rf "$work"
done
if ((${#failed[@]})); then
  echo "fuzz.sh: crashes in: ${failed[*]} (reproducers in fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz.sh: every target ran without a crash (${seconds}s, runs ${runs} each)"
