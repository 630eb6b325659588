#!/usr/bin/env bash
# Query throughput with and without a stream of record updates.
#
# Starts `skylane serve` (release build) with a generated zone, data plane on
# CPU 1, then runs skylane-perf (pinned to CPU 0, loopback) for DURATION
# seconds twice: once alone, once while perf/update-stream.py PUTs RATE
# record updates per second through the REST API (embedded store: every update
# is a durable redb commit, a watch event, a snapshot apply and a swap).
# Prints both reports and the ratio. Bounded, stops by itself.
#   DURATION=10 RATE=1000 perf/bench-updates.sh          # saturating load
#   DURATION=10 RATE=1000 QPS=200000 perf/bench-updates.sh   # fixed offered load
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
RATE=${RATE:-1000}
NAMES=${NAMES:-100000}
PORT=${PORT:-15399}
API=${API:-127.0.0.1:19399}
work=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

[ -n "${NO_BUILD:-}" ] || cargo build --release -q --bin skylane -p skylane -p skylane-perf
perf=target/release/skylane-perf
$perf gen zone --origin perf.test. --names "$NAMES" -o "$work/perf.zone" >/dev/null
$perf gen queries --zone "$work/perf.zone" --miss-percent 10 -o "$work/q.txt" >/dev/null
printf '[api]\ntoken = "bench"\n' > "$work/skylane.toml"

SKYLANE_LOG=warn target/release/skylane serve --config "$work/skylane.toml" --zone "$work/perf.zone" \
  --listen 127.0.0.1:$PORT --cores 1 --api-listen "$API" --store-path "$work/store.redb" &
server_pid=$!
for _ in $(seq 100); do
  curl -sf "http://$API/ready" >/dev/null 2>&1 && break
  sleep 0.1
done

# QPS (optional): a fixed offered rate instead of saturating load.
load() { taskset -c 0 $perf -s 127.0.0.1 -p $PORT -d "$work/q.txt" -l "$DURATION" -c 4 -q 500 -t 2 ${QPS:+-Q $QPS} --json; }

echo "== queries alone ($DURATION s)"
alone=$(load)
echo "$alone"
echo "== queries while $RATE updates/s stream in"
python3 perf/update-stream.py --api "$API" --token bench --rate "$RATE" --seconds "$((DURATION + 1))" \
  --domain perf.test. > "$work/updates.json" &
upd_pid=$!
sleep 0.5
with=$(load)
wait $upd_pid || true
echo "$with"
echo "updates: $(cat "$work/updates.json")"
gen=$(curl -s "http://$API/metrics" | grep -E '^skylane_snapshot_generation|^skylane_sync_propagation_seconds(_count|_sum| )|quantile' | head -20)
echo "$gen"
python3 - "$alone" "$with" <<'PY'
import json, sys
a, w = json.loads(sys.argv[1]), json.loads(sys.argv[2])
def q(r): return r.get("qps") or r.get("queries_per_second") or 0
def lat(r): return r.get("latency", {})
print(f"qps alone {q(a):.0f}, with updates {q(w):.0f}, ratio {q(w)/max(q(a),1):.3f}")
print(f"lost alone {a.get('lost')}, with updates {w.get('lost')}")
print(f"p50/p99 us alone {lat(a).get('p50_us')}/{lat(a).get('p99_us')}, with updates {lat(w).get('p50_us')}/{lat(w).get('p99_us')}")
PY
