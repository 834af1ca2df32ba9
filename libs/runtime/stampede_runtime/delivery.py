"""One partition's fetched records handed to their handler (``Delivery``), for the consumer
loop (``consumer.ConsumerLoop``), which owns the fetching, the partitions and the offsets.

A record ``select`` refuses is skipped before it is decoded (its offset still counts as
done). One that does not decode (``MalformedMessage``) goes to the dead-letter topic. The
rest go to the handler as one batch, retried with backoff while it raises; a batch that
keeps failing is handed over again one message at a time, so only the poison message
goes to the dead-letter topic.

Traces: with a ``span_name`` and tracing on, each message that carries a trace context
(its Kafka headers, else its envelope's ``trace``) gets a consumer span covering its
batch's handling; the handler finds the span's W3C fields in ``Delivered.trace`` and the
first span is current while it runs. With ``ACCESS_LOG`` on, such a loop writes one
access line per message handled.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiokafka.structs import ConsumerRecord
from stampede_contracts import MalformedMessage, TopicSpec

from . import logs, metrics, tracing
from .dead_letters import DeadLetterSink
from .errors import RetryPolicy, is_transient
from .handlers import Delivered, PartitionHandler

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Subscription(Generic[T]):
    """One topic a loop reads, and what it does with it."""

    topic: TopicSpec
    decode: Callable[[bytes | None], T]
    handler: PartitionHandler[T]
    select: Callable[[ConsumerRecord], bool] | None = None
    from_beginning: bool = True
    #: which of the topic's partitions a loop outside a group reads (None: all of them)
    partitions: Callable[[list[int]], list[int]] | None = None


class Delivery:
    def __init__(self, dead_letters: DeadLetterSink, policy: RetryPolicy,
                 span_name: str | None, group: str) -> None:
        self._dead_letters = dead_letters
        self._policy = policy
        self._span_name = span_name
        self._group = group  # the metrics' label

    async def deliver(self, sub: Subscription[Any], partition: int,
                      records: list[ConsumerRecord]) -> None:
        """Select, decode and hand over one partition's records, in order."""
        batch: list[Delivered[Any]] = []
        select, decode = sub.select, sub.decode
        traced = tracing.enabled and self._span_name is not None
        spans: list[Any] = []
        for record in records:
            if select is not None and not select(record):
                continue
            try:
                message = decode(record.value)
            except MalformedMessage as exc:
                await self._dead_letter(record, f"malformed: {exc}")
                continue
            fields = None
            if traced:
                fields = self._start_span(record, message, spans)
            batch.append(
                Delivered(
                    record.partition, record.offset, record.key, record.timestamp, message,
                    record.value, fields,
                )
            )
        if not batch:
            return
        topic = sub.topic.name
        started = time.perf_counter()
        try:
            with tracing.current(spans[0] if spans else None):
                await self._apply(sub, partition, batch)
        finally:
            for span in spans:
                span.end()
        if self._span_name is not None and logs.access_on():
            self._access_lines(topic, batch)
        metrics.batch_seconds.labels(topic=topic).observe(time.perf_counter() - started)
        metrics.messages_consumed.labels(topic=topic, group=self._group).inc(len(batch))

    def _start_span(self, record: ConsumerRecord, message: Any, spans: list[Any]
                    ) -> dict[str, str] | None:
        """The consumer span of a traced message (its context: headers, else envelope)."""
        parent = tracing.context_of(record.headers, getattr(message, "trace", None))
        if parent is None:
            return None
        assert self._span_name is not None
        span = tracing.start_span(self._span_name, parent, attributes={
            "messaging.system": "kafka", "messaging.operation.type": "process",
            "messaging.destination.name": record.topic,
            "messaging.destination.partition.id": str(record.partition),
            "messaging.kafka.offset": record.offset})
        spans.append(span)
        return tracing.carrier_of(span)

    def _access_lines(self, topic: str, batch: list[Delivered[Any]]) -> None:
        for one in batch:
            fields = one.trace or getattr(one.message, "trace", None) or {}
            parent = fields.get("traceparent", "")
            logs.access.info("handled %s[%d]@%d", topic, one.partition, one.offset, extra={
                "fields": {"topic": topic, "partition": one.partition, "offset": one.offset,
                           "trace_id": parent[3:35] if len(parent) >= 35 else ""}})

    async def _apply(self, sub: Subscription[Any], partition: int,
                     batch: list[Delivered[Any]]) -> None:
        name = sub.topic.name
        attempt = 0
        while True:
            attempt += 1
            try:
                await sub.handler.handle(partition, batch)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                metrics.handler_failures.labels(topic=name).inc()
                transient = is_transient(exc)
                log.warning(
                    "%s[%d]: handler failed (attempt %d, %s): %r", name, partition,
                    attempt, "transient" if transient else "error", exc,
                )
                if not transient and attempt >= self._policy.max_attempts:
                    break
                await asyncio.sleep(self._policy.backoff(attempt))
        if len(batch) > 1:
            for one in batch:  # isolate the poison message(s)
                await self._apply(sub, partition, [one])
            return
        one = batch[0]
        await self._dead_letters.send(
            topic=name, partition=partition, offset=one.offset, key=one.key,
            value=one.raw, reason=f"handler: failed {self._policy.max_attempts} times",
        )

    async def _dead_letter(self, record: ConsumerRecord, reason: str) -> None:
        await self._dead_letters.send(
            topic=record.topic, partition=record.partition, offset=record.offset,
            key=record.key, value=record.value, reason=reason,
        )
