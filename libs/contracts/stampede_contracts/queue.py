"""The waiting rooms' public figures, as the gateway publishes them.

``QueueUpdated`` is not an inventory decision: it is the state of one drop's waiting
room (the serving counter model, API.md "Overload and the waiting room"), published by
the gateway on ``topics.queue`` keyed by drop id, at most a few times a second per drop
while the room is in use, and once more when it empties or the drop sells out. The
notifier pushes it to the drop's watchers as ``QUEUE_UPDATED``.

It is a *state*, not a fact in a stream: a newer one replaces an older one (compare
``at``; ``serving`` and ``issued`` never fall for a drop), and a reader that missed some
needs only the latest.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from .common import Frozen, UtcDatetime

Count = Annotated[int, Field(ge=0)]


class QueueUpdated(Frozen):
    schema_version: int = 1
    type: Literal["QueueUpdated"] = "QueueUpdated"
    drop_id: UUID
    serving: Count  # tickets numbered up to here are admitted
    issued: Count  # numbers handed out so far (the last ticket's number)
    waiting: Count  # issued - serving, never below 0
    sold_out: bool  # nothing available and nothing held: no point waiting
    admit_per_s: Annotated[float, Field(gt=0)]
    at: UtcDatetime  # when the figures were taken
