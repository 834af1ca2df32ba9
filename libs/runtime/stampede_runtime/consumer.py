"""The one consumer loop. Every service's consumer is this loop plus a handler.

The loop fetches, decodes (a malformed message is dead-lettered, never passed on),
hands each partition's batch to the handler, and only then records progress:
the handler may store its position in its own database (the inventory and
orders do, in the same transaction as their state) and the loop also commits it
to Kafka for visibility. Two modes:

- group mode (``group_id``): partitions are shared by the group; on assignment
  the handler tells where to resume; on revocation the batch in hand is finished
  first (the processing lock) and the handler lets go.
- broadcast mode (no ``group_id``): this process reads every partition (the
  notifier and the gateway's drop view).

By default the partitions of one fetch are handled one after another. With
``concurrent_partitions=True`` (the inventory) they are handled at the same time, one
task per partition, so each partition's order is kept, and all under the lock a
revocation waits for.

A stored position beyond the broker's log end means the broker lost its log
(the embedded broker keeps it in memory). tansu answers such a fetch with no
error and no data, so the loop compares positions with the fetch's high
watermark when a partition is idle, logs, counts, and lets the handler decide
where to go (by default: the start of the new log).

``select`` (optional) looks at each record before it is decoded: a record it refuses is
skipped (its offset still counts as done), so a reader that wants a few messages of a
busy topic (a gateway's own replies, keyed by its instance id) decodes only those.

``fetch_max_wait_ms`` is low by default because tansu answers a fetch only at that
deadline even when data is there (Apache Kafka answers as soon as one byte is), so it
is added to every hop of the request path; the cost is more idle fetch requests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord
from stampede_contracts import MalformedMessage, TopicSpec

from . import metrics
from .dead_letters import DeadLetterSink
from .errors import RetryPolicy, is_transient

log = logging.getLogger(__name__)
DEFAULT_POLICY = RetryPolicy()

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Delivered(Generic[T]):
    """A decoded message with where it came from."""

    partition: int
    offset: int
    key: bytes | None
    timestamp_ms: int
    message: T
    raw: bytes | None = None


class PartitionHandler(Protocol[T]):
    async def on_assigned(self, partitions: Sequence[int]) -> Mapping[int, int]:
        """Load state; return the offset to resume from for partitions it knows."""
        ...

    async def on_revoked(self, partitions: Sequence[int]) -> None: ...

    async def handle(self, partition: int, batch: Sequence[Delivered[T]]) -> None: ...

    async def on_log_lost(self, partition: int, position: int, high_watermark: int) -> int:
        """The broker's log ends before our position; return where to continue."""
        ...


class BaseHandler(Generic[T]):
    """Defaults for handlers that keep no positions of their own."""

    async def on_assigned(self, partitions: Sequence[int]) -> Mapping[int, int]:
        return {}

    async def on_revoked(self, partitions: Sequence[int]) -> None:
        return None

    async def on_log_lost(self, partition: int, position: int, high_watermark: int) -> int:
        return 0


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: ConsumerLoop[object]) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._loop._revoke([tp.partition for tp in revoked])

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._loop._assign([tp.partition for tp in assigned])


