"""What the runtime tunes in aiokafka: the remembered partitioning is Kafka's own, and the
fetch wait it paces is the one aiokafka reads for its next fetch requests."""

from __future__ import annotations

import inspect
import random
import uuid

from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import DefaultPartitioner
from stampede_runtime.fetch_waits import set_fetch_wait
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
