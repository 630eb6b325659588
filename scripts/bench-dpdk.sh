#!/usr/bin/env bash
# Benchmarks of the DPDK backend (root; see docs/dpdk.md).
#
#   sudo scripts/bench-dpdk.sh memif   # Skylane (DPDK, 1 lcore) <-memif-> skylane-perf DPDK mode,
#                                      # then the ceiling: dpdk-testpmd macswap in Skylane's place
#   sudo scripts/bench-dpdk.sh veth    # veth lab: Skylane DPDK af_xdp vs Knot DNS XDP, kxdpgun
#   sudo scripts/bench-dpdk.sh exflood # veth lab: DNS load with and without an exception-path flood
#   sudo scripts/bench-dpdk.sh memflood # memif lab: the same, the flood sent by skylane-perf itself
#   sudo scripts/bench-dpdk.sh all      # memif and veth
#
# memif: both processes run --no-huge, Skylane's lcore on CPU $SERVER_CPU, the load generator
#   on CPU $CLIENT_CPU, unlimited rate with $MEMIF_OUTSTANDING [512] queries in flight: fewer
#   than a memif ring holds (1024), so no ring overflows and no query is lost (a lost query
#   keeps its slot of skylane-perf's window busy until the timeout, PERF_TIMEOUT [2] s, and
#   with more in flight than the rings hold the runs swung between 0.15 and 1.1 M qps, see
#   docs/performance.md). Then dpdk-testpmd
#   (--forward-mode=macswap, forwarding lcore on $SERVER_CPU) reflects the same query frames
#   from skylane-perf (--dpdk-reflector) over a memif pair: the transport's ceiling and the
#   generator's calibration. MEMIF_ROUNDS [1] pairs (Skylane, then testpmd) are run; each
#   prints `memif round i/N: ceiling_pps=<N> skylane_qps=<N> ratio=<F> ceiling=<who>`. Last
#   line: `memif: ceiling_pps=<N> skylane_qps=<N> ratio=<F> ceiling=reflector|lower_bound|unmeasured`,
#   the medians over the rounds (ratio: the median of the rounds' own ratios); `reflector`
#   when every round's calibration says testpmd set the pace (skylane-perf's TX ring filled,
#   or it waited with its window full >= WAIT_BOUND [25] % of the run), else `lower_bound`
#   (one generator core was the limit: the ceiling is higher than measured), `unmeasured`
#   when a round could not run testpmd (dpdk-testpmd, from dpdk-dev, missing or failed).
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
#   FLOOD_NAPI_CPU [unset]: threaded NAPI on vbs, its kthread pinned to that CPU (so the
#   kernel's veth/XDP receive work leaves the generators' CPU).
# memflood: the memif lab with Skylane's exception path on (TAP): skylane-perf at unlimited
#   rate, alternately without and with `--dpdk-flood $MEMFLOOD_RATIO` [1] (that many
#   broadcast / other-port UDP frames per query, interleaved), FLOOD_ROUNDS [3] times.
# Every run prints per round: the server's /metrics deltas (`skylane_dpdk_*`: port rx/tx,
#   imissed, nombuf, errors; lcore polls, busy/rx/loop seconds, drops by cause; pool fill),
#   the on-CPU share and involuntary context switches of the DNS lcore thread and of the
#   generator's sender thread, and each lab CPU's busy/softirq/steal share; the veth modes
#   also `ip -s link` and the nonzero `ethtool -S` deltas of vbs and vbc.
# LAB_NICE [unset]: run the lab's processes at this nice level (e.g. -19 on a machine
#   shared with builds; the figures then say what the code does, not what the scheduler
#   gave it).
# Environment: DURATION [10] NAMES [100000] QUERIES [100000] MISS_PERCENT [10]
#   RATES ["500000 1000000 2000000"] OUTSTANDING [4096] CLIENTS [16] SERVER_CPU [1]
#   CLIENT_CPU [0] SKYLANE_BIN, PERF_BIN [target/release/...] NO_BUILD [unset]
#   MEMIF_OUTSTANDING [512] MEMIF_ROUNDS [1] PERF_TIMEOUT [2] FLOOD_ROUNDS FLOOD_DNS_QPS
#   FLOOD_NAPI_CPU MEMFLOOD_RATIO [1] LAB_NICE [unset] WAIT_BOUND [25]
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
API_PORT=

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
if [ -n "${LAB_NICE:-}" ]; then
    # The scheduler's autogroups share CPU per session, whatever the processes' nice: the lab
    # runs in a session of its own and that session's group gets the nice level.
    if [ -z "${BENCH_DPDK_SESSION:-}" ]; then
        BENCH_DPDK_SESSION=1 exec setsid -w "$0" "$@"
    fi
    echo "$LAB_NICE" >/proc/$$/autogroup 2>/dev/null || log "cannot set the autogroup's nice"
    renice -n "$LAB_NICE" -p $$ >/dev/null
