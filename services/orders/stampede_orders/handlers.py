"""The use case of the write side: apply one partition's batch of inventory events.

Dedupe record, rows and the partition's next offset go in one transaction, so a
crash at any moment leaves the read model consistent with its stored position;
what is redelivered after it is recognised by the drops' seqs and skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from stampede_contracts import EventEnvelope
from stampede_runtime.handlers import Delivered

from . import metrics
from .domain.projection import Projection, project

log = logging.getLogger(__name__)


class ProjectionWriter(Protocol):
    """One open transaction of the store (``adapters.store.ProjectionWriter``)."""

    async def lock_streams(self, drop_ids: Iterable[UUID]) -> dict[UUID, int]: ...

    async def write(self, projection: Projection) -> int: ...

    async def save_position(self, partition: int, next_offset: int) -> None: ...


class ProjectionStore(Protocol):
    """Where the read model and its positions live (``adapters.store.ProjectionStore``;
    tests give a fake)."""

    async def positions(self, partitions: Iterable[int]) -> dict[int, int]: ...

    async def reset_position(self, partition: int, next_offset: int) -> None: ...

    def transaction(self) -> AbstractAsyncContextManager[ProjectionWriter]: ...


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    applied: int
    duplicates: int
    purchases_recorded: int


async def apply_batch(
    store: ProjectionStore, partition: int, batch: Sequence[Delivered[EventEnvelope]]
) -> BatchOutcome:
    if not batch:
        return BatchOutcome(0, 0, 0)
    async with store.transaction() as tx:
        last_seqs = await tx.lock_streams(d.message.drop_id for d in batch)
        projection = project((d.message for d in batch), last_seqs)
        recorded = await tx.write(projection) if not projection.empty else 0
        await tx.save_position(partition, batch[-1].offset + 1)
    # counted only once committed: a failed attempt is retried and must not count twice
    metrics.events_applied.inc(projection.applied)
    metrics.duplicates_skipped.inc(projection.duplicates)
    metrics.purchases_recorded.inc(recorded)
    for gap in projection.gaps:
        metrics.seq_gaps.inc()
        log.warning("drop %s: expected seq %d, got %d (events missing from the log)",
                    gap.drop_id, gap.expected_seq, gap.seq)
    return BatchOutcome(projection.applied, projection.duplicates, recorded)
