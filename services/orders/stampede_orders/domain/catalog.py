"""A drop as the buyer sees it: the stored row plus what the clock says now."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from stampede_contracts import (
    ActivityFeed,
    DropRead,
    DropSpec,
    DropStatus,
    Purchaser,
    WaitingRoomSpec,
)

#: How many recent purchasers a drop's activity feed shows.
FEED_SIZE = 3


class StoredDrop(Protocol):
    """The columns of a catalog row that the view needs."""

    id: UUID
    name: str
    price_cents: int
    currency: str
    total_stock: int
    available: int
    held: int
    sold: int
    starts_at: datetime | None
    ends_at: datetime | None
    draft: bool
    per_user_limit: int
    reservation_ttl_seconds: int
    created_at: datetime
    updated_at: datetime
    admit_per_s: float | None
    queue_mode: str | None


def waiting_room_of(row: StoredDrop) -> WaitingRoomSpec | None:
    if row.admit_per_s is None:
        return None
    return WaitingRoomSpec(admit_per_s=row.admit_per_s,
                           mode="lottery" if row.queue_mode == "lottery" else "fifo")


def status_of(row: StoredDrop, now: datetime) -> DropStatus:
    """Never stored: ``DropSpec.status_at`` decides, from the dates kept on the row."""
    spec = DropSpec(
        drop_id=row.id, name=row.name, price_cents=row.price_cents, currency=row.currency,
        total_stock=row.total_stock, starts_at=row.starts_at, ends_at=row.ends_at,
        draft=row.draft, per_user_limit=row.per_user_limit,
        reservation_ttl_seconds=row.reservation_ttl_seconds,
    )
    return spec.status_at(now)


def drop_read(row: StoredDrop, purchasers: Sequence[Purchaser], now: datetime) -> DropRead:
    return DropRead(
        id=row.id, name=row.name, price_cents=row.price_cents, currency=row.currency,
        total_stock=row.total_stock, available_stock=row.available, held=row.held,
        sold=row.sold, status=status_of(row, now), starts_at=row.starts_at,
        ends_at=row.ends_at, per_user_limit=row.per_user_limit,
        reservation_ttl_seconds=row.reservation_ttl_seconds,
        activity_feed=ActivityFeed(latest_purchasers=list(purchasers[:FEED_SIZE])),
        created_at=row.created_at, updated_at=row.updated_at, waiting_room=waiting_room_of(row),
    )
