"""Builders shared by the inventory's unit tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from stampede_contracts import Command, CreateDrop, DropSpec
from stampede_inventory.domain import Decision, DropState, decide

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DROP = uuid.UUID("00000000-0000-0000-0000-0000000000d1")
ALICE = uuid.UUID("00000000-0000-0000-0000-00000000a11c")
BOB = uuid.UUID("00000000-0000-0000-0000-000000000b0b")


def spec(**changes: Any) -> DropSpec:
    fields: dict[str, Any] = dict(
        drop_id=DROP, name="Air Max 1", price_cents=15000, total_stock=5,
        reservation_ttl_seconds=60,
    )
    fields.update(changes)
    return DropSpec(**fields)


def run(state: DropState | None, command: Command, now: datetime = T0,
        cid: uuid.UUID | None = None) -> Decision:
    return decide(state, command, now, cid or uuid.uuid4())


def created(**changes: Any) -> DropState:
    state = run(None, CreateDrop(drop=spec(**changes))).state
    assert state is not None
    return state


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def types(decision: Decision) -> list[str]:
    return [n.event.type for n in decision.events]
