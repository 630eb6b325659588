#!/usr/bin/env python3
"""Health scanner benchmark (issue 7 targets).

Part 1 (cost): one `skylane scan` agent checks N addresses 127.1.x.y x 1 TCP port every
interval; one listener on 0.0.0.0:PORT accepts them all. Reports the agent's CPU (% of one core,
user + system and each, from /proc/PID/stat over the measuring window) and its peak resident memory, and the
connections the listener accepted (proof the work was done).

Part 2 (detection): `skylane serve` with [health] enabled answers names svcI = {127.2.0.I
(measured), 127.3.0.I (stays up)}; K measured backends are stopped at random moments over one
interval, and each one's time from stop to the first UDP answer without it is recorded.
Reports the distribution (min/p50/p90/p99/max).

Usage: perf/bench-health.py [--skylane target/release/skylane] [--addresses 10000]
       [--interval-ms 10000] [--measure-s 60] [--samples 50] [--part cost|detect|both]
"""
import argparse, json, os, random, selectors, signal, socket, struct, subprocess, sys
import tempfile, threading, time

def free_port():
    s = socket.socket(); s.bind(("0.0.0.0", 0)); p = s.getsockname()[1]; s.close(); return p

class Acceptor(threading.Thread):
    """Accepts and closes connections on many listening sockets; counts them."""
    def __init__(self):
        super().__init__(daemon=True)
        self.sel = selectors.DefaultSelector(); self.count = 0; self.lock = threading.Lock()
        self.socks = {}
    def listen(self, addr, port):
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port)); s.listen(4096); s.setblocking(False)
        with self.lock:
            self.sel.register(s, selectors.EVENT_READ); self.socks[addr] = s
    def close(self, addr):
        with self.lock:
            s = self.socks.pop(addr); self.sel.unregister(s); s.close()
    def run(self):
        while True:
            with self.lock:
                events = self.sel.select(timeout=0.005)
                for key, _ in events:
                    while True:
                        try:
                            c, _ = key.fileobj.accept(); c.close(); self.count += 1
                        except (BlockingIOError, OSError):
                            break
            time.sleep(0.0005)

def cpu_ticks(pid):
    """(utime, stime) of pid, in clock ticks."""
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]), int(f[12])

def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0

def addr_of(i, net):
    return f"127.{net}.{i // 250}.{i % 250 + 1}"

def part_cost(a):
    d = tempfile.mkdtemp(prefix="skylane-bench-health-")
    port = free_port()
    acc = Acceptor(); acc.listen("0.0.0.0", port); acc.start()
    with open(f"{d}/bench.zone", "w") as z:
        z.write("$ORIGIN bench.test.\n$TTL 30\n")
        for i in range(a.addresses):
            z.write(f"n{i} A {addr_of(i, 1)}\n")
    with open(f"{d}/scan.toml", "w") as c:
        c.write(f'[dns]\nzone-files = ["{d}/bench.zone"]\nexample-records = false\n'
                f'[store]\npath = "{d}/store.redb"\n'
                f'[health]\ninterval-ms = {a.interval_ms}\ntimeout-ms = 2000\n'
                f'ports = [{port}]\nzone-files = true\n')
    p = subprocess.Popen([a.skylane, "scan", "--config", f"{d}/scan.toml", "--agent", "bench"],
                         stderr=open(f"{d}/scan.log", "w"), env={**os.environ, "SKYLANE_LOG": "warn"})
    warm = 2 * a.interval_ms / 1000 + 2
    time.sleep(warm)  # two full rounds: every address has been scheduled
    hz = os.sysconf("SC_CLK_TCK")
    t0, c0, n0 = time.time(), cpu_ticks(p.pid), acc.count
    peak = 0
    while time.time() - t0 < a.measure_s:
        peak = max(peak, rss_kib(p.pid)); time.sleep(0.5)
    t1, c1, n1 = time.time(), cpu_ticks(p.pid), acc.count
    p.send_signal(signal.SIGTERM); p.wait(timeout=10)
    user, system = ((c1[i] - c0[i]) / hz / (t1 - t0) * 100 for i in (0, 1))
    res = {"addresses": a.addresses, "interval_ms": a.interval_ms, "window_s": round(t1 - t0, 1),
           "cpu_percent_of_one_core": round(user + system, 2),
           "user_percent": round(user, 2), "system_percent": round(system, 2),
           "peak_rss_mib": round(peak / 1024, 1),
           "connections_accepted": n1 - n0,
           "expected_connections": int(a.addresses * (t1 - t0) * 1000 / a.interval_ms)}
    print(json.dumps({"cost": res}))

