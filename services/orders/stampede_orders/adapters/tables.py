"""The tables of schema ``orders`` (SQLModel). Their shape changes only by migration
(``adapters/migrations``); these classes must match the latest revision.

- ``drops``: the catalog, with the stock numbers of the last ``StockChanged``;
  a deleted drop is kept (``deleted``) so a late duplicate cannot bring it back.
- ``holds``: reservations as the buyer sees them (active/expired/cancelled/purchased).
- ``purchases``: one row per confirmed purchase, ``reservation_id`` unique.
- ``event_streams``: per drop, the last applied ``seq`` (the dedupe record).
- ``consumer_positions``: per partition of the events topic, the next offset to read,
  written in the same transaction as the rows the events produced.

Tables are unqualified: connections pin ``search_path`` to the service's schema.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import BigInteger, DateTime, Index, String
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

TZ = DateTime(timezone=True)


class OrdersTable(SQLModel, registry=registry()):
    """Base of the orders tables: a metadata of their own, shared with no service."""


class DropRow(OrdersTable, table=True):
    __tablename__ = "drops"

    id: UUID = Field(primary_key=True)
    name: str = Field(sa_type=String(200))
    price_cents: int = Field(sa_type=BigInteger)
    currency: str = Field(sa_type=String(8))
    total_stock: int
    available: int
    held: int
    sold: int
    starts_at: datetime | None = Field(default=None, sa_type=TZ)
    ends_at: datetime | None = Field(default=None, sa_type=TZ)
    draft: bool = False
    per_user_limit: int
    reservation_ttl_seconds: int
    deleted: bool = False
    created_at: datetime = Field(sa_type=TZ)
    updated_at: datetime = Field(sa_type=TZ)
    admit_per_s: float | None = None  # the waiting room (None: the gateway's defaults)
    queue_mode: str | None = Field(default=None, sa_type=String(8))


class HoldRow(OrdersTable, table=True):
    __tablename__ = "holds"
    __table_args__ = (Index("ix_holds_user_created", "user_id", "created_at"),)

    id: UUID = Field(primary_key=True)
    drop_id: UUID = Field(index=True)
    user_id: UUID
    quantity: int
    status: str = Field(sa_type=String(16))
    expires_at: datetime = Field(sa_type=TZ)
    created_at: datetime = Field(sa_type=TZ)
    updated_at: datetime = Field(sa_type=TZ)


class PurchaseRow(OrdersTable, table=True):
    __tablename__ = "purchases"
    __table_args__ = (
        Index("ix_purchases_drop_created", "drop_id", "created_at"),
        Index("ix_purchases_user_created", "user_id", "created_at"),
    )

    id: UUID = Field(primary_key=True)
    reservation_id: UUID = Field(unique=True)
    drop_id: UUID
    user_id: UUID
    username: str = Field(sa_type=String(64))
    quantity: int
    amount_cents: int = Field(sa_type=BigInteger)
    currency: str = Field(sa_type=String(8))
    created_at: datetime = Field(sa_type=TZ)


class EventStreamRow(OrdersTable, table=True):
    __tablename__ = "event_streams"

    drop_id: UUID = Field(primary_key=True)
    last_seq: int = Field(sa_type=BigInteger)
    last_event_id: UUID | None = None


class ConsumerPositionRow(OrdersTable, table=True):
    __tablename__ = "consumer_positions"

    topic: str = Field(primary_key=True, sa_type=String(255))
    partition: int = Field(primary_key=True)
    next_offset: int = Field(sa_type=BigInteger)
