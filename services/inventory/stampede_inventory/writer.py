"""The single writer of one partition: a batch of commands in, decisions out.

No I/O. The writer dedupes by command id (against the replies already stored and
within the batch), decides each new command on a per-batch copy of its drop, and
answers each with a ``Reply``. Nothing it holds changes until ``commit`` is called,
which the service does only once the batch's transaction is durable, so a failed
transaction leaves the writer as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from stampede_contracts import CommandEnvelope, Reply

from .domain import Decision, DropState, decide
from .domain.decide import Numbered
from .domain.state import Journal
from .domain.unchecked import maker, utc

_Reply = maker(Reply)


class Applied(NamedTuple):
    """A command decided now for the first time."""

    envelope: CommandEnvelope
    decision: Decision
    reply: Reply


@dataclass(slots=True)
class Batch:
    """What a batch decided; ``staged``: the drops it touched (decided on in place, the
    writes in ``journal``; a drop it created is staged until the commit)."""

    applied: list[Applied] = field(default_factory=list)
    duplicates: list[Reply] = field(default_factory=list)
    staged: dict[UUID, DropState] = field(default_factory=dict)
    journal: Journal = field(default_factory=Journal)

    @property
    def replies(self) -> list[Reply]:
        """Every reply to send: fresh ones and the stored ones of redelivered commands."""
        return [a.reply for a in self.applied] + self.duplicates


def reply_for(envelope: CommandEnvelope, decision: Decision, now: datetime) -> Reply:
    """The reply (built without validation: every value is valid, see ``unchecked``)."""
    verdict = decision.verdict
    return _Reply(
        command_id=envelope.command_id, drop_id=envelope.drop_id,
        reply_to=envelope.reply_to or "", ok=verdict.ok, code=verdict.code,
        result=verdict.result, decided_at=now,
        seq=decision.state.seq if decision.state is not None else None,
    )


def readdressed(stored: Reply, envelope: CommandEnvelope) -> Reply:
    """The first reply to a command, sent again to whoever asks this time."""
    if envelope.reply_to is None or envelope.reply_to == stored.reply_to:
        return stored
    return stored.model_copy(update={"reply_to": envelope.reply_to})


class PartitionWriter:
    """The in-memory state of one partition's drops and the batch logic over it."""

    def __init__(self, partition: int, drops: Mapping[UUID, DropState] | None = None) -> None:
        self.partition = partition
        self.drops: dict[UUID, DropState] = dict(drops or {})

    def decide_batch(
        self, envelopes: Iterable[CommandEnvelope], now: datetime,
        processed: Mapping[UUID, Reply],
    ) -> Batch:
        """Decide ``envelopes`` in order; ``processed`` maps command ids already decided
        (in an earlier batch) to their stored reply."""
        batch = Batch()
        now = utc(now)
        fresh: dict[UUID, Reply] = {}
        again: list[tuple[int, CommandEnvelope]] = []  # decided earlier in this batch
        for envelope in envelopes:
            stored = processed.get(envelope.command_id)
            if stored is not None:
                batch.duplicates.append(readdressed(stored, envelope))
                continue
            if envelope.command_id in fresh:
                again.append((len(batch.duplicates), envelope))
                batch.duplicates.append(fresh[envelope.command_id])
                continue
            state = batch.staged.get(envelope.drop_id)
            if state is None:
                state = self.drops.get(envelope.drop_id)
                if state is not None:  # decided on in place, its writes journaled
                    batch.journal.track(state)
            decision = decide(state, envelope.command, now, envelope.command_id)
            if decision.state is not None:
                batch.staged[envelope.drop_id] = decision.state
            reply = reply_for(envelope, decision, now)
            fresh[envelope.command_id] = reply
            batch.applied.append(Applied(envelope, decision, reply))
        self._coalesced(batch, now)
        final = {a.envelope.command_id: a.reply for a in batch.applied}
        for i, envelope in again:  # their first reply, as the batch ends up numbered
            batch.duplicates[i] = readdressed(final[envelope.command_id], envelope)
        return batch

    def _coalesced(self, batch: Batch, now: datetime) -> None:
        """One ``StockChanged`` per drop per batch, its last: it carries the stock after
        the batch's last decision on the drop (no decision after it changes stock), which
        is all any reader of stock needs. A reserve is one event then, not two: half the
        events a hold costs every process that reads them. Each drop's events of the batch
        are numbered again, gap-free, from where the drop stood; every reply names the
        drop's seq at the end of the batch (a reader that has seen it has seen the
        decision). Decided in memory before the commit: what is published is numbered so."""
        last_stock: dict[UUID, int] = {}
        for i, a in enumerate(batch.applied):
            state = a.decision.state
            if state is not None and any(n.event.type == "StockChanged"
                                         for n in a.decision.events):
                last_stock[state.drop_id] = i
        next_seq = {d: batch.journal.seq_before(d) + 1 for d in batch.staged}
        applied: list[Applied] = []
        for i, a in enumerate(batch.applied):
            decision = a.decision
            state = decision.state
            if state is None or not decision.events:
                applied.append(a)
                continue
            drop_id = state.drop_id
            kept = [n for n in decision.events
                    if n.event.type != "StockChanged" or last_stock.get(drop_id) == i]
            seq = next_seq[drop_id]
            numbered = tuple(Numbered(seq + k, n.event) for k, n in enumerate(kept))
            next_seq[drop_id] = seq + len(numbered)
            applied.append(Applied(a.envelope, decision._replace(events=numbered), a.reply))
        for drop_id, state in batch.staged.items():
            state.seq = next_seq[drop_id] - 1
        batch.applied = [a if a.decision.state is None
                         else a._replace(reply=reply_for(a.envelope, a.decision, now))
                         for a in applied]

    def commit(self, batch: Batch) -> None:
        """The batch is durable: its writes stand, its new drops become the writer's."""
        batch.journal.close()
        self.drops.update(batch.staged)

    def rollback(self, batch: Batch) -> None:
        """The batch was not committed: the drops are back as they were before it."""
        batch.journal.rollback()

    def new_expiries(self, batch: Batch) -> dict[UUID, datetime]:
        """Per drop, the earliest expiry of the holds the batch placed (their timers)."""
        due: dict[UUID, datetime] = {}
        for a in batch.applied:
            state = a.decision.state
            for n in a.decision.events:
                e = n.event
                if e.type == "StockReserved" and state is not None:
                    when = e.expires_at
                    if state.drop_id not in due or when < due[state.drop_id]:
                        due[state.drop_id] = when
        return due

    def holds_active(self) -> int:
        return sum(len(d.holds) for d in self.drops.values())

    def violations(self) -> int:
        return sum(d.violations() for d in self.drops.values())
