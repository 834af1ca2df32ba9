"""A resuming client's catch-up: what of a drop's live stream it still needs.

A client that resumes with ``since`` gets its replay at once (``DropBook.replay``),
up to the latest message this process has *made* for the drop. Some of those may
not be *published* yet (waiting in the coalescer or in this tick's batch), and a
client coming from another process may have seen more than this one has made so
far. Until this process's stream has passed what the client has seen, the client's
messages go through ``still_needed`` one client at a time; once ``in_sync`` holds for
each of its drops, it joins the shared fan-out, where nobody is filtered.
"""

from __future__ import annotations

from uuid import UUID

from .messages import Message, Slot, event_seq_of, message_seq

Seen = dict[UUID, int]
"""Per drop, the seq of the latest stream message a catching-up client has."""


def still_needed(seen: Seen, drop_id: UUID, messages: list[Message]) -> list[Message]:
    """The messages the client has not had, updating ``seen``. Stream messages at or
    below what it has are dropped; queue figures always pass (a state: the newest
    wins), placed no lower than the client's position so its seqs never go down."""
    last = seen.get(drop_id)
    if last is None:
        return messages
    out: list[Message] = []
    for message in messages:
        if not message.in_stream:
            floor = message_seq(event_seq_of(last), Slot.QUEUE)
            out.append(message.at_seq(max(message.seq, floor)))
        elif message.seq > last:
            out.append(message)
            last = message.seq
    seen[drop_id] = last
    return out


def in_sync(seen_seq: int, last_event_seq: int, unpublished: bool) -> bool:
    """Whether a client that has a drop's stream up to ``seen_seq`` may take this
    process's live stream of the drop unfiltered: nothing made is still unpublished,
    and every later message of this process belongs to an event after the client's."""
    return not unpublished and event_seq_of(seen_seq) <= last_event_seq
