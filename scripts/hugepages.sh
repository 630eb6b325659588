#!/usr/bin/env bash
# Reserve hugepages for DPDK and mount hugetlbfs. Idempotent: running it twice with the
# same arguments changes nothing the second time.
#
#   scripts/hugepages.sh [-n PAGES] [-s 2M|1G] [--node N|all] [--mount DIR]   reserve + mount
#   scripts/hugepages.sh --check [-s 2M|1G]                                 report, exit 1 if none
#   scripts/hugepages.sh --release [-s 2M|1G] [--node N|all] [--mount DIR]  free + unmount
#
# PAGES is per NUMA node (default 1024 x 2 MB = 2 GB per node). 1 GB pages usually have to
# be reserved at boot (kernel cmdline: default_hugepagesz=1G hugepagesz=1G hugepages=N)
# because the memory fragments quickly; the script reports when the kernel gave fewer
# pages than asked. The default mount point is /dev/hugepages for 2 MB pages and
# /dev/hugepages-1G for 1 GB pages (pass that directory to DPDK with --huge-dir when it
# is not the default one).
set -euo pipefail

pages=1024
size=2M
node=all
mountpoint=""
action=reserve

usage() {
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

while [ $# -gt 0 ]; do
    case "$1" in
        -n|--pages) pages="${2:?-n needs a number}"; shift 2 ;;
        -s|--size) size="${2:?-s needs 2M or 1G}"; shift 2 ;;
        --node) node="${2:?--node needs a number or all}"; shift 2 ;;
        --mount) mountpoint="${2:?--mount needs a directory}"; shift 2 ;;
        --check) action=check; shift ;;
        --release) action=release; shift ;;
        -h|--help) usage 0 ;;
        *) echo "hugepages.sh: unknown argument: $1" >&2; usage 2 ;;
    esac
done

case "$size" in
    2M|2m|2048k|2048kB) kb=2048; size=2M ;;
    1G|1g|1048576k|1048576kB) kb=1048576; size=1G ;;
    *) echo "hugepages.sh: page size must be 2M or 1G, not '$size'" >&2; exit 2 ;;
esac
case "$pages" in
    ''|*[!0-9]*) echo "hugepages.sh: page count must be a non-negative integer, not '$pages'" >&2; exit 2 ;;
esac
if [ -z "$mountpoint" ]; then
    if [ "$size" = 2M ]; then mountpoint=/dev/hugepages; else mountpoint=/dev/hugepages-1G; fi
fi

# The per-node sysfs directories for this page size (or the global one without NUMA).
node_dirs() {
    local dirs=()
    if [ -d /sys/devices/system/node/node0 ]; then
        if [ "$node" = all ]; then
            for d in /sys/devices/system/node/node[0-9]*; do
                [ -d "$d/hugepages/hugepages-${kb}kB" ] && dirs+=("$d/hugepages/hugepages-${kb}kB")
            done
        else
            case "$node" in
                *[!0-9]*) echo "hugepages.sh: --node must be a number or all" >&2; exit 2 ;;
            esac
            local d="/sys/devices/system/node/node$node/hugepages/hugepages-${kb}kB"
            [ -d "$d" ] || { echo "hugepages.sh: no NUMA node $node with ${size} pages" >&2; exit 2; }
            dirs+=("$d")
        fi
    else
        dirs+=("/sys/kernel/mm/hugepages/hugepages-${kb}kB")
    fi
    [ -d "${dirs[0]:-/nonexistent}" ] || { echo "hugepages.sh: kernel has no ${size} hugepages" >&2; exit 2; }
    printf '%s\n' "${dirs[@]}"
}

node_name() {
    case "$1" in
        /sys/devices/system/node/*) echo "$1" | sed 's|.*/\(node[0-9]*\)/.*|\1|' ;;
        *) echo "system" ;;
    esac
}

is_mounted() {
    awk -v m="$1" '$2 == m && $3 == "hugetlbfs" { found = 1 } END { exit !found }' /proc/mounts
}

mount_opts() {
    if [ "$size" = 1G ]; then echo "pagesize=1G"; else echo "pagesize=2M"; fi
}

check() {
    local total=0 free=0 d n f
    echo "hugepages (${size}):"
    while read -r d; do
        n=$(cat "$d/nr_hugepages"); f=$(cat "$d/free_hugepages")
        printf '  %-8s reserved %6d  free %6d\n' "$(node_name "$d")" "$n" "$f"
        total=$((total + n)); free=$((free + f))
    done < <(node="all"; node_dirs)
    echo "  total    reserved ${total}  free ${free}  ($((total * kb / 1024)) MB)"
    local mounts
    mounts=$(awk '$3 == "hugetlbfs" { print "  " $2 " (" $4 ")" }' /proc/mounts)
    if [ -n "$mounts" ]; then echo "hugetlbfs mounts:"; echo "$mounts"; else echo "hugetlbfs mounts: none"; fi
    [ "$total" -gt 0 ] && [ -n "$mounts" ]
}

need_root() {
    [ "$(id -u)" -eq 0 ] || { echo "hugepages.sh: $1 needs root" >&2; exit 1; }
}

reserve() {
    need_root "reserving hugepages"
    local d have got short=0
    while read -r d; do
        have=$(cat "$d/nr_hugepages")
        if [ "$have" -ne "$pages" ]; then
            # Compact memory first so 2 MB / 1 GB contiguous blocks are easier to find.
            [ -w /proc/sys/vm/compact_memory ] && echo 1 > /proc/sys/vm/compact_memory || true
            echo "$pages" > "$d/nr_hugepages"
        fi
        got=$(cat "$d/nr_hugepages")
        if [ "$got" -lt "$pages" ]; then
            echo "hugepages.sh: $(node_name "$d"): asked for $pages ${size} pages, kernel gave $got" >&2
            short=1
        else
            echo "$(node_name "$d"): $got x ${size} pages reserved"
        fi
    done < <(node_dirs)
    if ! is_mounted "$mountpoint"; then
        mkdir -p "$mountpoint"
        mount -t hugetlbfs -o "$(mount_opts)" nodev "$mountpoint"
        echo "mounted hugetlbfs (${size}) on $mountpoint"
    else
        echo "hugetlbfs already mounted on $mountpoint"
    fi
    return "$short"
}

release() {
    need_root "releasing hugepages"
    if is_mounted "$mountpoint"; then
        # Files left by a crashed DPDK process keep pages busy; they are safe to remove
        # only when no process maps them.
        if command -v fuser > /dev/null && fuser -s -m "$mountpoint" 2> /dev/null; then
            echo "hugepages.sh: $mountpoint is in use by a running process; not releasing" >&2
            exit 1
        fi
        find "$mountpoint" -maxdepth 1 -type f -name '*map_*' -delete 2> /dev/null || true
        umount "$mountpoint"
        echo "unmounted $mountpoint"
    fi
    local d
    while read -r d; do
        echo 0 > "$d/nr_hugepages"
        echo "$(node_name "$d"): ${size} pages released (now $(cat "$d/nr_hugepages"))"
    done < <(node_dirs)
}

case "$action" in
    check) check ;;
    reserve) reserve ;;
    release) release ;;
esac
