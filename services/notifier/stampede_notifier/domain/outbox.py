"""One client's outbox: a bounded queue of messages not yet written to its socket.

It never holds a message twice nor lets seqs go down for a drop (the same
message may be offered by a replay and by the live stream), and reports an
overflow instead of growing: the caller drops the client, which resumes later
with ``since``.
"""

from __future__ import annotations

from collections import deque
from uuid import UUID

from .messages import Message


class Outbox:
    __slots__ = ("capacity", "last_seqs", "overflowed", "queue")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.queue: deque[str] = deque()
        """Texts waiting for the sender task (read it, never write it, from outside)."""
        self.last_seqs: dict[UUID, int] = {}
        """The highest seq per drop queued or sent (read-only from outside: the fan-out
        fast path inlines ``admit``)."""
        self.overflowed = False

    def offer(self, message: Message) -> bool:
        """Queue ``message``; False once the queue is full (then nothing more is kept)."""
        if self.overflowed:
            return False
        if message.seq <= self.last_seqs.get(message.drop_id, 0):
            return True
        if len(self.queue) >= self.capacity:
            self.overflowed = True
            self.queue.clear()
            return False
        self.last_seqs[message.drop_id] = message.seq
        self.queue.append(message.text)
        return True

    def admit(self, message: Message) -> bool:
        """For a message written at once, bypassing the queue (which must be empty):
        True if it is new for this client (and now counts as sent)."""
        if message.seq <= self.last_seqs.get(message.drop_id, 0):
            return False
        self.last_seqs[message.drop_id] = message.seq
        return True

    def seen(self, drop_id: UUID, seq: int) -> None:
        """The client says it has every message up to ``seq`` (resume)."""
        self.last_seqs[drop_id] = max(seq, self.last_seqs.get(drop_id, 0))

    def last_seq(self, drop_id: UUID) -> int:
        return self.last_seqs.get(drop_id, 0)

    def put_text(self, text: str) -> None:
        """A control message outside any drop's stream (e.g. a pong)."""
        self.queue.append(text)

    def take(self) -> str | None:
        return self.queue.popleft() if self.queue else None

    def __len__(self) -> int:
        return len(self.queue)
