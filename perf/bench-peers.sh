#!/usr/bin/env bash
# Peer benchmark lab: NSD, Knot DNS and Skylane, each alone on one CPU, serving the same
# generated zone, driven from a client network namespace by skylane-perf, dnsperf and kxdpgun.
#
#   sudo perf/bench-peers.sh            # everything, 10 s per (server, tool)
#   sudo SERVERS="nsd knot" TOOLS="skylane-perf dnsperf" DURATION=5 perf/bench-peers.sh
#   sudo perf/bench-peers.sh rrl    # Skylane's [rrl] lab targets (issue 10), see rrl_lab below
#
# Topology: netns "skyperf-client" holds veth skyperf1 (10.99.0.2/24, fd00:99::2/64); the root
# namespace holds its peer skyperf0 (10.99.0.1/24, fd00:99::1/64) where the servers listen.
# Servers run under `taskset -c $SERVER_CPU`, clients under `taskset -c $CLIENT_CPU`.
# Every load has a fixed duration and stops by itself. An EXIT trap stops the servers this
# script started (by process group) and deletes the namespace and veth pair, even on failure.
#
# Results: perf/results/peers-<UTC stamp>.{json,md} plus raw tool output in
# perf/results/peers-<stamp>-raw/ (perf/results/ is gitignored).
#
# Environment knobs (defaults in brackets):
#   DURATION [10]          seconds of load per (server, tool)
#   NAMES [100000]         host names in the generated zone (A, +AAAA even, +TXT every 8th)
#   QUERIES [100000]       lines in the query file; MISS_PERCENT [10] of them NXDOMAIN
#   QTYPES [A,AAAA]        hit query types
#   SERVERS ["nsd knot skylane"]  TOOLS ["skylane-perf skylane-perf-fixed dnsperf kxdpgun"]
#     skylane-perf: as fast as the server answers (latency = queueing at OUTSTANDING);
#     skylane-perf-fixed: a fixed rate of FIXED_QPS [50000], for latency below saturation
#   ROUNDS [1]             run the SERVERS list this many times (alternating before/after
#     pairs); rounds after the first are labelled server.N
#   SERVER_CPU [1] CLIENT_CPU [0]
#   CLIENTS [8] OUTSTANDING [1000] TIMEOUT [2]   skylane-perf and dnsperf socket settings
#   KXDP_QPS [500000]      offered load of kxdpgun (it sends at a fixed rate)
#   SKYLANE_BIN [target/release/skylane]  PERF_BIN [target/release/skylane-perf]
#   SKYLANE_ALT_BIN [unset]: server "skylane-alt" runs this binary with Skylane's command line
#     (before/after pairs in one run: SERVERS="nsd skylane skylane-alt")
#   SKYLANE_ARGS [unset]   extra arguments for `skylane serve` (both Skylane servers);
#     SKYLANE_ALT_ARGS [unset] more for skylane-alt only (e.g. `-c batch64.toml`)
#   NO_BUILD [unset]: do not run cargo
#   KEEP_WORK [unset]      keep the temporary work directory (configs, logs)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-10}
NAMES=${NAMES:-100000}
QUERIES=${QUERIES:-100000}
MISS_PERCENT=${MISS_PERCENT:-10}
QTYPES=${QTYPES:-A,AAAA}
SERVERS=${SERVERS:-"nsd knot skylane"}
ROUNDS=${ROUNDS:-1}
TOOLS=${TOOLS:-"skylane-perf skylane-perf-fixed dnsperf kxdpgun"}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
CLIENTS=${CLIENTS:-8}
OUTSTANDING=${OUTSTANDING:-1000}
TIMEOUT=${TIMEOUT:-2}
KXDP_QPS=${KXDP_QPS:-500000}
FIXED_QPS=${FIXED_QPS:-50000}
SKYLANE_BIN=${SKYLANE_BIN:-$REPO/target/release/skylane}
PERF_BIN=${PERF_BIN:-$REPO/target/release/skylane-perf}
RESULTS_DIR=${RESULTS_DIR:-$REPO/perf/results}

