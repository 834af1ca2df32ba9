"""What the runtime tunes in aiokafka: the remembered partitioning is Kafka's own, and the
fetch wait it paces is the one aiokafka reads for its next fetch requests."""

from __future__ import annotations

import asyncio
import inspect
import random
import time
import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from stampede_runtime.fetch_waits import (
    FetchPacer,
    FetchPauses,
    FetchWaits,
    StarvedFetches,
    set_fetch_wait,
)
from stampede_runtime.producer import KeyPartitioner


def test_keys_go_where_kafka_puts_them_and_are_hashed_once():
    rng = random.Random(5)
    print("seed 5")
    keys = [str(uuid.UUID(int=rng.getrandbits(128))).encode() for _ in range(200)]
    remembered = KeyPartitioner(remember=50)
    for n in (1, 4, 8):
        parts = list(range(n))
        for key in keys * 2:  # the second time from memory (and past its bound)
            assert remembered(key, parts, parts) == DefaultPartitioner()(key, parts, parts)
    assert remembered(None, [0, 1], [1]) == 1  # no key: an available partition


async def test_the_paced_wait_is_the_one_aiokafka_uses():
    consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1", fetch_max_wait_ms=5)
    set_fetch_wait(consumer, 77)  # before start: no fetcher yet, nothing to do

    class Fetcher:
        _fetch_max_wait_ms = 5

    consumer._fetcher = Fetcher()
    set_fetch_wait(consumer, 77)
    assert consumer._fetcher._fetch_max_wait_ms == 77
    # aiokafka builds every fetch request from that attribute
    from aiokafka.consumer import fetcher

    source = inspect.getsource(fetcher.Fetcher)
    assert "self._fetch_max_wait_ms," in source and "self._fetch_max_wait_ms = " in source


def test_the_pacer_waits_short_while_busy_long_when_idle():
    pacer = FetchPacer(FetchWaits(busy_ms=5, idle_ms=100, idle_after_s=1.0))
    assert pacer.wait_ms(now=10.0) == 100  # nothing expected yet
    pacer.expect(now=10.0)
    assert pacer.wait_ms(now=10.5) == 5
    assert pacer.wait_ms(now=11.0) == 100  # idle_after_s passed


def test_a_starved_fetch_doubles_the_floor_from_the_busy_wait_up_to_its_cap():
    waits = FetchWaits(busy_ms=5, idle_ms=100, idle_after_s=1.0, max_floor_ms=300,
                       floor_decay_s=60.0)
    pacer = FetchPacer(waits)
    pacer.expect(now=0.0)
    assert pacer.starved(now=0.1) == 10  # twice the busy wait
    assert pacer.wait_ms(now=0.2) == 10
    assert pacer.wait_ms(now=5.0) == 100  # idle: the idle wait is above the floor
    assert [pacer.starved(now=5.0) for _ in range(3)] == [20, 40, 80]  # not from idle's
    assert pacer.wait_ms(now=5.0) == 100
    assert pacer.starved(now=5.0) == 160
    assert pacer.wait_ms(now=5.0) == 160  # idle waits never go below the floor either
    pacer.expect(now=6.0)
    assert pacer.wait_ms(now=6.1) == 160  # nor busy ones
    assert pacer.starved(now=6.1) == 300  # capped
    assert pacer.starved(now=6.2) is None  # cannot rise further
    assert pacer.floor_ms == 300


def test_the_floor_halves_after_each_quiet_spell_until_gone():
    pacer = FetchPacer(FetchWaits(busy_ms=5, idle_ms=100, floor_decay_s=10.0))
    for _ in range(4):
        pacer.starved(now=0.0)
    assert pacer.floor_ms == 80
    assert pacer.wait_ms(now=9.9) == 100  # (idle) the floor holds for floor_decay_s
    pacer.expect(now=9.9)
    assert pacer.wait_ms(now=9.9) == 80
    pacer.starved(now=9.95)  # starved again: doubled, and the quiet spell starts anew
    assert pacer.wait_ms(now=19.9) == 160
    pacer.wait_ms(now=19.96)  # a quiet spell: halved
    assert pacer.floor_ms == 80
    floors = []
    for t in (30.0, 40.0, 50.0, 60.0):
        pacer.wait_ms(now=t)
        floors.append(pacer.floor_ms)
    assert floors == [40, 20, 10, 0]  # gone once not above the busy wait


class _Consumer:
    """What ``StarvedFetches`` reads of an aiokafka consumer: per partition, when its last
    answer came, the log end it told, and the position."""

    def __init__(self, *tps: TopicPartition) -> None:
        self.polled = dict.fromkeys(tps, 0)
        self.high = dict.fromkeys(tps, 10)
        self.pos = dict.fromkeys(tps, 10)

    def assignment(self) -> set[TopicPartition]:
        return set(self.polled)

    def last_poll_timestamp(self, tp: TopicPartition) -> int:
        return self.polled[tp]

    def highwater(self, tp: TopicPartition) -> int:
        return self.high[tp]

    async def position(self, tp: TopicPartition) -> int:
        return self.pos[tp]

    def answer(self, tp: TopicPartition, high: int) -> None:
        self.polled[tp] += 1
        self.high[tp] = high


