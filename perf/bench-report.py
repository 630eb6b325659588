#!/usr/bin/env python3
"""Summarise a bench-peers.sh run, or chart several.

    bench-report.py RAW PREFIX [--duration S ...]
        parse the raw skylane-perf / dnsperf / kxdpgun output of one run into one comparison
        table, printed and written as <prefix>.json and <prefix>.md (bench-peers.sh calls this)
    bench-report.py --charts OUTDIR INPUT...
        INPUT: <prefix>.json summaries, raw directories, or skylane-perf --json reports
        (named <server>-<tool>.json); writes OUTDIR/throughput.svg (answered against offered
        queries/s, one line per server) and OUTDIR/latency-cdf.svg (latency percentiles)

Plain python3 (no plotting library): the charts are SVG written by hand below."""

import argparse
import glob
import json
import math
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
        "latency": lat,
        "run_time_s": r.get("run_time_s"),
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


def raw_rows(raw):
    """The runs of one bench-peers.sh raw directory."""
    rows = []
    for cmd_file in sorted(glob.glob(os.path.join(raw, "*.out.cmd"))):
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
        server_cmd = os.path.join(raw, f"{server}-server.cmd")
        if os.path.exists(server_cmd):
            row["server_command"] = open(server_cmd).read().strip()
        rows.append(row)
    return rows


def per_cpu_second(row):
    """Answered queries per second of server CPU time (bench-peers.sh measures it), or None."""
    cpu = row.get("server_cpu_s")
    return row["answered"] / cpu if cpu and row.get("answered") is not None else None


