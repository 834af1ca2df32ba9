"""The gateway under a storm, against its own trivial-endpoint ceiling.

``.venv/bin/python -m bench.gateway_load [--rate 500] [--seconds 5] [--stock 100]
[--connections 32]``

What it does (bounded, localhost only, stops by itself):

1. Starts the whole system as ``make up`` does (embedded broker and PostgreSQL unless
   ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL`` are set), in a namespace of its own,
   with per-client limits out of the way (every simulated buyer is its own client
   anyway) and the waiting room at its defaults, and creates one live drop.
2. (a) storm: ``--rate`` ``POST /api/order`` per second for ``--seconds``, each from a
   new buyer with a new Idempotency-Key, on a drop of ``--stock`` pairs: demand far
   above stock, so after the first moments the gateway's view answers ``409 SOLD_OUT``
   at once; the waiting room may answer ``503`` when in-flight requests pile up.
   (b) ceiling: the same rate of ``GET /healthz`` on the same server.
3. Open loop: request *i* is due at ``start + i / rate`` and is sent then whatever
   happened to earlier ones; its latency is measured from that intended time (so a
   stall is charged to every request it delayed: no coordinated omission), into an
   HDR histogram (``hdrh``). Prints answers/s, p50/p99/p99.9/max, the status codes,
   and the ratios storm / ceiling. Every request has a 10 s timeout.

The load generator shares the two cores with the services it measures; its own
overhead is the same in (a) and (b), which is why the ratio is the figure to watch.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from hdrh.histogram import HdrHistogram
from stampede_devstack.ports import free_port
from stampede_devstack.stack import Stack

Request = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


@dataclass
class Result:
    name: str
    sent: int
    seconds: float
    histogram: HdrHistogram
    statuses: Counter[str]

    @property
    def answers_per_s(self) -> float:
        return self.sent / self.seconds

    def ms(self, percentile: float) -> float:
        return float(self.histogram.get_value_at_percentile(percentile)) / 1000

    def line(self) -> str:
        codes = " ".join(f"{k}:{v}" for k, v in sorted(self.statuses.items()))
        return (f"{self.name:<9} {self.answers_per_s:>9.0f} {self.ms(50):>9.2f} "
                f"{self.ms(99):>9.2f} {self.ms(99.9):>9.2f} "
                f"{self.histogram.get_max_value() / 1000:>9.2f}  {codes}")


async def open_loop(name: str, base_url: str, rate: float, seconds: float,
                    request: Request, connections: int) -> Result:
    histogram = HdrHistogram(1, 60_000_000, 3)  # microseconds, 1 us .. 60 s
    statuses: Counter[str] = Counter()
    total = int(rate * seconds)
    # ``connections`` workers, each with its own kept-alive connection (as a load balancer
    # in front would hold), take requests in due order from one queue: a request due while
    # all are busy waits, and that wait counts in its latency. (One shared httpx pool with
    # thousands of waiters is itself the bottleneck, hence one client per worker.)
    due_queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    clients = [httpx.AsyncClient(base_url=base_url, timeout=10) for _ in range(connections)]

    async def worker(client: httpx.AsyncClient) -> None:
        while (item := await due_queue.get()) is not None:
            i, due = item
            try:
                statuses[str((await request(client, i)).status_code)] += 1
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1
            histogram.record_value(max(1, int((time.perf_counter() - due) * 1e6)))

    try:
        await asyncio.gather(*(c.get("/healthz") for c in clients))  # open the connections
        workers = [asyncio.create_task(worker(c)) for c in clients]
        start = time.perf_counter() + 0.1
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            due_queue.put_nowait((i, due))
        for _ in workers:
            due_queue.put_nowait(None)
        await asyncio.gather(*workers)
        elapsed = time.perf_counter() - start
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return Result(name, total, elapsed, histogram, statuses)


def start_stack(state_dir: Path) -> Stack:
    stack = Stack(
        state_dir=state_dir, gateway_port=free_port(), notifier_port=free_port(),
        orders_port=free_port(), inventory_ports=[free_port()], broker_port=free_port(),
        postgres_port=free_port(), durable_db=False, log_level="WARNING",
        topic_namespace=f"bench{uuid.uuid4().hex[:6]}",
        extra_env={"RATE_LIMIT_PER_S": "1000000", "RATE_LIMIT_BURST": "1000000"},
    )
    stack.kafka_bootstrap_servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None
    stack.database_url = os.environ.get("DATABASE_URL") or None
    stack.start()
    return stack


def create_drop(base_url: str, stock: int) -> str:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        token = client.post("/api/auth/login", json={"username": "admin", "password": "admin"})
        token.raise_for_status()
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        r = client.post("/api/drops", headers=headers,
                        json={"name": "Bench drop", "price_cents": 100, "total_stock": stock})
        r.raise_for_status()
        return str(r.json()["id"])


async def run(base_url: str, drop_id: str, rate: float, seconds: float,
              connections: int) -> list[Result]:
    users = [str(uuid.uuid4()) for _ in range(int(rate * seconds))]

    def buy(client: httpx.AsyncClient, i: int) -> Awaitable[httpx.Response]:
        return client.post("/api/order", json={"drop_id": drop_id}, headers={
            "X-User-Id": users[i], "Idempotency-Key": uuid.uuid4().hex,
            "Accept": "application/json"})

    def healthz(client: httpx.AsyncClient, i: int) -> Awaitable[httpx.Response]:
        return client.get("/healthz")

    storm = await open_loop("storm", base_url, rate, seconds, buy, connections)
    await asyncio.sleep(1)
    ceiling = await open_loop("healthz", base_url, rate, seconds, healthz, connections)
    return [storm, ceiling]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=500, help="requests per second offered")
    parser.add_argument("--seconds", type=float, default=5, help="duration of each phase")
    parser.add_argument("--stock", type=int, default=100, help="pairs in the drop")
    parser.add_argument("--connections", type=int, default=32, help="client connections")
    args = parser.parse_args()
    if not 1 <= args.rate <= 20_000 or not 0.5 <= args.seconds <= 60:
        parser.error("rate must be 1..20000 and seconds 0.5..60 (bounded by design)")
    with tempfile.TemporaryDirectory(prefix="stampede-bench-") as tmp:
        stack = start_stack(Path(tmp))
        try:
            drop_id = create_drop(stack.gateway_url, args.stock)
            time.sleep(1)  # let the gateway's view see the drop
            storm, ceiling = asyncio.run(
                run(stack.gateway_url, drop_id, args.rate, args.seconds, args.connections))
        finally:
            stack.stop()
    print(f"offered {args.rate:.0f} req/s for {args.seconds:.0f} s per phase over "
          f"{args.connections} connections; "
          f"drop of {args.stock} pairs, {int(args.rate * args.seconds)} buyers; open loop, "
          "latency from intended send time (ms)")
    print(f"{'phase':<9} {'answers/s':>9} {'p50':>9} {'p99':>9} {'p99.9':>9} {'max':>9}  statuses")
    print(storm.line())
    print(ceiling.line())
    sold = storm.statuses.get("200", 0)
    print(f"sold {sold} of {args.stock} (never more)")
    print(f"ratio storm/healthz: answers/s {storm.answers_per_s / ceiling.answers_per_s:.2f}, "
          f"p50 {storm.ms(50) / max(ceiling.ms(50), 1e-3):.1f}x, "
          f"p99 {storm.ms(99) / max(ceiling.ms(99), 1e-3):.1f}x")


if __name__ == "__main__":
    main()
