#!/usr/bin/env bash
# Forwarding figures, side by side in one run (loopback):
#  1. authoritative: Skylane answering NAMES names of its own zone;
#  2. cache hits: the same number of names outside its zones, cached (from NSD);
#  3. Unbound (one thread) forwarding to the same NSD, cache warmed, same names;
#  4. miss path: Skylane with cache-size-mb = 0 (every query goes to NSD), and NSD direct.
# Skylane's data plane and Unbound run on CPU 1, skylane-perf on CPU 0; NSD and
# the control plane (the forwarder) share CPU 0. Prints one report per run.
#   DURATION=10 perf/bench-forward.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
NAMES=${NAMES:-1000}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

[ -n "${NO_BUILD:-}" ] || cargo build --release -q -p skylane -p skylane-perf
perf=target/release/skylane-perf
sky=target/release/skylane

zone() { # origin
  printf '$ORIGIN %s\n$TTL 3600\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n@ IN NS ns1\nns1 IN A 127.0.0.1\n' "$1"
  for ((i = 0; i < NAMES; i++)); do printf 'h%d IN A 10.1.%d.%d\n' "$i" $((i / 256)) $((i % 256)); done
}
zone example.test. > "$work/example.test.zone"
zone bench.local. > "$work/bench.local.zone"
for ((i = 0; i < NAMES; i++)); do echo "h$i.example.test A"; done > "$work/q-fwd.txt"
for ((i = 0; i < NAMES; i++)); do echo "h$i.bench.local A"; done > "$work/q-auth.txt"

cat > "$work/nsd.conf" <<EOF
server:
  ip-address: 127.0.0.1@15499
  zonesdir: "$work"
  pidfile: "$work/nsd.pid"
  database: ""
  username: ""
  chroot: ""
  logfile: "$work/nsd.log"
  xfrdfile: "$work/xfrd.state"
  xfrdir: "$work"
  zonelistfile: "$work/zone.list"
  server-count: 1
remote-control:
  control-enable: no
zone:
  name: example.test
  zonefile: example.test.zone
EOF
cat > "$work/unbound.conf" <<EOF
server:
  interface: 127.0.0.1@15400
  num-threads: 1
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$work"
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 0
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  module-config: "iterator"
  # test. is one of Unbound's default local zones (RFC 6761): forward it instead.
  local-zone: "test." nodefault
forward-zone:
  name: "."
  forward-addr: 127.0.0.1@15499
EOF
skyconf() { # cache-size-mb
  cat <<EOF
[dns]
domains = []
zone-files = ["$work/bench.local.zone"]
example-records = false
[dataplane]
listen = ["127.0.0.1:15453"]
cores = [1]
[tcp]
enabled = false
[api]
listen = "127.0.0.1:15480"
[store]
path = "$work/store-$1.redb"
[forward]
upstreams = ["127.0.0.1:15499"]
cache-size-mb = $1
EOF
}
wait_answer() { # port name
  for _ in $(seq 100); do
    kdig +timeout=1 +retry=0 @127.0.0.1 -p "$1" "$2" A 2>/dev/null | grep -q NOERROR && return 0
    sleep 0.2
  done
  echo "no answer on port $1" >&2; exit 1
}
load() { # label port queries [extra]
  echo "== $1"
  taskset -c 0 $perf -s 127.0.0.1 -p "$2" -d "$3" -l "$DURATION" -q 200 "${@:4}" |
    grep -E 'Queries (sent|completed|lost)|Queries per second|Response codes|Latency \(us\)' || true
}

taskset -c 0 nsd -d -c "$work/nsd.conf" & pids+=($!)
wait_answer 15499 h1.example.test

skyconf 64 > "$work/sky.toml"
SKYLANE_LOG=warn $sky serve --config "$work/sky.toml" & pids+=($!)
wait_answer 15453 h1.bench.local
load "warm-up (fills the cache)" 15453 "$work/q-fwd.txt" >/dev/null
load "Skylane authoritative, one core" 15453 "$work/q-auth.txt"
load "Skylane forward cache hits, one core" 15453 "$work/q-fwd.txt"
curl -s "http://127.0.0.1:15480/v1/cache?name=h1.example.test" | sed 's/^/cache entry: /'; echo
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'

taskset -c 1 unbound -d -c "$work/unbound.conf" & pids+=($!)
wait_answer 15400 h1.example.test
load "warm-up (fills Unbound's cache)" 15400 "$work/q-fwd.txt" >/dev/null
load "Unbound one thread, cache hits" 15400 "$work/q-fwd.txt"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'

skyconf 0 > "$work/sky0.toml"
SKYLANE_LOG=warn $sky serve --config "$work/sky0.toml" & pids+=($!)
wait_answer 15453 h1.bench.local
load "Skylane miss path (cache off: every query to NSD)" 15453 "$work/q-fwd.txt"
load "NSD direct" 15499 "$work/q-fwd.txt"
