"""The HTTP service's speed: `mentorrules serve` on a loopback port, the example data's reference
rows held (PUT /v1/reference), then POST /v1/evaluate of the example payouts, first by one client
one request at a time (latency), then by many clients at once (throughput). Bounded in time and
count; loopback only. The clients are Python (httpx) on the same machine, so the figures are a
floor, not a ceiling.

    python bench/serve.py [--clients 16] [--seconds 5]
"""

from __future__ import annotations

import argparse
import csv
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
REFERENCE = ("people", "districts", "pairings", "grants", "attendance")


def _rows(table: str) -> list[dict[str, str]]:
    with (EXAMPLES / f"{table}.csv").open(encoding="utf-8", newline="") as stream:
        return [{key: value for key, value in row.items() if value != ""} for row in csv.DictReader(stream)]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def report(clients: int = 16, seconds: float = 5.0, most: int = 50_000) -> None:
    """Print the served latency (p50, p99) and requests/s of POST /v1/evaluate."""
    process = subprocess.Popen([sys.executable, "-m", "mentorrules.cli", "serve", "--port", "0",
                                "--as-of", "2026-01-01"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        found = re.search(r"listening on (http://\S+)", process.stdout.readline())
        if not found:
            print(f"serve: the server did not start: {process.communicate(timeout=30)[1][-2000:]}")
            return
        url = found.group(1)
        held = 0
        with httpx.Client(base_url=url, timeout=60) as client:
            keys = {name: table["key"] for name, table in client.get("/v1/packs").json()["tables"].items()}
            for table in REFERENCE:
                for row in _rows(table):
                    key = "/".join(row[column] for column in keys[table])
                    client.put(f"/v1/reference/{table}/{key}", json=row).raise_for_status()
                    held += 1
            payouts = _rows("payouts")
            latencies = []
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and len(latencies) < most:
                record = payouts[len(latencies) % len(payouts)]
                started = time.perf_counter()
                client.post("/v1/evaluate", json={"record": record}).raise_for_status()
                latencies.append(time.perf_counter() - started)
        print(f"serve: POST /v1/evaluate with {held} reference rows held, loopback")
        print(f"  one client       p50 {_percentile(latencies, 0.5) * 1000:7.2f} ms  "
              f"p99 {_percentile(latencies, 0.99) * 1000:7.2f} ms  {len(latencies) / seconds:8,.0f} requests/s")
        concurrent: list[float] = []
        lock = threading.Lock()
        failures = [0]

        def work(number: int) -> None:
            with httpx.Client(base_url=url, timeout=60) as own:
                sent = number
                while time.monotonic() < stop and sent < most:
                    started = time.perf_counter()
                    answer = own.post("/v1/evaluate", json={"record": payouts[sent % len(payouts)]})
                    with lock:
                        concurrent.append(time.perf_counter() - started)
                        failures[0] += answer.status_code != 200
                    sent += clients

        stop = time.monotonic() + seconds
        began = time.perf_counter()
        threads = [threading.Thread(target=work, args=(number,)) for number in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        print(f"  {clients} clients       p50 {_percentile(concurrent, 0.5) * 1000:7.2f} ms  "
              f"p99 {_percentile(concurrent, 0.99) * 1000:7.2f} ms  {len(concurrent) / elapsed:8,.0f} requests/s"
              f"  ({failures[0]} not 200)")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    arguments = parser.parse_args()
    report(arguments.clients, arguments.seconds)
