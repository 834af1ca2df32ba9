"""Trace context across a real produce and consume (in-process, in-memory span exporter):
a request's producer span, the consumer span of the loop that handles its command, which
sends an event carrying that span's context (headers and envelope), and two loops reading
the event: one trace, each span the child of the one before."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from stampede_contracts import (
    CommandEnvelope,
    DeleteDrop,
    DropDeleted,
    EventEnvelope,
    Topics,
    decode_command,
    decode_event,
)
from stampede_runtime import tracing
from stampede_runtime.admin import ensure_topics
from stampede_runtime.consumer import ConsumerLoop
from stampede_runtime.dead_letters import KafkaDeadLetters
from stampede_runtime.handlers import BaseHandler, Delivered
from stampede_runtime.kafka_config import SINGLE_BROKER
from stampede_runtime.producer import Outgoing, Producer

pytestmark = pytest.mark.integration


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.setup_tracing("test", "t-0", processor=SimpleSpanProcessor(exporter),
                          instrument_db=False)
    try:
        yield exporter
    finally:
        tracing.reset_for_tests()


class Forward(BaseHandler[CommandEnvelope]):
    """What the inventory does: an event per command, carrying the decision span's context."""

    def __init__(self, producer: Producer, topics: Topics) -> None:
        self.producer, self.topics = producer, topics

    async def handle(self, partition: int, batch: Sequence[Delivered[CommandEnvelope]]) -> None:
        for d in batch:
            assert d.trace, "a traced command's span context reaches the handler"
            event = EventEnvelope(
                event_id=uuid.uuid4(), drop_id=d.message.drop_id, seq=1,
                occurred_at=datetime.now(UTC), causation_id=d.message.command_id,
                trace=d.trace, event=DropDeleted(drop_id=d.message.drop_id))
            await self.producer.send(Outgoing(self.topics.events, d.message.drop_id, event,
                                              tracing.headers(d.trace)))


class Seen(BaseHandler[EventEnvelope]):
    def __init__(self) -> None:
        self.events: list[EventEnvelope] = []

    async def handle(self, partition: int, batch: Sequence[Delivered[EventEnvelope]]) -> None:
        self.events += [d.message for d in batch]


async def test_one_trace_from_request_to_every_reader(infra, namespace, spans):
    topics = Topics.for_namespace(namespace)
    await ensure_topics(infra.kafka_bootstrap_servers, topics.all(), config=SINGLE_BROKER)
    producer = Producer(infra.kafka_bootstrap_servers, client_id="test")
    await producer.start()
    dead = KafkaDeadLetters(producer, topics.dead_letters, service="test")
    readers = [Seen(), Seen()]
    loops = [
        ConsumerLoop(bootstrap_servers=infra.kafka_bootstrap_servers, topic=topics.commands,
                     decode=decode_command, handler=Forward(producer, topics),
                     dead_letters=dead, span_name="inventory decide"),
        *(ConsumerLoop(bootstrap_servers=infra.kafka_bootstrap_servers, topic=topics.events,
                       decode=decode_event, handler=reader, dead_letters=dead,
                       span_name=name)
          for reader, name in zip(readers, ("orders project", "notifier push"), strict=True)),
    ]
    tasks = [asyncio.create_task(loop.run()) for loop in loops]
    try:
        for loop in loops:
            async with asyncio.timeout(20):
                await loop.started.wait()
        drop = uuid.uuid4()
        with (tracing.server_span("POST", "/api/drops/{drop_id}/reserve", {}),
              tracing.span("commands send", SpanKind.PRODUCER)):
            command = CommandEnvelope(
                command_id=uuid.uuid4(), drop_id=drop, occurred_at=datetime.now(UTC),
                trace=tracing.carrier(), command=DeleteDrop(drop_id=drop))
            await producer.send(Outgoing(topics.commands, drop, command, tracing.headers()))
        async with asyncio.timeout(20):
            while not all(r.events for r in readers) or len(spans.get_finished_spans()) < 5:
                await asyncio.sleep(0.02)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await producer.stop()

    by_name = {s.name: s for s in spans.get_finished_spans()}
    request = by_name["POST /api/drops/{drop_id}/reserve"]
    chain = [("commands send", request), ("inventory decide", by_name["commands send"]),
             ("orders project", by_name["inventory decide"]),
             ("notifier push", by_name["inventory decide"])]
    for name, parent in chain:
        span = by_name[name]
        assert span.context.trace_id == request.context.trace_id, name
        assert span.parent is not None and span.parent.span_id == parent.context.span_id, name
    assert by_name["inventory decide"].kind is SpanKind.CONSUMER
    # the envelope carries the decision's context too (what a reader falls back on)
    trace_id = format(request.context.trace_id, "032x")
    assert all(r.events[0].trace["traceparent"].split("-")[1] == trace_id for r in readers)
