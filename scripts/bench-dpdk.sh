#!/usr/bin/env bash
# Benchmarks of the DPDK backend (root; see docs/dpdk.md).
#
#   sudo scripts/bench-dpdk.sh memif   # Skylane (DPDK, 1 lcore) <-memif-> skylane-perf DPDK mode,
#                                      # then the ceiling: dpdk-testpmd macswap in Skylane's place
#   sudo scripts/bench-dpdk.sh veth    # veth lab: Skylane DPDK af_xdp vs Knot DNS XDP, kxdpgun
#   sudo scripts/bench-dpdk.sh exflood # veth lab: DNS load with and without an exception-path flood
#   sudo scripts/bench-dpdk.sh all      # memif and veth
#
# memif: both processes run --no-huge, Skylane's lcore on CPU $SERVER_CPU, the load generator
#   on CPU $CLIENT_CPU, unlimited rate with $OUTSTANDING queries in flight. Then dpdk-testpmd
#   (--forward-mode=macswap, forwarding lcore on $SERVER_CPU) reflects the same query frames
#   from skylane-perf (--dpdk-reflector) over a memif pair: the transport's ceiling and the
#   generator's calibration. Last line: `memif: ceiling_pps=<N> skylane_qps=<N> ratio=<F>`.
# veth: namespaces skybench-s / skybench-c joined by veth vbs/vbc. The server (Skylane with
#   net_af_xdp on vbs, or knotd with `xdp: listen: vbs`) runs on CPU $SERVER_CPU; kxdpgun
#   (and skylane-perf in DPDK mode over net_af_xdp on vbc) on CPU $CLIENT_CPU, at each rate
#   of $RATES. Every run has a fixed duration; an EXIT trap stops what the script started
#   (by PID) and deletes the namespaces.
#
# exflood: the veth lab with Skylane's exception path on (TAP, [dpdk] exception-pps default):
#   kxdpgun at FLOOD_DNS_QPS [300000] for DURATION s, alternately without and with a flood of
#   other-port UDP to 10.99.0.1:9999 and broadcasts to 10.99.0.255:9999 sent as fast as perl
#   can from the client namespace (the flood of tests/dpdk_flood), FLOOD_ROUNDS [2] times.
# Environment: DURATION [10] NAMES [100000] QUERIES [100000] MISS_PERCENT [10]
#   RATES ["500000 1000000 2000000"] OUTSTANDING [4096] CLIENTS [16] SERVER_CPU [1]
#   CLIENT_CPU [0] SKYLANE_BIN, PERF_BIN [target/release/...] NO_BUILD [unset]
# Output: raw tool output under $OUT [/tmp/skylane-bench-dpdk-<stamp>], summary on stdout.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODE=${1:-all}
DURATION=${DURATION:-10}
NAMES=${NAMES:-100000}
QUERIES=${QUERIES:-100000}
MISS_PERCENT=${MISS_PERCENT:-10}
RATES=${RATES:-"500000 1000000 2000000"}
OUTSTANDING=${OUTSTANDING:-4096}
CLIENTS=${CLIENTS:-16}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
SKYLANE_BIN=${SKYLANE_BIN:-$REPO/target/release/skylane}
PERF_BIN=${PERF_BIN:-$REPO/target/release/skylane-perf}
OUT=${OUT:-/tmp/skylane-bench-dpdk-$(date -u +%Y%m%dT%H%M%SZ)}
NS_S=skybench-s
NS_C=skybench-c
PIDS=()

log() { printf '[bench-dpdk] %s\n' "$*" >&2; }

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    ip netns del "$NS_S" 2>/dev/null || true
    ip netns del "$NS_C" 2>/dev/null || true
    rm -rf /var/run/dpdk/skybench-* 2>/dev/null || true
}
trap cleanup EXIT

stop_pid() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

[ "$(id -u)" -eq 0 ] || { log "needs root"; exit 1; }
mkdir -p "$OUT"
if [ -z "${NO_BUILD:-}" ]; then
    (cd "$REPO" && cargo build --release --features dpdk --bin skylane &&
        cargo build --release -p skylane-perf --features dpdk) >&2
fi
# Private copies: other builds in the shared target directory cannot swap them mid-run.
cp "$SKYLANE_BIN" "$OUT/skylane"
cp "$PERF_BIN" "$OUT/skylane-perf"
SKY=$OUT/skylane
PERF=$OUT/skylane-perf

