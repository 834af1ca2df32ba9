"""The gateway's view of drops: the fast "no", when a drop's room may queue or advance,
and read-your-writes by seq."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from stampede_contracts import DropSpec, RejectionCode, StockLevels
from stampede_gateway.domain.drop_view import Admission, DropViews

NOW = datetime(2026, 1, 1, tzinfo=UTC)
DROP = uuid.uuid4()


def stock(available: int, held: int = 0, sold: int = 0) -> StockLevels:
    return StockLevels(total_stock=available + held + sold, available=available, held=held,
                       sold=sold)


def spec(**kw) -> DropSpec:
    return DropSpec(drop_id=DROP, name="x", price_cents=1, total_stock=2, **kw)


def test_unknown_drops_are_asked_about():
    assert DropViews().refuse_at_once(DROP, 1, NOW) is Admission.ASK


def test_sold_out_and_not_live_are_refused_at_once():
    views = DropViews()
    views.put(DROP, 1, spec(), stock(2))
    assert views.refuse_at_once(DROP, 1, NOW) is Admission.ASK
    assert views.refuse_at_once(DROP, 3, NOW) is RejectionCode.OUT_OF_STOCK
    views.stock(DROP, 2, stock(0, held=1, sold=1))
    assert views.refuse_at_once(DROP, 1, NOW) is RejectionCode.OUT_OF_STOCK
    assert not views.sold_out(DROP)  # a hold may still come back
    views.stock(DROP, 3, stock(0, sold=2))
    assert views.sold_out(DROP)
    ended = DropViews()
    ended.put(DROP, 1, spec(ends_at=NOW - timedelta(seconds=1)), stock(2))
    assert ended.refuse_at_once(DROP, 1, NOW) is RejectionCode.DROP_NOT_ACTIVE


def test_a_drop_that_starts_soon_may_only_be_queued_for():
    views = DropViews(opens_before_start=timedelta(minutes=10))
    views.put(DROP, 1, spec(starts_at=NOW + timedelta(minutes=5)), stock(2))
    assert views.refuse_at_once(DROP, 1, NOW) is Admission.QUEUE
    assert not views.advancing(DROP, NOW)
    assert views.advancing(DROP, NOW + timedelta(minutes=5))
    later = DropViews(opens_before_start=timedelta(minutes=10))
    later.put(DROP, 1, spec(starts_at=NOW + timedelta(hours=1)), stock(2))
    assert later.refuse_at_once(DROP, 1, NOW) is RejectionCode.DROP_NOT_ACTIVE


def test_old_and_repeated_events_are_ignored_and_deletion_forgets():
    views = DropViews()
    views.put(DROP, 1, spec(), stock(2))
    views.stock(DROP, 3, stock(0, sold=2))
    views.stock(DROP, 2, stock(1, sold=1))  # older: ignored
    known = views.get(DROP)
    assert known is not None and known.stock.available == 0 and known.seq == 3
    views.delete(DROP, 2)  # older than what the view has: ignored
    assert views.get(DROP) is not None
    views.delete(DROP, 4)
    assert views.get(DROP) is None


def test_a_decision_not_yet_in_the_view_stops_the_fast_no():
    views = DropViews()
    views.put(DROP, 1, spec(), stock(2))
    views.stock(DROP, 2, stock(0, held=2))
    views.invalidate(DROP, 4)  # e.g. a cancel confirmed by its reply: its effects at seq 4
    assert views.refuse_at_once(DROP, 1, NOW) is Admission.ASK
    views.stock(DROP, 3, stock(0, held=2))
    assert views.refuse_at_once(DROP, 1, NOW) is Admission.ASK
    views.stock(DROP, 4, stock(1, held=1))
    assert views.refuse_at_once(DROP, 1, NOW) is Admission.ASK
    views.stock(DROP, 5, stock(0, held=2))
    assert views.refuse_at_once(DROP, 1, NOW) is RejectionCode.OUT_OF_STOCK
    views.invalidate(DROP, 5)  # already seen: changes nothing
    assert views.refuse_at_once(DROP, 1, NOW) is RejectionCode.OUT_OF_STOCK


def test_read_your_writes_waits_for_the_seq_a_reply_named():
    views = DropViews()
    views.put(DROP, 1, spec(), stock(2))
    assert not views.behind(DROP, 0.0)
    views.note(DROP, 3, now=0.0)  # a success whose effects are at seq 3
    assert views.behind(DROP, 0.1)
    views.stock(DROP, 2, stock(1, held=1))
    assert views.behind(DROP, 0.1)
    views.stock(DROP, 3, stock(0, held=2))
    assert not views.behind(DROP, 0.1)
    views.note(DROP, 3, now=0.2)  # already seen: nothing to wait for
    assert not views.behind(DROP, 0.2)
    views.note(DROP, 9, now=0.3)  # never comes: waited for a while, then forgotten
    assert views.behind(DROP, 0.3) and not views.behind(DROP, 0.3 + DropViews.EXPECT_S)
