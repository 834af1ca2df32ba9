"""Value types shared by commands, events and replies."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must carry a timezone")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_require_utc)]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Frozen(BaseModel):
    """Base of every contract model: immutable, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class DropStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"


class HoldStatus(StrEnum):
    ACTIVE = "active"
    PURCHASED = "purchased"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class RejectionCode(StrEnum):
    """Why the inventory said no; the same strings are the API's error codes."""

    DROP_NOT_FOUND = "DROP_NOT_FOUND"
    DROP_EXISTS = "DROP_EXISTS"
    DROP_NOT_ACTIVE = "DROP_NOT_ACTIVE"
    DROP_NOT_EMPTY = "DROP_NOT_EMPTY"
    OUT_OF_STOCK = "OUT_OF_STOCK"
    ALREADY_RESERVED = "ALREADY_RESERVED"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    NO_ACTIVE_RESERVATION = "NO_ACTIVE_RESERVATION"
    RESERVATION_EXPIRED = "RESERVATION_EXPIRED"
    RESERVATION_NOT_FOUND = "RESERVATION_NOT_FOUND"
    INVALID_STOCK = "INVALID_STOCK"
    VALIDATION_ERROR = "VALIDATION_ERROR"


Quantity = Annotated[int, Field(ge=1, le=10)]
StockCount = Annotated[int, Field(ge=0, le=10_000_000)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Username = Annotated[str, Field(min_length=1, max_length=64)]


class StockLevels(Frozen):
    """The four numbers of a drop; ``available + held + sold == total_stock``."""

    total_stock: StockCount
    available: StockCount
    held: StockCount
    sold: StockCount


class WaitingRoomSpec(Frozen):
    """A drop's waiting room (API.md "Overload and the waiting room"): buyers arriving
    faster than ``admit_per_s`` queue; ``lottery`` draws the places of those who joined
    before the start at random, ``fifo`` keeps the order of arrival."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra={
        "examples": [{"admit_per_s": 50.0, "mode": "lottery"}]})

    admit_per_s: Annotated[float, Field(gt=0, le=1_000_000)]
    mode: Literal["fifo", "lottery"] = "fifo"


class DropSpec(Frozen):
    """A drop as the admin describes it (and as every event about it carries it)."""

    drop_id: UUID
    name: Annotated[str, Field(min_length=1, max_length=200)]
    price_cents: Annotated[int, Field(ge=0, le=100_000_000)]
    currency: Currency = "USD"
    total_stock: StockCount
    starts_at: UtcDatetime | None = None
    ends_at: UtcDatetime | None = None
    draft: bool = False
    per_user_limit: Annotated[int, Field(ge=1, le=100)] = 1
    reservation_ttl_seconds: Annotated[int, Field(ge=1, le=3600)] = 60
    #: None: the gateway's defaults (``WAITING_ROOM_ADMIT_PER_S``, fifo)
    waiting_room: WaitingRoomSpec | None = None

    def status_at(self, now: datetime) -> DropStatus:
        """The lifecycle status is a function of the clock, never stored."""
        if self.draft:
            return DropStatus.DRAFT
        if self.ends_at is not None and now >= self.ends_at:
            return DropStatus.ENDED
        if self.starts_at is not None and now < self.starts_at:
            return DropStatus.SCHEDULED
        return DropStatus.LIVE