NETNS=skyperf-client
VETH_HOST=skyperf0
VETH_CLIENT=skyperf1
SERVER_IP=10.99.0.1
CLIENT_IP=10.99.0.2
SERVER_IP6=fd00:99::1
CLIENT_IP6=fd00:99::2
ORIGIN=perf.test.

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
WORK=$(mktemp -d /tmp/skylane-bench.XXXXXX)
RAW=$RESULTS_DIR/peers-$STAMP-raw
SERVER_PID=""

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

stop_server() {
    [[ -n $SERVER_PID ]] || return 0
    # The server was started with setsid: its process group is its PID.
    kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

cleanup() {
    set +e
    stop_server
    ip netns del "$NETNS" 2>/dev/null
    ip link del "$VETH_HOST" 2>/dev/null
    if [[ -n ${KEEP_WORK:-} ]]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# UDP receive-buffer drops (/proc/net/snmp Udp RcvbufErrors) in the current namespace.
udp_rcvbuf_errors() {
    awk '/^Udp:/ { if (!hdr) { for (i = 1; i <= NF; i++) col[$i] = i; hdr = 1 } else print $col["RcvbufErrors"] }' /proc/net/snmp
}

# CPU time (utime + stime, clock ticks) of every process in the server's process group, so
# a loaded machine can still compare servers per CPU-second (softirq time the kernel
# accounts to the CPU rather than to the task is not included).
server_cpu_ticks() {
    local total=0 f stat
    local -a fields
    for f in /proc/[0-9]*/stat; do
        { stat=$(<"$f"); } 2>/dev/null || continue
        # Fields after "(comm) ": state ppid pgrp ... utime (12th) stime (13th).
        read -r -a fields <<<"${stat##*) }"
        [[ ${fields[2]:-} == "$SERVER_PID" ]] && total=$((total + fields[11] + fields[12]))
    done
    echo "$total"
}

in_client() { ip netns exec "$NETNS" taskset -c "$CLIENT_CPU" "$@"; }

check_tools() {
    [[ $(id -u) -eq 0 ]] || die "run as root (network namespaces, port 53, XDP)"
    for t in ip taskset setsid kdig python3; do
        command -v "$t" >/dev/null || die "$t not found"
    done
    [[ $(nproc) -gt $SERVER_CPU && $(nproc) -gt $CLIENT_CPU ]] || die "not enough CPUs"
}

build() {
    if [[ -z ${NO_BUILD:-} ]]; then
        log "building skylane-perf (release)"
        (cd "$REPO" && cargo build --release -q -p skylane-perf)
        if [[ " $SERVERS " == *" skylane "* ]] && grep -q '"serve"\|Serve' "$REPO/src/bin/skylane.rs" 2>/dev/null; then
            log "building skylane (release)"
            (cd "$REPO" && cargo build --release -q --bin skylane) || log "skylane build failed"
        fi
    fi
    [[ -x $PERF_BIN ]] || die "$PERF_BIN missing (build it or unset NO_BUILD)"
}

make_data() {
    ZONE=$WORK/perf.test.zone
    QFILE=$WORK/queries.txt
    "$PERF_BIN" gen zone --origin "$ORIGIN" --names "$NAMES" -o "$ZONE"
    # No comment line: every tool reads the same plain `name type` lines.
    "$PERF_BIN" gen queries --origin "$ORIGIN" --names "$NAMES" --count "$QUERIES" \
        --miss-percent "$MISS_PERCENT" --types "$QTYPES" | grep -v '^#' >"$QFILE"
    log "zone: $(grep -c ' IN ' "$ZONE") records; queries: $(wc -l <"$QFILE") lines"
}

setup_net() {
    ip netns del "$NETNS" 2>/dev/null || true
    ip link del "$VETH_HOST" 2>/dev/null || true
    ip netns add "$NETNS"
    ip link add "$VETH_HOST" type veth peer name "$VETH_CLIENT"
    ip link set "$VETH_CLIENT" netns "$NETNS"
    ip addr add "$SERVER_IP/24" dev "$VETH_HOST"
    ip -6 addr add "$SERVER_IP6/64" dev "$VETH_HOST" nodad
    ip link set "$VETH_HOST" up
    ip netns exec "$NETNS" ip link set lo up
    ip netns exec "$NETNS" ip addr add "$CLIENT_IP/24" dev "$VETH_CLIENT"
    ip netns exec "$NETNS" ip -6 addr add "$CLIENT_IP6/64" dev "$VETH_CLIENT" nodad
    ip netns exec "$NETNS" ip link set "$VETH_CLIENT" up
}

write_nsd_conf() {
    mkdir -p "$WORK/nsd"
    cat >"$WORK/nsd/nsd.conf" <<EOF
server:
    ip-address: $SERVER_IP
    port: 53
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "$WORK"
    database: ""
    zonelistfile: "$WORK/nsd/zone.list"
    xfrdfile: "$WORK/nsd/xfrd.state"
    xfrdir: "$WORK/nsd"
    pidfile: "$WORK/nsd/nsd.pid"
    logfile: "$WORK/nsd/nsd.log"
    verbosity: 0
    hide-version: yes
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: "$ORIGIN"
    zonefile: "$ZONE"
EOF
}

write_knot_conf() {
    mkdir -p "$WORK/knot"
    cat >"$WORK/knot/knot.conf" <<EOF
server:
    rundir: "$WORK/knot"
    listen: $SERVER_IP@53
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "$WORK/knot"
template:
  - id: default
    storage: "$WORK"
    semantic-checks: off
    journal-content: none
    zonefile-sync: -1
zone:
  - domain: $ORIGIN
    file: "$ZONE"
log:
  - target: stderr
    any: warning
EOF
}

# Prints the server command line, or nothing if that server cannot run here.
server_command() {
    case $1 in
    nsd)
        command -v nsd >/dev/null || return 0
        write_nsd_conf
        echo "nsd -d -c $WORK/nsd/nsd.conf"
        ;;
    knot)
        command -v knotd >/dev/null || return 0
        write_knot_conf
        echo "knotd -c $WORK/knot/knot.conf"
        ;;
    skylane | skylane-alt)
        local bin=$SKYLANE_BIN
        local args=${SKYLANE_ARGS:-}
        [[ $1 == skylane-alt ]] && bin=${SKYLANE_ALT_BIN:-} && args="$args ${SKYLANE_ALT_ARGS:-}"
        [[ -n $bin && -x $bin ]] && "$bin" serve --help >/dev/null 2>&1 || return 0
        # REST API on an ephemeral loopback port and the store in the work directory, so the
        # lab never collides with another Skylane on this host.
        echo "$bin serve --listen $SERVER_IP:53 --zone $ZONE --cores $SERVER_CPU" \
            "--api-listen 127.0.0.1:0 --store embedded --store-path $WORK/$1.redb $args"
        ;;
    *) die "unknown server $1" ;;
    esac
}

