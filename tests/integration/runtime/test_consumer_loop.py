"""The one consumer loop against the real broker: order, dead letters, no crash."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from stampede_contracts import (
    CommandEnvelope,
    DeleteDrop,
    Topics,
    TopicSpec,
    decode_command,
)
from stampede_runtime.admin import ensure_topics
from stampede_runtime.consumer import ConsumerLoop
from stampede_runtime.dead_letters import KafkaDeadLetters
from stampede_runtime.fetch_waits import FetchWaits
from stampede_runtime.handlers import BaseHandler, Delivered
from stampede_runtime.kafka_config import SINGLE_BROKER
from stampede_runtime.producer import Outgoing, Producer

pytestmark = pytest.mark.integration


class Recorder(BaseHandler[CommandEnvelope]):
    def __init__(self) -> None:
        self.seen: list[tuple[int, int, uuid.UUID]] = []
        self.fail_once: set[int] = set()
        self._grew = asyncio.Event()

    async def handle(self, partition: int, batch: Sequence[Delivered[CommandEnvelope]]) -> None:
        for d in batch:
            if d.offset in self.fail_once:
                self.fail_once.discard(d.offset)
                raise RuntimeError("boom")
        self.seen.extend((d.partition, d.offset, d.message.command_id) for d in batch)
        self._grew.set()

    async def saw(self, count: int) -> None:
        """Until at least ``count`` messages were handled."""
        while len(self.seen) < count:
            self._grew.clear()
            await self._grew.wait()


def _command(drop_id: uuid.UUID) -> CommandEnvelope:
    return CommandEnvelope(
        command_id=uuid.uuid4(), drop_id=drop_id, occurred_at=datetime.now(UTC),
        command=DeleteDrop(drop_id=drop_id),
    )


async def _dead_letters(bootstrap: str, topic: TopicSpec, expect: int) -> list[bytes | None]:
    consumer = AIOKafkaConsumer(
        topic.name, bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    values: list[bytes | None] = []
    try:
        async with asyncio.timeout(20):
            while len(values) < expect:
                batches = await consumer.getmany(timeout_ms=200)
                values += [r.value for rs in batches.values() for r in rs]
    finally:
        await consumer.stop()
    return values


async def _stopped(tasks: list[asyncio.Task[None]], producer: Producer) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await producer.stop()


async def test_group_loop_delivers_in_order_and_dead_letters_garbage(infra, namespace):
    topics = Topics.for_namespace(namespace)
    await ensure_topics(infra.kafka_bootstrap_servers, topics.all(), config=SINGLE_BROKER)
    producer = Producer(infra.kafka_bootstrap_servers, client_id="test")
    await producer.start()
    drop = uuid.uuid4()
    sent = [_command(drop) for _ in range(50)]
    await producer.send_all(Outgoing(topics.commands, drop, c) for c in sent[:25])
    await producer.send_raw(topics.commands, str(drop).encode(), b"{not json", ())
    await producer.send_raw(topics.commands, str(drop).encode(), None, ())
    await producer.send_all(Outgoing(topics.commands, drop, c) for c in sent[25:])

    handler = Recorder()
    handler.fail_once = {3}  # a transient-looking failure: retried, not lost
    loop = ConsumerLoop(
        bootstrap_servers=infra.kafka_bootstrap_servers, topic=topics.commands,
        decode=decode_command, handler=handler, group_id=f"{namespace}-g",
        dead_letters=KafkaDeadLetters(producer, topics.dead_letters, service="test"),
    )
    task = asyncio.create_task(loop.run())
    try:
        async with asyncio.timeout(30):
            await handler.saw(50)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [cid for _, _, cid in handler.seen] == [c.command_id for c in sent]
    assert len({p for p, _, _ in handler.seen}) == 1  # one key, one partition, in order
    dead = await _dead_letters(infra.kafka_bootstrap_servers, topics.dead_letters, 2)
    assert dead == [b"{not json", None]  # one partition: dead-lettered in offset order
    await producer.stop()


async def test_broadcast_loop_reads_every_partition(infra, namespace):
    topics = Topics.for_namespace(namespace)
    await ensure_topics(infra.kafka_bootstrap_servers, topics.all(), config=SINGLE_BROKER)
    producer = Producer(infra.kafka_bootstrap_servers, client_id="test")
    await producer.start()
    drops = [uuid.uuid4() for _ in range(40)]
    await producer.send_all(Outgoing(topics.commands, d, _command(d)) for d in drops)
    handlers = [Recorder(), Recorder()]
    loops = [
        ConsumerLoop(
            bootstrap_servers=infra.kafka_bootstrap_servers, topic=topics.commands,
            decode=decode_command, handler=h,
            dead_letters=KafkaDeadLetters(producer, topics.dead_letters, service="test"),
        )
        for h in handlers
    ]
    tasks = [asyncio.create_task(loop.run()) for loop in loops]
    try:
        async with asyncio.timeout(30):
            await asyncio.gather(*(h.saw(40) for h in handlers))
    finally:
        await _stopped(tasks, producer)
    for h in handlers:
        assert len(h.seen) == 40
        assert len({p for p, _, _ in h.seen}) > 1  # every partition, not a share of them


async def test_concurrent_partitions_keep_each_partition_in_order(infra, namespace):
    topics = Topics.for_namespace(namespace)
    await ensure_topics(infra.kafka_bootstrap_servers, topics.all(), config=SINGLE_BROKER)
    producer = Producer(infra.kafka_bootstrap_servers, client_id="test")
    await producer.start()
    drops = [uuid.uuid4() for _ in range(12)]
    sent = [(d, _command(d)) for _ in range(25) for d in drops]
    await producer.send_all(Outgoing(topics.commands, d, c) for d, c in sent)
    handler = Recorder()
    loop = ConsumerLoop(
        bootstrap_servers=infra.kafka_bootstrap_servers, topic=topics.commands,
        decode=decode_command, handler=handler, group_id=f"{namespace}-c",
        concurrent_partitions=True,
        dead_letters=KafkaDeadLetters(producer, topics.dead_letters, service="test"),
    )
    task = asyncio.create_task(loop.run())
    try:
        async with asyncio.timeout(30):
            await handler.saw(len(sent))
    finally:
        await _stopped([task], producer)
    by_partition: dict[int, list[int]] = {}
    for partition, offset, _ in handler.seen:
        by_partition.setdefault(partition, []).append(offset)
    assert len(by_partition) > 1
    for offsets in by_partition.values():
        assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    expected = [c.command_id for d, c in sent if d == drops[0]]
    assert [cid for _, _, cid in handler.seen if cid in set(expected)] == expected


class Arrivals(BaseHandler[bytes | None]):
    def __init__(self) -> None:
        self.values: list[bytes | None] = []
        self.came = asyncio.Event()

    async def handle(self, partition: int, batch: Sequence[Delivered[bytes | None]]) -> None:
        self.values.extend(d.message for d in batch)
        self.came.set()


async def _arrivals_at_the_end(infra, topic: TopicSpec, waits: FetchWaits
                               ) -> tuple[Producer, Arrivals, ConsumerLoop[bytes | None]]:
    """A started producer, and a loop (not yet running) from the log end of ``topic``
    paced by ``waits``, whose handler keeps what arrives."""
    producer = Producer(infra.kafka_bootstrap_servers, client_id="test")
    await producer.start()
    arrivals = Arrivals()
    loop: ConsumerLoop[bytes | None] = ConsumerLoop(
        bootstrap_servers=infra.kafka_bootstrap_servers, topic=topic,
        decode=lambda value: value, handler=arrivals, from_beginning=False,
        fetch_waits=waits, dead_letters=KafkaDeadLetters(producer, topic, service="test"),
    )
    return producer, arrivals, loop


async def test_a_loop_at_the_end_of_a_long_log_still_gets_new_messages(infra, namespace):
    """tansu lists a partition's whole log on each poll of a fetch and cuts the listing
    off when the fetch's wait is used up (fetch_waits): with waits this short, a log of
    6,000 batches is answered empty behind its end until the loop's floor rises."""
    topic = TopicSpec(name=f"{namespace}.long-log", partitions=1, key="-", doc="test")
    await ensure_topics(infra.kafka_bootstrap_servers, [topic], config=SINGLE_BROKER)

    async def fill(batches: int) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers, linger_ms=0)
        await producer.start()
        try:
            for _ in range(batches):  # one at a time: a batch each
                await producer.send_and_wait(topic.name, b"old", partition=0)
        finally:
            await producer.stop()

    await asyncio.gather(*(fill(300) for _ in range(20)))
    producer, arrivals, loop = await _arrivals_at_the_end(
        infra, topic, FetchWaits(busy_ms=1, idle_ms=2, idle_after_s=1.0, max_floor_ms=1_000))
    task = asyncio.create_task(loop.run())
    try:
        async with asyncio.timeout(30):
            await loop.caught_up.wait()
            await producer.send_raw(topic, b"k", b"new", ())
            await arrivals.came.wait()
    finally:
        await _stopped([task], producer)
    print(f"fetch wait floor: {loop._pacer.floor_ms} ms")
    assert arrivals.values == [b"new"]


