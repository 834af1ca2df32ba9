"""Fan-out of one notifier process to 1, 1,000 and 5,000 concurrent WebSocket clients.

``.venv/bin/python -m bench.notifier_fanout [--clients 1,1000,5000] [--events 40]``

What it does (bounded, localhost only, stops by itself):

1. Starts the embedded broker (tansu) unless ``KAFKA_BOOTSTRAP_SERVERS`` is set,
   creates the topics in a namespace of its own, and starts one notifier process
   (``python -m stampede_notifier``) as the stack would.
2. For each client count: client processes (``--procs``, default 2: the machine has
   two cores, shared with the notifier and the broker) open the connections, all
   following one drop. The notifier's RSS before and after gives memory per
   connection, as does the clients' RSS.
3. Publishes ``--events`` StockChanged envelopes for that drop to topics.events,
   ``--interval`` seconds apart (slower than the coalescing interval, so none is
   merged: every client must get every one).
4. Every client records, for each STOCK_UPDATED, ``time.time()`` at receipt minus
   the envelope's ``occurred_at`` (the decision's timestamp, carried in
   ``data.occurred_at``): the delay through producer -> broker -> notifier ->
   socket -> client, on one clock. p50/p99/max over all (client, event) pairs.

The clients (``bench/_fanout_clients.py``) are a minimal WebSocket reader on
``asyncio.Protocol`` (handshake, then
frame parsing in ``data_received``; pings answered) rather than the ``websockets``
library, so the client side's CPU, which shares the two cores, inflates the
figures as little as possible. The integration tests use the real library.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._fanout_clients import client_process, cpu_s, machine_busy_s, raise_fd_limit, rss_kib

TARGET_CLIENTS = 5000
TARGET_P99_MS = 100.0




# -- the run -------------------------------------------------------------------


@dataclass
class Result:
    clients: int
    connected: int
    expected: int
    received: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    server_kib_per_conn: float
    client_kib_per_conn: float
    connect_s: float
    cpu_ms_per_event: dict[str, float]


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


async def _publish(bootstrap: str, namespace: str, drop_id: uuid.UUID, first_seq: int,
                   events: int, interval: float) -> int:
    from stampede_contracts import EventEnvelope, StockChanged, StockLevels, Topics, event_id_for
    from stampede_runtime.producer import Outgoing, Producer

    topics = Topics.for_namespace(namespace)
    producer = Producer(bootstrap, client_id="bench-notifier")
    await producer.start()
    seq = first_seq
    try:
        for i in range(events):
            seq += 1
            available = max(0, 1_000_000 - seq)
            envelope = EventEnvelope(
                event_id=event_id_for(drop_id, seq), drop_id=drop_id, seq=seq,
                occurred_at=datetime.now(UTC),
                event=StockChanged(stock=StockLevels(total_stock=1_000_000,
                                                     available=available, held=0,
                                                     sold=1_000_000 - available)),
            )
            await producer.send(Outgoing(topics.events, drop_id, envelope))
            if i < events - 1:
                await asyncio.sleep(interval)
    finally:
        await producer.stop()
    return seq


def run_level(clients: int, procs: int, port: int, notifier_pid: int, bootstrap: str,
              namespace: str, drop_id: uuid.UUID, first_seq: int, events: int,
              interval: float, broker_pid: int | None = None) -> tuple[Result, int]:
    ctx = mp.get_context("spawn")
    nprocs = max(1, min(procs, clients))
    shares = [clients // nprocs + (1 if i < clients % nprocs else 0) for i in range(nprocs)]
    pipes, workers = [], []
    server_before = rss_kib(notifier_pid)
    started = time.monotonic()
    for share in shares:
        parent, child = ctx.Pipe()
        worker = ctx.Process(target=client_process,
                             args=(child, port, f"/ws?drops={drop_id}", share), daemon=True)
        worker.start()
        pipes.append(parent)
        workers.append(worker)
    connected, client_kib = 0, 0
    try:
        for pipe in pipes:
            if not pipe.poll(180):
                raise TimeoutError("clients did not connect in 180 s")
            _, n, failure, kib = pipe.recv()
            connected += n
            client_kib += kib
            if failure:
                print(f"  connection failures, first: {failure}", file=sys.stderr)
        connect_s = time.monotonic() - started
        time.sleep(1.0)  # let the notifier settle before measuring its memory
        server_after = rss_kib(notifier_pid)
        # CPU used while the events go by (including the idle gaps between them): who
        # pays for a fan-out on the shared cores.
        watched = {"notifier": [notifier_pid], "clients": [w.pid for w in workers],
                   "broker": [broker_pid] if broker_pid else []}
        cpu_before = {k: sum(cpu_s(p) for p in pids) for k, pids in watched.items()}
        busy_before = machine_busy_s()
        last_seq = asyncio.run(_publish(bootstrap, namespace, drop_id, first_seq, events,
                                        interval))
        time.sleep(3.0 + clients / 1000)  # the last event reaches everyone
        cpu_ms = {k: 1000 * (sum(cpu_s(p) for p in pids) - cpu_before[k]) / events
                  for k, pids in watched.items()}
        cpu_ms["machine"] = 1000 * (machine_busy_s() - busy_before) / events
        delays: list[float] = []
        for pipe in pipes:
            pipe.send("report")
        for pipe in pipes:
            if not pipe.poll(120):
                raise TimeoutError("clients did not report in 120 s")
            delays += pipe.recv()[1]
        for pipe in pipes:
            pipe.send("close")
    finally:
        for worker in workers:
            worker.join(20)
            if worker.is_alive():
                worker.kill()
    delays.sort()
    result = Result(
        clients=clients, connected=connected, expected=connected * events,
        received=len(delays), p50_ms=_percentile(delays, 0.50) * 1000,
        p99_ms=_percentile(delays, 0.99) * 1000, max_ms=(delays[-1] if delays else 0) * 1000,
        server_kib_per_conn=(server_after - server_before) / max(1, connected),
        client_kib_per_conn=client_kib / max(1, connected), connect_s=connect_s,
        cpu_ms_per_event=cpu_ms,
    )
    return result, last_seq


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,1000,5000")
    parser.add_argument("--procs", type=int, default=2, help="client processes")
    parser.add_argument("--events", type=int, default=40, help="events per level")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between events")
    parser.add_argument("--ws", default="websockets", help="WS_IMPLEMENTATION of the notifier")
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    raise_fd_limit(max(levels) + 1000)

    from stampede_contracts import Topics
    from stampede_devstack.broker import EmbeddedBroker
    from stampede_devstack.ports import free_port
    from stampede_devstack.process import ServiceProcess
    from stampede_runtime.admin import ensure_topics

    workdir = Path(tempfile.mkdtemp(prefix="bench-notifier-"))
    broker = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        broker = EmbeddedBroker(free_port(), workdir / "tansu.log")
        broker.start()
        bootstrap = broker.bootstrap_servers
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    notifier = None
    try:
        asyncio.run(ensure_topics(bootstrap, Topics.for_namespace(namespace).all()))
        notifier = ServiceProcess(
            "notifier", "stampede_notifier", free_port(),
            {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "TOPIC_NAMESPACE": namespace,
             "LOG_LEVEL": "WARNING", "MAX_CONNECTIONS": str(max(levels) + 100),
             "MAX_CONNECTIONS_PER_IP": str(max(levels) + 100), "WS_IMPLEMENTATION": args.ws},
            workdir,
        )
        notifier.start()
        notifier.wait_ready(60)
        assert notifier.proc is not None
        print(f"notifier pid {notifier.proc.pid} ({args.ws}), broker {bootstrap}, "
              f"{args.procs} client processes, {args.events} events "
              f"{args.interval * 1000:.0f} ms apart per level; cores: {os.cpu_count()}")
        drop_id, seq = uuid.uuid4(), 0
        results: list[Result] = []
        for clients in levels:
            result, seq = run_level(clients, args.procs, notifier.port, notifier.proc.pid,
                                    bootstrap, namespace, drop_id, seq, args.events,
                                    args.interval, _broker_pid(broker))
            results.append(result)
            _print(result, results[0])
            print("  notifier: " + _server_figures(notifier.url), flush=True)
            time.sleep(1.0)
        _summary(results)
    finally:
        if notifier is not None:
            notifier.stop()
        if broker is not None:
            broker.stop()
    return 0


def _broker_pid(broker: Any) -> int | None:
    proc = getattr(broker, "_proc", None)
    return getattr(proc, "pid", None)


def _print(r: Result, baseline: Result) -> None:
    ratio = r.p99_ms / baseline.p99_ms if baseline.p99_ms else float("nan")
    print(
        f"clients {r.clients:>5}: connected {r.connected} in {r.connect_s:.1f} s; "
        f"received {r.received}/{r.expected}; delay p50 {r.p50_ms:.1f} ms, "
        f"p99 {r.p99_ms:.1f} ms (x{ratio:.1f} the 1-client baseline), max {r.max_ms:.1f} ms; "
        f"memory per connection: notifier {r.server_kib_per_conn:.1f} KiB, "
        f"client {r.client_kib_per_conn:.1f} KiB",
        flush=True,
    )
    cpu = r.cpu_ms_per_event
    print("  CPU per event (ms, user+sys, over the events' span): "
          + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items())
          + f"; others {cpu['machine'] - cpu['notifier'] - cpu['clients'] - cpu['broker']:.1f}",
          flush=True)


def _server_figures(url: str) -> str:
    """Cumulative figures from the notifier's /metrics."""
    import httpx

    values: dict[str, float] = {}
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("stampede_notifier_") and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    count = values.get("stampede_notifier_fanout_seconds_count", 0)
    total = values.get("stampede_notifier_fanout_seconds_sum", 0)
    return (f"fan-outs {count:.0f}, mean fan-out {1000 * total / max(1, count):.2f} ms, "
            f"messages sent {values.get('stampede_notifier_messages_sent_total', 0):.0f} "
            f"(direct {values.get('stampede_notifier_direct_writes_total', 0):.0f}), "
            f"slow clients dropped "
            f"{values.get('stampede_notifier_slow_clients_dropped_total', 0):.0f}")


def _summary(results: list[Result]) -> None:
    at_target = [r for r in results if r.clients == TARGET_CLIENTS]
    for r in at_target:
        verdict = "met" if r.p99_ms <= TARGET_P99_MS and r.received == r.expected else "MISSED"
        print(f"target: {TARGET_CLIENTS} clients, p99 <= {TARGET_P99_MS:.0f} ms: {verdict} "
              f"(p99 {r.p99_ms:.1f} ms, mean {statistics.fmean([r.p50_ms, r.p99_ms]):.1f})")


if __name__ == "__main__":
    raise SystemExit(main())