async def test_a_partition_is_starved_when_two_answers_in_a_row_bring_nothing_behind_its_end():
    a, b = TopicPartition("t", 0), TopicPartition("t", 1)
    consumer, look = _Consumer(a, b), StarvedFetches()
    assert await look.look(consumer, {}) is None  # answers, at the log end
    consumer.answer(a, 12)
    assert await look.look(consumer, {}) is None  # once: can be a race
    assert await look.look(consumer, {}) is None  # no new answer since: not judged again
    consumer.answer(a, 13)
    assert await look.look(consumer, {}) == (a, 3)  # twice at position 10: starved
    consumer.answer(a, 13)
    assert await look.look(consumer, {}) is None  # counting starts over
    consumer.answer(a, 14)
    consumer.pos[a] = 14
    consumer.answer(b, 11)
    records = {b: [object()]}
    assert await look.look(consumer, records) is None  # b brought records; a caught up
    consumer.answer(b, 12)
    assert await look.look(consumer, records) is None  # records again: never starved


def test_client_pacing_asks_the_broker_for_the_floor_and_pauses_the_wait_itself():
    pacer = FetchPacer(FetchWaits(busy_ms=5, idle_ms=100, idle_after_s=1.0, pacing="client"))
    assert (pacer.broker_wait_ms(now=0.0), pacer.pause_s(now=0.0)) == (1, 0.1)  # idle
    pacer.expect(now=0.0)
    assert (pacer.broker_wait_ms(now=0.5), pacer.pause_s(now=0.5)) == (1, 0.005)
    pacer.starved(now=0.5)
    assert (pacer.broker_wait_ms(now=0.6), pacer.pause_s(now=0.6)) == (10, 0.005)
    broker = FetchPacer(FetchWaits(busy_ms=5, idle_ms=100, pacing="broker"))
    assert (broker.broker_wait_ms(now=0.0), broker.pause_s(now=0.0)) == (100, 0.0)


def test_idle_client_pacing_lets_the_broker_wait_while_busy_and_pauses_once_idle():
    pacer = FetchPacer(FetchWaits(busy_ms=5, idle_ms=100, idle_after_s=1.0,
                                  pacing="idle-client"))
    assert (pacer.broker_wait_ms(now=0.0), pacer.pause_s(now=0.0)) == (1, 0.1)  # idle
    pacer.expect(now=0.0)
    assert (pacer.broker_wait_ms(now=0.5), pacer.pause_s(now=0.5)) == (5, 0.0)  # busy
    assert (pacer.broker_wait_ms(now=1.5), pacer.pause_s(now=1.5)) == (1, 0.1)  # idle again


class _Fetcher:
    """aiokafka's fetcher as FetchPauses sees it: one request answered at a time, saying
    whether it brought new data."""

    def __init__(self, answers: list[bool]) -> None:
        self.answers = answers

    async def _proc_fetch_request(self, assignment: object, node_id: int,
                                  request: object) -> bool:
        return self.answers.pop(0)


class _FetchingConsumer:
    def __init__(self, answers: list[bool]) -> None:
        self._fetcher = _Fetcher(answers)


async def test_the_fetcher_pauses_only_after_an_answer_without_new_data():
    consumer = _FetchingConsumer([True, False, True])
    counted: list[bool] = []
    pauses = FetchPauses(lambda: 0.001, short_s=0.005, counted=counted.append)
    pauses.install(consumer)
    fetch = consumer._fetcher._proc_fetch_request
    assert [await fetch(None, 0, None) for _ in range(3)] == [True, False, True]
    assert pauses.pauses == 1
    assert counted == [True, False, True]  # every answer is counted, paused or not
    # aiokafka's fetch routine calls it through the instance, once per request
    from aiokafka.consumer import fetcher

    assert "self._proc_fetch_request(assignment, node_id, request)" in inspect.getsource(
        fetcher.Fetcher)


async def test_wake_ends_an_idle_pause_but_not_a_busy_one():
    consumer = _FetchingConsumer([False, False])
    pause = [30.0]
    asked = asyncio.Event()  # the fetcher asked how long to pause: its pause has begun

    def pause_s() -> float:  # (nothing yields between this and the pause's wait)
        asked.set()
        return pause[0]

    pauses = FetchPauses(pause_s, short_s=0.5)
    pauses.install(consumer)
    idle = asyncio.create_task(consumer._fetcher._proc_fetch_request(None, 0, None))
    await asked.wait()
    pauses.wake()
    async with asyncio.timeout(5):  # a 30 s pause, ended at once
        assert await idle is False
    pause[0] = 0.2
    asked.clear()
    started = time.monotonic()
    busy = asyncio.create_task(consumer._fetcher._proc_fetch_request(None, 0, None))
    await asked.wait()
    pauses.wake()
    async with asyncio.timeout(5):
        await busy
    assert time.monotonic() - started >= 0.2  # a busy pause runs its course


def test_aiokafka_keeps_one_produce_request_in_flight_per_broker():
    """Why the gateway's commands need no linger (``COMMAND_LINGER_MS`` 0): the sender
    drains ready batches only for brokers with no request in flight, so what is sent
    while one is in flight waits and goes in the next request, all of it."""
    from aiokafka.producer import sender

    source = inspect.getsource(sender.Sender._sender_routine)
    assert "ignore_nodes=self._in_flight" in source
    assert "self._in_flight.add(node_id)" in source
