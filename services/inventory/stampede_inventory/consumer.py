"""The handler the shared ``ConsumerLoop`` drives: one single writer per partition.

- on assignment: claim the partition (epoch + 1), load its drops, holds, per-user
  counts and next offset from PostgreSQL, republish its unpublished outbox, re-arm
  the expiry timers, and resume at the stored offset;
- per batch: skip what is already applied, dead-letter misrouted commands, decide the
  rest, commit decisions + offset + processed ids + outbox in ONE transaction, then
  publish events and replies (deterministic ids: a republish is a duplicate);
- on revocation (after the batch in hand, the loop's lock): forget the partition;
- on a lost broker log: continue at the start of the new log and store that offset.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from stampede_contracts import CommandEnvelope, Topics, utcnow
from stampede_runtime.consumer import BaseHandler, Delivered
from stampede_runtime.dead_letters import DeadLetterSink
from stampede_runtime.errors import RetryPolicy, is_transient
from stampede_runtime.producer import Outgoing, Producer

from . import metrics
from .adapters.store import Fenced, InventoryStore, Loaded, Outbox, outbox_of
from .domain import DropState
from .expiry import ExpiryTimers
from .writer import Batch, PartitionWriter

log = logging.getLogger(__name__)
RETRY = RetryPolicy(first_backoff_s=0.2, max_backoff_s=2.0)


@dataclass(slots=True)
class Owned:
    """A partition this process writes: its writer, epoch and outbox bookkeeping."""

    writer: PartitionWriter
    epoch: int
    next_offset: int
    unpublished: list[Outbox] = field(default_factory=list)
    published_upto: int | None = None  # outbox rows to delete in the next transaction


class InventoryHandler(BaseHandler[CommandEnvelope]):
    def __init__(
        self, store: InventoryStore, producer: Producer, topics: Topics,
        dead_letters: DeadLetterSink, *, clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._producer = producer
        self._topics = topics
        self._dead_letters = dead_letters
        self._clock = clock
        self._owned: dict[int, Owned] = {}
        self.timers: ExpiryTimers | None = None

    # -- the state others read -------------------------------------------------------------
    def drop(self, drop_id: UUID) -> DropState | None:
        for owned in self._owned.values():
            state = owned.writer.drops.get(drop_id)
            if state is not None:
                return state
        return None

    @property
    def partitions(self) -> frozenset[int]:
        return frozenset(self._owned)

    def holds_active(self) -> int:
        return sum(o.writer.holds_active() for o in list(self._owned.values()))

    def violations(self) -> int:
        return sum(o.writer.violations() for o in list(self._owned.values()))

    # -- ownership -------------------------------------------------------------------------
    async def on_assigned(self, partitions: Sequence[int]) -> Mapping[int, int]:
        positions: dict[int, int] = {}
        for p in partitions:
            loaded = await self._claim(p)
            owned = Owned(PartitionWriter(p, loaded.drops), loaded.epoch, loaded.next_offset,
                          unpublished=list(loaded.outbox))
            self._owned[p] = owned
            if owned.unpublished:
                log.info("partition %d: republishing %d outbox batch(es)", p,
                         len(owned.unpublished))
                await self._flush(owned)
                await self._store.delete_outbox(p, owned.published_upto or 0)
                owned.published_upto = None
            for state in loaded.drops.values():
                self._arm(state)
            positions[p] = loaded.next_offset
            log.info("partition %d: claimed (epoch %d) with %d drop(s), resuming at %d",
                     p, loaded.epoch, len(loaded.drops), loaded.next_offset)
        metrics.partitions_owned.set(len(self._owned))
        return positions

    async def _claim(self, partition: int) -> Loaded:
        """Claim until it works: skipping a partition would leave its commands unanswered,
        so a database that is away holds the rebalance up instead."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._store.claim(partition)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("partition %d: cannot claim yet (attempt %d): %r", partition,
                            attempt, exc)
                await asyncio.sleep(RETRY.backoff(attempt))

    async def on_revoked(self, partitions: Sequence[int]) -> None:
        for p in partitions:
            owned = self._owned.pop(p, None)
            if owned is not None and owned.published_upto is not None:
                # a courtesy to the next owner, which would otherwise republish them
                try:
                    await self._store.delete_outbox(p, owned.published_upto)
                except Exception as exc:
                    log.warning("partition %d: outbox not trimmed on revocation: %r", p, exc)
        metrics.partitions_owned.set(len(self._owned))

    async def on_log_lost(self, partition: int, position: int, high_watermark: int) -> int:
        owned = self._owned.get(partition)
        target = 0  # tansu restarts with an empty log that begins at 0
        if owned is not None:
            try:
                await self._store.reset_offset(partition, owned.epoch, target)
            except Fenced:
                self._lose(partition, "fenced while resetting its offset")
                return target
            owned.next_offset = target
        log.error("partition %d: broker log lost (stored %d > log end %d); continuing at %d",
                  partition, position, high_watermark, target)
        return target

    # -- batches ---------------------------------------------------------------------------
    async def handle(self, partition: int, batch: Sequence[Delivered[CommandEnvelope]]) -> None:
        owned = self._owned.get(partition)
        if owned is None:
            return  # fenced or revoked: the partition's owner applies these
        if owned.unpublished:  # a publish failed earlier: those messages go first
            await self._flush(owned)
        fresh = [d for d in batch if d.offset >= owned.next_offset]
        if not fresh:
            return
        commands = [d.message for d in fresh if await self._routed(d)]
        next_offset = fresh[-1].offset + 1
        processed = await self._store.processed([c.command_id for c in commands])
        decided = owned.writer.decide_batch(commands, self._clock(), processed)
        outbox = outbox_of(decided)
        started = time.perf_counter()
        try:
            outbox_id = await self._store.commit_batch(
                partition, owned.epoch, next_offset, decided, outbox, owned.published_upto
            )
        except Fenced:
            self._lose(partition, "another writer claimed it")
            return
        metrics.commit_seconds.observe(time.perf_counter() - started)
        owned.writer.commit(decided)
        owned.next_offset = next_offset
        owned.published_upto = None
        owned.unpublished.append(replace(outbox, id=outbox_id, decided=[]))
        self._count(decided)
        await self._flush(owned)
        for state in decided.staged.values():
            self._arm(state)

    async def _routed(self, d: Delivered[CommandEnvelope]) -> bool:
        """A command must be keyed by its drop and name one drop: keying is what makes its
        partition's writer the only one for that drop."""
        envelope = d.message
        if d.key == str(envelope.drop_id).encode() and envelope.command.drop_id == envelope.drop_id:
            return True
        metrics.misrouted.inc()
        await self._dead_letters.send(
            topic=self._topics.commands.name, partition=d.partition, offset=d.offset, key=d.key,
            value=d.raw, reason=f"misrouted: key {d.key!r}, drop {envelope.drop_id}, "
                               f"command about {envelope.command.drop_id}",
        )
        return False

    async def _flush(self, owned: Owned) -> None:
        """Publish the committed, unpublished outbox in order; then it may be deleted."""
        started = time.perf_counter()
        events, replies = self._topics.events, self._topics.replies
        for outbox in owned.unpublished:
            await self._producer.send_all(
                [Outgoing(events, m.key, m.json) for m in outbox.events]
                + [Outgoing(replies, m.key, m.json) for m in outbox.replies]
            )
        if owned.unpublished:
            owned.published_upto = owned.unpublished[-1].id
            owned.unpublished.clear()
        metrics.publish_seconds.observe(time.perf_counter() - started)

    def _lose(self, partition: int, why: str) -> None:
        metrics.fenced.inc()
        self._owned.pop(partition, None)
        metrics.partitions_owned.set(len(self._owned))
        log.warning("partition %d: let go (%s)", partition, why)

    def _count(self, decided: Batch) -> None:
        metrics.batch_size.observe(len(decided.applied) + len(decided.duplicates))
        for a in decided.applied:
            metrics.decisions.labels(a.envelope.command.type, a.decision.verdict.outcome).inc()
        if decided.duplicates:
            metrics.decisions.labels("redelivered", "duplicate").inc(len(decided.duplicates))

    def _arm(self, state: DropState) -> None:
        if self.timers is not None:
            self.timers.arm(state)
