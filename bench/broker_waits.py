"""Who should wait for new data, the embedded broker or the consumer (issue 14)?

``flock /tmp/stampede-bench.lock .venv/bin/python -m bench.broker_waits [--seconds 3]``

tansu 0.6.0 polls its store while a fetch waits (at once, then after half the time left,
again and again), each poll costing it CPU; a fetch with no wait lists nothing. A
consumer at the log end of an idle topic (50 records), two tables:

1. one plain aiokafka consumer fetching back to back for ``--seconds`` with each
   ``max_wait_ms`` (0, 1, 5, 20, 100), over 1 and over 8 partitions: fetches a second,
   broker CPU per fetch and in cores, and whether a record produced then is delivered;
2. the request path's busy wait (5 ms) and idle wait (100 ms), paced both ways
   (``fetch_waits``): ``broker`` (the fetch waits that long at the broker) and
   ``client`` (it waits 1 ms there; the consumer pauses the rest between fetches,
   ``FetchPauses``): broker cores, this process's cores (the consumer's side), and the
   median delay until a record produced at a random moment arrives (``--deliveries``
   of them), with client/broker ratios. Apache Kafka answers at once when data comes:
   there ``broker`` is right.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from stampede_contracts import TopicSpec
from stampede_devstack.broker import EmbeddedBroker
from stampede_devstack.ports import free_port
from stampede_runtime.admin import ensure_topics
from stampede_runtime.fetch_waits import MIN_BROKER_WAIT_MS, FetchPauses
from stampede_runtime.kafka_config import SINGLE_BROKER

from .broker_growth import at_log_end, broker_cpu_s

WAITS_MS = (0, 1, 5, 20, 100)


def _count_requests(consumer: AIOKafkaConsumer) -> list[int]:
    """A counter of the requests the consumer's client sends (fetches, here)."""
    sent = [0]
    client = consumer._client
    send = client.send

    async def counted(*args: object, **kwargs: object) -> object:
        sent[0] += 1
        return await send(*args, **kwargs)

    client.send = counted
    return sent


async def fetch_costs(bootstrap: str, topic: str, partitions: int, pid: int,
                      producer: AIOKafkaProducer, seconds: float) -> None:
    for wait_ms in WAITS_MS:
        async with at_log_end(bootstrap, topic, wait_ms, partitions) as (consumer, _, _):
            sent = _count_requests(consumer)
            cpu0, started = broker_cpu_s(pid), time.monotonic()
            while time.monotonic() - started < seconds:
                await consumer.getmany(timeout_ms=200)
            elapsed, cpu = time.monotonic() - started, broker_cpu_s(pid) - cpu0
            fetches = max(sent[0], 1)
            await producer.send_and_wait(topic, b"new", partition=0)
            got = await consumer.getmany(timeout_ms=2_000)
            delivered = "yes" if sum(map(len, got.values())) else "no (nothing listed)"
        print(f"{partitions:>10} {wait_ms:>8} {fetches / elapsed:>10.0f} "
              f"{1000 * cpu / fetches:>18.3f} {cpu / elapsed:>13.3f}  {delivered}", flush=True)


async def paced(bootstrap: str, topic: str, pid: int, producer: AIOKafkaProducer,
                wait_ms: int, pacing: str, deliveries: int, rng: random.Random
                ) -> tuple[float, float, float]:
    """(broker cores, consumer cores, median delivery ms) of a consumer paced so."""
    broker_wait = wait_ms if pacing == "broker" else MIN_BROKER_WAIT_MS
    delays = []
    async with at_log_end(bootstrap, topic, broker_wait) as (consumer, _, _):
        if pacing == "client":
            FetchPauses(lambda: wait_ms / 1000, short_s=wait_ms / 1000).install(consumer)
        cpu0, own0, started = broker_cpu_s(pid), time.process_time(), time.monotonic()
        for _ in range(deliveries):
            await asyncio.sleep(rng.uniform(0.02, 0.12))  # a random moment in the cycle
            sent = time.perf_counter()
            await producer.send_and_wait(topic, b"new", partition=0)
            async with asyncio.timeout(10):  # bounded: never delivered is an error
                while not sum(map(len, (await consumer.getmany(timeout_ms=1_000)).values())):
                    pass
            delays.append((time.perf_counter() - sent) * 1000)
        elapsed = time.monotonic() - started
        broker = (broker_cpu_s(pid) - cpu0) / elapsed
        own = (time.process_time() - own0) / elapsed
    return broker, own, statistics.median(delays)


async def run(seconds: float, deliveries: int, seed: int) -> None:
    rng = random.Random(seed)
    print(f"seed {seed}")
    with tempfile.TemporaryDirectory() as tmp:
        broker = EmbeddedBroker(free_port(), Path(tmp) / "tansu.log")
        broker.start()
        try:
            bootstrap, pid = broker.bootstrap_servers, broker.pid
            assert pid is not None
            topic = TopicSpec(name="waits", partitions=8, key="-", doc="bench")
            await ensure_topics(bootstrap, [topic], config=SINGLE_BROKER)
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
            await producer.start()
            try:
                for i in range(50):
                    await producer.send_and_wait(topic.name, b"old", partition=i % 8)
                print(f"{'partitions':>10} {'wait ms':>8} {'fetches/s':>10} "
                      f"{'broker CPU ms/fetch':>18} {'broker cores':>13}  delivered")
                for partitions in (1, 8):
                    await fetch_costs(bootstrap, topic.name, partitions, pid, producer,
                                      seconds)
                print(f"\n{'wait ms':>8} {'pacing':>7} {'broker cores':>13} "
                      f"{'consumer cores':>15} {'delivery p50 ms':>16}")
                for wait_ms in (5, 100):
                    figures = {}
                    for pacing in ("broker", "client"):
                        figures[pacing] = await paced(bootstrap, topic.name, pid, producer,
                                                      wait_ms, pacing, deliveries, rng)
                        b, c, d = figures[pacing]
                        print(f"{wait_ms:>8} {pacing:>7} {b:>13.3f} {c:>15.3f} {d:>16.1f}",
                              flush=True)
                    (bb, bc, bd), (cb, cc, cd) = figures["broker"], figures["client"]
                    print(f"{wait_ms:>8} {'ratio':>7} {cb / bb:>12.2f}x {cc / bc:>14.2f}x "
                          f"{cd / bd:>15.2f}x  (client / broker)", flush=True)
            finally:
                await producer.stop()
        finally:
            broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="seconds each wait of table 1 is measured (1..30)")
    parser.add_argument("--deliveries", type=int, default=40,
                        help="records delivered per row of table 2 (5..500)")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    if not 1 <= args.seconds <= 30 or not 5 <= args.deliveries <= 500:
        parser.error("--seconds 1..30, --deliveries 5..500")
    asyncio.run(run(args.seconds, args.deliveries, args.seed))


if __name__ == "__main__":
    main()
