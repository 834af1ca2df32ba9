"""The WebSocket messages of API.md ("Real time") and their ``seq`` scheme.

Every message is ``{"type", "drop_id", "seq", "data"}``, serialised once and sent
as the same bytes (one pre-built WebSocket frame) to every client.

The seq scheme: ``seq = event_seq * SLOTS_PER_EVENT + slot``. An event's ``seq``
(EventEnvelope.seq, rising by one per drop, the same for every reader) fixes the
message's, so every notifier process numbers a drop's event messages alike and a
client may resume on any of them. One event yields at most one message per slot,
and the slots order the messages of one event: a purchase gives PURCHASE_COMPLETED
(slot 0) then ACTIVITY_UPDATED (slot 1), both above every message of earlier
events. Seqs rise per drop but are not contiguous (events that tell clients
nothing, such as StockReserved, leave gaps; coalescing skips some).

QUEUE_UPDATED (slot 3) is not an inventory event: it is the drop's waiting-room
state, read from another topic. Its seq is ``4 * E + 3`` where E is the drop's
latest event when it is sent: its place in the stream, after every message of E
and before any of E + 1. Several may share that seq (each replaces the one before:
it is a state), and two processes may place the same update differently, so it
never serves to find what a client missed: a resume always ends with the latest
queue figures, whatever ``since`` says (see ``drops.DropBook.replay``).

A SNAPSHOT carries the seq of the drop's latest event message: it stands for
everything up to there.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import IntEnum, StrEnum
from typing import Any
from uuid import UUID

SLOTS_PER_EVENT = 4


class Slot(IntEnum):
    PRIMARY = 0  # DROP_CREATED, DROP_UPDATED, DROP_DELETED, PURCHASE_COMPLETED, RESERVATION_EXPIRED
    ACTIVITY = 1  # ACTIVITY_UPDATED
    STOCK = 2  # STOCK_UPDATED
    QUEUE = 3  # QUEUE_UPDATED: not an event of the drop's stream (see the module doc)


def message_seq(event_seq: int, slot: Slot) -> int:
    return event_seq * SLOTS_PER_EVENT + int(slot)


def event_seq_of(seq: int) -> int:
    return seq // SLOTS_PER_EVENT


class MessageType(StrEnum):
    DROP_CREATED = "DROP_CREATED"
    DROP_UPDATED = "DROP_UPDATED"
    DROP_DELETED = "DROP_DELETED"
    STOCK_UPDATED = "STOCK_UPDATED"
    RESERVATION_EXPIRED = "RESERVATION_EXPIRED"
    PURCHASE_COMPLETED = "PURCHASE_COMPLETED"
    ACTIVITY_UPDATED = "ACTIVITY_UPDATED"
    QUEUE_UPDATED = "QUEUE_UPDATED"
    SNAPSHOT = "SNAPSHOT"
    """The drop's whole current state, sent on resume when the missed messages
    have left the recent window."""


#: State messages: a newer one makes an older one of the same type useless, so
#: they may be merged (coalescing, compacted replays). The others are events.
STATE_TYPES = frozenset({MessageType.STOCK_UPDATED, MessageType.ACTIVITY_UPDATED,
                         MessageType.DROP_UPDATED, MessageType.QUEUE_UPDATED})


@dataclass(frozen=True, slots=True)
class Message:
    type: MessageType
    drop_id: UUID
    seq: int
    data: Mapping[str, Any]
    frame: bytes = field(init=False, repr=False, compare=False)
    """The whole server-to-client WebSocket frame (RFC 6455: FIN, text, unmasked,
    uncompressed) of the JSON text, built once and written as is to every client's
    socket; the text itself is derived from it (one copy kept per message)."""

    def __post_init__(self) -> None:
        body = {"type": str(self.type), "drop_id": str(self.drop_id), "seq": self.seq,
                "data": self.data}
        object.__setattr__(self, "frame", text_frame(json.dumps(body, separators=(",", ":"))))

    @property
    def text(self) -> str:
        return self.frame[_header_size(self.frame):].decode()

    @property
    def is_state(self) -> bool:
        return self.type in STATE_TYPES

    @property
    def in_stream(self) -> bool:
        """Part of the drop's event stream (every type but QUEUE_UPDATED and SNAPSHOT)."""
        return self.type is not MessageType.QUEUE_UPDATED

    def at_seq(self, seq: int) -> Message:
        """The same message placed at another seq (a queue state re-sent on resume)."""
        return self if seq == self.seq else replace(self, seq=seq)


def text_frame(text: str) -> bytes:
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


def _header_size(frame: bytes) -> int:
    marker = frame[1] & 0x7F
    return 2 if marker < 126 else 4 if marker == 126 else 10


def compact(messages: list[Message]) -> list[Message]:
    """Keep every event message and only the latest of each state type, in seq order."""
    latest: dict[MessageType, int] = {}
    for m in messages:
        if m.is_state:
            latest[m.type] = m.seq
    return [m for m in messages if not m.is_state or latest[m.type] == m.seq]
