"""The consumer handler and the batch use case against a fake store (no I/O)."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from uuid import UUID

import pytest
from stampede_contracts import EventEnvelope
from stampede_orders.consumer import ProjectionHandler
from stampede_orders.domain.projection import Projection
from stampede_runtime.handlers import Delivered

from .builders import DropStream


class FakeStore:
    """Keeps what the real store keeps; a failing transaction leaves nothing behind."""

    def __init__(self) -> None:
        self.seqs: dict[UUID, int] = {}
        self.offsets: dict[int, int] = {}
        self.purchases: set[UUID] = set()
        self.fail_next_write = False

    async def positions(self, partitions: Iterable[int]) -> dict[int, int]:
        return {p: self.offsets[p] for p in partitions if p in self.offsets}

    async def reset_position(self, partition: int, next_offset: int) -> None:
        self.offsets[partition] = next_offset

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeStore]:
        saved = copy.deepcopy((self.seqs, self.offsets, self.purchases))
        try:
            yield self
        except BaseException:
            self.seqs, self.offsets, self.purchases = saved
            raise

    async def lock_streams(self, drop_ids: Iterable[UUID]) -> dict[UUID, int]:
        return {d: self.seqs.get(d, 0) for d in drop_ids}

    async def write(self, projection: Projection) -> int:
        for drop_id, position in projection.streams.items():
            self.seqs[drop_id] = position.seq
        new = set(projection.purchases) - self.purchases
        self.purchases |= new
        if self.fail_next_write:
            self.fail_next_write = False
            raise RuntimeError("database went away mid-transaction")
        return len(new)

    async def save_position(self, partition: int, next_offset: int) -> None:
        self.offsets[partition] = max(self.offsets.get(partition, 0), next_offset)


def _delivered(events: list[EventEnvelope], first: int = 0) -> list[Delivered[EventEnvelope]]:
    return [Delivered(0, first + i, None, 0, e) for i, e in enumerate(events)]


async def test_resumes_from_stored_offsets_and_from_zero_elsewhere():
    store = FakeStore()
    store.offsets = {1: 42}
    handler = ProjectionHandler(store)
    assert await handler.on_assigned([0, 1, 2]) == {0: 0, 1: 42, 2: 0}


async def test_a_redelivered_batch_has_one_effect_and_a_failed_one_none():
    store = FakeStore()
    handler = ProjectionHandler(store)
    s = DropStream.new()
    s.create()
    for _ in range(3):
        s.buy()
    batch = _delivered(s.events)
    store.fail_next_write = True
    with pytest.raises(RuntimeError):  # the loop's policy retries it
        await handler.handle(0, batch)
    assert store.purchases == set() and store.offsets == {}
    await handler.handle(0, batch)
    await handler.handle(0, batch)  # redelivered
    assert len(store.purchases) == 3
    assert store.seqs == {s.drop_id: s.seq} and store.offsets == {0: len(s.events)}


async def test_lost_log_resets_the_stored_offset_to_zero():
    store = FakeStore()
    store.offsets = {3: 900}
    handler = ProjectionHandler(store)
    assert await handler.on_log_lost(3, 900, 4) == 0
    assert store.offsets[3] == 0
