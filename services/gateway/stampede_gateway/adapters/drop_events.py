"""Feeds the gateway's drop views from ``topics.events`` (broadcast mode, from the start).

The view needs four kinds of event: a drop created, changed or deleted, and its stock.
Every other event (holds placed, refused, expired, purchases: most of a busy topic) is
skipped before it is decoded (``wanted`` looks for the event's type in the bytes; no
username or drop name can hold a quote, so the pattern cannot occur elsewhere), and the
wanted ones are read as plain JSON, a model built only for a drop's spec (rare).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple
from uuid import UUID

import orjson
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError
from stampede_contracts import SCHEMA_VERSION, DropSpec, MalformedMessage, StockLevels
from stampede_runtime.handlers import BaseHandler, Delivered

from ..domain.drop_view import DropViews

_WANTED = (b'"type":"StockChanged"', b'"type":"DropCreated"', b'"type":"DropUpdated"',
           b'"type":"DropDeleted"')


class ViewEvent(NamedTuple):
    drop_id: UUID
    seq: int
    kind: str
    spec: DropSpec | None
    stock: StockLevels | None


def wanted(record: ConsumerRecord) -> bool:
    value = record.value
    return value is not None and any(pattern in value for pattern in _WANTED)


def decode_view_event(raw: bytes | None) -> ViewEvent:
    """An ``EventEnvelope`` as the view needs it (``MalformedMessage`` when it is not one)."""
    try:
        envelope: dict[str, Any] = orjson.loads(raw or b"")
        if int(envelope.get("schema_version") or 1) > SCHEMA_VERSION:
            raise MalformedMessage(f"schema_version {envelope['schema_version']} is too new")
        event = envelope["event"]
        kind = str(event["type"])
        spec = DropSpec.model_validate(event["drop"]) if "drop" in event else None
        stock = StockLevels.model_validate(event["stock"]) if "stock" in event else None
        return ViewEvent(UUID(envelope["drop_id"]), int(envelope["seq"]), kind, spec, stock)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, ValidationError) as exc:
        raise MalformedMessage(f"event not for the view: {exc!r}") from None


class DropEventsHandler(BaseHandler[ViewEvent]):
    def __init__(self, views: DropViews) -> None:
        self.views = views

    async def handle(self, partition: int, batch: Sequence[Delivered[ViewEvent]]) -> None:
        for delivered in batch:
            e = delivered.message
            if e.kind == "StockChanged" and e.stock is not None:
                self.views.stock(e.drop_id, e.seq, e.stock)
            elif e.kind in ("DropCreated", "DropUpdated") and e.spec and e.stock:
                self.views.put(e.drop_id, e.seq, e.spec, e.stock)
            elif e.kind == "DropDeleted":
                self.views.delete(e.drop_id, e.seq)
