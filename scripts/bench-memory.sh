#!/usr/bin/env bash
# Memory and load time with one large zone file: Skylane (socket backend), Knot and NSD
# (issue 11; figures in docs/performance.md, "Memory (issue 11)").
#
#   scripts/bench-memory.sh            # 1 M names
#   NAMES=100000 scripts/bench-memory.sh
#
# Generates one zone file (`perf.test.`: SOA, NS, and `host<i>` A for every i < NAMES plus
# AAAA for every fifth, i.e. 1.2 records per name), then starts each server in turn on a free
# loopback port with that file, polls it with kdig until it answers the last name of the file,
# (Skylane: waits until its store sync has loaded the store too, the log's `store loaded` line:
# with an empty store it keeps the start-up snapshot, else it builds a full one), waits
# $SETTLE seconds and reads /proc. One line per server:
#
#   <server> load_s=<time from start to answering the last name> vmrss_mb=<VmRSS> \
#       vmhwm_mb=<VmHWM> pss_mb=<Pss of all its processes> procs=<processes>
#
# VmRSS / VmHWM are of the server's largest process (NSD forks a server child and xfrd that
# share the zone's pages with the parent); pss_mb sums Pss (smaps_rollup) over the whole
# process tree, counting each shared page once.
#
# Needs kdig, knotd, nsd, python3, ss (scripts/setup.sh --bench).
# Environment: NAMES [1000000] SETTLE [5] LOAD_TIMEOUT [900] SKYLANE_BIN
#   [$CARGO_TARGET_DIR or target, /release/skylane] KNOTD [knotd] NSD [nsd] NO_BUILD [unset]
#   SERVERS ["skylane knot nsd"]: the servers to run, in this order
#   SKYLANE_EXTRA [unset]: lines appended to Skylane's config (e.g. 'dns.auto-ptr = false')
# Output: the zone, configs and logs under $OUT [/tmp/skylane-bench-memory-<stamp>].
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NAMES=${NAMES:-1000000}
SETTLE=${SETTLE:-5}
SERVERS=${SERVERS:-skylane knot nsd}
LOAD_TIMEOUT=${LOAD_TIMEOUT:-900}
SKYLANE_BIN=${SKYLANE_BIN:-${CARGO_TARGET_DIR:-$REPO/target}/release/skylane}
KNOTD=${KNOTD:-knotd}
NSD=${NSD:-nsd}
OUT=${OUT:-/tmp/skylane-bench-memory-$(date -u +%Y%m%dT%H%M%SZ)}
ORIGIN=perf.test.
PIDS=()

log() { printf '[bench-memory] %s\n' "$*" >&2; }

# SIGTERM, then SIGKILL after 10 s.
stop_pid() {
    kill -TERM "$1" 2>/dev/null || return 0
    timeout 10 tail --pid="$1" -f /dev/null || kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

cleanup() {
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
}
trap cleanup EXIT

for tool in kdig python3 "$KNOTD" "$NSD"; do
    command -v "$tool" >/dev/null || { log "$tool missing"; exit 1; }
done
mkdir -p "$OUT"
if [ -z "${NO_BUILD:-}" ]; then
    (cd "$REPO" && cargo build --release --bin skylane) >&2
fi
# A private copy: other builds in the shared target directory cannot swap it mid-run.
cp "$SKYLANE_BIN" "$OUT/skylane-bin"

ZONE=$OUT/perf.zone
LAST=host$((NAMES - 1)).$ORIGIN
awk -v n="$NAMES" -v o="$ORIGIN" 'BEGIN {
    printf "$ORIGIN %s\n$TTL 300\n", o
    print "@ IN SOA ns1 hostmaster 1 3600 600 86400 300"
    print "@ IN NS ns1"
    print "ns1 IN A 192.0.2.1"
    for (i = 0; i < n; i++) {
        printf "host%d IN A 10.%d.%d.%d\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256
        if (i % 5 == 0) printf "host%d IN AAAA fd00:99::%x:%x\n", i, int(i / 65536), i % 65536
    }
}' >"$ZONE"
log "zone: $NAMES names, $(grep -c ' IN ' "$ZONE") records, $(du -m "$ZONE" | cut -f1) MB; last name $LAST"

# A loopback port free for both UDP and TCP.
free_port() {
    python3 - <<'EOF'
import socket
while True:
    t = socket.socket()
    t.bind(("127.0.0.1", 0))
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        t.close()
    u.close()
    print(port)
    break
EOF
}

# PID $1 and all its descendants.
tree() {
    local pid=$1 child
    echo "$pid"
    for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do tree "$child"; done
}

# kB value of field $2 in /proc/$1/status or smaps_rollup.
proc_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" "/proc/$1/smaps_rollup" 2>/dev/null | head -1; }

