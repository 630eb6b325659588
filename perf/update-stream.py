#!/usr/bin/env python3
"""Streams record updates into Skylane's REST API at a fixed rate.

PUT /v1/records/<name> with a fresh A record, cycling over --names names, on
one persistent HTTP connection, for --seconds seconds. Prints one JSON line:
updates sent, errors, achieved rate. Bounded: stops by itself.
"""
import argparse
import http.client
import json
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", default="127.0.0.1:9001")
    ap.add_argument("--token", default=None)
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--names", type=int, default=1000)
    ap.add_argument("--domain", default="perf.test.")
    a = ap.parse_args()
    host, port = a.api.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    headers = {"Content-Type": "application/json"}
    if a.token:
        headers["Authorization"] = f"Bearer {a.token}"
    sent = errors = 0
    start = time.monotonic()
    interval = 1.0 / a.rate
    while True:
        now = time.monotonic()
        if now - start >= a.seconds:
            break
        due = start + sent * interval
        if due > now:
            time.sleep(due - now)
        i = sent % a.names
        body = json.dumps({"type": "A", "ips": [f"10.{(sent >> 16) & 255}.{(sent >> 8) & 255}.{sent & 255}"]})
        try:
            conn.request("PUT", f"/v1/records/upd{i}.{a.domain}", body, headers)
            r = conn.getresponse()
            r.read()
            if r.status >= 300:
                errors += 1
        except Exception:  # connection reset: count and reconnect
            errors += 1
            conn = http.client.HTTPConnection(host, int(port), timeout=5)
        sent += 1
    elapsed = time.monotonic() - start
    print(json.dumps({"updates": sent, "errors": errors, "seconds": round(elapsed, 2),
                      "rate": round(sent / elapsed, 1)}))
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
