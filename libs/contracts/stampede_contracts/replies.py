"""Replies: the inventory's answer to a command that carried ``reply_to``.

A reply is stored with its command id by the inventory (at least 24 h), so a
command delivered again is answered with the very same reply.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from .common import DropSpec, Frozen, HoldStatus, RejectionCode, StockLevels, UtcDatetime


class ReservationView(Frozen):
    kind: Literal["reservation"] = "reservation"
    id: UUID
    drop_id: UUID
    user_id: UUID
    quantity: int
    status: HoldStatus
    expires_at: UtcDatetime


class PurchaseView(Frozen):
    kind: Literal["purchase"] = "purchase"
    id: UUID
    drop_id: UUID
    reservation_id: UUID
    user_id: UUID
    quantity: int
    amount_cents: int
    currency: str
    created_at: UtcDatetime


class DropView(Frozen):
    kind: Literal["drop"] = "drop"
    drop: DropSpec
    stock: StockLevels


ReplyResult = Annotated[ReservationView | PurchaseView | DropView, Field(discriminator="kind")]


class Reply(Frozen):
    """``ok`` with an optional result, or a rejection with its code."""

    schema_version: int = 1
    command_id: UUID
    drop_id: UUID
    reply_to: str
    ok: bool
    code: RejectionCode | None = None
    detail: str | None = None
    result: ReplyResult | None = None
    decided_at: UtcDatetime
    #: the drop's event seq after the decision (None: no such drop), so a reader of the
    #: events knows when it has seen the decision's effects (read-your-writes)
    seq: int | None = None
