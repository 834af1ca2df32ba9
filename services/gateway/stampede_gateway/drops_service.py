"""Drop management (admin): commands to the drop's single writer, answered by its reply;
and reading one drop so that the admin who just created or changed it reads it back.

Read-your-writes of one drop: the catalog (orders' read model) trails the decision by
the time orders takes to project its events, while every gateway process's own view of
the drops (``DropViews``, fed by the same events, in memory) has them within a fetch.
So ``read`` takes the drop's spec and stock from the view when it knows the drop (the
catalog adds what only it has: the activity feed, when it was created), and when the
catalog does not know the drop yet, answers from the view alone. The process that
answered the write first waits (bounded) until its view has it; another process waits
for its view a moment before saying ``404``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

from stampede_contracts import (
    ActivityFeed,
    Command,
    CommandEnvelope,
    CreateDrop,
    DeleteDrop,
    DropRead,
    DropSpec,
    DropStatus,
    DropView,
    RejectionCode,
    Reply,
    RestockDrop,
    StockLevels,
    UpdateDrop,
    encode,
    utcnow,
)

from .adapters.inventory import InventoryClient
from .adapters.orders_client import OrdersClient
from .domain.drop_view import DropViews, KnownDrop
from .errors import DropNotFound, InventoryTimeout, Rejected, UpstreamUnavailable

CATCH_UP_S = 0.5  # the longest a read waits for this process's own write to reach its view
UNKNOWN_WAIT_S = 0.25  # the longest a read of a drop nobody knows yet waits for the view


def drop_read(view: DropView, now: datetime, base: DropRead | None = None, *,
              updated_at: datetime | None = None) -> DropRead:
    spec, stock = view.drop, view.stock
    return DropRead(
        id=spec.drop_id, name=spec.name, price_cents=spec.price_cents, currency=spec.currency,
        total_stock=stock.total_stock, available_stock=stock.available, held=stock.held,
        sold=stock.sold, status=spec.status_at(now), starts_at=spec.starts_at,
        ends_at=spec.ends_at, per_user_limit=spec.per_user_limit,
        reservation_ttl_seconds=spec.reservation_ttl_seconds,
        activity_feed=base.activity_feed if base else ActivityFeed(latest_purchasers=[]),
        created_at=base.created_at if base else now, updated_at=updated_at or now,
        waiting_room=spec.waiting_room,
    )


class DropsService:
    def __init__(self, inventory: InventoryClient, orders: OrdersClient, views: DropViews,
                 timeout_s: float) -> None:
        self._inventory = inventory
        self._orders = orders
        self._views = views
        self._timeout = timeout_s

    async def _command(self, drop_id: UUID, command: Command) -> Reply:
        envelope = CommandEnvelope(command_id=uuid.uuid4(), drop_id=drop_id,
                                   occurred_at=utcnow(), reply_to=self._inventory.instance_id,
                                   command=command)
        raw = await self._inventory.ask(envelope.command_id, drop_id, encode(envelope),
                                        self._timeout)
        if raw is None:
            raise InventoryTimeout(
                f"The inventory did not answer in time; the command for drop {drop_id} "
                "may still be applied: check it before retrying."
            )
        reply = Reply.model_validate(raw)
        if not reply.ok:
            raise Rejected(reply.code or RejectionCode.VALIDATION_ERROR, reply.detail)
        if reply.seq is not None:  # until its events reach the view: no sure "no", and
            self._views.invalidate(drop_id, reply.seq)  # a read of it waits for them
            self._views.note(drop_id, reply.seq, time.monotonic())
        return reply

    async def create(self, fields: dict[str, Any]) -> DropRead:
        spec = DropSpec(drop_id=uuid.uuid4(), **fields)
        reply = await self._command(spec.drop_id, CreateDrop(drop=spec))
        return drop_read(_drop_view(reply), utcnow())

    async def current_spec(self, drop_id: UUID) -> DropSpec:
        known = self._views.get(drop_id)
        if known is not None:
            return known.spec
        read = await self._orders.drop(drop_id)
        return DropSpec(
            drop_id=read.id, name=read.name, price_cents=read.price_cents,
            currency=read.currency, total_stock=read.total_stock, starts_at=read.starts_at,
            ends_at=read.ends_at, draft=read.status is DropStatus.DRAFT,
            per_user_limit=read.per_user_limit,
            reservation_ttl_seconds=read.reservation_ttl_seconds, waiting_room=read.waiting_room,
        )

    async def update(self, drop_id: UUID, spec: DropSpec) -> DropRead:
        reply = await self._command(drop_id, UpdateDrop(drop=spec))
        return drop_read(_drop_view(reply), utcnow(), await self._base(drop_id))

    async def restock(self, drop_id: UUID, total_stock: int) -> DropRead:
        reply = await self._command(drop_id, RestockDrop(drop_id=drop_id, total_stock=total_stock))
        return drop_read(_drop_view(reply), utcnow(), await self._base(drop_id))

    async def delete(self, drop_id: UUID) -> None:
        await self._command(drop_id, DeleteDrop(drop_id=drop_id))

    async def _caught_up(self, drop_id: UUID) -> None:
        """Read-your-writes: a success this gateway just answered is in the view within
        moments (its events are on their way); wait for them, bounded."""
        for _ in range(int(CATCH_UP_S / 0.005)):
            if not self._views.behind(drop_id, time.monotonic()):
                return
            await asyncio.sleep(0.005)

    async def read(self, drop_id: UUID) -> DropRead:
        """One drop as the admin who just wrote it reads it back (see the module doc)."""
        await self._caught_up(drop_id)
        try:
            base = await self._orders.drop(drop_id)
        except DropNotFound:
            known = await self._known_soon(drop_id)
            if known is None:
                raise
            return drop_read(DropView(drop=known.spec, stock=known.stock), utcnow())
        known = self._views.get(drop_id)
        if known is None:
            return base
        view = DropView(drop=known.spec, stock=known.stock)
        fresh = drop_read(view, utcnow(), base, updated_at=base.updated_at)
        return fresh if fresh == base else drop_read(view, utcnow(), base)

    async def _known_soon(self, drop_id: UUID) -> KnownDrop | None:
        """The view's drop, waiting a moment for it: a drop another process has just
        created reaches this process's view within a fetch."""
        for _ in range(int(UNKNOWN_WAIT_S / 0.01)):
            if (known := self._views.get(drop_id)) is not None:
                return known
            await asyncio.sleep(0.01)
        return self._views.get(drop_id)

    async def stock(self, drop_id: UUID) -> StockLevels:
        await self._caught_up(drop_id)
        known = self._views.get(drop_id)
        if known is not None:
            return known.stock
        read = await self._orders.drop(drop_id)  # the view may lag just after a create
        return StockLevels(total_stock=read.total_stock, available=read.available_stock,
                           held=read.held, sold=read.sold)

    async def _base(self, drop_id: UUID) -> DropRead | None:
        try:
            return await self._orders.drop(drop_id)
        except (DropNotFound, UpstreamUnavailable):
            return None


def _drop_view(reply: Reply) -> DropView:
    if not isinstance(reply.result, DropView):
        raise UpstreamUnavailable("The inventory gave an unexpected answer.")
    return reply.result