async def test_a_loop_outside_a_group_reads_the_partitions_it_chose(infra, namespace):
    topics = Topics.for_namespace(namespace)
    await ensure_topics(infra.kafka_bootstrap_servers, topics.all(), config=SINGLE_BROKER)
    producer = Producer(infra.kafka_bootstrap_servers, client_id="test")
    await producer.start()
    rng = random.Random(11)
    print("seed 11")
    drops = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(40)]
    await producer.send_all(Outgoing(topics.commands, d, _command(d)) for d in drops)
    everything, chosen = Recorder(), Recorder()
    last = topics.commands.partitions - 1
    loops = [
        ConsumerLoop(bootstrap_servers=infra.kafka_bootstrap_servers, topic=topics.commands,
                     decode=decode_command, handler=handler, partitions=partitions,
                     dead_letters=KafkaDeadLetters(producer, topics.dead_letters, service="t"))
        for handler, partitions in ((everything, None), (chosen, lambda ps: ps[-1:]))
    ]
    tasks = [asyncio.create_task(loop.run()) for loop in loops]
    try:
        async with asyncio.timeout(30):
            await everything.saw(40)
            expected = [cid for p, _, cid in everything.seen if p == last]
            await chosen.saw(len(expected))
    finally:
        await _stopped(tasks, producer)
    assert loops[1].assigned == {last}
    assert expected and [cid for _, _, cid in chosen.seen] == expected


