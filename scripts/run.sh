#!/usr/bin/env bash
# Builds Skylane (release) and runs `skylane serve` with the given flags.
# With no flags: UDP+TCP DNS on 127.0.0.1:5353 for skylane.local. (with example
# records), the REST API on 127.0.0.1:9001, the embedded record store; other
# names are forwarded to the nameservers of /etc/resolv.conf (docs/forwarding.md).
#   scripts/run.sh                          # embedded defaults
#   scripts/run.sh --config skylane.toml    # any `skylane serve` flag
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
features=()
[ -n "${SKYLANE_FEATURES:-}" ] && features=(--features "$SKYLANE_FEATURES")
cargo build --release --bin skylane --bin skylanectl "${features[@]}"
exec target/release/skylane serve "$@"
