"""Read-your-writes of one drop (``DropsService.read``): the catalog trails the decision,
the gateway's view does not; a drop nobody knows is still a 404."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from stampede_contracts import ActivityFeed, DropRead, DropSpec, DropStatus, StockLevels
from stampede_gateway.domain.drop_view import DropViews
from stampede_gateway.drops_service import DropsService
from stampede_gateway.errors import DropNotFound

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


class Catalog:
    """orders' read API, as far as ``read`` uses it."""

    def __init__(self) -> None:
        self.drops: dict[uuid.UUID, DropRead] = {}

    async def drop(self, drop_id: uuid.UUID) -> DropRead:
        if drop_id not in self.drops:
            raise DropNotFound()
        return self.drops[drop_id]


def spec(drop_id: uuid.UUID, name: str = "Air Max") -> DropSpec:
    return DropSpec(drop_id=drop_id, name=name, price_cents=100, total_stock=3)


def service(catalog: Catalog, views: DropViews) -> DropsService:
    return DropsService(inventory=None, orders=catalog, views=views,  # type: ignore[arg-type]
                        timeout_s=1)


async def test_a_drop_the_catalog_does_not_have_yet_is_read_from_the_view() -> None:
    views, catalog = DropViews(), Catalog()
    drop_id = uuid.uuid4()
    views.put(drop_id, 1, spec(drop_id), StockLevels(total_stock=3, available=3, held=0, sold=0))
    read = await service(catalog, views).read(drop_id)
    assert (read.id, read.name, read.available_stock, read.status) == (
        drop_id, "Air Max", 3, DropStatus.LIVE)
    assert read.activity_feed == ActivityFeed(latest_purchasers=[])


async def test_a_drop_created_elsewhere_is_waited_for_a_moment() -> None:
    views, catalog = DropViews(), Catalog()
    drop_id = uuid.uuid4()

    async def arrives() -> None:
        await asyncio.sleep(0.05)  # the other process's event reaches this view
        views.put(drop_id, 1, spec(drop_id),
                  StockLevels(total_stock=3, available=3, held=0, sold=0))

    task = asyncio.create_task(arrives())
    read = await service(catalog, views).read(drop_id)
    await task
    assert read.id == drop_id


async def test_a_change_is_read_back_before_the_catalog_has_it() -> None:
    views, catalog = DropViews(), Catalog()
    drop_id = uuid.uuid4()
    stock = StockLevels(total_stock=3, available=2, held=0, sold=1)
    feed = ActivityFeed.model_validate({"latest_purchasers": [
        {"username": "ana", "quantity": 1, "purchased_at": T0}]})
    catalog.drops[drop_id] = DropRead(
        id=drop_id, name="Old name", price_cents=100, currency="USD", total_stock=3,
        available_stock=2, held=0, sold=1, status=DropStatus.LIVE, starts_at=None,
        ends_at=None, per_user_limit=1, reservation_ttl_seconds=60, activity_feed=feed,
        created_at=T0, updated_at=T0)
    views.put(drop_id, 5, spec(drop_id, "New name"), stock)
    read = await service(catalog, views).read(drop_id)
    assert read.name == "New name"  # the admin's change, decided
    assert read.activity_feed == feed and read.created_at == T0  # what only the catalog has


async def test_a_drop_nobody_knows_is_not_found() -> None:
    with pytest.raises(DropNotFound):
        await service(Catalog(), DropViews()).read(uuid.uuid4())
