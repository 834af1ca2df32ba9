"""The read side in PostgreSQL: the pages the gateway asks for (``read_models`` shapes).

Lists are newest first with the id as tie-breaker, so pages are stable. The
activity feed of a page of drops is one query: the latest purchases of each drop
through a ``LATERAL`` join on the (drop_id, created_at) index.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import ColumnElement, and_, func, or_, true
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from stampede_contracts import (
    DropRead,
    HoldStatus,
    Page,
    PublicPurchase,
    Purchaser,
    PurchaseRead,
    ReservationRead,
)

from ..domain.catalog import FEED_SIZE, drop_read
from .database import transient_errors_unwrapped
from .tables import DropRow, HoldRow, PurchaseRow

T = TypeVar("T")


def active_at(now: datetime) -> ColumnElement[bool]:
    """Scheduled or live: not a draft, not ended (``DropSpec.status_at`` in SQL)."""
    return and_(
        col(DropRow.draft).is_(False),
        or_(col(DropRow.ends_at).is_(None), col(DropRow.ends_at) > now),
    )


class ReadModelQueries:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def _session(self) -> AsyncSession:
        return AsyncSession(self._engine, expire_on_commit=False)

    async def list_drops(
        self, *, active: bool, limit: int, offset: int, now: datetime
    ) -> Page[DropRead]:
        where: list[ColumnElement[bool]] = [col(DropRow.deleted).is_(False)]
        if active:
            where.append(active_at(now))
        order = (func.coalesce(col(DropRow.starts_at), col(DropRow.created_at)), col(DropRow.id))
        async with transient_errors_unwrapped(), self._session() as session:
            total = (await session.exec(
                select(func.count()).select_from(DropRow).where(*where)
            )).one()
            rows = (await session.exec(
                select(DropRow).where(*where).order_by(*order).limit(limit).offset(offset)
            )).all()
            feeds = await self._feeds(session, [r.id for r in rows])
        items = [drop_read(r, feeds.get(r.id, []), now) for r in rows]
        return Page[DropRead](items=items, total=int(total), limit=limit, offset=offset)

    async def get_drop(self, drop_id: UUID, *, now: datetime) -> DropRead | None:
        async with transient_errors_unwrapped(), self._session() as session:
            row = await self._drop(session, drop_id)
            if row is None:
                return None
            feeds = await self._feeds(session, [drop_id])
        return drop_read(row, feeds.get(drop_id, []), now)

    async def drop_purchases(
        self, drop_id: UUID, *, limit: int, offset: int
    ) -> Page[PublicPurchase] | None:
        """None when the drop is unknown (or deleted)."""
        where = col(PurchaseRow.drop_id) == drop_id
        async with transient_errors_unwrapped(), self._session() as session:
            if await self._drop(session, drop_id) is None:
                return None
            total, rows = await self._page(session, PurchaseRow, where, limit, offset)
        items = [
            PublicPurchase(id=r.id, drop_id=r.drop_id, username=r.username,
                           quantity=r.quantity, created_at=r.created_at)
            for r in rows
        ]
        return Page[PublicPurchase](items=items, total=total, limit=limit, offset=offset)

    async def user_reservations(
        self, user_id: UUID, *, limit: int, offset: int
    ) -> Page[ReservationRead]:
        async with transient_errors_unwrapped(), self._session() as session:
            total, rows = await self._page(
                session, HoldRow, col(HoldRow.user_id) == user_id, limit, offset
            )
        items = [
            ReservationRead(id=r.id, drop_id=r.drop_id, quantity=r.quantity,
                            status=HoldStatus(r.status), expires_at=r.expires_at,
                            created_at=r.created_at)
            for r in rows
        ]
        return Page[ReservationRead](items=items, total=total, limit=limit, offset=offset)

    async def user_purchases(
        self, user_id: UUID, *, limit: int, offset: int
    ) -> Page[PurchaseRead]:
        async with transient_errors_unwrapped(), self._session() as session:
            total, rows = await self._page(
                session, PurchaseRow, col(PurchaseRow.user_id) == user_id, limit, offset
            )
        items = [
            PurchaseRead(id=r.id, drop_id=r.drop_id, reservation_id=r.reservation_id,
                         quantity=r.quantity, amount_cents=r.amount_cents,
                         currency=r.currency, created_at=r.created_at)
            for r in rows
        ]
        return Page[PurchaseRead](items=items, total=total, limit=limit, offset=offset)

    @staticmethod
    async def _drop(session: AsyncSession, drop_id: UUID) -> DropRow | None:
        row = await session.get(DropRow, drop_id)
        return None if row is None or row.deleted else row

    @staticmethod
    async def _page(
        session: AsyncSession, table: type[HoldRow] | type[PurchaseRow],
        where: ColumnElement[bool], limit: int, offset: int,
    ) -> tuple[int, Sequence[Any]]:
        total = (await session.exec(select(func.count()).select_from(table).where(where))).one()
        rows = (await session.exec(
            select(table).where(where)
            .order_by(col(table.created_at).desc(), col(table.id).desc())
            .limit(limit).offset(offset)
        )).all()
        return int(total), rows

    @staticmethod
    async def _feeds(session: AsyncSession, drop_ids: list[UUID]) -> dict[UUID, list[Purchaser]]:
        if not drop_ids:
            return {}
        latest = (
            select(col(PurchaseRow.username), col(PurchaseRow.quantity),
                   col(PurchaseRow.created_at))
            .where(col(PurchaseRow.drop_id) == col(DropRow.id))
            .order_by(col(PurchaseRow.created_at).desc(), col(PurchaseRow.id).desc())
            .limit(FEED_SIZE)
            .lateral()
        )
        rows = await session.exec(
            select(col(DropRow.id), latest.c.username, latest.c.quantity, latest.c.created_at)
            .select_from(DropRow).join(latest, true())
            .where(col(DropRow.id).in_(drop_ids))
            .order_by(col(DropRow.id), latest.c.created_at.desc())
        )
        feeds: dict[UUID, list[Purchaser]] = defaultdict(list)
        for drop_id, username, quantity, purchased_at in rows:
            feeds[drop_id].append(
                Purchaser(username=username, quantity=quantity, purchased_at=purchased_at)
            )
        return feeds
