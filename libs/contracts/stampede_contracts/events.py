"""Events of the inventory: facts in the past tense, in per-drop order.

Every event that changes stock is followed, in the same decision, by a
``StockChanged`` carrying the drop's four numbers after it, so a reader that
only wants the stock needs only that event.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from .common import DropSpec, Frozen, Quantity, RejectionCode, StockLevels, Username, UtcDatetime


class DropCreated(Frozen):
    type: Literal["DropCreated"] = "DropCreated"
    drop: DropSpec
    stock: StockLevels


class DropUpdated(Frozen):
    type: Literal["DropUpdated"] = "DropUpdated"
    drop: DropSpec
    stock: StockLevels


class DropDeleted(Frozen):
    type: Literal["DropDeleted"] = "DropDeleted"
    drop_id: UUID


class StockReserved(Frozen):
    type: Literal["StockReserved"] = "StockReserved"
    reservation_id: UUID
    user_id: UUID
    username: Username
    quantity: Quantity
    expires_at: UtcDatetime


class ReservationRejected(Frozen):
    type: Literal["ReservationRejected"] = "ReservationRejected"
    user_id: UUID
    code: RejectionCode
    quantity: Quantity


class HoldExpired(Frozen):
    type: Literal["HoldExpired"] = "HoldExpired"
    reservation_id: UUID
    user_id: UUID
    quantity: Quantity


class HoldCancelled(Frozen):
    type: Literal["HoldCancelled"] = "HoldCancelled"
    reservation_id: UUID
    user_id: UUID
    quantity: Quantity


class PurchaseConfirmed(Frozen):
    type: Literal["PurchaseConfirmed"] = "PurchaseConfirmed"
    purchase_id: UUID
    reservation_id: UUID
    user_id: UUID
    username: Username
    quantity: Quantity
    amount_cents: int
    currency: str


class StockChanged(Frozen):
    type: Literal["StockChanged"] = "StockChanged"
    stock: StockLevels


Event = Annotated[
    DropCreated
    | DropUpdated
    | DropDeleted
    | StockReserved
    | ReservationRejected
    | HoldExpired
    | HoldCancelled
    | PurchaseConfirmed
    | StockChanged,
    Field(discriminator="type"),
]
