"""Where an accepted hold's time goes in the inventory, alone and under load (issue 14).

``flock /tmp/stampede-bench.lock .venv/bin/python -m bench.inventory_stages
[--requests 300] [--connections 64] [--seconds 8]``

The system as ``make up`` starts it (``bench._stack.start_stack``), one drop with stock for
everyone. Two phases, each followed by the inventory's own metrics over it (means from
its ``/metrics``): ``stampede_inventory_batch_size`` (commands per batch),
``stampede_inventory_commit_seconds`` (deciding a batch and its durable transaction),
``stampede_inventory_publish_seconds`` (its events and replies to the broker) and
``stampede_batch_seconds`` (the consumer loop's handling of a batch), and its fetch answers
a second, with new data and without (``stampede_fetch_answers_total``: an empty one costs
the embedded broker its whole wait):

- ``c=1``: ``--requests`` reserves one after another from one client (a new buyer and
  ``Idempotency-Key`` each), the client's p50;
- ``c=N``: ``wrk`` at ``--connections`` for ``--seconds``, holds/s and wrk's percentiles.

Bounded, 127.0.0.1 only, stops by itself; the stack is stopped on any exit.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import httpx

from ._load import Load, run_wrk
from ._stack import (
    admin_client,
    code_version,
    ensure_tool,
    exit_on_sigterm,
    new_drop,
    start_stack,
)

SAMPLE = re.compile(r"^(stampede_\w+?)_(sum|count)(\{[^}]*\})? ([0-9.e+-]+)$")
ANSWERS = re.compile(r'^stampede_fetch_answers_total\{data="(\w+)",topic="[^"]*"\} ([0-9.e+-]+)$')


def scrape(url: str) -> dict[tuple[str, str], float]:
    """Each histogram's ``_sum`` and ``_count`` samples, by series."""
    out = {}
    for line in httpx.get(f"{url}/metrics", timeout=5).text.splitlines():
        m = SAMPLE.match(line)
        if m and "http_request" not in m.group(1):
            out[(m.group(1) + (m.group(3) or ""), m.group(2))] = float(m.group(4))
        elif a := ANSWERS.match(line):
            out[(f"fetch answers, data: {a.group(1)}", "total")] = float(a.group(2))
    return out


def print_means(label: str, before: dict[tuple[str, str], float],
                after: dict[tuple[str, str], float], seconds: float) -> None:
    for (series, kind), total in sorted(after.items()):
        if kind == "total":
            per_s = (total - before.get((series, kind), 0)) / seconds
            print(f"  {label:<6} {series:<40} {per_s:8.1f} /s")
            continue
        count = after.get((series, "count"), 0) - before.get((series, "count"), 0)
        if kind != "sum" or count <= 0:
            continue
        mean = (total - before.get((series, "sum"), 0)) / count
        shown = f"{1000 * mean:8.2f} ms" if "seconds" in series else f"{mean:8.1f}   "
        print(f"  {label:<6} {series.split('{')[0]:<40} mean {shown}  (n={count:.0f})")


def sequential(base_url: str, drop_id: str, requests: int) -> float:
    """The p50 (ms) of ``requests`` reserves sent one after another."""
    latencies = []
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for _ in range(requests):
            started = time.perf_counter()
            answer = client.post(f"/api/drops/{drop_id}/reserve", json={"quantity": 1},
                                 headers={"X-User-Id": str(uuid.uuid4()),
                                          "Idempotency-Key": uuid.uuid4().hex})
            latencies.append((time.perf_counter() - started) * 1000)
            if answer.status_code != 201:
                raise RuntimeError(f"reserve answered {answer.status_code}: {answer.text}")
    return statistics.median(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="sequential reserves (10..5000)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (1..512)")
    parser.add_argument("--seconds", type=float, default=8.0, help="wrk phase (1..60)")
    args = parser.parse_args()
    if (not 10 <= args.requests <= 5000 or not 1 <= args.connections <= 512
            or not 1 <= args.seconds <= 60):
        parser.error("--requests 10..5000, --connections 1..512, --seconds 1..60")
    exit_on_sigterm()
    wrk_bin = ensure_tool("wrk", "wrk")
    print(f"inventory stages; code: {code_version()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="stampede-bench-") as tmp:
        stack = start_stack(Path(tmp), gateway_workers=2, notifier_workers=2)
        try:
            base = stack.gateway_url
            inventory = f"http://127.0.0.1:{stack.inventory_ports[0]}"
            with admin_client(base) as admin:
                drop_id = new_drop(admin, 1_000_000)
            before = scrape(inventory)
            started = time.monotonic()
            p50 = sequential(base, drop_id, args.requests)
            time.sleep(1)  # the last publish is counted
            print(f"c=1: {args.requests} reserves one after another, p50 {p50:.1f} ms")
            print_means("c=1", before, after := scrape(inventory), time.monotonic() - started)
            started = time.monotonic()
            port = urlparse(base).port
            assert port is not None
            result = run_wrk(f"c={args.connections}", Load(
                port=port, mode="reserve", connections=args.connections,
                seconds=args.seconds, drop_id=drop_id), wrk_bin=wrk_bin)
            time.sleep(1)
            lat = result.latency_ms
            print(f"c={args.connections}: {result.count('reserve 201') / result.seconds:,.0f} "
                  f"holds/s, p50 {lat['50']:.1f} ms, p99 {lat['99']:.1f} ms")
            print_means(f"c={args.connections}", after, scrape(inventory),
                        time.monotonic() - started)
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
