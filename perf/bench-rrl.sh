# shellcheck shell=bash
# The [rrl] part of the peer lab, sourced by perf/bench-peers.sh and run by
# `sudo perf/bench-peers.sh rrl`. It uses that script's namespace (setup_net), data
# (make_data), start_server/stop_server, in_client and binaries; see the header there for
# what is measured. Knobs (defaults in brackets):
#   RRL_FLOOD_QPS [200000]  offered load of the flooding source (one name)
#   RRL_OTHER_QPS [5000]    the other client's load (hit-only queries over every name)
#   RRL_RATE [20]           [rrl] responses-per-second in (a)
#   RRL_SOURCES [10.100.0.0/16]  kxdpgun's source subnet in (b)
#   RRL_ROUNDS [2]          off/on pairs in (b)

RRL_FLOOD_QPS=${RRL_FLOOD_QPS:-200000}
RRL_OTHER_QPS=${RRL_OTHER_QPS:-5000}
RRL_RATE=${RRL_RATE:-20}
RRL_SOURCES=${RRL_SOURCES:-10.100.0.0/16}
RRL_ROUNDS=${RRL_ROUNDS:-2}
RRL_TOKEN=rrl-lab-token
SERVER_IP_B=10.99.1.1
CLIENT_IP_B=10.99.1.2

# A second /24 for the other client, and a route to kxdpgun's source subnet.
rrl_net() {
    ip addr add "$SERVER_IP_B/24" dev "$VETH_HOST"
    ip netns exec "$NETNS" ip addr add "$CLIENT_IP_B/24" dev "$VETH_CLIENT"
    ip route add "$RRL_SOURCES" via "$CLIENT_IP" dev "$VETH_HOST"
}

# Writes the Skylane config with `[rrl] enabled = $1` and prints its path.
rrl_config() {
    local path="$WORK/skylane-rrl-$1.toml"
    cat >"$path" <<CONF
[dns]
zone-files = ["$ZONE"]
example-records = false
[dataplane]
listen = ["$SERVER_IP:53", "$SERVER_IP_B:53"]
cores = [$SERVER_CPU]
[api]
listen = "127.0.0.1:$RRL_API_PORT"
token = "$RRL_TOKEN"
[store]
path = "$WORK/skylane-rrl.redb"
[forward]
enabled = false
[rrl]
enabled = $1
responses-per-second = $RRL_RATE
CONF
    echo "$path"
}

