"""What observability costs the gateway's front door, per request, in-process (issue 11).

``flock /tmp/stampede-bench.lock .venv/bin/python -m bench.observability_cost
[--requests 20000] [--rounds 5]``

The gateway's ASGI app (``create_app``: the front door, as served) is called directly,
no sockets, with a storm's request: ``POST /api/drops/{id}/reserve`` from a new buyer
(DEV_MODE identity) with a new ``Idempotency-Key`` and a body, read, validated and handed
to the order path, which answers ``503`` at once (the gateway's use case is not started:
no broker, no database), so what is measured is the door's own work plus what this issue
added to every request: the request id, the request metrics, and with tracing on, the
server span (OpenTelemetry's ASGI middleware, the W3C context read, the span named,
ended and exported: the SDK's batch processor and OTLP/HTTP exporter to a collector in
the parent process that decodes and counts the spans, as ``bench.front_door --otlp`` does).

Three modes, alternated ``--rounds`` times in separate processes (a tracer provider is set
once per process): ``off`` (no ``OTEL_EXPORTER_OTLP_ENDPOINT``), ``on`` (every trace
recorded) and ``sampled`` (``OTEL_TRACES_SAMPLER_ARG=0.01``). Reported: the process CPU
time per request (µs; the exporter's thread included), its median over rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import MutableMapping
from typing import Any

MODES = {"off": None, "on": 1.0, "sampled": 0.01}  # mode: the share of traces recorded


def one_round(mode: str, requests: int, endpoint: str) -> dict[str, Any]:
    from stampede_gateway.main import create_app
    from stampede_gateway.settings import GatewaySettings

    ratio = MODES[mode]
    if ratio is not None:
        from stampede_runtime import tracing

        tracing.setup_tracing("gateway", "bench", endpoint=endpoint, instrument_db=False,
                              sample_ratio=ratio)
    app = create_app(GatewaySettings(
        kafka_bootstrap_servers="127.0.0.1:1", database_url="postgresql://x@h/db",
        dev_mode=True, jwt_secret="s" * 32, rate_limit_per_s=10**6, rate_limit_burst=10**6))
    drop = str(uuid.uuid4())
    body = b'{"quantity":1}'
    statuses: dict[int, int] = {}

    async def call() -> None:
        headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                   (b"content-length", b"14"), (b"x-user-id", str(uuid.uuid4()).encode()),
                   (b"idempotency-key", uuid.uuid4().hex.encode())]
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": f"/api/drops/{drop}/reserve",
                 "raw_path": b"", "query_string": b"", "root_path": "", "headers": headers,
                 "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses[message["status"]] = statuses.get(message["status"], 0) + 1

        await app(scope, receive, send)

    async def run(n: int) -> None:
        for _ in range(n):
            await call()

    asyncio.run(run(min(2000, requests)))  # warm-up (caches, first-use imports)
    statuses.clear()
    cpu, wall = time.process_time(), time.perf_counter()
    asyncio.run(run(requests))
    if ratio is not None:
        tracing.provider().force_flush()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"mode": mode, "requests": requests, "cpu_us": 1e6 * cpu / requests,
            "wall_us": 1e6 * wall / requests, "statuses": statuses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--one", choices=list(MODES), help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 100 <= args.requests <= 1_000_000 or not 1 <= args.rounds <= 20:
        parser.error("--requests 100..1000000, --rounds 1..20")
    if args.one:
        print(json.dumps(one_round(args.one, args.requests, args.endpoint)))
        return
    from bench.front_door import OtlpSink

    sink = OtlpSink()  # here, not in the measured process: a collector runs elsewhere
    results: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    for r in range(args.rounds):
        for mode in MODES:
            before = sink.spans
            done = subprocess.run(
                [sys.executable, "-m", "bench.observability_cost", "--one", mode,
                 "--requests", str(args.requests), "--endpoint", sink.url],
                check=True, capture_output=True, text=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            if MODES[mode] is not None:
                result["spans"] = sink.spans - before
            results[mode].append(result)
            print(f"round {r + 1} {mode:>7}: {result['cpu_us']:7.1f} us CPU/request, "
                  f"{result['wall_us']:7.1f} us wall, answers {result['statuses']}"
                  + (f", {result['spans']} spans exported" if "spans" in result else ""),
                  flush=True)
    sink.close()
    median = {mode: statistics.median(r["cpu_us"] for r in results[mode]) for mode in MODES}
    off = median["off"]
    print(f"\nfront door, {args.requests} requests x {args.rounds} rounds, median CPU per "
          f"request: tracing off {off:.1f} us; every trace recorded {median['on']:.1f} us "
          f"(+{median['on'] - off:.1f} us); 1 % of traces recorded {median['sampled']:.1f} "
          f"us (+{median['sampled'] - off:.1f} us)")


if __name__ == "__main__":
    main()