def dns_a(server, name, timeout=1.0):
    """A addresses in the UDP answer for name (minimal DNS client)."""
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l.encode() for l in name.strip(".").split(".")) + b"\0"
    q += struct.pack(">HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(timeout)
    try:
        s.sendto(q, server); r, _ = s.recvfrom(4096)
    except OSError:
        return None
    finally:
        s.close()
    an = struct.unpack(">H", r[6:8])[0]; i = 12
    while r[i]: i += r[i] + 1
    i += 5; out = []
    for _ in range(an):
        if r[i] & 0xC0 == 0xC0: i += 2
        else:
            while r[i]: i += r[i] + 1
            i += 1
        t, _, _, ln = struct.unpack(">HHIH", r[i:i + 10]); i += 10
        if t == 1 and ln == 4: out.append(socket.inet_ntoa(r[i:i + 4]))
        i += ln
    return out

def part_detect(a):
    d = tempfile.mkdtemp(prefix="skylane-bench-detect-")
    n = max(a.samples * 4, 200)
    port = free_port()
    acc = Acceptor()
    for i in range(n):
        acc.listen(addr_of(i, 2), port); acc.listen(addr_of(i, 3), port)
    acc.start()
    with open(f"{d}/d.zone", "w") as z:
        z.write("$ORIGIN detect.test.\n$TTL 5\n")
        for i in range(n):
            z.write(f"s{i} A {addr_of(i, 2)}\ns{i} A {addr_of(i, 3)}\n")
    dns_port, api_port = free_port(), free_port()
    with open(f"{d}/serve.toml", "w") as c:
        c.write(f'[dns]\nzone-files = ["{d}/d.zone"]\nexample-records = false\n'
                f'[dataplane]\nlisten = ["127.0.0.1:{dns_port}"]\n[api]\nlisten = "127.0.0.1:{api_port}"\n'
                f'[store]\npath = "{d}/store.redb"\n'
                f'[health]\nenabled = true\ninterval-ms = {a.interval_ms}\ntimeout-ms = 2000\n'
                f'fall = 3\nports = [{port}]\nzone-files = true\n')
    p = subprocess.Popen([a.skylane, "serve", "--config", f"{d}/serve.toml"],
                         stderr=open(f"{d}/serve.log", "w"), env={**os.environ, "SKYLANE_LOG": "warn"})
    server = ("127.0.0.1", dns_port)
    deadline = time.time() + 30
    while dns_a(server, "s0.detect.test.", 0.2) is None:
        assert time.time() < deadline, "serve did not answer"
        time.sleep(0.1)
    time.sleep(2 * a.interval_ms / 1000)  # every address checked at least twice
    chosen = random.sample(range(n), a.samples)
    stops = {i: time.time() + random.random() * a.interval_ms / 1000 for i in chosen}
    stopped, detected = {}, {}
    limit = time.time() + 3 * (4 * a.interval_ms / 1000 + 5)
    while len(detected) < len(chosen) and time.time() < limit:
        now = time.time()
        for i, t in stops.items():
            if i not in stopped and now >= t:
                acc.close(addr_of(i, 2)); stopped[i] = time.time()
        for i in list(stopped):
            if i in detected: continue
            ans = dns_a(server, f"s{i}.detect.test.", 0.5)
            if ans is not None and addr_of(i, 2) not in ans:
                detected[i] = time.time() - stopped[i]
        time.sleep(0.02)
    p.send_signal(signal.SIGTERM); p.wait(timeout=10)
    lat = sorted(detected.values())
    q = lambda f: round(lat[min(len(lat) - 1, int(f * len(lat)))], 2) if lat else None
    res = {"samples": len(chosen), "detected": len(lat), "interval_ms": a.interval_ms,
           "fall": 3, "timeout_ms": 2000,
           "bound_s": round(3 * a.interval_ms / 1000 + 2 + 1, 1),
           "min_s": q(0), "p50_s": q(0.5), "p90_s": q(0.9), "p99_s": q(0.99), "max_s": q(1.0)}
    print(json.dumps({"detection": res}))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skylane", default="target/release/skylane")
    ap.add_argument("--addresses", type=int, default=10000)
    ap.add_argument("--interval-ms", type=int, default=10000)
    ap.add_argument("--measure-s", type=float, default=60)
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--part", default="both", choices=["cost", "detect", "both"])
    a = ap.parse_args()
    if a.part in ("cost", "both"): part_cost(a)
    if a.part in ("detect", "both"): part_detect(a)

if __name__ == "__main__":
    main()
