"""The handler given to the shared ``ConsumerLoop`` (group mode) on the events topic.

Positions live in the orders database, not in Kafka: on assignment every partition
resumes from its stored offset (0 when none, so a new database replays the log and
a Kafka group offset can never make it skip). When the broker lost its log the
stored position is reset to 0; per-drop seqs keep that replay harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from stampede_contracts import EventEnvelope
from stampede_runtime.handlers import BaseHandler, Delivered

from . import metrics
from .handlers import ProjectionStore, apply_batch

log = logging.getLogger(__name__)


class ProjectionHandler(BaseHandler[EventEnvelope]):
    def __init__(self, store: ProjectionStore) -> None:
        self._store = store

    async def on_assigned(self, partitions: Sequence[int]) -> Mapping[int, int]:
        stored = await self._store.positions(partitions)
        return {p: stored.get(p, 0) for p in partitions}

    async def handle(self, partition: int, batch: Sequence[Delivered[EventEnvelope]]) -> None:
        await apply_batch(self._store, partition, batch)

    async def on_log_lost(self, partition: int, position: int, high_watermark: int) -> int:
        await self._store.reset_position(partition, 0)
        metrics.positions_reset.inc()
        log.error("partition %d: stored position %d beyond the log end %d; replaying from 0",
                  partition, position, high_watermark)
        return 0
