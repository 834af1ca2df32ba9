"""The embedded broker as a partition's log grows: what one fetch costs, and whether a
consumer at the log end still gets a new message (issue 14).

``flock /tmp/stampede-bench.lock .venv/bin/python -m bench.broker_growth [--sizes 1000,20000]``

tansu 0.6.0 (its in-memory store) lists every batch a partition ever held on each poll
of a fetch, and stops listing when the fetch's wait is used up, so the newest batches
are the ones cut off. For each size (batches in one partition, one record each) it
prints:

- ``fetch``: wall time of one fetch of the newest record (a 1 s wait: never cut off), and
  the broker's CPU per such fetch, with the ratio against the first size;
- ``raw 5 ms``: how long a plain aiokafka consumer at the log end with a 5 ms fetch wait
  (the request path's busy wait, without the runtime's floor) takes to get a record
  produced now, or "starved" if not within ``--patience`` seconds;
- ``loop``: the same through the runtime's ``ConsumerLoop`` with a gateway's waits, busy
  (it expects the record, as a gateway expects a reply), whose floor rises when the
  broker answers empty behind the log end (``fetch_waits``), and the floor it ended at.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from stampede_contracts import TopicSpec
from stampede_devstack.broker import EmbeddedBroker
from stampede_devstack.ports import free_port
from stampede_runtime.admin import ensure_topics
from stampede_runtime.consumer import ConsumerLoop
from stampede_runtime.dead_letters import KafkaDeadLetters
from stampede_runtime.fetch_waits import FetchWaits
from stampede_runtime.handlers import BaseHandler, Delivered
from stampede_runtime.kafka_config import SINGLE_BROKER
from stampede_runtime.producer import Producer

from ._procs import read_stat

TICK = os.sysconf("SC_CLK_TCK")


def broker_cpu_s(pid: int) -> float:
    stat = read_stat(pid)
    return (stat.utime + stat.stime) / TICK if stat else 0.0


async def fill(bootstrap: str, topic: str, batches: int, producers: int = 20) -> None:
    """``batches`` one-record batches into partition 0: each send awaited alone."""
    async def one(count: int) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
        await producer.start()
        try:
            for _ in range(count):
                await producer.send_and_wait(topic, b"old", partition=0)
        finally:
            await producer.stop()

    share, rest = divmod(batches, producers)
    await asyncio.gather(*(one(share + (i < rest)) for i in range(producers)))


@asynccontextmanager
async def at_log_end(bootstrap: str, topic: str, wait_ms: int, partitions: int = 1
                     ) -> AsyncIterator[tuple[AIOKafkaConsumer, TopicPartition, int]]:
    """A plain aiokafka consumer of the topic's first ``partitions`` at their log ends
    (and partition 0 with its end)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, fetch_max_wait_ms=wait_ms,
                                enable_auto_commit=False)
    await consumer.start()
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(tps)
    try:
        await consumer.seek_to_end(*tps)
        ends = [await consumer.position(tp) for tp in tps]
        yield consumer, tps[0], ends[0]
    finally:
        await consumer.stop()


async def fetch_cost(bootstrap: str, topic: str, pid: int, rounds: int = 20
                     ) -> tuple[float, float]:
    """Median wall ms of one fetch of the newest record, and broker CPU ms per fetch."""
    async with at_log_end(bootstrap, topic, 1_000) as (consumer, tp, end):
        walls = []
        cpu0 = broker_cpu_s(pid)
        for _ in range(rounds):
            consumer.seek(tp, end - 1)
            started = time.perf_counter()
            await consumer.getone()
            walls.append((time.perf_counter() - started) * 1000)
        cpu = (broker_cpu_s(pid) - cpu0) * 1000 / rounds
    return statistics.median(walls), cpu


async def raw_delivery(bootstrap: str, topic: str, producer: Producer, patience: float
                       ) -> float | None:
    """Seconds until a consumer at the log end (5 ms waits, no floor) gets a new record."""
    async with at_log_end(bootstrap, topic, 5) as (consumer, _, _):
        started = time.perf_counter()
        await producer.send_raw(TopicSpec(topic, 1, "-", ""), b"k", b"new", ())
        try:
            async with asyncio.timeout(patience):
                await consumer.getone()
        except TimeoutError:
            return None
        return time.perf_counter() - started


class _First(BaseHandler[bytes | None]):
    def __init__(self) -> None:
        self.got = asyncio.Event()

    async def handle(self, partition: int, batch: Sequence[Delivered[bytes | None]]) -> None:
        self.got.set()


async def loop_delivery(bootstrap: str, topic: TopicSpec, producer: Producer, patience: float
                        ) -> tuple[float | None, int]:
    """The same through a ConsumerLoop paced as a gateway's replies under ``make up``
    (``reply_waits``: the broker waits while busy, the client once idle); and its floor
    after."""
    handler = _First()
    loop = ConsumerLoop(bootstrap_servers=bootstrap, topic=topic, decode=lambda v: v,
                        handler=handler, from_beginning=False,
                        fetch_waits=FetchWaits(pacing="idle-client"),
                        dead_letters=KafkaDeadLetters(producer, topic, service="bench"))
    task = asyncio.create_task(loop.run())
    try:
        async with asyncio.timeout(60):
            await loop.caught_up.wait()
        loop.expect()  # as a gateway does when it sends a command: the busy wait
        await asyncio.sleep(0.2)  # the busy wait's fetches are in flight
        started = time.perf_counter()
        await producer.send_raw(topic, b"k", b"new", ())
        try:
            async with asyncio.timeout(patience):
                await handler.got.wait()
        except TimeoutError:
            return None, loop._pacer.floor_ms
        return time.perf_counter() - started, loop._pacer.floor_ms
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _secs(value: float | None, patience: float) -> str:
    return f"starved (> {patience:.0f} s)" if value is None else f"{value * 1000:.0f} ms"


async def run(sizes: list[int], patience: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        broker = EmbeddedBroker(free_port(), Path(tmp) / "tansu.log")
        broker.start()
        try:
            bootstrap = broker.bootstrap_servers
            assert broker.pid is not None
            topic = TopicSpec(name="growth", partitions=1, key="-", doc="bench")
            await ensure_topics(bootstrap, [topic], config=SINGLE_BROKER)
            producer = Producer(bootstrap, client_id="bench")
            await producer.start()
            print(f"{'batches':>8} {'fetch ms':>9} {'broker CPU ms/fetch':>20} {'ratio':>6}"
                  f"  {'raw 5 ms':<18} loop (floor)", flush=True)
            held, first = 0, None
            for size in sizes:
                await fill(bootstrap, topic.name, size - held)
                held = size
                wall, cpu = await fetch_cost(bootstrap, topic.name, broker.pid)
                first = first or cpu
                raw = await raw_delivery(bootstrap, topic.name, producer, patience)
                looped, floor = await loop_delivery(bootstrap, topic, producer, patience)
                held += 2  # the two records just sent, each its own batch
                print(f"{size:>8} {wall:>9.1f} {cpu:>20.2f} {cpu / first:>5.1f}x"
                      f"  {_secs(raw, patience):<18} {_secs(looped, patience)} "
                      f"({floor} ms)", flush=True)
            await producer.stop()
        finally:
            broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,5000,10000,20000,40000",
                        help="comma-separated batches in the partition, rising")
    parser.add_argument("--patience", type=float, default=10.0,
                        help="seconds a consumer may take before it counts as starved")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if sizes != sorted(sizes):
        parser.error("--sizes must rise")
    asyncio.run(run(sizes, args.patience))


if __name__ == "__main__":
    main()