async def test_an_idle_loop_paced_by_the_client_fetches_at_once_when_told_to_expect(
        infra, namespace):
    """Client pacing (the embedded broker's): the broker waits 1 ms, the loop pauses its
    idle wait (here 10 s) between fetches; ``expect()`` (a gateway sent a command) ends the
    pause, so the message comes long before the pause would have ended."""
    topic = TopicSpec(name=f"{namespace}.paced", partitions=1, key="-", doc="test")
    await ensure_topics(infra.kafka_bootstrap_servers, [topic], config=SINGLE_BROKER)
    producer, arrivals, loop = await _arrivals_at_the_end(
        infra, topic, FetchWaits(busy_ms=5, idle_ms=10_000, idle_after_s=0.1, pacing="client"))
    went_idle = asyncio.Event()  # the fetcher was told to pause the idle wait
    pause_s = loop.pauses._pause_s

    def noting() -> float:  # (nothing yields between this and the pause's wait)
        paused = pause_s()
        if paused >= 10:
            went_idle.set()
        return paused

    loop.pauses._pause_s = noting
    task = asyncio.create_task(loop.run())
    try:
        async with asyncio.timeout(30):
            await went_idle.wait()
            assert loop.pauses.idle  # in a 10 s pause
            assert loop._consumer is not None
            assert loop._consumer._fetcher._fetch_max_wait_ms == 1
        await producer.send_raw(topic, b"k", b"new", ())
        loop.expect()
        async with asyncio.timeout(5):
            await arrivals.came.wait()
    finally:
        await _stopped([task], producer)
    assert arrivals.values == [b"new"]
