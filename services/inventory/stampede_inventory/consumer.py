"""The handler the shared ``ConsumerLoop`` drives: one single writer per partition.

- on assignment: claim the partition (epoch + 1), load its drops, holds, per-user
  counts and next offset from PostgreSQL, republish its unpublished outbox, re-arm
  the expiry timers, and resume at the stored offset;
- per batch: skip what is already applied, dead-letter misrouted commands, decide the
  rest, commit decisions + offset + processed ids + outbox in ONE transaction, then hand
  the outbox to the partition's publisher (``publisher``: events and replies go out in
  order behind the writer, which decides the next batch meanwhile; deterministic ids: a
  republish is a duplicate);
- on revocation (after the batch in hand, the loop's lock): let the publishing finish
  (bounded), then forget the partition;
- on a lost broker log: continue at the start of the new log and store that offset.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from stampede_contracts import CommandEnvelope, Topics, utcnow
from stampede_runtime.dead_letters import DeadLetterSink
from stampede_runtime.errors import RetryPolicy, is_transient
from stampede_runtime.handlers import BaseHandler, Delivered
from stampede_runtime.producer import Producer

from . import metrics
from .adapters.store import AlreadyDecided, Fenced, InventoryStore, Loaded, outbox_of
from .domain import DropState
from .expiry import ExpiryTimers
from .publisher import OutboxPublisher
from .writer import Batch, PartitionWriter

log = logging.getLogger(__name__)
RETRY = RetryPolicy(first_backoff_s=0.2, max_backoff_s=2.0)
REVOKE_DRAIN_S = 5.0  # a revocation waits this long for the committed to be published


@dataclass(slots=True)
class Owned:
    """A partition this process writes: its writer, epoch and outbox publisher."""

    writer: PartitionWriter
    epoch: int
    next_offset: int
    publisher: OutboxPublisher
    deleted_upto: int = 0  # outbox rows up to here are deleted (published before)
    #: a commit failed without saying whether it was written (the connection died during
    #: it): the state in memory may lack what PostgreSQL has, so it is loaded again
    in_doubt: bool = False

    def to_delete(self) -> int | None:
        """Outbox rows published since the last delete: deleted in the next transaction."""
        upto = self.publisher.published_upto
        return upto if upto is not None and upto > self.deleted_upto else None


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
        positions = {p: await self._take(p) for p in partitions}
        metrics.partitions_owned.set(len(self._owned))
        return positions

    async def _take(self, p: int) -> int:
        """Claim partition ``p`` and load its state from PostgreSQL, publish what its
        outbox holds, arm its drops' expiry; the offset to resume at."""
        loaded = await self._claim(p)
        owned = Owned(PartitionWriter(p, loaded.drops), loaded.epoch, loaded.next_offset,
                      OutboxPublisher(self._producer, self._topics, p))
        self._owned[p] = owned
        if loaded.outbox:  # what the previous owner did not publish goes out first
            log.info("partition %d: republishing %d outbox batch(es)", p, len(loaded.outbox))
            for outbox in loaded.outbox:
                await owned.publisher.put(outbox)
            await owned.publisher.drain()
            await self._store.delete_outbox(p, owned.publisher.published_upto or 0)
            owned.deleted_upto = owned.publisher.published_upto or 0
        for state in loaded.drops.values():
            self._arm(state)
        log.info("partition %d: claimed (epoch %d) with %d drop(s), resuming at %d",
                 p, loaded.epoch, len(loaded.drops), loaded.next_offset)
        return loaded.next_offset

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
            if owned is None:
                continue
            try:  # what is committed goes out now, or (broker away) by the next owner
                await asyncio.wait_for(owned.publisher.drain(), REVOKE_DRAIN_S)
            except TimeoutError:
                log.warning("partition %d: %d outbox batch(es) left to the next owner", p,
                            owned.publisher.backlog)
            await owned.publisher.stop()
            upto = owned.to_delete()
            if upto is not None:  # a courtesy to the next owner, which would republish them
                try:
                    await self._store.delete_outbox(p, upto)
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
                await self._lose(partition, "fenced while resetting its offset")
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
        if owned.in_doubt:
            log.warning("partition %d: the last commit's outcome is unknown; loading the "
                         "partition again from PostgreSQL", partition)
            await owned.publisher.stop()  # what it had not published is in the outbox
            await self._take(partition)
            owned = self._owned[partition]
        fresh = [d for d in batch if d.offset >= owned.next_offset]
        if not fresh:
            return
        commands = [d.message for d in fresh if await self._routed(d)]
        traces = {d.message.command_id: d.trace for d in fresh if d.trace}  # tracing on
        next_offset = fresh[-1].offset + 1
        now = self._clock()
        delete_upto = owned.to_delete()
        started = time.perf_counter()
        # optimistic: a command id decided before is rare (a re-sent command), so the
        # batch is decided as new and the commit itself finds out (nothing is written)
        decided = owned.writer.decide_batch(commands, now, {})
        outbox = outbox_of(decided, traces)
        try:
            try:
                outbox_id = await self._store.commit_batch(
                    partition, owned.epoch, next_offset, decided, outbox, delete_upto,
                    optimistic=True,
                )
            except AlreadyDecided:
                metrics.redecided.inc()
                owned.writer.rollback(decided)
                processed = await self._store.processed(partition,
                                                        [c.command_id for c in commands])
                decided = owned.writer.decide_batch(commands, now, processed)
                outbox = outbox_of(decided, traces)
                outbox_id = await self._store.commit_batch(
                    partition, owned.epoch, next_offset, decided, outbox, delete_upto,
                )
        except Fenced:
            owned.writer.rollback(decided)
            await self._lose(partition, "another writer claimed it")
            return
        except BaseException:  # not committed, or not known to be (the loop retries it)
            owned.writer.rollback(decided)
            owned.in_doubt = True
            raise
        metrics.commit_seconds.observe(time.perf_counter() - started)
        owned.writer.commit(decided)
        owned.next_offset = next_offset
        if delete_upto is not None:
            owned.deleted_upto = delete_upto
        self._count(decided)
        if self.timers is not None:
            for drop_id, due in owned.writer.new_expiries(decided).items():
                self.timers.arm_at(drop_id, due)
        await owned.publisher.put(replace(outbox, id=outbox_id, decided=[]))

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

    async def _lose(self, partition: int, why: str) -> None:
        metrics.fenced.inc()
        owned = self._owned.pop(partition, None)
        if owned is not None:  # its unpublished batches are the next owner's to publish
            await owned.publisher.stop()
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
