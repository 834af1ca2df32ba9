"""The dead-letter sink: a message that cannot be decoded or applied goes here.

The original key and bytes are kept; the reason, source topic, partition and
offset travel as headers. Every dead letter is logged and counted.
"""

from __future__ import annotations

import logging
from typing import Protocol

from stampede_contracts import TopicSpec

from . import metrics
from .producer import Producer

log = logging.getLogger(__name__)


class DeadLetterSink(Protocol):
    async def send(
        self, *, topic: str, partition: int, offset: int, key: bytes | None,
        value: bytes | None, reason: str,
    ) -> None: ...


class KafkaDeadLetters:
    def __init__(self, producer: Producer, topic: TopicSpec, *, service: str) -> None:
        self._producer = producer
        self._topic = topic
        self._service = service

    async def send(
        self, *, topic: str, partition: int, offset: int, key: bytes | None,
        value: bytes | None, reason: str,
    ) -> None:
        kind = reason.split(":", 1)[0][:40]
        metrics.dead_letters.labels(topic=topic, reason=kind).inc()
        log.warning("dead-lettering %s[%d]@%d: %s", topic, partition, offset, reason)
        headers = [
            ("source-topic", topic.encode()),
            ("source-partition", str(partition).encode()),
            ("source-offset", str(offset).encode()),
            ("reason", reason[:1000].encode()),
            ("service", self._service.encode()),
        ]
        await self._producer.send_raw(self._topic, key, value, headers)