class ConsumerLoop(Generic[T]):
    def __init__(
        self,
        *,
        bootstrap_servers: str,
        topic: TopicSpec,
        decode: Callable[[bytes | None], T],
        handler: PartitionHandler[T],
        dead_letters: DeadLetterSink,
        group_id: str | None = None,
        client_id: str = "stampede",
        from_beginning: bool = True,
        max_records: int = 500,
        policy: RetryPolicy = DEFAULT_POLICY,
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 1_000,
        fetch_max_wait_ms: int = 20,
        concurrent_partitions: bool = False,
        select: Callable[[ConsumerRecord], bool] | None = None,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._select = select
        self._topic = topic
        self._decode = decode
        self._handler = handler
        self._dead_letters = dead_letters
        self._group_id = group_id
        self._client_id = client_id
        self._from_beginning = from_beginning
        self._max_records = max_records
        self._policy = policy
        self._session_timeout_ms = session_timeout_ms
        self._heartbeat_interval_ms = heartbeat_interval_ms
        self._fetch_max_wait_ms = fetch_max_wait_ms
        self._concurrent = concurrent_partitions
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()
        self._assigned: set[int] = set()
        self._last_idle_check = 0.0
        self.started = asyncio.Event()

    @property
    def assigned(self) -> frozenset[int]:
        return frozenset(self._assigned)

    async def run(self) -> None:
        """Consume until cancelled. Never returns on a bad message."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self._group_id,
            client_id=self._client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest" if self._from_beginning else "latest",
            session_timeout_ms=self._session_timeout_ms,
            heartbeat_interval_ms=self._heartbeat_interval_ms,
            max_poll_interval_ms=60_000,
            fetch_max_wait_ms=self._fetch_max_wait_ms,
            metadata_max_age_ms=5_000,
        )
        self._consumer = consumer
        await consumer.start()
        try:
            await self._subscribe(consumer)
            self.started.set()
            while True:
                batches = await consumer.getmany(timeout_ms=200, max_records=self._max_records)
                async with self._lock:
                    work = [(tp, records) for tp, records in batches.items()
                            if tp.partition in self._assigned and records]
                    if self._concurrent and len(work) > 1:
                        await self._process_concurrently(consumer, work)
                    else:
                        for tp, records in work:
                            await self._process(consumer, tp, records)
                    await self._check_idle(consumer, {tp.partition for tp in batches})
        finally:
            self.started.clear()
            try:
                await consumer.stop()
            finally:
                self._consumer = None

    async def _subscribe(self, consumer: AIOKafkaConsumer) -> None:
        if self._group_id is not None:
            consumer.subscribe([self._topic.name], listener=_Rebalance(self))  # type: ignore[arg-type]
            return
        partitions = consumer.partitions_for_topic(self._topic.name)
        while not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(self._topic.name)
            if not partitions:
                await asyncio.sleep(0.2)
        consumer.assign([TopicPartition(self._topic.name, p) for p in sorted(partitions)])
        await self._assign(sorted(partitions))

    async def _assign(self, partitions: list[int]) -> None:
        consumer = self._consumer
        assert consumer is not None
        positions = await self._handler.on_assigned(partitions)
        for p in partitions:
            tp = TopicPartition(self._topic.name, p)
            if p in positions:
                consumer.seek(tp, positions[p])
            elif self._group_id is None:
                if self._from_beginning:
                    await consumer.seek_to_beginning(tp)
                else:
                    await consumer.seek_to_end(tp)
        self._assigned.update(partitions)
        self._last_idle_check = 0.0  # look for a lost log at the first idle moment
        log.info("%s: assigned partitions %s", self._topic.name, sorted(partitions))

    async def _revoke(self, partitions: list[int]) -> None:
        async with self._lock:  # the batch in hand finishes first
            self._assigned.difference_update(partitions)
            await self._handler.on_revoked(partitions)
        log.info("%s: revoked partitions %s", self._topic.name, sorted(partitions))

    async def _process(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[ConsumerRecord]
    ) -> None:
        batch: list[Delivered[T]] = []
        select = self._select
        for record in records:
            if select is not None and not select(record):
                continue
            try:
                message = self._decode(record.value)
            except MalformedMessage as exc:
                await self._dead_letter(record, f"malformed: {exc}")
                continue
            batch.append(
                Delivered(
                    record.partition, record.offset, record.key, record.timestamp, message,
                    record.value,
                )
            )
        if batch:
            started = time.perf_counter()
            await self._apply(tp.partition, batch)
            metrics.batch_seconds.labels(topic=self._topic.name).observe(
                time.perf_counter() - started
            )
            metrics.messages_consumed.labels(
                topic=self._topic.name, group=self._group_id or "-"
            ).inc(len(batch))
        next_offset = records[-1].offset + 1
        if self._group_id is not None:
            try:
                await consumer.commit({tp: next_offset})
            except Exception as exc:  # the handler's own store is the source of truth
                log.warning("kafka commit failed for %s: %r", tp, exc)
        high = consumer.highwater(tp)
        if high is not None:
            metrics.consumer_lag.labels(self._topic.name, str(tp.partition)).set(
                max(0, high - next_offset)
            )

    async def _process_concurrently(
        self, consumer: AIOKafkaConsumer, work: list[tuple[TopicPartition, list[ConsumerRecord]]]
    ) -> None:
        """``concurrent_partitions``: the batches of different partitions are handled at
        the same time (one task per partition, so each partition's order is kept), all
        under the processing lock: a revocation still waits for every batch in hand. One
        partition's database round trips then overlap another's CPU work. Every task is
        finished before an error is raised, so none runs on outside the lock."""
        results = await asyncio.gather(
            *(self._process(consumer, tp, records) for tp, records in work),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _apply(self, partition: int, batch: list[Delivered[T]]) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._handler.handle(partition, batch)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                metrics.handler_failures.labels(topic=self._topic.name).inc()
                transient = is_transient(exc)
                log.warning(
                    "%s[%d]: handler failed (attempt %d, %s): %r", self._topic.name, partition,
                    attempt, "transient" if transient else "error", exc,
                )
                if not transient and attempt >= self._policy.max_attempts:
                    break
                await asyncio.sleep(self._policy.backoff(attempt))
        if len(batch) > 1:
            for one in batch:  # isolate the poison message(s)
                await self._apply(partition, [one])
            return
        one = batch[0]
        await self._dead_letters.send(
            topic=self._topic.name, partition=partition, offset=one.offset, key=one.key,
            value=one.raw, reason=f"handler: failed {self._policy.max_attempts} times",
        )

    async def _dead_letter(self, record: ConsumerRecord, reason: str) -> None:
        await self._dead_letters.send(
            topic=self._topic.name, partition=record.partition, offset=record.offset,
            key=record.key, value=record.value, reason=reason,
        )

    async def _check_idle(self, consumer: AIOKafkaConsumer, busy: set[int]) -> None:
        now = time.monotonic()
        if now - self._last_idle_check < 1.0:
            return
        self._last_idle_check = now
        for p in sorted(self._assigned - busy):
            tp = TopicPartition(self._topic.name, p)
            high = consumer.highwater(tp)
            if high is None:
                continue
            position = await consumer.position(tp)
            metrics.consumer_lag.labels(self._topic.name, str(p)).set(max(0, high - position))
            if position > high:
                metrics.log_lost.labels(topic=self._topic.name).inc()
                target = await self._handler.on_log_lost(p, position, high)
                log.error(
                    "%s[%d]: position %d is beyond the log end %d: the broker lost its log; "
                    "continuing at %d", self._topic.name, p, position, high, target,
                )
                consumer.seek(tp, target)
