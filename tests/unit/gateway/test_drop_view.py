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


def test_read_your_writes_tracks_successes_until_their_events_are_applied():
    from uuid import uuid4

    views = DropViews()
    drop, cause, early = uuid4(), uuid4(), uuid4()
    assert not views.behind(drop, 0.0)
    views.expect(drop, cause, now=0.0)
    assert views.behind(drop, 0.1)
    views.apply(drop, 1, StockChanged(stock=StockLevels(total_stock=5, available=4, held=1,
                                                       sold=0)), cause)
    assert not views.behind(drop, 0.1)
    views.apply(drop, 2, StockChanged(stock=StockLevels(total_stock=5, available=3, held=2,
                                                       sold=0)), early)
    views.expect(drop, early, now=0.2)  # its event came before its reply
    assert not views.behind(drop, 0.2)
    views.expect(drop, uuid4(), now=0.3)  # an event that never comes is waited for a while
    assert views.behind(drop, 0.3) and not views.behind(drop, 0.3 + DropViews.EXPECT_S)