"$PERF" gen zone --names "$NAMES" -o "$OUT/perf.zone"
"$PERF" gen queries --names "$NAMES" --count "$QUERIES" --miss-percent "$MISS_PERCENT" \
    --types A,AAAA -o "$OUT/queries.txt"
# kxdpgun reads `name type` lines without comments.
grep -v '^#' "$OUT/queries.txt" >"$OUT/queries-kxdpgun.txt"

# skylane serve on the DPDK backend with EAL args $1 and addresses $2; PID in SKY_PID.
start_skylane() {
    local eal=$1 addrs=$2 ns=${3:-} exception=${4:-none}
    cat >"$OUT/skylane.toml" <<EOF
[dns]
zone-files = ["$OUT/perf.zone"]
example-records = false
[dataplane]
backend = "dpdk"
cores = [$SERVER_CPU]
[tcp]
enabled = false
[dpdk]
eal-args = [$eal]
port = 0
addresses = [$addrs]
exception-path = "$exception"
EOF
    local -a pre=()
    [ -n "$ns" ] && pre=(ip netns exec "$ns")
    "${pre[@]}" "$SKY" serve --config "$OUT/skylane.toml" --store-path "$OUT/skylane.redb" \
        --api-listen 127.0.0.1:0 >"$OUT/skylane-$RUN.log" 2>&1 &
    SKY_PID=$!
    PIDS+=("$SKY_PID")
    for _ in $(seq 100); do
        grep -q "DPDK lcore loop running" "$OUT/skylane-$RUN.log" && return 0
        kill -0 "$SKY_PID" 2>/dev/null || { log "skylane exited: $(tail -3 "$OUT/skylane-$RUN.log")"; return 1; }
        sleep 0.2
    done
    return 1
}

# skylane-perf against the memif socket $1 (server MAC resolved, or given with extra flags),
# output in $OUT/$2-perf.out.
run_perf_memif() {
    local sock=$1 name=$2
    shift 2
    local cmd=("$PERF" -s 10.98.0.1 -d "$OUT/queries.txt" -l "$DURATION" -q "$OUTSTANDING"
        -c "$CLIENTS" -t 2
        --dpdk-eal "--no-huge --no-pci -m 1024 --file-prefix=skybench-perf --vdev=net_memif0,role=client,socket=$sock"
        --dpdk-src-ip 10.98.0.2 --dpdk-cores "$CLIENT_CPU" "$@")
    echo "${cmd[*]}" >"$OUT/$name-perf.cmd"
    "${cmd[@]}" >"$OUT/$name-perf.out" 2>"$OUT/$name-perf.err" || log "skylane-perf ($name) failed: $(tail -2 "$OUT/$name-perf.err")"
}

# Field $2 of the first line of file $1 matching $3 (empty when none matches).
perf_field() { { grep -m1 "$3" "$1" || true; } | awk -v f="$2" '{print $f}'; }