fi
# shellcheck source=scripts/bench-dpdk-diag.sh
. "$REPO/scripts/bench-dpdk-diag.sh"
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
    SKY_NS=$ns
    API_PORT=$(free_port "$ns")
    local -a pre=()
    [ -n "$ns" ] && pre=(ip netns exec "$ns")
    rm -f "$OUT/skylane.redb"
    "${pre[@]}" "$SKY" serve --config "$OUT/skylane.toml" --store-path "$OUT/skylane.redb" \
        --api-listen "127.0.0.1:$API_PORT" >"$OUT/skylane-$RUN.log" 2>&1 &
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
# output in $OUT/$2-perf.out, diagnostics of the run in $OUT/diag-$2.txt.
run_perf_memif() {
    local sock=$1 name=$2
    shift 2
    local cmd=("$PERF" -s 10.98.0.1 -d "$OUT/queries.txt" -l "$DURATION" -q "${MEMIF_OUTSTANDING:-512}"
        -c "$CLIENTS" -t "${PERF_TIMEOUT:-2}"
        --dpdk-eal "--no-huge --no-pci -m 1024 --file-prefix=skybench-perf --vdev=net_memif0,role=client,socket=$sock"
        --dpdk-src-ip 10.98.0.2 --dpdk-cores "$CLIENT_CPU" "$@")
    echo "${cmd[*]}" >"$OUT/$name-perf.cmd"
    DIAG_GEN_GLOB='perf-tx-*' diag_during "$name" "$OUT/$name-perf.out" "$OUT/$name-perf.err" "${cmd[@]}"
    [ -s "$OUT/$name-perf.out" ] || log "skylane-perf ($name) failed: $(tail -2 "$OUT/$name-perf.err")"
}

# Field $2 of the first line of file $1 matching $3 (empty when none matches).
perf_field() { { grep -m1 "$3" "$1" || true; } | awk -v f="$2" '{print $f}'; }

