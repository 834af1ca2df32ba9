"""How long a consumer loop's fetch may wait at the broker (``FetchWaits``).

Apache Kafka answers a fetch as soon as one byte is there, so a long wait costs nothing.
tansu notices new data only some milliseconds into a fetch's wait (measured alone,
issue 14: ~4 ms median at a 5 ms wait, ~9 ms at 50, ~16 ms at 100) and spends CPU while
a fetch waits (a consumer at 5 ms: ~0.13 cores of the broker and ~0.13 of its own,
whether fetches bring data or not; at 100 ms ~0.04 together). So with tansu the wait is
both a hop's latency and the cost of polling: a loop fetches with the short ``busy_ms``
while messages flow or are expected (``expect()``: a gateway that just sent a command
expects its reply) and with ``idle_ms`` once nothing came for ``idle_after_s``. With
Apache Kafka both may be long.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer


@dataclass(frozen=True, slots=True)
class FetchWaits:
    busy_ms: int = 5
    idle_ms: int = 100
    idle_after_s: float = 1.0


def set_fetch_wait(consumer: AIOKafkaConsumer, wait_ms: int) -> None:
    """The wait of the consumer's next fetch requests. aiokafka reads it from its fetcher
    for every request it builds (``Fetcher._fetch_max_wait_ms``; checked by a test)."""
    fetcher = getattr(consumer, "_fetcher", None)
    if fetcher is not None and fetcher._fetch_max_wait_ms != wait_ms:
        fetcher._fetch_max_wait_ms = wait_ms
