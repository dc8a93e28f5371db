#!/usr/bin/env python3
"""What Cairn's request path costs beside a bare axum handler, in one run on this machine.

    python3 bench/request-path.py [--duration 10] [--rounds 3] [--connections 16]

Builds (release) `cairn` and the `bare-axum` example, starts both on loopback (Cairn on
SQLite in a throwaway data folder, with its default JSON request logs going to a file), and
runs `wrk` (Debian package `wrk`; one client thread, 16 connections) against:

- the bare handler (`GET /` of `crates/cairn/examples/bare-axum.rs`): the baseline;
- `GET /api/v1/caller`: an authenticated endpoint that reads only the token;
- `GET /api/v1/numbers/stats`: the token, the tenant's database pool and one query, over
  1,000 stored numbers.

The targets are measured in turns, `--rounds` times, and each one's median is reported with
its ratio to the bare handler's median. Goals: caller >= 0.7x, stats >= 0.4x. Token
verification per core against aws-jwt-verify is `cargo bench -p cairn --bench identity`.
"""

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOALS = {"caller": 0.7, "stats": 0.4}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url, proc, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"request-path: {url} exited with {proc.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"request-path: {url} did not answer within {seconds} s")


def wrk(url, token, duration, connections):
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", url]
    if token:
        cmd[1:1] = ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if not rate:
        sys.exit(f"request-path: cannot read wrk's output:\n{out}")
    if errors:
        sys.exit(f"request-path: {url} answered {errors.group(1)} errors:\n{out}")
    return float(rate.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=16)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("request-path: wrk is missing (apt-get install wrk)")

    target_dir = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    subprocess.run(
        ["cargo", "build", "--release", "--locked", "-q", "-p", "cairn", "--bin", "cairn", "--example", "bare-axum"],
        cwd=ROOT, check=True,
    )
    cairn = os.path.join(target_dir, "release", "cairn")
    bare = os.path.join(target_dir, "release", "examples", "bare-axum")

    data = tempfile.mkdtemp(prefix="cairn-bench-")
    procs = []
    try:
        bare_port, cairn_port = free_port(), free_port()
        base = f"http://127.0.0.1:{cairn_port}"
        env = dict(os.environ, CAIRN_DATA_DIR=data, CAIRN_LISTEN=f"127.0.0.1:{cairn_port}", CAIRN_PUBLIC_URL=base)
        env.pop("CAIRN_DATABASE_URL", None)
        log = open(os.path.join(data, "serve.log"), "w")
        procs.append(subprocess.Popen([bare, f"127.0.0.1:{bare_port}"], stdout=subprocess.DEVNULL))
        procs.append(subprocess.Popen([cairn, "serve"], env=env, stdout=log, stderr=log))
        wait_for(f"http://127.0.0.1:{bare_port}/", procs[0])
        wait_for(f"{base}/healthz", procs[1])

        def token(role):
            return subprocess.run(
                [cairn, "token", "issue", "--tenant", "default", "--role", role, "--subject", "bench", "--ttl", "1h"],
                env=env, check=True, capture_output=True, text=True,
            ).stdout.strip()

        reader, writer = token("readonly"), token("member")
        for i in range(1000):
            req = urllib.request.Request(
                f"{base}/api/v1/numbers", data=json.dumps({"value": i}).encode(), method="POST",
                headers={"Authorization": f"Bearer {writer}", "Content-Type": "application/json"},
            )
            urllib.request.urlopen(req, timeout=5).close()

        targets = {
            "bare": (f"http://127.0.0.1:{bare_port}/", None),
            "caller": (f"{base}/api/v1/caller", reader),
            "stats": (f"{base}/api/v1/numbers/stats", reader),
        }
        for url, tok in targets.values():  # warm-up: connections, caches, the tenant's pool
            wrk(url, tok, 2, args.connections)
        rates = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, (url, tok) in targets.items():
                rates[name].append(wrk(url, tok, args.duration, args.connections))
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        shutil.rmtree(data, ignore_errors=True)

    base_rate = statistics.median(rates["bare"])
    print(f"wrk -t1 -c{args.connections} -d{args.duration}s, {args.rounds} rounds, medians ({os.cpu_count()} cores)")
    print(f"{'target':<32} {'requests/s':>11} {'ratio':>7} {'goal':>7}")
    labels = {
        "bare": "bare axum handler",
        "caller": "GET /api/v1/caller",
        "stats": "GET /api/v1/numbers/stats",
    }
    for name, rs in rates.items():
        r = statistics.median(rs)
        goal = GOALS.get(name)
        mark = "" if goal is None else (f">={goal}x " + ("ok" if r / base_rate >= goal else "MISSED"))
        print(f"{labels[name]:<32} {r:>11.0f} {r / base_rate:>6.2f}x {mark:>10}")


if __name__ == "__main__":
    main()
