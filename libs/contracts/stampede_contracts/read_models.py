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
from typing import Any, Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from .common import DropStatus, HoldStatus, WaitingRoomSpec

T = TypeVar("T")

# the examples of the OpenAPI document (one drop, one buyer, one hold, one purchase)
_DROP = "5f0c6d2e-8a4b-4c61-9d1e-2b7f3a9c8e10"
_HOLD = "0b8e4a3c-2f6d-5e71-8a9b-c1d2e3f4a5b6"
_PURCHASE = "9d3f1e2a-7b5c-5d48-9e6f-a1b2c3d4e5f6"
_AT = "2026-11-27T10:00:05Z"
PURCHASER_EXAMPLE = {"username": "sneakerhead_42", "quantity": 1, "purchased_at": _AT}
DROP_EXAMPLE: dict[str, Any] = {
    "id": _DROP, "name": "Air Max 1 '86 OG", "price_cents": 17000, "currency": "USD",
    "total_stock": 300, "available_stock": 212, "held": 40, "sold": 48, "status": "live",
    "starts_at": "2026-11-27T10:00:00Z", "ends_at": "2026-11-27T11:00:00Z", "per_user_limit": 1,
    "reservation_ttl_seconds": 60,
    "activity_feed": {"latest_purchasers": [PURCHASER_EXAMPLE]},
    "created_at": "2026-11-20T09:00:00Z", "updated_at": _AT,
    "waiting_room": {"admit_per_s": 50.0, "mode": "lottery"},
}
PUBLIC_PURCHASE_EXAMPLE = {"id": _PURCHASE, "drop_id": _DROP, "username": "sneakerhead_42",
                           "quantity": 1, "created_at": _AT}
RESERVATION_EXAMPLE = {"id": _HOLD, "drop_id": _DROP, "quantity": 1, "status": "active",
                       "expires_at": "2026-11-27T10:01:02Z", "created_at": "2026-11-27T10:00:02Z"}
PURCHASE_EXAMPLE = {"id": _PURCHASE, "drop_id": _DROP, "reservation_id": _HOLD, "quantity": 1,
                    "amount_cents": 17000, "currency": "USD", "status": "paid",
                    "created_at": _AT}


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(frozen=True, json_schema_extra={"examples": list(examples)})


class ReadModel(BaseModel):
    model_config = ConfigDict(frozen=True)


class Purchaser(ReadModel):
    model_config = _examples(PURCHASER_EXAMPLE)

    username: str
    quantity: int
    purchased_at: datetime


class ActivityFeed(ReadModel):
    model_config = _examples({"latest_purchasers": [PURCHASER_EXAMPLE]})

    latest_purchasers: list[Purchaser]


class DropRead(ReadModel):
    model_config = _examples(DROP_EXAMPLE)

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

    model_config = _examples(PUBLIC_PURCHASE_EXAMPLE)

    id: UUID
    drop_id: UUID
    username: str
    quantity: int
    created_at: datetime


class ReservationRead(ReadModel):
    model_config = _examples(RESERVATION_EXAMPLE)

    id: UUID
    drop_id: UUID
    quantity: int
    status: HoldStatus
    expires_at: datetime
    created_at: datetime


class PurchaseRead(ReadModel):
    model_config = _examples(PURCHASE_EXAMPLE)

    id: UUID
    drop_id: UUID
    reservation_id: UUID
    quantity: int
    amount_cents: int
    currency: str
    status: str = "paid"
    created_at: datetime


def _page_example(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """A page's example: one item, the example of the item's model."""
    args = model.__pydantic_generic_metadata__["args"]
    extra = args[0].model_config.get("json_schema_extra") if args else None
    items = extra["examples"][:1] if isinstance(extra, dict) else []
    schema["examples"] = [{"items": items, "total": len(items), "limit": 20, "offset": 0}]


class Page(ReadModel, Generic[T]):
    model_config = ConfigDict(frozen=True, json_schema_extra=_page_example)

    items: list[T]
    total: int
    limit: int
    offset: int