# The memif ceiling: dpdk-testpmd reflects (macswap) on the server's CPU what skylane-perf
# sends from the client's, same frames; testpmd's main lcore shares the client's CPU and
# sleeps in read(2) on a FIFO until told to stop. Sets CEILING_PPS.
memif_ceiling() {
    local sock=$OUT/memif-testpmd.sock fifo=$OUT/testpmd.stdin
    local mac=02:00:00:00:00:01
    command -v dpdk-testpmd >/dev/null || { log "dpdk-testpmd missing (apt-get install dpdk-dev)"; return 1; }
    rm -f "$fifo"
    mkfifo "$fifo"
    log "memif ceiling: dpdk-testpmd macswap forwarding on CPU $SERVER_CPU"
    dpdk-testpmd -l "$CLIENT_CPU,$SERVER_CPU" --main-lcore="$CLIENT_CPU" --no-huge --no-pci -m 512 \
        --file-prefix=skybench-testpmd --vdev="net_memif0,role=server,socket=$sock,mac=$mac" -- \
        --forward-mode=macswap --nb-cores=1 --rxq=1 --txq=1 --total-num-mbufs=16384 \
        <>"$fifo" >"$OUT/testpmd.log" 2>&1 &
    local tpmd=$!
    PIDS+=("$tpmd")
    for _ in $(seq 150); do
        grep -q "Press enter to exit" "$OUT/testpmd.log" && break
        kill -0 "$tpmd" 2>/dev/null || { log "testpmd exited: $(tail -3 "$OUT/testpmd.log")"; return 1; }
        sleep 0.2
    done
    run_perf_memif "$sock" memif-ceiling --dpdk-reflector --dpdk-dst-mac "$mac"
    echo >"$fifo"
    for _ in $(seq 100); do kill -0 "$tpmd" 2>/dev/null || break; sleep 0.1; done
    stop_pid "$tpmd"
    # The ceiling is what came back through testpmd, counted by the generator: testpmd's own
    # forward statistics of a memif server port read 0 after its peer connects.
    local fwd secs sent full offered
    fwd=$(perf_field "$OUT/memif-ceiling-perf.out" 3 "Queries completed")
    secs=$(perf_field "$OUT/memif-ceiling-perf.out" 4 "Run time (s)")
    sent=$(perf_field "$OUT/memif-ceiling-perf.out" 3 "Queries sent")
    full=$(perf_field "$OUT/memif-ceiling-perf.out" 4 "TX ring full")
    [ -n "$fwd" ] && [ -n "$secs" ] || { log "no skylane-perf figures (see $OUT)"; return 1; }
    CEILING_PPS=$(awk -v f="$fwd" -v s="$secs" 'BEGIN { printf "%.0f", f / s }')
    offered=$(awk -v a="$sent" -v b="${full:-0}" -v s="$secs" 'BEGIN { printf "%.0f", (a + b) / s }')
    echo "== memif ceiling: dpdk-testpmd --forward-mode=macswap (1 lcore) <- skylane-perf (DPDK mode, --dpdk-reflector)"
    grep -E "Queries (sent|completed|lost)|TX ring full|Queries per second" "$OUT/memif-ceiling-perf.out" || true
    echo "testpmd reflected $fwd frames back in ${secs}s: $CEILING_PPS pps"
    if [ "$offered" -gt "$CEILING_PPS" ] && [ "${full:-0}" -gt 0 ]; then
        echo "calibration: skylane-perf offered $offered frames/s > ceiling $CEILING_PPS pps (its TX ring to testpmd was full ${full} times): the reflector, not the generator, set the ceiling"
    else
        echo "calibration: skylane-perf offered only $offered frames/s (TX ring never full): the generator, not testpmd, limited this run; ceiling_pps is a lower bound of the memif ceiling"
    fi
}

bench_memif() {
    RUN=memif
    local sock=$OUT/memif.sock
    log "memif: skylane lcore on CPU $SERVER_CPU, skylane-perf on CPU $CLIENT_CPU, ${DURATION}s"
    start_skylane "\"--no-huge\", \"--no-pci\", \"-m\", \"512\", \"--file-prefix=skybench-sky\", \"--vdev=net_memif0,role=server,socket=$sock\"" \
        "\"10.98.0.1/24\""
    run_perf_memif "$sock" memif
    stop_pid "$SKY_PID"
    echo "== memif: skylane (DPDK, 1 lcore) <- skylane-perf (DPDK mode)"
    grep -E "Queries (sent|completed|lost)|TX ring full|Queries per second|Latency \(us\)" "$OUT/memif-perf.out" || true
    grep -o "DPDK data plane stopped.*" "$OUT/skylane-memif.log" | sed 's/\x1b\[[0-9;]*m//g' || true
    local qps
    qps=$(perf_field "$OUT/memif-perf.out" 4 "Queries per second" | awk '{printf "%.0f", $1}')
    CEILING_PPS=
    memif_ceiling || log "memif ceiling not measured"
    if [ -n "$CEILING_PPS" ] && [ "$CEILING_PPS" -gt 0 ] && [ -n "$qps" ]; then
        echo "memif: ceiling_pps=$CEILING_PPS skylane_qps=$qps ratio=$(awk -v q="$qps" -v c="$CEILING_PPS" 'BEGIN { printf "%.2f", q / c }')"
    else
        echo "memif: ceiling_pps=0 skylane_qps=${qps:-0} ratio=0.00"
    fi
}

