"""Fan-out of 1 and 2 notifier processes to 1, 5,000 and 20,000 WebSocket clients.

``.venv/bin/python -m bench.notifier_fanout [--clients 1,5000,20000] [--notifiers 1,2]
[--events 30] [--profile DIR]`` (hold ``flock /tmp/stampede-bench.lock`` while it runs)

What it does (bounded, localhost only, stops by itself):

1. Starts the embedded broker (tansu) unless ``KAFKA_BOOTSTRAP_SERVERS`` is set, and
   creates the topics in a namespace of its own.
2. For each number of notifier processes and each client count, fresh notifier
   processes (``python -m stampede_notifier``, each its own ``INSTANCE_ID`` and port,
   each reading every event) and client processes (one per 5,000 clients, at least two)
   whose connections, all following one drop, are spread evenly over the notifiers.
   Memory per connection: each notifier's RSS before and after its clients connect.
3. Publishes ``--events`` StockChanged envelopes for that drop to topics.events, spaced
   so one event's fan-out is over before the next (none is coalesced: every client
   must get every one), and measures CPU time (user + system, /proc) of the notifiers,
   the clients, the broker and the whole machine over the events' span. The notifiers'
   CPU per message is that over (events x clients); their idle CPU (measured for two
   seconds before the events: fetch polling) is shown apart.
4. Delay of each (client, message): its arrival at the client's socket (kernel receive
   timestamp) and its read by the client process, minus the envelope's ``occurred_at``:
   producer -> broker -> notifier -> socket (-> client). p50/p99/max over all pairs.

Baselines, in the same run: the kernel's floor (``bench.notifier_floor``: the notifier's
own ``write_all`` of the same frame to 5,000 loopback sockets from an otherwise idle
process; on loopback the kernel charges the receiving side's TCP work to the writer),
and the 1-client delay of the same configuration. ``--profile DIR`` records each
notifier with py-spy (if installed) during the events of the largest level and prints
the top of the profile.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._fanout_clients import client_process, cpu_s, machine_busy_s, raise_fd_limit, rss_kib
from .notifier_floor import floor_us_per_write
from .notifier_profile import Profiler

CLIENTS_PER_PROCESS = 5000
TARGET_CPU_US = 10.0
TARGET_P99_MS = 100.0
TARGET_P99_CLIENTS = 5000


@dataclass
class Result:
    notifiers: int
    clients: int
    connected: int
    expected: int
    received: int
    kernel_ms: tuple[float, float, float]  # p50, p99, max of the arrival delay
    read_ms: tuple[float, float, float]  # the same, read by the client process
    server_kib_per_conn: float
    client_kib_per_conn: float
    connect_s: float
    cpu_ms_per_event: dict[str, float]
    notifier_us_per_message: float
    notifier_idle_us_per_message: float
    client_us_per_message: float


def _percentiles(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return float("nan"), float("nan"), float("nan")
    values = sorted(values)

    def at(q: float) -> float:
        return values[min(len(values) - 1, round(q * (len(values) - 1)))] * 1000

    return at(0.50), at(0.99), values[-1] * 1000


async def _publish(bootstrap: str, namespace: str, drop_id: uuid.UUID, events: int,
                   interval: float) -> None:
    from stampede_contracts import EventEnvelope, StockChanged, StockLevels, Topics, event_id_for
    from stampede_runtime.producer import Outgoing, Producer

    topics = Topics.for_namespace(namespace)
    producer = Producer(bootstrap, client_id="bench-notifier")
    await producer.start()
    try:
        for seq in range(1, events + 1):
            available = 1_000_000 - seq
            envelope = EventEnvelope(
                event_id=event_id_for(drop_id, seq), drop_id=drop_id, seq=seq,
                occurred_at=datetime.now(UTC),
                event=StockChanged(stock=StockLevels(total_stock=1_000_000,
                                                     available=available, held=0,
                                                     sold=1_000_000 - available)),
            )
            await producer.send(Outgoing(topics.events, drop_id, envelope))
            if seq < events:
                await asyncio.sleep(interval)
    finally:
        await producer.stop()


@dataclass
class Setup:
    bootstrap: str
    namespace: str
    workdir: Path
    broker_pid: int | None
    max_clients: int


def _start_notifiers(setup: Setup, count: int) -> list[Any]:
    from stampede_devstack.ports import free_port
    from stampede_devstack.process import ServiceProcess

    procs = []
    for i in range(count):
        proc = ServiceProcess(
            f"notifier-{i}", "stampede_notifier", free_port(),
            {"KAFKA_BOOTSTRAP_SERVERS": setup.bootstrap, "TOPIC_NAMESPACE": setup.namespace,
             "INSTANCE_ID": f"bench-notifier-{i}", "LOG_LEVEL": "WARNING",
             "MAX_CONNECTIONS": str(setup.max_clients + 100),
             "MAX_CONNECTIONS_PER_IP": str(setup.max_clients + 100),
             # pings are not what is measured; the bench's readers do not answer them
             "WS_PING_INTERVAL_S": "3600"},
            setup.workdir,
        )
        proc.start()
        procs.append(proc)
    for proc in procs:
        proc.wait_ready(60)
    return procs


def run_level(setup: Setup, notifiers: int, clients: int, events: int,
              profiler: Profiler | None) -> Result:
    interval = max(0.25, clients * 45e-6)  # one fan-out is over before the next event
    procs = _start_notifiers(setup, notifiers)
    pids = [p.proc.pid for p in procs]
    ports = [p.port for p in procs]
    drop_id = uuid.uuid4()
    ctx = mp.get_context("spawn")
    nprocs = max(2, -(-clients // CLIENTS_PER_PROCESS)) if clients > 1 else 1
    shares = [clients // nprocs + (1 if i < clients % nprocs else 0) for i in range(nprocs)]
    pipes, workers = [], []
    try:
        time.sleep(1.0)
        server_before = [rss_kib(pid) for pid in pids]
        started = time.monotonic()
        for i, share in enumerate(shares):
            parent, child = ctx.Pipe()
            # rotate the ports so every notifier gets the same share of every process
            mine = ports[i % notifiers:] + ports[:i % notifiers]
            worker = ctx.Process(target=client_process,
                                 args=(child, mine, f"/ws?drops={drop_id}", share), daemon=True)
            worker.start()
            pipes.append(parent)
            workers.append(worker)
        connected, client_kib = 0, 0
        for pipe in pipes:
            if not pipe.poll(300):
                raise TimeoutError("clients did not connect in 300 s")
            _, n, failure, kib = pipe.recv()
            connected += n
            client_kib += kib
            if failure:
                print(f"  connection failures, first: {failure}", file=sys.stderr)
        connect_s = time.monotonic() - started
        time.sleep(1.0)
        server_kib = sum(rss_kib(pid) - before for pid, before in zip(pids, server_before,
                                                                      strict=True))
        idle_before, idle_started = sum(cpu_s(p) for p in pids), time.monotonic()
        time.sleep(2.0)
        idle_rate = (sum(cpu_s(p) for p in pids) - idle_before) / (time.monotonic()
                                                                   - idle_started)
        watched = {"notifier": pids, "clients": [w.pid for w in workers],
                   "broker": [setup.broker_pid] if setup.broker_pid else []}
        cpu_before = {k: sum(cpu_s(p) for p in v) for k, v in watched.items()}
        busy_before, span_started = machine_busy_s(), time.monotonic()
        if profiler is not None:
            profiler.start(pids, duration_s=events * interval + 1)
        asyncio.run(_publish(setup.bootstrap, setup.namespace, drop_id, events, interval))
        time.sleep(2.0 + clients / 5000)  # the last event reaches everyone
        span = time.monotonic() - span_started
        spent = {k: sum(cpu_s(p) for p in v) - cpu_before[k] for k, v in watched.items()}
        spent["machine"] = machine_busy_s() - busy_before
        if profiler is not None:
            profiler.finish()
        for pipe in pipes:
            pipe.send("report")
        delays: list[tuple[float, float]] = []
        for pipe in pipes:
            if not pipe.poll(300):
                raise TimeoutError("clients did not report in 300 s")
            delays += pipe.recv()[1]
        for pipe in pipes:
            pipe.send("close")
    finally:
        for worker in workers:
            worker.join(30)
            if worker.is_alive():
                worker.kill()
        for proc in procs:
            proc.stop()
    messages = max(1, events * connected)
    return Result(
        notifiers=notifiers, clients=clients, connected=connected, expected=events * connected,
        received=len(delays), kernel_ms=_percentiles([k for k, _ in delays]),
        read_ms=_percentiles([r for _, r in delays]),
        server_kib_per_conn=server_kib / max(1, connected),
        client_kib_per_conn=client_kib / max(1, connected), connect_s=connect_s,
        cpu_ms_per_event={k: 1000 * v / events for k, v in spent.items()},
        notifier_us_per_message=1e6 * spent["notifier"] / messages,
        notifier_idle_us_per_message=1e6 * idle_rate * span / messages,
        client_us_per_message=1e6 * spent["clients"] / messages,
    )


def _print(r: Result, baseline: Result, floor_us: float) -> None:
    ratio = r.kernel_ms[1] / baseline.kernel_ms[1] if baseline.kernel_ms[1] else float("nan")
    print(f"{r.notifiers} notifier(s), {r.clients:>5} clients: connected {r.connected} in "
          f"{r.connect_s:.1f} s; received {r.received}/{r.expected}", flush=True)
    print(f"  delay at the client's socket: p50 {r.kernel_ms[0]:.1f} ms, p99 "
          f"{r.kernel_ms[1]:.1f} ms (x{ratio:.1f} the 1-client run), max {r.kernel_ms[2]:.1f} ms"
          f"; read by the client: p50 {r.read_ms[0]:.1f}, p99 {r.read_ms[1]:.1f}, max "
          f"{r.read_ms[2]:.1f} ms", flush=True)
    if r.clients > 1:
        print(f"  notifier CPU per message: {r.notifier_us_per_message:.1f} µs (of which idle "
              f"polling {r.notifier_idle_us_per_message:.1f}; kernel floor {floor_us:.1f}, "
              f"x{r.notifier_us_per_message / floor_us:.2f}); clients "
              f"{r.client_us_per_message:.1f} µs per message", flush=True)
    print(f"  memory per connection: notifier {r.server_kib_per_conn:.1f} KiB, client "
          f"{r.client_kib_per_conn:.1f} KiB", flush=True)
    cpu = r.cpu_ms_per_event
    others = cpu["machine"] - cpu["notifier"] - cpu["clients"] - cpu["broker"]
    print("  CPU per event (ms, over the events' span): "
          + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items()) + f", others {others:.1f}",
          flush=True)


def _summary(results: list[Result]) -> None:
    for r in results:
        if r.clients < TARGET_P99_CLIENTS:
            continue
        cpu = "met" if r.notifier_us_per_message <= TARGET_CPU_US else "MISSED"
        everything = r.connected == r.clients and r.received == r.expected
        line = (f"targets, {r.notifiers} notifier(s) x {r.clients} clients: CPU <= "
                f"{TARGET_CPU_US:.0f} µs/message {cpu} ({r.notifier_us_per_message:.1f}); "
                f"every message received: {'met' if everything else 'MISSED'}")
        if r.clients == TARGET_P99_CLIENTS:
            for name, values in (("at the socket", r.kernel_ms), ("read", r.read_ms)):
                verdict = "met" if values[1] <= TARGET_P99_MS else "MISSED"
                line += f"; p99 <= {TARGET_P99_MS:.0f} ms {name}: {verdict} ({values[1]:.1f})"
        print(line, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,5000,20000")
    parser.add_argument("--notifiers", default="1,2")
    parser.add_argument("--events", type=int, default=30, help="events per level")
    parser.add_argument("--profile", type=Path, default=None,
                        help="py-spy each notifier at the largest level; profiles here")
    parser.add_argument("--no-floor", action="store_true", help="skip the kernel floor")
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    counts = [int(n) for n in args.notifiers.split(",")]
    raise_fd_limit(max(levels) + 2000)

    from stampede_contracts import Topics
    from stampede_devstack.broker import EmbeddedBroker
    from stampede_devstack.ports import free_port
    from stampede_runtime.admin import ensure_topics
    from stampede_runtime.kafka_config import SINGLE_BROKER

    workdir = Path(tempfile.mkdtemp(prefix="bench-notifier-"))
    broker = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        broker = EmbeddedBroker(free_port(), workdir / "tansu.log")
        broker.start()
        bootstrap = broker.bootstrap_servers
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    broker_pid = getattr(getattr(broker, "_proc", None), "pid", None)
    setup = Setup(bootstrap, namespace, workdir, broker_pid, max(levels))
    try:
        asyncio.run(ensure_topics(bootstrap, Topics.for_namespace(namespace).all(),
                                  config=SINGLE_BROKER))
        floor = float("nan") if args.no_floor else floor_us_per_write(5000)
        print(f"broker {bootstrap}; {args.events} events per level; cores: {os.cpu_count()}; "
              f"kernel floor: {floor:.1f} µs of CPU per write (5,000 loopback sockets)",
              flush=True)
        results: list[Result] = []
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        for notifiers in counts:
            baseline: Result | None = None
            for clients in levels:
                if -(-clients // notifiers) + 200 > hard:
                    print(f"{notifiers} notifier(s), {clients:>5} clients: skipped: more "
                          f"sockets per process than the open-files hard limit ({hard}) "
                          "allows, which this machine does not let a process raise")
                    continue
                profiler = (Profiler(args.profile / f"{notifiers}x{clients}")
                            if args.profile and clients == max(levels) else None)
                result = run_level(setup, notifiers, clients, args.events, profiler)
                baseline = baseline or result
                results.append(result)
                _print(result, baseline, floor)
                if profiler is not None:
                    print(profiler.top(), flush=True)
        _summary(results)
    finally:
        if broker is not None:
            broker.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
