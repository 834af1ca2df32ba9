"""Publishing a partition's committed outbox, in order, behind its writer.

A batch's decisions are durable once its transaction commits; publishing them (events to
``topics.events``, replies to ``topics.replies``) may then take a round trip to the broker
or more. The writer does not wait for it: it hands the batch's outbox to this partition's
publisher and goes on deciding the next batch, so a hot drop's batches overlap their
publishing. The publisher sends what it was given in order (everything queued at once in
one pipelined send), retries until the broker takes it, and records how far it got
(``published_upto``), which the writer's next transaction uses to delete those rows.

A crash loses nothing: what was not published is still in the outbox table and the next
owner republishes it (same event ids: consumers drop duplicates). ``drain`` waits until
everything handed over is out (a revocation lets its publishing finish first); the backlog
is bounded (``max_backlog`` batches): the writer waits when the broker falls behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from stampede_contracts import Topics
from stampede_runtime.errors import RetryPolicy
from stampede_runtime.producer import Outgoing, Producer

from . import metrics
from .adapters.store import Outbox

log = logging.getLogger(__name__)
RETRY = RetryPolicy(first_backoff_s=0.1, max_backoff_s=2.0)


class OutboxPublisher:
    def __init__(self, producer: Producer, topics: Topics, partition: int, *,
                 max_backlog: int = 64) -> None:
        self._producer = producer
        self._topics = topics
        self._partition = partition
        self._max_backlog = max_backlog
        self._pending: list[Outbox] = []
        self._wake = asyncio.Event()
        self._progress = asyncio.Condition()
        self.published_upto: int | None = None
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"publish-{partition}")

    @property
    def backlog(self) -> int:
        return len(self._pending)

    async def put(self, outbox: Outbox) -> None:
        """Publish this committed outbox after those given before (waits while the
        backlog is full)."""
        if len(self._pending) >= self._max_backlog:
            async with self._progress:
                await self._progress.wait_for(lambda: len(self._pending) < self._max_backlog)
        self._pending.append(outbox)
        self._wake.set()

    async def drain(self) -> None:
        """Until everything handed over so far is published."""
        async with self._progress:
            await self._progress.wait_for(lambda: not self._pending)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        attempt = 0
        while True:
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
            batch = list(self._pending)
            started = time.perf_counter()
            try:
                await self._send(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker is away: the outbox waits, in order
                attempt += 1
                log.warning("partition %d: publishing %d batch(es) failed (attempt %d): %r",
                            self._partition, len(batch), attempt, exc)
                await asyncio.sleep(RETRY.backoff(attempt))
                continue
            attempt = 0
            metrics.publish_seconds.observe(time.perf_counter() - started)
            del self._pending[: len(batch)]
            self.published_upto = batch[-1].id
            async with self._progress:
                self._progress.notify_all()

    async def _send(self, batch: list[Outbox]) -> None:
        events, replies = self._topics.events, self._topics.replies
        await self._producer.send_all(
            [Outgoing(events, m.key, m.json, m.headers) for outbox in batch for m in outbox.events]
            + [Outgoing(replies, m.key, m.json, m.headers)
               for outbox in batch for m in outbox.replies]
        )