# Started server PID $2 named $1 on port $3: wait for the last name, print its line.
measure() {
    local name=$1 pid=$2 port=$3 started=$4 loaded=
    local deadline=$((SECONDS + LOAD_TIMEOUT))
    while [ "$SECONDS" -lt "$deadline" ]; do
        # Ask only once the port is bound: kdig waits its whole timeout on a closed port.
        if ss -Hlun "sport = :$port" | grep -q . &&
            kdig +short +time=1 +retry=0 -p "$port" @127.0.0.1 "$LAST" A 2>/dev/null | grep -q '^10\.'; then
            loaded=$(date +%s.%N)
            break
        fi
        kill -0 "$pid" 2>/dev/null || { log "$name exited (see $OUT/$name.log)"; return 1; }
        sleep 0.2
    done
    [ -n "$loaded" ] || { log "$name did not answer $LAST within ${LOAD_TIMEOUT}s"; return 1; }
    # Skylane answers from its static snapshot first; its store sync then lists the store (and
    # builds a full snapshot when the store holds keys). Resident size is read after that.
    if [ -n "${STEADY_LINE:-}" ]; then
        while ! grep -qE "$STEADY_LINE" "$OUT/$name.log"; do
            [ "$SECONDS" -lt "$deadline" ] && kill -0 "$pid" 2>/dev/null ||
                { log "$name: no '$STEADY_LINE' in its log"; return 1; }
            sleep 0.2
        done
    fi
    sleep "$SETTLE"
    local rss=0 hwm=0 pss=0 procs=0 p r h
    for p in $(tree "$pid"); do
        r=$(proc_kb "$p" VmRSS)
        h=$(proc_kb "$p" VmHWM)
        [ -n "$r" ] || continue
        procs=$((procs + 1))
        [ "$r" -gt "$rss" ] && rss=$r
        [ "$h" -gt "$hwm" ] && hwm=$h
        pss=$((pss + $(proc_kb "$p" Pss)))
    done
    printf '%-8s load_s=%.1f vmrss_mb=%d vmhwm_mb=%d pss_mb=%d procs=%d\n' "$name" \
        "$(awk -v a="$loaded" -v b="$started" 'BEGIN { print a - b }')" \
        $((rss / 1024)) $((hwm / 1024)) $((pss / 1024)) "$procs"
}

# Runs "$@" in the background as server $1 on port $2 and measures it.
run_server() {
    local name=$1 port=$2
    shift 2
    local started
    started=$(date +%s.%N)
    "$@" >"$OUT/$name.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    measure "$name" "$pid" "$port" "$started" || true
    stop_pid "$pid"
}

bench_skylane() {
    fresh skylane
    printf '%s\n' "dns.zone-files = [\"$ZONE\"]" "dns.example-records = false" \
        "dataplane.backend = \"socket\"" "dataplane.listen = [\"127.0.0.1:$PORT\"]" \
        "tcp.enabled = false" ${SKYLANE_EXTRA:+"$SKYLANE_EXTRA"} >"$DIR/skylane.toml"
    # (`snapshot built from`: the same line from builds before the sync could skip its build.)
    STEADY_LINE="store loaded|snapshot built from" run_server skylane "$PORT" "$OUT/skylane-bin" serve \
        --config "$DIR/skylane.toml" --store-path "$DIR/skylane.redb" --api-listen 127.0.0.1:0
    # Its own account of the load: parse, first build (table bytes), the sync's store load.
    sed 's/\x1b\[[0-9;]*m//g' "$OUT/skylane.log" |
        grep -oE '(zone file loaded|static snapshot built|store loaded:|snapshot built from) .*' |
        sed -E 's/ file=[^ ]*//; s/ domains=.*//; s/^/#   /' || true
}

# A fresh $OUT/$1 as DIR and a free port as PORT.
fresh() {
    DIR=$OUT/$1
    PORT=$(free_port)
    rm -rf "$DIR"
    mkdir -p "$DIR"
}

bench_knot() {
    fresh knot
    local port=$PORT dir=$DIR
    cat >"$dir/knot.conf" <<EOF
server:
    rundir: "$dir"
    listen: 127.0.0.1@$port
database:
    storage: "$dir"
zone:
  - domain: $ORIGIN
    file: "$ZONE"
    storage: "$dir"
    semantic-checks: off
    journal-content: none
    zonefile-sync: -1
log:
  - target: stderr
    any: info
EOF
    run_server knot "$port" "$KNOTD" -c "$dir/knot.conf"
}

bench_nsd() {
    fresh nsd
    local port=$PORT dir=$DIR
    cat >"$dir/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1
    port: $port
    server-count: 1
    database: ""
    zonelistfile: "$dir/zone.list"
    pidfile: "$dir/nsd.pid"
    xfrdfile: "$dir/xfrd.state"
    xfrdir: "$dir"
    username: ""
    chroot: ""
    zonesdir: ""
    logfile: "$dir/nsd.log"
remote-control:
    control-enable: no
zone:
    name: $ORIGIN
    zonefile: "$ZONE"
EOF
    run_server nsd "$port" "$NSD" -d -c "$dir/nsd.conf"
}

echo "== $NAMES names, $(grep -c ' IN ' "$ZONE") records: one server at a time, loopback"
for server in $SERVERS; do
    case $server in
        skylane | knot | nsd) "bench_$server" ;;
        *) log "unknown server $server (skylane, knot, nsd)"; exit 2 ;;
    esac
done
log "configs and logs in $OUT"