# The value of an unlabelled metric of the running server.
rrl_metric() {
    curl -sf --max-time 10 -H "Authorization: Bearer $RRL_TOKEN" \
        "http://127.0.0.1:$RRL_API_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}

# A field of a skylane-perf --json report.
perf_field() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

# Hit-only queries (no NXDOMAIN): per (prefix, name, type) account these stay far under
# any rate, so what they lose is the limiter's cost, not its limiting. (NXDOMAIN accounts
# are per zone, as BIND's: a 10 % miss mix from one /24 at thousands of qps is limited.)
rrl_hits() {
    "$PERF_BIN" gen queries --origin "$ORIGIN" --names "$NAMES" --count "$QUERIES" \
        --miss-percent 0 --types "$QTYPES" | grep -v '^#' >"$WORK/hits.txt"
}

# (a): the flood and the other client side by side.
rrl_flood() {
    local flood="$WORK/flood.txt" out="$RAW/rrl-a"
    echo "host1.$ORIGIN A" >"$flood"
    local d0 s0
    d0=$(rrl_metric skylane_rrl_dropped_total)
    s0=$(rrl_metric skylane_rrl_slipped_total)
    log "  (a) flood ${RRL_FLOOD_QPS} qps of one name from $CLIENT_IP; other client $CLIENT_IP_B"
    # Drops hold an outstanding slot for -t: a large -q keeps the offered rate up.
    in_client "$PERF_BIN" -s "$SERVER_IP" -d "$flood" -l "$DURATION" -c 16 -T 1 \
        -q 200000 -t 0.5 -Q "$RRL_FLOOD_QPS" --json >"$out-flood.json" 2>"$out-flood.err" &
    local flood_pid=$!
    in_client "$PERF_BIN" -s "$SERVER_IP_B" -d "$WORK/hits.txt" -l "$DURATION" -c 4 -T 1 \
        -q 1000 -t 2 -Q "$RRL_OTHER_QPS" --json >"$out-other.json" 2>"$out-other.err"
    wait "$flood_pid" || log "  flood: $(tail -2 "$out-flood.err")"
    sleep 1
    local dropped slipped sent done trunc other_sent other_done other_trunc full
    dropped=$(($(rrl_metric skylane_rrl_dropped_total) - d0))
    slipped=$(($(rrl_metric skylane_rrl_slipped_total) - s0))
    sent=$(perf_field "$out-flood.json" sent)
    done=$(perf_field "$out-flood.json" completed)
    trunc=$(perf_field "$out-flood.json" truncated)
    other_sent=$(perf_field "$out-other.json" sent)
    other_done=$(perf_field "$out-other.json" completed)
    other_trunc=$(perf_field "$out-other.json" truncated)
    full=$((done - trunc))
    {
        echo "### (a) one source flooding one name, [rrl] responses-per-second = $RRL_RATE, ${DURATION} s"
        echo
        echo "| | value |"
        echo "|---|---|"
        echo "| flood sent (offered ${RRL_FLOOD_QPS}/s) | $sent ($((sent / DURATION))/s) |"
        echo "| flood replies: full answers | $full ($(python3 -c "print(round($full / $DURATION, 1))")/s) |"
        echo "| flood replies: TC=1 slips received (server count) | $trunc ($slipped) |"
        echo "| flood responses dropped | $dropped |"
        echo "| other client sent / answered in full (slips) | $other_sent / $((other_done - other_trunc)) ($(python3 -c "print(round(100 * ($other_done - $other_trunc) / max($other_sent, 1), 3))") %) ($other_trunc) |"
        echo
    } | tee -a "$RAW/rrl-summary.md"
}

# kxdpgun's reply line from its output file.
kxdp_replies() {
    grep -m1 'total replies' "$1" | tr -s ' ' || echo "no replies line"
}

# (b): saturating load from many sources, [rrl] off and on alternately.
rrl_many() {
    local kq="$WORK/hits.txt"
    {
        echo "### (b) kxdpgun at ${KXDP_QPS} qps from $RRL_SOURCES, answered pps"
        echo
        echo "| round | rrl off | rrl on |"
        echo "|---|---|---|"
    } | tee -a "$RAW/rrl-summary.md"
    local round state cmd
    for round in $(seq "$RRL_ROUNDS"); do
        local row="| $round"
        for state in false true; do
            cmd="$SKYLANE_BIN serve --config $(rrl_config "$state")"
            start_server "skylane-rrl-$state-$round" "$cmd" || return 1
            in_client timeout $((DURATION + 30)) kxdpgun -t "$DURATION" -Q "$KXDP_QPS" -i "$kq" \
                -I "$VETH_CLIENT" -l "$RRL_SOURCES" -F "${CLIENT_CPU}s1" "$SERVER_IP" \
                >"$RAW/rrl-b-$state-$round.out" 2>&1 || log "  kxdpgun: $(tail -2 "$RAW/rrl-b-$state-$round.out")"
            row="$row | $(kxdp_replies "$RAW/rrl-b-$state-$round.out")"
            stop_server
        done
        echo "$row |" | tee -a "$RAW/rrl-summary.md"
    done
}

rrl_lab() {
    [[ -x $SKYLANE_BIN ]] || die "$SKYLANE_BIN missing"
    RRL_API_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    rrl_net
    rrl_hits
    : >"$RAW/rrl-summary.md"
    start_server skylane-rrl "$SKYLANE_BIN serve --config $(rrl_config true)" || die "skylane did not start"
    rrl_flood
    stop_server
    rrl_many
    log "summary: $RAW/rrl-summary.md"
}
