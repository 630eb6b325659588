#!/usr/bin/env python3
"""Summarise a bench-peers.sh run: parse raw skylane-perf / dnsperf / kxdpgun output into one
comparison table, printed and written as <prefix>.json and <prefix>.md."""

import argparse
import glob
import json
import os
import platform
import re
import subprocess
import sys


def num(pattern, text, cast=float):
    m = re.search(pattern, text, re.MULTILINE)
    return cast(m.group(1)) if m else None


def parse_skylane_perf(text):
    r = json.loads(text)
    lat = r.get("latency") or {}
    return {
        "sent": r["sent"],
        "answered": r["completed"],
        "lost": r["lost"],
        "qps": r["qps"],
        "loss_pct": r["lost_pct"],
        "p50_us": lat.get("p50_us"),
        "p99_us": lat.get("p99_us"),
        "avg_us": lat.get("mean_us"),
        "rcodes": r.get("rcodes", {}),
    }


def parse_dnsperf(text):
    sent = num(r"Queries sent:\s+(\d+)", text, int)
    done = num(r"Queries completed:\s+(\d+)", text, int)
    lost = num(r"Queries lost:\s+(\d+)", text, int)
    avg = num(r"Average Latency \(s\):\s+([\d.]+)", text)
    rcodes = dict(
        (k, int(v)) for k, v in re.findall(r"([A-Z]+) (\d+) \([\d.]+%\)", text)
    )
    return {
        "sent": sent,
        "answered": done,
        "lost": lost,
        "qps": num(r"Queries per second:\s+([\d.]+)", text),
        "loss_pct": 100.0 * lost / sent if sent else None,
        "p50_us": None,
        "p99_us": None,
        "avg_us": avg * 1e6 if avg is not None else None,
        "rcodes": rcodes,
    }


def parse_kxdpgun(text):
    sent = num(r"total queries:\s+(\d+)", text, int)
    replies = num(r"total replies:\s+(\d+)", text, int)
    rate = num(r"total replies:\s+\d+ \((\d+) pps\)", text, int)
    duration = num(r"duration:\s+([\d.]+) s", text)
    if rate is None and replies is not None and duration:
        rate = replies / duration
    rcodes = dict(
        (k, int(v)) for k, v in re.findall(r"responded ([A-Z]+):\s+(\d+)", text)
    )
    return {
        "sent": sent,
        "answered": replies,
        "lost": sent - replies if sent is not None and replies is not None else None,
        "qps": rate,
        "loss_pct": 100.0 * (sent - replies) / sent if sent and replies is not None else None,
        "p50_us": None,
        "p99_us": None,
        "avg_us": None,
        "rcodes": rcodes,
    }


PARSERS = {
    "skylane-perf": parse_skylane_perf,
    "skylane-perf-fixed": parse_skylane_perf,
    "dnsperf": parse_dnsperf,
    "kxdpgun": parse_kxdpgun,
}


def fmt(v, digits=0):
    if v is None:
        return "-"
    return f"{v:,.{digits}f}"


def nx_pct(row):
    """Share of NXDOMAIN among counted responses: every server should match the query mix."""
    total = sum(row.get("rcodes", {}).values())
    return 100.0 * row["rcodes"].get("NXDOMAIN", 0) / total if total else None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def version(cmd, pattern=None):
    """First output line of `cmd`, or the first match of `pattern` in its output."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (out.stdout + out.stderr).strip()
    if pattern:
        m = re.search(pattern, text)
        return m.group(0) if m else None
    return text.splitlines()[0] if text else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("prefix")
    ap.add_argument("--duration", type=float)
    ap.add_argument("--names", type=int)
    ap.add_argument("--server-cpu")
    ap.add_argument("--client-cpu")
    a = ap.parse_args()

    rows = []
    for cmd_file in sorted(glob.glob(os.path.join(a.raw, "*.out.cmd"))):
        out_file = cmd_file[: -len(".cmd")]
        base = os.path.basename(out_file)[: -len(".out")]
        # Longest tool name first: "x-skylane-perf-fixed" is not "skylane-perf".
        tool = next(
            (t for t in sorted(PARSERS, key=len, reverse=True) if base.endswith("-" + t)), None
        )
        if tool is None:
            continue
        server = base[: -len(tool) - 1]
        row = {"server": server, "tool": tool, "command": open(cmd_file).read().strip()}
        try:
            with open(out_file) as f:
                row.update(PARSERS[tool](f.read()))
        except (OSError, ValueError, KeyError, TypeError) as e:
            row["error"] = f"unparsable output: {e}"
        drops_file = out_file + ".drops"
        if os.path.exists(drops_file):
            with open(drops_file) as f:
                row.update(json.load(f))
        server_cmd = os.path.join(a.raw, f"{server}-server.cmd")
        if os.path.exists(server_cmd):
            row["server_command"] = open(server_cmd).read().strip()
        rows.append(row)

    meta = {
        "duration_s": a.duration,
        "zone_names": a.names,
        "server_cpu": a.server_cpu,
        "client_cpu": a.client_cpu,
        "cpu": cpu_model(),
        "kernel": platform.release(),
        "versions": {
            "nsd": version(["nsd", "-v"]),
            "knotd": version(["knotd", "-V"]),
            "dnsperf": version(["dnsperf", "-h"], r"Version [\d.]+"),
            "kxdpgun": version(["kxdpgun", "-V"]),
        },
    }

    header = (
        "| server | tool | sent | answered | answered qps | loss % | p50 µs | p99 µs | avg µs "
        "| NXDOMAIN % | server rcvbuf drops |"
    )
    lines = [header, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['server']} | {r['tool']} | {r['error']} | | | | | | | | |")
            continue
        lines.append(
            f"| {r['server']} | {r['tool']} | {fmt(r['sent'])} | {fmt(r['answered'])} | "
            f"{fmt(r['qps'])} | {fmt(r['loss_pct'], 2)} | {fmt(r['p50_us'], 1)} | "
            f"{fmt(r['p99_us'], 1)} | {fmt(r['avg_us'], 1)} | {fmt(nx_pct(r), 1)} | "
            f"{fmt(r.get('server_rcvbuf_drops'))} |"
        )
    table = "\n".join(lines)
    md = [
        "# Peer benchmark (perf/bench-peers.sh)",
        "",
        f"- {a.duration:g} s per run; zone of {a.names} host names; server on CPU {a.server_cpu}, "
        f"client on CPU {a.client_cpu} (separate network namespace, veth pair)",
        f"- CPU: {meta['cpu']}; kernel {meta['kernel']}",
        "- skylane-perf and dnsperf: as fast as answered with a fixed number of outstanding "
        "queries (latency there is mostly queueing); skylane-perf-fixed: fixed query rate, "
        "latency below saturation; kxdpgun: fixed offered rate over XDP, no latency; dnsperf "
        "reports only average latency",
        "",
        table,
        "",
        "Commands:",
        "",
    ]
    seen = set()
    for r in rows:
        for c in (r.get("server_command"), r.get("command")):
            if c and c not in seen:
                seen.add(c)
                md.append(f"    {c}")
    with open(a.prefix + ".md", "w") as f:
        f.write("\n".join(md) + "\n")
    with open(a.prefix + ".json", "w") as f:
        json.dump({"meta": meta, "runs": rows}, f, indent=2)
    print(table)
    print(f"\nwritten: {a.prefix}.md {a.prefix}.json (raw output in {a.raw})", file=sys.stderr)


if __name__ == "__main__":
    main()
