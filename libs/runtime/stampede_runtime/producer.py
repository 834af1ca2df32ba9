"""The one producer wrapper: envelopes to topics from the registry, acks=all.

The broker may not support the idempotent producer (tansu does not), so
delivery is at least once and every consumer is idempotent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from pydantic import BaseModel
from stampede_contracts import TopicSpec, encode, encode_key

from .kafka_config import KafkaConnection


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to send: topic, key and the model to serialise, or its JSON already
    serialised once (``str``/``bytes``, as the inventory stores it in its outbox)."""

    topic: TopicSpec
    key: UUID | str
    message: BaseModel | str | bytes
    headers: tuple[tuple[str, bytes], ...] = field(default=())

    def value(self) -> bytes:
        if isinstance(self.message, bytes):
            return self.message
        if isinstance(self.message, str):
            return self.message.encode()
        return encode(self.message)


class KeyPartitioner:
    """Kafka's default partitioning (murmur2 of the key, as every Kafka client does), with
    the partition of each key remembered: aiokafka's murmur2 is pure Python, and our keys
    repeat (drop ids, instance ids), so hashing each message again was a real share of a
    send's cost."""

    def __init__(self, remember: int = 100_000) -> None:
        self._known: dict[tuple[bytes, int], int] = {}
        self._remember = remember
        self._default = DefaultPartitioner()

    def __call__(self, key: bytes | None, all_partitions: list[int],
                 available: list[int]) -> int:
        if key is None:
            return int(self._default(key, all_partitions, available))
        known = self._known.get((key, len(all_partitions)))
        if known is None:
            if len(self._known) >= self._remember:
                self._known.clear()
            known = int(self._default(key, all_partitions, available))
            self._known[(key, len(all_partitions))] = known
        return known


class Producer:
    """acks=all: a send returns once every in-sync replica has the message (at least
    ``min.insync.replicas`` of them, see ``kafka_config.TopicConfig``)."""

    ACKS = "all"

    def __init__(self, bootstrap_servers: str | KafkaConnection, *, client_id: str,
                 linger_ms: int = 1) -> None:
        self._connection = KafkaConnection.of(bootstrap_servers)
        self._client_id = client_id
        self._linger_ms = linger_ms
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            **self.client_kwargs(),
        )
        await self._producer.start()

    def client_kwargs(self) -> dict[str, Any]:
        """What the aiokafka producer is made with (unit-tested: acks, TLS, SASL)."""
        return dict(
            **self._connection.aiokafka_kwargs(),
            client_id=self._client_id,
            acks=self.ACKS,
            linger_ms=self._linger_ms,
            max_batch_size=256 * 1024,
            partitioner=KeyPartitioner(),
            request_timeout_ms=15_000,
        )

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    @property
    def started(self) -> bool:
        return self._producer is not None

    def _require(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("producer used before start()")
        return self._producer

    async def send(self, out: Outgoing) -> None:
        """Send one message and wait until the broker acknowledged it."""
        await self.send_all([out])

    async def send_all(self, outgoing: Iterable[Outgoing]) -> None:
        """Send many messages pipelined; return when all are acknowledged (in key order)."""
        producer = self._require()
        futures: list[asyncio.Future[object]] = []
        for out in outgoing:
            futures.append(
                await producer.send(
                    out.topic.name,
                    value=out.value(),
                    key=encode_key(out.key),
                    headers=list(out.headers),
                )
            )
        if futures:
            await asyncio.gather(*futures)

    async def send_raw(
        self, topic: TopicSpec, key: bytes | None, value: bytes | None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> None:
        """Send bytes as they are (the dead-letter path keeps the original bytes)."""
        producer = self._require()
        await producer.send_and_wait(topic.name, value=value, key=key, headers=list(headers))
