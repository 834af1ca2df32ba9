"""The read side's shapes: what orders serves to the gateway over internal HTTP,
which are also the public API's bodies (API.md), so the gateway passes them on.

Internal routes of orders (all GET, JSON, paginated with ``limit`` (1..100, default
20) and ``offset`` (>= 0) where they list):

- ``/internal/drops?active=true`` -> ``Page[DropRead]`` (active: scheduled or live
  within their window; ``active=false`` lists every drop not deleted)
- ``/internal/drops/{drop_id}`` -> ``DropRead`` or 404 problem ``DROP_NOT_FOUND``
- ``/internal/drops/{drop_id}/purchases`` -> ``Page[PublicPurchase]`` (newest first)
- ``/internal/users/{user_id}/reservations`` -> ``Page[ReservationRead]`` (newest first)
- ``/internal/users/{user_id}/purchases`` -> ``Page[PurchaseRead]`` (newest first)
"""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from .common import DropStatus, HoldStatus, WaitingRoomSpec

T = TypeVar("T")


class ReadModel(BaseModel):
    model_config = ConfigDict(frozen=True)


class Purchaser(ReadModel):
    username: str
    quantity: int
    purchased_at: datetime


class ActivityFeed(ReadModel):
    latest_purchasers: list[Purchaser]


class DropRead(ReadModel):
    id: UUID
    name: str
    price_cents: int
    currency: str
    total_stock: int
    available_stock: int
    held: int
    sold: int
    status: DropStatus
    starts_at: datetime | None
    ends_at: datetime | None
    per_user_limit: int
    reservation_ttl_seconds: int
    activity_feed: ActivityFeed
    created_at: datetime
    updated_at: datetime
    waiting_room: WaitingRoomSpec | None = None


class PublicPurchase(ReadModel):
    """A purchase as anyone may see it: no user id, no reservation id."""

    id: UUID
    drop_id: UUID
    username: str
    quantity: int
    created_at: datetime


class ReservationRead(ReadModel):
    id: UUID
    drop_id: UUID
    quantity: int
    status: HoldStatus
    expires_at: datetime
    created_at: datetime


class PurchaseRead(ReadModel):
    id: UUID
    drop_id: UUID
    reservation_id: UUID
    quantity: int
    amount_cents: int
    currency: str
    status: str = "paid"
    created_at: datetime


class Page(ReadModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