setup_veth() {
    ip netns del "$NS_S" 2>/dev/null || true
    ip netns del "$NS_C" 2>/dev/null || true
    ip netns add "$NS_S"
    ip netns add "$NS_C"
    ip link add vbs netns "$NS_S" type veth peer name vbc netns "$NS_C"
    for ns in "$NS_S" "$NS_C"; do ip -n "$ns" link set lo up; done
    ip -n "$NS_S" link set vbs up
    ip -n "$NS_C" link set vbc up
    ip -n "$NS_C" addr add 10.99.0.2/24 dev vbc
    # Complete checksums on the wire (veth would leave them to "hardware").
    ip netns exec "$NS_C" ethtool -K vbc tx off >/dev/null
    ip netns exec "$NS_S" ethtool -K vbs tx off >/dev/null
}

# kxdpgun leaves its XDP program on vbc; DPDK's af_xdp needs the interface free.
detach_xdp() {
    ip -n "$NS_C" link set dev vbc xdp off 2>/dev/null || true
    ip -n "$NS_C" link set dev vbc xdpgeneric off 2>/dev/null || true
}

kxdpgun_runs() {
    local server=$1
    for rate in $RATES; do
        ip netns exec "$NS_C" kdig +short +time=1 +retry=2 @10.99.0.1 "host1.perf.test." A >/dev/null || true
        local out=$OUT/veth-$server-kxdpgun-$rate.out
        ip netns exec "$NS_C" taskset -c "$CLIENT_CPU" kxdpgun -t "$DURATION" -Q "$rate" \
            -i "$OUT/queries-kxdpgun.txt" -I vbc -F "${CLIENT_CPU}s1" 10.99.0.1 >"$out" 2>&1 || true
        printf '%-8s kxdpgun -Q %-8s %s | %s\n' "$server" "$rate" \
            "$(grep -m1 'total queries' "$out" | tr -s ' ')" "$(grep -m1 'total replies' "$out" | tr -s ' ')"
        sleep 1
    done
    detach_xdp
}

bench_veth() {
    setup_veth
    echo "== veth: Skylane DPDK (net_af_xdp, 1 lcore) vs Knot DNS XDP (1 worker), kxdpgun"
    RUN=veth
    start_skylane "\"--no-huge\", \"--no-pci\", \"-m\", \"512\", \"--file-prefix=skybench-sky\", \"--vdev=net_af_xdp0,iface=vbs\"" \
        "\"10.99.0.1/24\"" "$NS_S"
    kxdpgun_runs skylane
    local cmd=(ip netns exec "$NS_C" "$PERF" -s 10.99.0.1 -d "$OUT/queries.txt" -l "$DURATION"
        -q "$OUTSTANDING" -c "$CLIENTS" -t 2
        --dpdk-eal "--no-huge --no-pci -m 1024 --file-prefix=skybench-perf --vdev=net_af_xdp0,iface=vbc"
        --dpdk-src-ip 10.99.0.2 --dpdk-cores "$CLIENT_CPU")
    "${cmd[@]}" >"$OUT/veth-skylane-perf.out" 2>&1 || true
    printf '%-8s skylane-perf (DPDK af_xdp): %s | %s\n' skylane \
        "$(grep -m1 'Queries per second' "$OUT/veth-skylane-perf.out" | tr -s ' ')" \
        "$(grep -m1 'Latency (us)' "$OUT/veth-skylane-perf.out" | tr -s ' ')"
    stop_pid "$SKY_PID"

    command -v knotd >/dev/null || { log "knotd missing: Knot skipped"; return 0; }
    ip -n "$NS_S" addr add 10.99.0.1/24 dev vbs
    mkdir -p "$OUT/knot"
    cat >"$OUT/knot/knot.conf" <<EOF
server:
    rundir: "$OUT/knot"
    listen: 10.99.0.1@53
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
xdp:
    listen: vbs@53
    udp: on
database:
    storage: "$OUT/knot"
template:
  - id: default
    storage: "$OUT"
    semantic-checks: off
    journal-content: none
    zonefile-sync: -1
zone:
  - domain: perf.test.
    file: "$OUT/perf.zone"
log:
  - target: stderr
    any: notice
EOF
    ip netns exec "$NS_S" taskset -c "$SERVER_CPU" knotd -c "$OUT/knot/knot.conf" >"$OUT/knot.log" 2>&1 &
    local knot=$!
    PIDS+=("$knot")
    for _ in $(seq 50); do
        ip netns exec "$NS_C" kdig +short +time=1 +retry=0 @10.99.0.1 host1.perf.test. A 2>/dev/null | grep -q . && break
        sleep 0.2
    done
    kxdpgun_runs knot-xdp
    ip netns exec "$NS_C" "$PERF" -s 10.99.0.1 -d "$OUT/queries.txt" -l "$DURATION" \
        -q "$OUTSTANDING" -c "$CLIENTS" -t 2 \
        --dpdk-eal "--no-huge --no-pci -m 1024 --file-prefix=skybench-perf --vdev=net_af_xdp0,iface=vbc" \
        --dpdk-src-ip 10.99.0.2 --dpdk-cores "$CLIENT_CPU" >"$OUT/veth-knot-perf.out" 2>&1 || true
    printf '%-8s skylane-perf (DPDK af_xdp): %s | %s\n' knot-xdp \
        "$(grep -m1 'Queries per second' "$OUT/veth-knot-perf.out" | tr -s ' ')" \
        "$(grep -m1 'Latency (us)' "$OUT/veth-knot-perf.out" | tr -s ' ')"
    stop_pid "$knot"
    grep -i "xdp" "$OUT/knot.log" | head -3 >&2 || true
}

