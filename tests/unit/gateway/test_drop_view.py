"""The gateway's view of drops: the fast "no" and nothing more."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from stampede_contracts import (
    DropCreated,
    DropDeleted,
    DropSpec,
    RejectionCode,
    StockChanged,
    StockLevels,
)
from stampede_gateway.domain.drop_view import DropViews

NOW = datetime(2026, 1, 1, tzinfo=UTC)
DROP = uuid.uuid4()


def stock(available: int, held: int = 0, sold: int = 0) -> StockLevels:
    return StockLevels(total_stock=available + held + sold, available=available, held=held,
                       sold=sold)


def created(**kw) -> DropCreated:
    spec = DropSpec(drop_id=DROP, name="x", price_cents=1, total_stock=2, **kw)
    return DropCreated(drop=spec, stock=stock(2))


def test_unknown_drops_are_asked_about():
    assert DropViews().refuse_at_once(DROP, 1, NOW) is None


def test_sold_out_and_not_live_are_refused_at_once():
    views = DropViews()
    views.apply(DROP, 1, created())
    assert views.refuse_at_once(DROP, 1, NOW) is None
    assert views.refuse_at_once(DROP, 3, NOW) is RejectionCode.OUT_OF_STOCK
    views.apply(DROP, 2, StockChanged(stock=stock(0, held=1, sold=1)))
    assert views.refuse_at_once(DROP, 1, NOW) is RejectionCode.OUT_OF_STOCK
    assert views.sold_out(DROP)
    later = DropViews()
    later.apply(DROP, 1, created(starts_at=NOW + timedelta(hours=1)))
    assert later.refuse_at_once(DROP, 1, NOW) is RejectionCode.DROP_NOT_ACTIVE


def test_old_and_repeated_events_are_ignored_and_deletion_forgets():
    views = DropViews()
    views.apply(DROP, 1, created())
    views.apply(DROP, 3, StockChanged(stock=stock(0, sold=2)))
    views.apply(DROP, 2, StockChanged(stock=stock(1, sold=1)))  # older: ignored
    assert views.get(DROP).stock.available == 0
    views.apply(DROP, 4, DropDeleted(drop_id=DROP))
    assert views.get(DROP) is None


def test_a_decision_not_yet_in_the_view_stops_the_fast_no():
    views = DropViews()
    views.apply(DROP, 1, created())
    views.apply(DROP, 2, StockChanged(stock=stock(0, held=2)))
    views.invalidate(DROP)  # e.g. a cancel was confirmed by its reply
    assert views.refuse_at_once(DROP, 1, NOW) is None
    views.apply(DROP, 3, StockChanged(stock=stock(1, held=1)))
    assert views.refuse_at_once(DROP, 1, NOW) is None
    views.apply(DROP, 4, StockChanged(stock=stock(0, held=2)))
    assert views.refuse_at_once(DROP, 1, NOW) is RejectionCode.OUT_OF_STOCK
