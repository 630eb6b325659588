#!/usr/bin/env bash
# Tests of the DPDK parts (needs root and Debian's libdpdk-dev; see docs/dpdk.md):
#   1. dpdk-sys: EAL smoke test (--no-huge, net_null vdev)
#   2. skylane-dataplane --features dpdk: frame handling unit tests
#   3. skylane-perf --features dpdk: frame builder tests
#   4. end to end: skylane serve on the DPDK backend in a veth lab (af_packet and af_xdp)
# Extra arguments go to every `cargo test` (e.g. --release).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "test-dpdk.sh: SKIPPED: needs root (network namespaces, DPDK)" >&2
    exit 0
fi
if ! pkg-config --exists libdpdk; then
    echo "test-dpdk.sh: SKIPPED: DPDK development files missing (apt install libdpdk-dev dpdk)" >&2
    exit 0
fi

cargo test "$@" -p dpdk-sys
cargo test "$@" -p skylane-dataplane --features dpdk --lib dpdk
cargo test "$@" -p skylane-perf --features dpdk dpdk
cargo build "$@" -p skylane-perf
cargo test "$@" --features dpdk --test dpdk_veth -- --test-threads=1 --nocapture