def load_runs(path):
    """Runs from a summary JSON, a raw directory or one skylane-perf --json report."""
    if os.path.isdir(path):
        return raw_rows(path)
    with open(path) as f:
        data = json.load(f)
    if "runs" in data:
        return data["runs"]
    base = os.path.basename(path).rsplit(".", 1)[0]
    server, _, tool = base.partition("-")
    row = {"server": server, "tool": tool or "skylane-perf", "command": ""}
    row.update(parse_skylane_perf(json.dumps(data)))
    offered = data.get("offered_qps") or data.get("rate")
    if offered:
        row["offered_qps"] = offered
    return [row]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+", help="RAW PREFIX, or with --charts: the runs to chart")
    ap.add_argument("--charts", metavar="OUTDIR", help="draw SVG charts of INPUTs into OUTDIR")
    ap.add_argument("--duration", type=float)
    ap.add_argument("--names", type=int)
    ap.add_argument("--server-cpu")
    ap.add_argument("--client-cpu")
    a = ap.parse_args()
    if a.charts:
        runs = [r for path in a.inputs for r in load_runs(path)]
        for out in write_charts(runs, a.charts):
            print(f"written: {out}", file=sys.stderr)
        return
    if len(a.inputs) != 2:
        ap.error("expected RAW PREFIX (or --charts OUTDIR INPUT...)")
    a.raw, a.prefix = a.inputs
    rows = raw_rows(a.raw)

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
        "| NXDOMAIN % | server rcvbuf drops | server CPU s | answered per server CPU-s |"
    )
    lines = [header, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['server']} | {r['tool']} | {r['error']} | | | | | | | | | | |")
            continue
        lines.append(
            f"| {r['server']} | {r['tool']} | {fmt(r['sent'])} | {fmt(r['answered'])} | "
            f"{fmt(r['qps'])} | {fmt(r['loss_pct'], 2)} | {fmt(r['p50_us'], 1)} | "
            f"{fmt(r['p99_us'], 1)} | {fmt(r['avg_us'], 1)} | {fmt(nx_pct(r), 1)} | "
            f"{fmt(r.get('server_rcvbuf_drops'))} | {fmt(r.get('server_cpu_s'), 2)} | "
            f"{fmt(per_cpu_second(r))} |"
        )
    table = "\n".join(lines)
    md = [
        "# Peer benchmark (perf/bench-peers.sh)",
        "",
        f"- {a.duration or 0:g} s per run; zone of {a.names} host names; server on CPU {a.server_cpu}, "
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

# ---- SVG charts -------------------------------------------------------------------------

COLORS = {"skylane": "#1f77b4", "nsd": "#d62728", "knot": "#2ca02c"}
OTHER_COLORS = ["#9467bd", "#ff7f0e", "#8c564b", "#17becf"]
LABELS = {"skylane": "Skylane", "nsd": "NSD", "knot": "Knot DNS"}
W, H, LEFT, RIGHT, TOP, BOTTOM = 720, 440, 80, 170, 40, 60


def offered_qps(row):
    """The fixed offered rate of a run (`-Q N` of skylane-perf or kxdpgun), else None."""
    if row.get("offered_qps"):
        return float(row["offered_qps"])
    m = re.search(r"\s-Q\s+(\d+(?:\.\d+)?)", row.get("command", ""))
    return float(m.group(1)) if m else None


def color(server, order):
    if server in COLORS:
        return COLORS[server]
    return OTHER_COLORS[order.index(server) % len(OTHER_COLORS)]


def nice_ticks(lo, hi, n=6):
    """About n round tick values covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / n
    mag = 10 ** int(f"{raw:e}".split("e")[1])
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = step * int(lo / step)
    ticks, t = [], first
    while t <= hi + step * 1e-9:
        if t >= lo - step * 1e-9:
            ticks.append(t)
        t += step
    return ticks


def short(v):
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:g}{suffix}"
    return f"{v:g}"


def esc(t):
    return str(t).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Svg:
    """A plot area with linear or log axes, written as one SVG document."""

    def __init__(self, title, xlabel, ylabel, xrange, yrange, xlog=False):
        self.parts = []
        self.xlog = xlog
        self.x0, self.x1 = (math_log(v) for v in xrange) if xlog else xrange
        self.y0, self.y1 = yrange
        self.text(W / 2, 24, title, size=16, anchor="middle", weight="bold")
        self.text(LEFT + (W - LEFT - RIGHT) / 2, H - 14, xlabel, anchor="middle")
        self.parts.append(
            f'<text transform="translate(18,{TOP + (H - TOP - BOTTOM) / 2}) rotate(-90)" '
            f'text-anchor="middle" font-size="12">{esc(ylabel)}</text>'
        )
        self.legend_y = TOP + 8

    def px(self, x):
        x = math_log(x) if self.xlog else x
        return LEFT + (x - self.x0) / (self.x1 - self.x0) * (W - LEFT - RIGHT)

    def py(self, y):
        return H - BOTTOM - (y - self.y0) / (self.y1 - self.y0) * (H - TOP - BOTTOM)

    def text(self, x, y, t, size=12, anchor="start", weight="normal"):
        self.parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}">{esc(t)}</text>'
        )

    def grid(self, xticks, yticks):
        """Grid lines and labels: ticks are (value, label) pairs."""
        for v, label in xticks:
            x = self.px(v)
            self.parts.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{H - BOTTOM}" stroke="#ddd"/>')
            self.text(x, H - BOTTOM + 16, label, size=11, anchor="middle")
        for v, label in yticks:
            y = self.py(v)
            self.parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}" stroke="#ddd"/>')
            self.text(LEFT - 6, y + 4, label, size=11, anchor="end")
        self.parts.append(
            f'<rect x="{LEFT}" y="{TOP}" width="{W - LEFT - RIGHT}" height="{H - TOP - BOTTOM}" '
            'fill="none" stroke="#444"/>'
        )

    def line(self, points, stroke, label, dash=None, marker=True):
        pts = " ".join(f"{self.px(x):.1f},{self.py(y):.1f}" for x, y in points)
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(f'<polyline points="{pts}" fill="none" stroke="{stroke}" stroke-width="2"{d}/>')
        if marker:
            for x, y in points:
                self.parts.append(f'<circle cx="{self.px(x):.1f}" cy="{self.py(y):.1f}" r="3" fill="{stroke}"/>')
        lx = W - RIGHT + 12
        self.parts.append(
            f'<line x1="{lx}" y1="{self.legend_y}" x2="{lx + 22}" y2="{self.legend_y}" '
            f'stroke="{stroke}" stroke-width="2"{d}/>'
        )
        self.text(lx + 28, self.legend_y + 4, label, size=11)
        self.legend_y += 18

    def write(self, path, note=""):
        if note:
            self.text(LEFT, H - 30 + 26, note, size=9)
        body = "\n".join(self.parts)
        with open(path, "w") as f:
            f.write(
                f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
                f'viewBox="0 0 {W} {H}" font-family="sans-serif">\n'
                f'<rect width="{W}" height="{H}" fill="white"/>\n{body}\n</svg>\n'
            )


def math_log(v):
    return math.log10(max(v, 1e-9))


def servers_of(runs):
    order = []
    for r in runs:
        if r["server"] not in order:
            order.append(r["server"])
    return order


def throughput_chart(runs, path):
    """Answered queries/s against offered queries/s, one line per server."""
    fixed = [r for r in runs if "error" not in r and r.get("qps") is not None and offered_qps(r)]
    if not fixed:
        return None
    order = servers_of(fixed)
    top = max(max(offered_qps(r), r["qps"]) for r in fixed) * 1.05
    svg = Svg("Answered against offered load", "offered queries/s", "answered queries/s", (0, top), (0, top))
    ticks = [(t, short(t)) for t in nice_ticks(0, top)]
    svg.grid(ticks, ticks)
    svg.line([(0, 0), (top, top)], "#999", "offered = answered", dash="4 4", marker=False)
    for server in order:
        pts = sorted((offered_qps(r), r["qps"]) for r in fixed if r["server"] == server)
        svg.line(pts, color(server, order), LABELS.get(server, server))
    svg.write(path, "Each point: one fixed-rate run (skylane-perf -Q / kxdpgun -Q); answered = responses/s.")
    return path


NINES = [(0.0, "min"), (0.5, "p50"), (0.9, "p90"), (0.99, "p99"), (0.999, "p99.9"), (1.0, "max")]
LAT_KEYS = {0.0: "min_us", 0.5: "p50_us", 0.9: "p90_us", 0.99: "p99_us", 0.999: "p999_us", 1.0: "max_us"}


def nines(q):
    """Percentile on a 'nines' scale: 0.5 -> 0.3, 0.9 -> 1, 0.99 -> 2, 0.999 -> 3, max -> 4."""
    return 4.0 if q >= 1.0 else -math.log10(1.0 - q)


def latency_chart(runs, path):
    """Latency percentiles (min … max) of fixed-rate runs, per server and offered rate."""
    lat = [r for r in runs if "error" not in r and (r.get("latency") or {}).get("p50_us") and offered_qps(r)]
    if not lat:
        return None
    order = servers_of(lat)
    rates = sorted({offered_qps(r) for r in lat})
    # The lowest rate every server ran, and the highest at which every server still kept
    # up (answered >= 97 % of the offered rate): past saturation latency is just queueing.
    def kept_up(q):
        runs_at = [r for r in lat if offered_qps(r) == q]
        return {r["server"] for r in runs_at} == set(order) and all(r["qps"] >= 0.97 * q for r in runs_at)

    common = [q for q in rates if all(any(offered_qps(r) == q for r in lat if r["server"] == s) for s in order)]
    unsaturated = [q for q in common if kept_up(q)] or common
    shown = sorted({common[0], unsaturated[-1]}) if common else rates[-2:]
    values = [r["latency"][k] for r in lat for k in LAT_KEYS.values() if r["latency"].get(k)]
    lo, hi = max(min(values), 1.0) / 1.5, max(values) * 1.5
    svg = Svg("Latency percentiles below saturation", "latency (µs, log scale)", "percentile", (lo, hi), (0, 4), xlog=True)
    decades = range(int(math.floor(math.log10(lo))), int(math.ceil(math.log10(hi))) + 1)
    xt = [(10.0**d, short(10.0**d)) for d in decades if lo <= 10.0**d <= hi]
    svg.grid(xt, [(nines(q), name) for q, name in NINES])
    for i, rate in enumerate(shown):
        for server in order:
            for r in lat:
                if r["server"] == server and offered_qps(r) == rate:
                    pts = [(r["latency"][LAT_KEYS[q]], nines(q)) for q, _ in NINES if r["latency"].get(LAT_KEYS[q])]
                    label = f"{LABELS.get(server, server)} @ {short(rate)}/s"
                    svg.line(pts, color(server, order), label, dash=None if i == len(shown) - 1 else "6 3")
    svg.write(path, "skylane-perf fixed-rate runs; points: min, p50, p90, p99, p99.9, max of every answered query.")
    return path


def write_charts(runs, outdir):
    os.makedirs(outdir, exist_ok=True)
    written = [
        throughput_chart(runs, os.path.join(outdir, "throughput.svg")),
        latency_chart(runs, os.path.join(outdir, "latency-cdf.svg")),
    ]
    written = [w for w in written if w]
    if not written:
        sys.exit("bench-report.py: no fixed-rate run with results in the inputs")
    return written


if __name__ == "__main__":
    main()