start_server() {
    local name=$1 cmd=$2
    log "starting $name on CPU $SERVER_CPU: $cmd"
    # setsid: the server gets its own process group, so stop_server reaches its children.
    # shellcheck disable=SC2086
    setsid taskset -c "$SERVER_CPU" $cmd >"$RAW/$name-server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do
        if ip netns exec "$NETNS" kdig +short +time=1 +retry=0 "@$SERVER_IP" "host1.$ORIGIN" A 2>/dev/null |
            grep -q '^10\.'; then
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || { log "$name exited: $(tail -3 "$RAW/$name-server.log")"; SERVER_PID=""; return 1; }
        sleep 0.2
    done
    log "$name did not answer within 20 s"
    stop_server
    return 1
}

# Runs one load tool against the running server; output in $RAW/<server>-<tool>.out.
run_tool() {
    local server=$1 tool=$2 out="$RAW/$1-$2.out" guard=$((DURATION + TIMEOUT + 30))
    local -a cmd
    case $tool in
    skylane-perf)
        cmd=("$PERF_BIN" -s "$SERVER_IP" -d "$QFILE" -l "$DURATION" -c "$CLIENTS" -T 1
            -q "$OUTSTANDING" -t "$TIMEOUT" --json)
        ;;
    skylane-perf-fixed)
        cmd=("$PERF_BIN" -s "$SERVER_IP" -d "$QFILE" -l "$DURATION" -c "$CLIENTS" -T 1
            -q "$OUTSTANDING" -t "$TIMEOUT" -Q "$FIXED_QPS" --json)
        ;;
    dnsperf)
        command -v dnsperf >/dev/null || { log "dnsperf missing, skipped"; return 0; }
        cmd=(dnsperf -s "$SERVER_IP" -d "$QFILE" -l "$DURATION" -c "$CLIENTS" -T 1
            -q "$OUTSTANDING" -t "$TIMEOUT")
        ;;
    kxdpgun)
        command -v kxdpgun >/dev/null || { log "kxdpgun missing, skipped"; return 0; }
        cmd=(kxdpgun -t "$DURATION" -Q "$KXDP_QPS" -i "$QFILE" -I "$VETH_CLIENT"
            -F "${CLIENT_CPU}s1" "$SERVER_IP")
        ;;
    *) die "unknown tool $tool" ;;
    esac
    log "  $tool -> $server (${DURATION}s)"
    printf '%s\n' "ip netns exec $NETNS taskset -c $CLIENT_CPU ${cmd[*]}" >"$out.cmd"
    local server_drops client_drops server_ticks
    server_ticks=$(server_cpu_ticks)
    server_drops=$(udp_rcvbuf_errors)
    client_drops=$(ip netns exec "$NETNS" bash -c "$(declare -f udp_rcvbuf_errors); udp_rcvbuf_errors")
    if ! in_client timeout "$guard" "${cmd[@]}" >"$out" 2>"$out.err"; then
        log "  $tool failed: $(tail -2 "$out.err")"
    fi
    server_ticks=$(($(server_cpu_ticks) - server_ticks))
    sleep 1 # let the server drain before the next tool
    printf '{"server_cpu_s": %s, "server_rcvbuf_drops": %d, "client_rcvbuf_drops": %d}\n' \
        "$(awk -v t="$server_ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }')" \
        $(($(udp_rcvbuf_errors) - server_drops)) \
        $(($(ip netns exec "$NETNS" bash -c "$(declare -f udp_rcvbuf_errors); udp_rcvbuf_errors") - client_drops)) \
        >"$out.drops"
}