# The memif ceiling: dpdk-testpmd reflects (macswap) on the server's CPU what skylane-perf
# sends from the client's, same frames; testpmd's main lcore shares the client's CPU and
# sleeps in read(2) on a FIFO until told to stop. $1: run name. Sets CEILING_PPS.
memif_ceiling() {
    local name=$1 sock=$OUT/memif-testpmd.sock fifo=$OUT/testpmd.stdin
    local mac=02:00:00:00:00:01
    command -v dpdk-testpmd >/dev/null || { log "dpdk-testpmd missing (apt-get install dpdk-dev)"; return 1; }
    rm -f "$fifo" "$sock"
    mkfifo "$fifo"
    log "memif ceiling: dpdk-testpmd macswap forwarding on CPU $SERVER_CPU"
    dpdk-testpmd -l "$CLIENT_CPU,$SERVER_CPU" --main-lcore="$CLIENT_CPU" --no-huge --no-pci -m 512 \
        --file-prefix=skybench-testpmd --vdev="net_memif0,role=server,socket=$sock,mac=$mac" -- \
        --forward-mode=macswap --nb-cores=1 --rxq=1 --txq=1 --total-num-mbufs=16384 \
        <>"$fifo" >"$OUT/$name-testpmd.log" 2>&1 &
    local tpmd=$!
    PIDS+=("$tpmd")
    for _ in $(seq 150); do
        grep -q "Press enter to exit" "$OUT/$name-testpmd.log" && break
        kill -0 "$tpmd" 2>/dev/null || { log "testpmd exited: $(tail -3 "$OUT/$name-testpmd.log")"; return 1; }
        sleep 0.2
    done
    diag_unwatch
    diag_watch testpmd "$tpmd" 'rte-worker-*'
    API_PORT='' run_perf_memif "$sock" "$name" --dpdk-reflector --dpdk-dst-mac "$mac"
    echo >"$fifo"
    for _ in $(seq 100); do kill -0 "$tpmd" 2>/dev/null || break; sleep 0.1; done
    stop_pid "$tpmd"
    # The ceiling is what came back through testpmd, counted by the generator: testpmd's own
    # forward statistics of a memif server port read 0 after its peer connects.
    local out=$OUT/$name-perf.out fwd secs sent full offered waiting busy_ns frame_ns
    fwd=$(perf_field "$out" 3 "Queries completed")
    secs=$(perf_field "$out" 4 "Run time (s)")
    sent=$(perf_field "$out" 3 "Queries sent")
    full=$(perf_field "$out" 4 "TX ring full")
    # "Sender waiting: 7.5% of the run; busy 63 ns per query sent (...)": unlimited rate, so
    # waiting means every client's window was full.
    waiting=$(perf_field "$out" 3 "Sender waiting" | tr -d '%')
    busy_ns=$(perf_field "$out" 8 "Sender waiting")
    [ -n "$fwd" ] && [ -n "$secs" ] || { log "no skylane-perf figures (see $OUT)"; return 1; }
    CEILING_PPS=$(awk -v f="$fwd" -v s="$secs" 'BEGIN { printf "%.0f", f / s }')
    offered=$(awk -v a="$sent" -v b="${full:-0}" -v s="$secs" 'BEGIN { printf "%.0f", (a + b) / s }')
    frame_ns=$(awk -v p="$CEILING_PPS" 'BEGIN { printf "%.0f", (p > 0 ? 1e9 / p : 0) }')
    echo "== memif ceiling: dpdk-testpmd --forward-mode=macswap (1 lcore) <- skylane-perf (DPDK mode, --dpdk-reflector)"
    grep -E "Queries (sent|completed|lost)|TX ring full|Queries per second|Sender waiting" "$out" || true
    cat "$OUT/diag-$name.txt"
    echo "testpmd reflected $fwd frames back in ${secs}s: $CEILING_PPS pps ($frame_ns ns per frame)"
    # Who set the pace: testpmd, when the generator's TX ring filled or it waited on its
    # window a good part of the run (WAIT_BOUND [25] %); else the generator's own CPU.
    CEILING_BOUND=lower_bound
    if [ "$offered" -gt "$CEILING_PPS" ] && [ "${full:-0}" -gt 0 ]; then
        CEILING_BOUND=reflector
        echo "calibration: skylane-perf offered $offered frames/s > ceiling $CEILING_PPS pps (its TX ring to testpmd was full ${full} times): the reflector, not the generator, set the ceiling"
    elif [ -n "$waiting" ] && awk -v w="$waiting" -v b="${WAIT_BOUND:-25}" 'BEGIN { exit !(w >= b) }'; then
        CEILING_BOUND=reflector
        echo "calibration: skylane-perf waited with its window of ${MEMIF_OUTSTANDING:-512} queries full ${waiting}% of the run (busy $busy_ns ns per frame of its $frame_ns): testpmd and the memif rings, not the generator's CPU, set the ceiling"
    elif [ -n "$waiting" ]; then
        echo "calibration: skylane-perf was busy $busy_ns ns per frame of the $frame_ns ns each took (window full only ${waiting}% of the run): one generator core, not testpmd, limited this run; ceiling_pps is a lower bound of the memif ceiling"
    else
        echo "calibration: skylane-perf offered only $offered frames/s (its TX ring never full once the link was up): the generator (its window of ${MEMIF_OUTSTANDING:-512} queries, or its CPU), not testpmd, limited this run; ceiling_pps is a lower bound of the memif ceiling"
    fi
}

# One Skylane run over memif as $1 (extra skylane-perf flags after it; exception path
# $MEMIF_EXCEPTION [none]). Sets QPS.
memif_skylane() {
    local name=$1 sock=$OUT/memif.sock
    shift
    RUN=$name
    rm -f "$sock"
    start_skylane "\"--no-huge\", \"--no-pci\", \"-m\", \"512\", \"--file-prefix=skybench-sky\", \"--vdev=net_memif0,role=server,socket=$sock\"" \
        "\"10.98.0.1/24\"" "" "${MEMIF_EXCEPTION:-none}"
    diag_unwatch
    diag_watch lcore "$SKY_PID" 'skylane-dpdk-*'
    run_perf_memif "$sock" "$name" "$@"
    stop_pid "$SKY_PID"
    API_PORT=
    grep -E "Queries (sent|completed|lost)|TX ring full|Flood frames|Queries per second|Latency \(us\)|Sender waiting" "$OUT/$name-perf.out" || true
    cat "$OUT/diag-$name.txt"
    grep -o "DPDK data plane stopped.*" "$OUT/skylane-$name.log" | sed 's/\x1b\[[0-9;]*m//g' || true
    QPS=$(perf_field "$OUT/$name-perf.out" 4 "Queries per second" | awk '{printf "%.0f", $1}')
}

