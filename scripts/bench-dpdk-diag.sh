# Per-round diagnostics of scripts/bench-dpdk.sh (sourced by it, not run on its own):
# snapshots of the server's `skylane_dpdk_*` metrics, of the lab threads' CPU time and
# involuntary context switches, of the lab CPUs' /proc/stat lines and (veth modes) of the
# veth pair's counters, and a report of the deltas between two snapshots.
#
# Uses from the caller: OUT, SERVER_CPU, CLIENT_CPU, NS_S, NS_C, SKY_NS, API_PORT, log.
# shellcheck shell=bash

CLK_TCK=$(getconf CLK_TCK)
DIAG_VETH=${DIAG_VETH:-}
# "label pid comm-glob" per watched thread group (glob * = every thread of the process).
DIAG_THREADS=()

# A free TCP port on 127.0.0.1 (inside namespace $1 when given).
free_port() {
    local -a pre=()
    [ -n "${1:-}" ] && pre=(ip netns exec "$1")
    "${pre[@]}" python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Watch the threads of process $2 whose name matches glob $3, reported as $1.
diag_watch() { DIAG_THREADS+=("$1 $2 $3"); }

# Forget the watched threads but the kernel's softirq threads of the two lab CPUs (the work
# the kernel could not finish inline: when they run, they preempt what polls on that CPU).
diag_unwatch() {
    DIAG_THREADS=()
    local cpu pid
    for cpu in "$SERVER_CPU" "$CLIENT_CPU"; do
        pid=$(pgrep -x "ksoftirqd/$cpu" | head -1)
        [ -n "$pid" ] && diag_watch "ksoftirqd/$cpu" "$pid" '*'
    done
    return 0
}

# "ticks involuntary_switches" summed over the matching threads of a process.
thread_ticks() {
    local pid=$1 glob=$2 ticks=0 invol=0 t comm a b
    for t in /proc/"$pid"/task/*; do
        comm=$(cat "$t/comm" 2>/dev/null) || continue
        # shellcheck disable=SC2053
        [[ $comm == $glob ]] || continue
        read -r a b < <(awk '{print $14 + $15, 0}' "$t/stat" 2>/dev/null) || continue
        ticks=$((ticks + a))
        b=$(awk '/^nonvoluntary_ctxt_switches/ {print $2}' "$t/status" 2>/dev/null)
        invol=$((invol + ${b:-0}))
    done
    # The whole process: its own counters include threads that already exited.
    [ "$glob" = '*' ] && ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo "$ticks")
    echo "$ticks $invol"
}

# Snapshot $1 (a name under $OUT).
diag_snap() {
    local tag=$OUT/diag-$1 w label pid glob
    if [ -n "${API_PORT:-}" ]; then
        local -a pre=()
        [ -n "${SKY_NS:-}" ] && pre=(ip netns exec "$SKY_NS")
        "${pre[@]}" curl -s --max-time 5 "http://127.0.0.1:$API_PORT/metrics" 2>/dev/null |
            grep '^skylane_dpdk_' >"$tag.metrics" || true
    fi
    # After the scrape, which can take a while when the control plane's CPU is busy: the
    # counters are read when the answer is built, so this is the closer time.
    date +%s.%N >"$tag.time"
    : >"$tag.threads"
    for w in "${DIAG_THREADS[@]}"; do
        read -r label pid glob <<<"$w"
        echo "$label $(thread_ticks "$pid" "$glob")" >>"$tag.threads"
    done
    grep -E "^cpu($SERVER_CPU|$CLIENT_CPU) " /proc/stat >"$tag.cpu"
    if [ -n "$DIAG_VETH" ]; then
        {
            ip netns exec "$NS_S" sh -c 'cd /sys/class/net/vbs/statistics && grep -H . *' | sed 's/^/vbs./'
            ip netns exec "$NS_C" sh -c 'cd /sys/class/net/vbc/statistics && grep -H . *' | sed 's/^/vbc./'
            ip netns exec "$NS_S" ethtool -S vbs 2>/dev/null | awk -F: 'NF == 2 {gsub(/ /, "", $1); print "vbs.ethtool." $1 ":" $2}'
            ip netns exec "$NS_C" ethtool -S vbc 2>/dev/null | awk -F: 'NF == 2 {gsub(/ /, "", $1); print "vbc.ethtool." $1 ":" $2}'
        } >"$tag.veth" 2>/dev/null || true
    fi
}

# Print what changed between snapshots $1 and $2.
diag_report() {
    local a=$OUT/diag-$1 b=$OUT/diag-$2 dt
    dt=$(awk -v x="$(cat "$a.time")" -v y="$(cat "$b.time")" 'BEGIN { printf "%.3f", y - x }')
    echo "  diag over ${dt}s:"
    if [ -s "$b.metrics" ]; then
        # Counters as per-second rates (seconds counters as shares of the interval); gauges as
        # read. The interval is the first lcore's own loop clock when there is one: a scrape
        # may wait for a busy control plane, the lcore's counters are its own.
        local mdt
        mdt=$(awk 'FNR == NR { if ($1 ~ /lcore_seconds_total.*state="loop"/ && !a) a = $2; next }
            $1 ~ /lcore_seconds_total.*state="loop"/ { printf "%.3f", $2 - a; exit }' "$a.metrics" "$b.metrics")
        awk -v mdt="$mdt" 'BEGIN { if (mdt > 0) printf "    metrics over %ss of the lcore clock\n", mdt }'
        awk -v dt="$(awk -v m="$mdt" -v d="$dt" 'BEGIN { print (m > 0 ? m : d) }')" '
            FNR == NR { a[$1] = $2; next }
            {
                k = $1; v = $2
                sub(/^skylane_dpdk_/, "", k)
                gauge = (k !~ /_total\{/ && k !~ /_total$/)
                sub(/_total/, "", k)
                gsub(/(core|device|direction|reason|cause|result|state)="/, "", k)
                gsub(/"/, "", k)
                if (gauge) { if (v != 0) out = out sprintf(" %s=%s", k, v); next }
                d = v - a[$1]
                if (d == 0) next
                if (k ~ /^lcore_seconds/) out = out sprintf(" %s=%.3f", k, d / dt)
                else out = out sprintf(" %s=%.0f/s", k, d / dt)
            }
            END { n = split(out, f, " "); line = "   "; for (i = 1; i <= n; i++) {
                if (length(line) + length(f[i]) > 100) { print line; line = "   " }
                line = line " " f[i] } print line }' "$a.metrics" "$b.metrics"
    fi
    if [ -s "$b.threads" ]; then
        # Same watch list in both snapshots, so line i of one is line i of the other.
        paste -d ' ' "$a.threads" "$b.threads" | awk -v dt="$dt" -v hz="$CLK_TCK" '$1 == $4 {
            printf "    thread %s: on-CPU %.0f%% of the interval, %.0f involuntary switches/s\n",
                $1, ($5 - $2) * 100 / (hz * dt), ($6 - $3) / dt }'
    fi
    paste "$a.cpu" "$b.cpu" | awk '{
        n = (NF - 2) / 2; tot = 0
        for (i = 2; i <= n + 1; i++) { d[i - 1] = $(i + n + 1) - $i; tot += d[i - 1] }
        if (tot == 0) next
        printf "    %s: busy %.0f%% (user %.0f%%, nice %.0f%%, system %.0f%%, softirq %.0f%%, steal %.0f%%)\n",
            $1, 100 * (tot - d[4] - d[5]) / tot, 100 * d[1] / tot, 100 * d[2] / tot, 100 * d[3] / tot,
            100 * d[7] / tot, 100 * d[8] / tot }'
    if [ -n "$DIAG_VETH" ] && [ -s "$b.veth" ]; then
        awk -F: -v dt="$dt" 'FNR == NR { a[$1] = $2; next }
            { d = $2 - a[$1]; if (d != 0) out = out sprintf(" %s=%.0f/s", $1, d / dt) }
            END { n = split(out, f, " "); line = "   "; for (i = 1; i <= n; i++) {
                if (length(line) + length(f[i]) > 100) { print line; line = "   " }
                line = line " " f[i] } print line }' "$a.veth" "$b.veth"
    fi
}

# Run "$@" (a generator running about DURATION s) in the background with its stdout in $2
# and stderr in $3, snapshot 1 s after its start and 1 s before its end, wait for it, and
# write the report of that interval to $OUT/diag-$1.txt. DIAG_GEN_GLOB: the generator's
# threads to watch.
diag_during() {
    local tag=$1 out=$2 err=$3 pid
    shift 3
    "$@" >"$out" 2>"$err" &
    pid=$!
    [ -n "${DIAG_GEN_GLOB:-}" ] && diag_watch generator "$pid" "$DIAG_GEN_GLOB"
    sleep 1
    diag_snap "$tag-a"
    sleep "$(awk -v d="$DURATION" 'BEGIN { print (d > 3 ? d - 2 : 1) }')"
    diag_snap "$tag-b"
    wait "$pid" || true
    diag_report "$tag-a" "$tag-b" >"$OUT/diag-$tag.txt"
}