# Other-port UDP and broadcasts, as fast as perl sends, for $3 seconds; prints the count.
FLOOD_PERL='use Socket; my ($dst, $bcast, $secs) = @ARGV;
socket(my $s, AF_INET, SOCK_DGRAM, 0) or die; setsockopt($s, SOL_SOCKET, SO_BROADCAST, 1) or die;
my @to = (pack_sockaddr_in(9999, inet_aton($dst)), pack_sockaddr_in(9999, inet_aton($bcast)));
my ($n, $end) = (0, time + $secs);
while (time < $end) { for (1 .. 500) { for my $t (@to) { $n++ if send($s, "x" x 64, 0, $t) } } }
print "$n\n";'

bench_exflood() {
    setup_veth
    RUN=exflood
    echo "== exflood: Skylane DPDK (net_af_xdp, 1 lcore, exception path tap), kxdpgun ${FLOOD_DNS_QPS:=300000} qps, without / with flood"
    start_skylane "\"--no-huge\", \"--no-pci\", \"-m\", \"512\", \"--file-prefix=skybench-sky\", \"--vdev=net_af_xdp0,iface=vbs\"" \
        "\"10.99.0.1/24\"" "$NS_S" tap
    local round flood out fpid
    for round in $(seq "${FLOOD_ROUNDS:-2}"); do
        for flood in without with; do
            ip netns exec "$NS_C" kdig +short +time=1 +retry=2 @10.99.0.1 host1.perf.test. A >/dev/null || true
            fpid=""
            if [ "$flood" = with ]; then
                ip netns exec "$NS_C" taskset -c "$CLIENT_CPU" perl -e "$FLOOD_PERL" 10.99.0.1 10.99.0.255 \
                    "$((DURATION + 1))" >"$OUT/exflood-flood-$round.out" 2>&1 &
                fpid=$!
                PIDS+=("$fpid")
            fi
            out=$OUT/exflood-$flood-$round.out
            ip netns exec "$NS_C" taskset -c "$CLIENT_CPU" kxdpgun -t "$DURATION" -Q "$FLOOD_DNS_QPS" \
                -i "$OUT/queries-kxdpgun.txt" -I vbc -F "${CLIENT_CPU}s1" 10.99.0.1 >"$out" 2>&1 || true
            [ -n "$fpid" ] && wait "$fpid"
            printf 'round %s %-7s flood: %s | %s | flood datagrams %s\n' "$round" "$flood" \
                "$(grep -m1 'total queries' "$out" | tr -s ' ')" "$(grep -m1 'total replies' "$out" | tr -s ' ')" \
                "$(cat "$OUT/exflood-flood-$round.out" 2>/dev/null | tail -1)"
            sleep 1
        done
    done
    detach_xdp
    stop_pid "$SKY_PID"
    grep -o "DPDK data plane stopped.*" "$OUT/skylane-exflood.log" | sed 's/\x1b\[[0-9;]*m//g' || true
}

case $MODE in
    memif) bench_memif ;;
    veth) bench_veth ;;
    exflood) bench_exflood ;;
    all) bench_memif; bench_veth ;;
    *) log "unknown mode $MODE (memif, veth, exflood, all)"; exit 2 ;;
esac
log "raw output in $OUT"