# Median of the numbers on stdin.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

bench_memif() {
    local rounds=${MEMIF_ROUNDS:-1} r ratio
    local -a qps=() ceil=() ratios=() bounds=()
    log "memif: skylane lcore on CPU $SERVER_CPU, skylane-perf on CPU $CLIENT_CPU, ${DURATION}s, $rounds round(s)"
    for r in $(seq "$rounds"); do
        echo "== memif round $r/$rounds: skylane (DPDK, 1 lcore) <- skylane-perf (DPDK mode)"
        memif_skylane "memif-$r"
        CEILING_PPS=
        CEILING_BOUND=lower_bound
        memif_ceiling "memif-ceiling-$r" || { log "memif ceiling not measured"; CEILING_BOUND=unmeasured; }
        bounds+=("$CEILING_BOUND")
        ratio=$(awk -v q="${QPS:-0}" -v c="${CEILING_PPS:-0}" 'BEGIN { printf "%.2f", (c > 0 ? q / c : 0) }')
        echo "memif round $r/$rounds: ceiling_pps=${CEILING_PPS:-0} skylane_qps=${QPS:-0} ratio=$ratio ceiling=$CEILING_BOUND"
        qps+=("${QPS:-0}")
        ceil+=("${CEILING_PPS:-0}")
        ratios+=("$ratio")
    done
    if [ "$rounds" -gt 1 ]; then
        echo "memif rounds: skylane_qps ${qps[*]}; ceiling_pps ${ceil[*]}; ratio ${ratios[*]}"
    fi
    # ceiling=reflector when every round's calibration says testpmd set it; else
    # ceiling=lower_bound (the generator limited a round: the true ceiling is higher and the
    # ratio an upper bound); ceiling=unmeasured when a round measured none (testpmd missing
    # or failed: ceiling_pps=0 and ratio=0.00 then mean nothing).
    local bound=reflector
    for b in "${bounds[@]}"; do [ "$b" = reflector ] || bound=lower_bound; done
    for b in "${bounds[@]}"; do [ "$b" = unmeasured ] && bound=unmeasured; done
    printf 'memif: ceiling_pps=%.0f skylane_qps=%.0f ratio=%.2f ceiling=%s\n' \
        "$(printf '%s\n' "${ceil[@]}" | median)" "$(printf '%s\n' "${qps[@]}" | median)" \
        "$(printf '%s\n' "${ratios[@]}" | median)" "$bound"
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

# Threaded NAPI on vbs with its kthread(s) pinned to FLOOD_NAPI_CPU (call after the XDP
# program is attached: veth creates its NAPI then).
pin_napi() {
    [ -n "${FLOOD_NAPI_CPU:-}" ] || return 0
    ip netns exec "$NS_S" sh -c 'echo 1 > /sys/class/net/vbs/threaded' || { log "threaded NAPI not available"; return 0; }
    sleep 0.5
    local p
    for p in $(pgrep '^napi/vbs'); do
        taskset -pc "$FLOOD_NAPI_CPU" "$p" >/dev/null && log "NAPI kthread $p ($(cat "/proc/$p/comm")) on CPU $FLOOD_NAPI_CPU"
    done
}

# Per-round summary: kxdpgun's sent/replies of run $1, flooder count file $2.
exflood_line() {
    local round=$1 flood=$2 out=$3 fcount=$4
    printf 'round %s %-7s flood: %s | %s | flood datagrams %s\n' "$round" "$flood" \
        "$(grep -m1 'total queries' "$out" | tr -s ' ')" "$(grep -m1 'total replies' "$out" | tr -s ' ')" \
        "$(tail -1 "$fcount" 2>/dev/null)"
}

bench_exflood() {
    setup_veth
    RUN=exflood
    DIAG_VETH=1
    echo "== exflood: Skylane DPDK (net_af_xdp, 1 lcore, exception path tap), kxdpgun ${FLOOD_DNS_QPS:=300000} qps, without / with flood${FLOOD_NAPI_CPU:+, vbs NAPI threaded on CPU $FLOOD_NAPI_CPU}"
    start_skylane "\"--no-huge\", \"--no-pci\", \"-m\", \"512\", \"--file-prefix=skybench-sky\", \"--vdev=net_af_xdp0,iface=vbs\"" \
        "\"10.99.0.1/24\"" "$NS_S" tap
    pin_napi
    local round flood out fpid fcount
    for round in $(seq "${FLOOD_ROUNDS:-2}"); do
        for flood in without with; do
            ip netns exec "$NS_C" kdig +short +time=1 +retry=2 @10.99.0.1 host1.perf.test. A >/dev/null || true
            diag_unwatch
            diag_watch lcore "$SKY_PID" 'skylane-dpdk-*'
            fpid=""
            fcount=$OUT/exflood-flood-$round.out
            if [ "$flood" = with ]; then
                ip netns exec "$NS_C" taskset -c "$CLIENT_CPU" perl -e "$FLOOD_PERL" 10.99.0.1 10.99.0.255 \
                    "$((DURATION + 1))" >"$fcount" 2>&1 &
                fpid=$!
                PIDS+=("$fpid")
                diag_watch flooder "$fpid" '*'
            fi
            out=$OUT/exflood-$flood-$round.out
            DIAG_GEN_GLOB='*' diag_during "exflood-$flood-$round" "$out" "$out.err" \
                ip netns exec "$NS_C" taskset -c "$CLIENT_CPU" kxdpgun -t "$DURATION" -Q "$FLOOD_DNS_QPS" \
                -i "$OUT/queries-kxdpgun.txt" -I vbc -F "${CLIENT_CPU}s1" 10.99.0.1
            [ -n "$fpid" ] && wait "$fpid"
            if [ "$flood" = with ]; then
                exflood_line "$round" "$flood" "$out" "$fcount"
            else
                exflood_line "$round" "$flood" "$out" /dev/null
            fi
            cat "$OUT/diag-exflood-$flood-$round.txt"
            sleep 1
        done
    done
    detach_xdp
    stop_pid "$SKY_PID"
    grep -o "DPDK data plane stopped.*" "$OUT/skylane-exflood.log" | sed 's/\x1b\[[0-9;]*m//g' || true
}

# memflood: the exception-path flood over memif, generated by skylane-perf between its
# queries (no kernel between generator and server), with and without, alternating.
bench_memflood() {
    local ratio=${MEMFLOOD_RATIO:-1} round flood name
    local -a without=() with=()
    echo "== memflood: Skylane DPDK (memif, 1 lcore on CPU $SERVER_CPU, exception path tap) <- skylane-perf (CPU $CLIENT_CPU, unlimited), without / with --dpdk-flood $ratio"
    for round in $(seq "${FLOOD_ROUNDS:-3}"); do
        for flood in without with; do
            name=memflood-$flood-$round
            echo "-- round $round, $flood flood"
            if [ "$flood" = with ]; then
                MEMIF_EXCEPTION=tap memif_skylane "$name" --dpdk-flood "$ratio"
                with+=("${QPS:-0}")
            else
                MEMIF_EXCEPTION=tap memif_skylane "$name"
                without+=("${QPS:-0}")
            fi
        done
        echo "memflood round $round: without_qps=${without[-1]} with_qps=${with[-1]} change=$(awk -v a="${without[-1]}" -v b="${with[-1]}" 'BEGIN { printf "%+.1f%%", (a > 0 ? 100 * (b - a) / a : 0) }')"
    done
    local mw mf
    mw=$(printf '%s\n' "${without[@]}" | median)
    mf=$(printf '%s\n' "${with[@]}" | median)
    printf 'memflood: without_qps=%.0f with_qps=%.0f change=%s (medians of %s rounds)\n' "$mw" "$mf" \
        "$(awk -v a="$mw" -v b="$mf" 'BEGIN { printf "%+.1f%%", (a > 0 ? 100 * (b - a) / a : 0) }')" "${#with[@]}"
}

case $MODE in
    memif) bench_memif ;;
    veth) bench_veth ;;
    exflood) bench_exflood ;;
    memflood) bench_memflood ;;
    all) bench_memif; bench_veth ;;
    *) log "unknown mode $MODE (memif, veth, exflood, memflood, all)"; exit 2 ;;
esac
log "raw output in $OUT"
