"""Envelopes: what actually travels on a topic, around a command or an event.

- ``CommandEnvelope`` carries ``command_id`` (idempotency: the same id has one
  effect), ``reply_to`` (the gateway instance waiting, if any) and trace context.
- ``EventEnvelope`` carries ``event_id`` (deterministic: ``event_id_for(drop_id,
  seq)``), ``seq`` (per drop, rising by one) and the id of the command that
  caused it.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from .commands import Command
from .common import Frozen, UtcDatetime
from .events import Event

SCHEMA_VERSION = 1


class CommandEnvelope(Frozen):
    schema_version: int = SCHEMA_VERSION
    command_id: UUID
    drop_id: UUID
    occurred_at: UtcDatetime
    reply_to: str | None = None
    trace: dict[str, str] = Field(default_factory=dict)
    command: Command


class EventEnvelope(Frozen):
    schema_version: int = SCHEMA_VERSION
    event_id: UUID
    drop_id: UUID
    seq: int = Field(ge=1)
    occurred_at: UtcDatetime
    causation_id: UUID | None = None
    trace: dict[str, str] = Field(default_factory=dict)
    event: Event
