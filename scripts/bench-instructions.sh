#!/usr/bin/env bash
# Instructions per query of the answer engine, counted by callgrind: deterministic, so it
# resolves changes of a few percent that timings on a shared machine cannot (issue 11;
# figures in docs/performance.md, "Instructions per query").
#
#   scripts/bench-instructions.sh                 # 100 k names: a_hit_1 a_hit_1_hot nxdomain
#   NAMES=1000000 CASES=a_hit_1 scripts/bench-instructions.sh
#
# Runs dataplane/examples/answer_cost.rs (the engine benchmark's snapshot and queries) under
# `valgrind --tool=callgrind --branch-sim=yes`, counting only its query loop, and prints one
# line per case:
#
#   <case> names=<N> instructions_per_query=<F> branches_per_query=<F> mispredicts_per_query=<F>
#
# mispredicts_per_query is valgrind's simple predictor model, not the CPU's: compare it only
# between two builds. Nothing here is a time: a cache miss counts as one instruction.
#
# Needs valgrind (scripts/setup.sh --bench).
# Environment: NAMES [100000] ROUNDS [10] (rounds of 4096 queries) CASES
#   ["a_hit_1 a_hit_1_hot nxdomain"] BIN [built: target/release/examples/answer_cost]
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NAMES=${NAMES:-100000}
ROUNDS=${ROUNDS:-10}
CASES=${CASES:-a_hit_1 a_hit_1_hot nxdomain}
command -v valgrind >/dev/null || { echo "bench-instructions: valgrind not found (scripts/setup.sh --bench)" >&2; exit 1; }
if [[ -z ${BIN:-} ]]; then
    (cd "$REPO" && cargo build --release --quiet -p skylane-dataplane --example answer_cost)
    BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/examples/answer_cost
fi
[[ -x $BIN ]] || { echo "bench-instructions: $BIN is not an executable" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for case in $CASES; do
    valgrind --tool=callgrind --toggle-collect='*run_queries*' --branch-sim=yes \
        --callgrind-out-file="$out/$case" "$BIN" "$NAMES" "$case" "$ROUNDS" >"$out/$case.log" 2>&1 ||
        { cat "$out/$case.log" >&2; exit 1; }
    callgrind_annotate "$out/$case" 2>/dev/null | grep 'PROGRAM TOTALS' |
        python3 -c '
import re, sys
case, names, queries = sys.argv[1], sys.argv[2], 4096 * int(sys.argv[3])
ir, bc, bcm = [int(x.replace(",", "")) for x in re.findall(r"([\d,]+) \(", sys.stdin.read())][:3]
print(f"{case} names={names} instructions_per_query={ir / queries:.1f} "
      f"branches_per_query={bc / queries:.1f} mispredicts_per_query={bcm / queries:.2f}")
' "$case" "$NAMES" "$ROUNDS"
done