# The [rrl] lab (issue 10 targets), Skylane only, in one run:
#  (a) one source (10.99.0.2) floods one name at RRL_FLOOD_QPS [200000] with skylane-perf
#      while a second client in another /24 (10.99.1.2, addresses added to the veth pair)
#      sends hit-only queries (all names) at RRL_OTHER_QPS [5000]; reported: the flooder's full
#      answers and slips per second, the other client's answered share;
#  (b) kxdpgun, hit-only queries from RRL_SOURCES [10.100.0.0/16] (routed to the client ns) at
#      KXDP_QPS, saturating, with [rrl] off and on (default rates), RRL_ROUNDS [2] times
#      each, alternating: answered qps.
source "$REPO/perf/bench-rrl.sh"

main() {
    [[ ${1:-} == -h || ${1:-} == --help ]] && { sed -n '2,37p' "$0"; exit 0; }
    check_tools
    build
    mkdir -p "$RAW"
    make_data
    setup_net
    if [[ ${1:-} == rrl ]]; then
        rrl_lab
        return
    fi
    cp "$WORK/queries.txt" "$RAW/queries.txt"
    local round server label
    for round in $(seq "$ROUNDS"); do
        for server in $SERVERS; do
            # Later rounds are labelled server.N so their results are kept apart.
            label=$server
            [[ $round -gt 1 ]] && label=$server.$round
            cmd=$(server_command "$server")
            if [[ -z $cmd ]]; then
                log "$server not available, skipped"
                continue
            fi
            echo "$cmd" >"$RAW/$label-server.cmd"
            start_server "$label" "$cmd" || continue
            for tool in $TOOLS; do
                run_tool "$label" "$tool"
            done
            stop_server
        done
    done
    python3 "$REPO/perf/bench-report.py" "$RAW" "$RESULTS_DIR/peers-$STAMP" \
        --duration "$DURATION" --names "$NAMES" --server-cpu "$SERVER_CPU" \
        --client-cpu "$CLIENT_CPU"
}

main "$@"
