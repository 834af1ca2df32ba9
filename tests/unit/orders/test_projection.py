"""The pure projection: events folded into the read model's changes, duplicates skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from stampede_contracts import HoldStatus
from stampede_orders.domain.projection import Gap, project

from .builders import DropStream


def test_a_drop_created_then_sold_is_one_catalog_change_with_the_last_stock():
    s = DropStream.new(total_stock=3)
    s.create()
    hold, _ = s.buy("ann")
    p = project(s.events, {})
    assert p.applied == 5 and p.duplicates == 0 and not p.gaps
    change = p.drops[s.drop_id]
    assert change.spec == s.spec and change.deleted is False
    assert change.created_at == s.events[0].occurred_at
    assert change.updated_at == s.events[-1].occurred_at
    assert change.stock == s.stock and (s.available, s.held, s.sold) == (2, 0, 1)
    assert p.streams[s.drop_id].seq == 5
    assert p.streams[s.drop_id].event_id == s.events[-1].event_id
    assert p.holds[hold.reservation_id].status is HoldStatus.PURCHASED
    assert p.holds[hold.reservation_id].opened is not None
    purchase = p.purchases[hold.reservation_id]
    assert (purchase.username, purchase.amount_cents, purchase.quantity) == ("ann", 15_000, 1)


def test_events_up_to_the_last_applied_seq_are_duplicates():
    s = DropStream.new()
    s.create()
    s.buy()
    p = project(s.events, {s.drop_id: 3})
    assert (p.applied, p.duplicates) == (2, 3)
    assert list(p.purchases) and not p.holds[next(iter(p.holds))].opened  # hold not re-taken
    again = project(s.events + s.events, {})
    assert (again.applied, again.duplicates) == (5, 5)


def test_everything_already_applied_changes_nothing():
    s = DropStream.new()
    s.create()
    s.buy()
    p = project(s.events, {s.drop_id: s.seq})
    assert p.empty and p.duplicates == len(s.events)
    assert not (p.drops or p.holds or p.purchases)


def test_a_seq_that_skips_ahead_is_applied_and_reported():
    s = DropStream.new()
    s.create()
    s.reserve()
    s.buy()
    p = project([s.events[0], *s.events[3:]], {})
    assert p.gaps == [Gap(s.drop_id, 2, 4)]
    assert p.applied == len(s.events) - 2


def test_hold_fates_and_deletion():
    s = DropStream.new()
    s.create()
    expired, _ = s.reserve()
    s.expire(expired)
    cancelled, _ = s.reserve()
    s.cancel(cancelled)
    active, _ = s.reserve()
    s.delete()
    p = project(s.events, {})
    assert {h.reservation_id: h.status for h in p.holds.values()} == {
        expired.reservation_id: HoldStatus.EXPIRED,
        cancelled.reservation_id: HoldStatus.CANCELLED,
        active.reservation_id: HoldStatus.ACTIVE,
    }
    assert p.drops[s.drop_id].deleted is True
    assert not p.purchases


def test_status_change_of_a_hold_taken_in_an_earlier_batch():
    s = DropStream.new()
    s.create()
    hold, _ = s.reserve()
    first = project(s.events, {})
    s.expire(hold)
    p = project(s.events, {s.drop_id: first.streams[s.drop_id].seq})
    change = p.holds[hold.reservation_id]
    assert change.status is HoldStatus.EXPIRED and change.opened is None
    assert p.drops[s.drop_id].spec is None  # only the stock moves


def test_drops_do_not_share_seqs():
    a, b = DropStream.new(), DropStream.new()
    a.create()
    b.create()
    p = project([a.events[0], b.events[0]], {a.drop_id: 1})
    assert (p.applied, p.duplicates) == (1, 1)
    assert set(p.streams) == {b.drop_id}


@settings(max_examples=60, deadline=None)
@given(buyers=st.integers(0, 12), cut=st.integers(0, 60), data=st.data())
def test_any_redelivery_folds_to_the_same_final_state(buyers, cut, data):
    """Applying a stream in two batches, with any prefix redelivered, gives the same
    final seq, stock and purchases as applying it once."""
    s = DropStream.new(total_stock=20)
    s.create()
    for _ in range(buyers):
        s.buy()
    cut = min(cut, len(s.events))
    replay_from = data.draw(st.integers(0, cut))
    once = project(s.events, {})
    first = project(s.events[:cut], {})
    seq = first.streams[s.drop_id].seq if cut else 0
    second = project(s.events[replay_from:], {s.drop_id: seq})
    assert second.duplicates == cut - replay_from
    assert first.applied + second.applied == once.applied
    assert set(first.purchases) | set(second.purchases) == set(once.purchases)
    assert not set(first.purchases) & set(second.purchases)
    last = second if second.drops else first
    assert last.drops[s.drop_id].stock == once.drops[s.drop_id].stock


def test_catalog_status_comes_from_the_clock():
    from stampede_orders.domain.catalog import drop_read, status_of

    now = datetime(2026, 1, 1, tzinfo=UTC)

    class Row:
        id = DropStream.new().drop_id
        name, price_cents, currency = "x", 1, "USD"
        total_stock, available, held, sold = 10, 7, 1, 2
        starts_at: datetime | None = now + timedelta(minutes=1)
        ends_at: datetime | None = None
        draft = False
        per_user_limit, reservation_ttl_seconds = 1, 60
        created_at = updated_at = now
        admit_per_s: float | None = None
        queue_mode: str | None = None

    row = Row()
    assert status_of(row, now) == "scheduled"
    assert status_of(row, now + timedelta(minutes=1)) == "live"
    row.ends_at = now + timedelta(minutes=2)
    assert status_of(row, now + timedelta(minutes=2)) == "ended"
    row.draft = True
    assert status_of(row, now) == "draft"
    view = drop_read(row, [], now)
    assert view.available_stock == 7 and view.activity_feed.latest_purchasers == []
    assert view.waiting_room is None  # the gateway's defaults
    row.admit_per_s, row.queue_mode = 25.0, "lottery"
    room = drop_read(row, [], now).waiting_room
    assert room is not None and (room.admit_per_s, room.mode) == (25.0, "lottery")
