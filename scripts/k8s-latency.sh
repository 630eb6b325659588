#!/usr/bin/env bash
# Kubernetes DNS programming latency (Service / endpoint change -> DNS answer) against the
# test API server, with one headless Service of 100, 1,000 and 10,000 endpoints.
# Usage: scripts/k8s-latency.sh [rounds]   (default 100 changes of each kind per size)
# Prints one line per size; docs/performance.md has the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
export K8S_LATENCY_ROUNDS="${1:-100}"
exec cargo test --release --test e2e_k8s programming_latency -- --ignored --nocapture --test-threads=1
