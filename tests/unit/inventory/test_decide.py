"""Every command of the inventory, one rule at a time (pure: no broker, no database)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from stampede_contracts import (
    BuyNow,
    CancelHold,
    ConfirmPurchase,
    CreateDrop,
    DeleteDrop,
    DropView,
    ExpireHolds,
    HoldStatus,
    PurchaseView,
    RejectionCode,
    ReservationView,
    ReserveStock,
    RestockDrop,
    StockChanged,
    UpdateDrop,
    event_id_for,
    purchase_id_for,
    reservation_id_for,
)

from .builders import ALICE, BOB, DROP, T0, created, later, run, spec, types


def reserve(user=ALICE, quantity=1):
    return ReserveStock(drop_id=DROP, user_id=user, username="u", quantity=quantity)


def confirm(user=ALICE, reservation_id=None):
    return ConfirmPurchase(drop_id=DROP, user_id=user, username="u",
                           reservation_id=reservation_id)


def levels(state):
    return (state.total_stock, state.available, state.held, state.sold)


# -- drops -------------------------------------------------------------------------------

def test_create_drop_emits_created_and_stock_and_answers_the_view():
    d = run(None, CreateDrop(drop=spec()))
    assert d.verdict.ok and isinstance(d.verdict.result, DropView)
    assert types(d) == ["DropCreated", "StockChanged"]
    assert [n.seq for n in d.events] == [1, 2]
    assert levels(d.state) == (5, 5, 0, 0)


def test_create_existing_drop_is_rejected():
    d = run(created(), CreateDrop(drop=spec()))
    assert d.verdict.code is RejectionCode.DROP_EXISTS and not d.events


def test_commands_on_unknown_drop_are_not_found():
    for cmd in (reserve(), confirm(), BuyNow(drop_id=DROP, user_id=ALICE, username="u"),
                CancelHold(drop_id=DROP, user_id=ALICE, reservation_id=uuid.uuid4()),
                RestockDrop(drop_id=DROP, total_stock=3), DeleteDrop(drop_id=DROP),
                UpdateDrop(drop=spec()), ExpireHolds(drop_id=DROP, as_of=T0)):
        d = run(None, cmd)
        assert d.verdict.code is RejectionCode.DROP_NOT_FOUND and d.state is None


def test_update_keeps_the_stock_and_replaces_the_rest():
    d = run(created(), UpdateDrop(drop=spec(name="Renamed", total_stock=999, price_cents=1)))
    assert d.verdict.ok and types(d) == ["DropUpdated"]
    assert d.state.spec.name == "Renamed" and d.state.total_stock == 5
    assert d.state.spec.price_cents == 1


def test_restock_changes_total_but_not_below_held_plus_sold():
    state = created()
    state = run(state, reserve(ALICE)).state
    state = run(state, BuyNow(drop_id=DROP, user_id=BOB, username="b")).state
    bad = run(state, RestockDrop(drop_id=DROP, total_stock=1))
    assert bad.verdict.code is RejectionCode.INVALID_STOCK and not bad.events
    good = run(state, RestockDrop(drop_id=DROP, total_stock=2))
    assert good.verdict.ok and types(good) == ["DropUpdated", "StockChanged"]
    assert levels(good.state) == (2, 0, 1, 1)


def test_delete_only_when_empty_and_seq_survives_recreation():
    state = created()
    held = run(state.copy(), reserve())
    assert run(held.state, DeleteDrop(drop_id=DROP)).verdict.code is RejectionCode.DROP_NOT_EMPTY
    d = run(state, DeleteDrop(drop_id=DROP))
    assert d.verdict.ok and types(d) == ["DropDeleted"]
    assert run(d.state, reserve()).verdict.code is RejectionCode.DROP_NOT_FOUND
    again = run(d.state, CreateDrop(drop=spec()))
    assert again.verdict.ok and again.events[0].seq == 4  # ids are never reused


# -- reserve -----------------------------------------------------------------------------

def test_reserve_places_a_hold_with_ttl_and_derived_id():
    cid = uuid.uuid4()
    d = run(created(), reserve(quantity=1), cid=cid)
    view = d.verdict.result
    assert isinstance(view, ReservationView)
    assert view.id == reservation_id_for(cid) and view.status is HoldStatus.ACTIVE
    assert view.expires_at == T0 + timedelta(seconds=60)
    assert types(d) == ["StockReserved", "StockChanged"]
    assert levels(d.state) == (5, 4, 1, 0)


def test_one_active_hold_per_user():
    state = run(created(per_user_limit=3), reserve()).state
    d = run(state, reserve())
    assert d.verdict.code is RejectionCode.ALREADY_RESERVED
    assert types(d) == ["ReservationRejected"] and levels(d.state) == (5, 4, 1, 0)


def test_limit_counts_holds_and_purchases():
    state = created(per_user_limit=2)
    state = run(state, reserve(quantity=1)).state
    state = run(state, confirm()).state
    assert run(state.copy(), reserve(quantity=2)).verdict.code is RejectionCode.LIMIT_EXCEEDED
    assert run(state, reserve(quantity=1)).verdict.ok


def test_out_of_stock():
    state = created(total_stock=1)
    state = run(state, reserve(ALICE)).state
    d = run(state, reserve(BOB))
    assert d.verdict.code is RejectionCode.OUT_OF_STOCK


def test_quantity_larger_than_available_is_out_of_stock():
    d = run(created(total_stock=2, per_user_limit=5), reserve(quantity=3))
    assert d.verdict.code is RejectionCode.OUT_OF_STOCK


def test_not_active_before_start_after_end_and_draft():
    for changes in ({"starts_at": later(10)}, {"ends_at": later(-1)}, {"draft": True}):
        d = run(created(**changes), reserve())
        assert d.verdict.code is RejectionCode.DROP_NOT_ACTIVE, changes
    assert run(created(starts_at=later(10)), reserve(), now=later(10)).verdict.ok


# -- cancel ------------------------------------------------------------------------------

def test_cancel_own_hold_returns_stock():
    cid = uuid.uuid4()
    state = run(created(), reserve(), cid=cid).state
    rid = reservation_id_for(cid)
    other = run(state, CancelHold(drop_id=DROP, user_id=BOB, reservation_id=rid))
    assert other.verdict.code is RejectionCode.RESERVATION_NOT_FOUND
    d = run(state, CancelHold(drop_id=DROP, user_id=ALICE, reservation_id=rid))
    assert d.verdict.ok and d.verdict.result.status is HoldStatus.CANCELLED
    assert types(d) == ["HoldCancelled", "StockChanged"] and levels(d.state) == (5, 5, 0, 0)
    assert run(d.state, reserve()).verdict.ok  # the limit counts it no more


# -- purchase ----------------------------------------------------------------------------

def test_purchase_consumes_the_hold_once():
    cid = uuid.uuid4()
    state = run(created(price_cents=250, per_user_limit=2), reserve(quantity=2), cid=cid).state
    d = run(state, confirm(), now=later(5))
    view = d.verdict.result
    assert isinstance(view, PurchaseView)
    assert view.id == purchase_id_for(reservation_id_for(cid)) and view.amount_cents == 500
    assert types(d) == ["PurchaseConfirmed", "StockChanged"]
    assert levels(d.state) == (5, 3, 0, 2)
    again = run(d.state, confirm())
    assert again.verdict.code is RejectionCode.NO_ACTIVE_RESERVATION
    assert levels(again.state) == (5, 3, 0, 2)


def test_purchase_without_hold_or_with_someone_elses():
    cid = uuid.uuid4()
    state = run(created(), reserve(ALICE), cid=cid).state
    assert run(state, confirm(BOB)).verdict.code is RejectionCode.NO_ACTIVE_RESERVATION
    d = run(state, confirm(BOB, reservation_id_for(cid)))
    assert d.verdict.code is RejectionCode.NO_ACTIVE_RESERVATION


def test_purchase_after_ttl_is_expired_before_and_after_expiry_command():
    state = run(created(reservation_ttl_seconds=1), reserve()).state
    d = run(state, confirm(), now=later(1))
    assert d.verdict.code is RejectionCode.RESERVATION_EXPIRED and not d.events
    state = run(state, ExpireHolds(drop_id=DROP, as_of=later(1))).state
    assert run(state, confirm(), now=later(2)).verdict.code is RejectionCode.RESERVATION_EXPIRED


def test_buy_now_reserves_and_purchases_in_one_decision():
    d = run(created(price_cents=100), BuyNow(drop_id=DROP, user_id=ALICE, username="a"))
    assert d.verdict.ok and isinstance(d.verdict.result, PurchaseView)
    assert types(d) == ["StockReserved", "PurchaseConfirmed", "StockChanged"]
    assert levels(d.state) == (5, 4, 0, 1)
    again = run(d.state, BuyNow(drop_id=DROP, user_id=ALICE, username="a"))
    assert again.verdict.code is RejectionCode.LIMIT_EXCEEDED


def test_buy_now_sold_out():
    state = run(created(total_stock=1), BuyNow(drop_id=DROP, user_id=ALICE, username="a")).state
    d = run(state, BuyNow(drop_id=DROP, user_id=BOB, username="b"))
    assert d.verdict.code is RejectionCode.OUT_OF_STOCK


# -- expiry ------------------------------------------------------------------------------

def test_expire_uses_as_of_not_the_clock():
    state = run(created(reservation_ttl_seconds=10), reserve(ALICE)).state
    state = run(state, reserve(BOB), now=later(5)).state
    early = run(state, ExpireHolds(drop_id=DROP, as_of=later(9.9)), now=later(100))
    assert not early.events and levels(early.state) == (5, 3, 2, 0)
    d = run(state, ExpireHolds(drop_id=DROP, as_of=later(10)), now=later(100))
    assert types(d) == ["HoldExpired", "StockChanged"] and levels(d.state) == (5, 4, 1, 0)
    assert state.next_expiry() == later(15)
    d = run(d.state, ExpireHolds(drop_id=DROP, as_of=later(15)))
    assert levels(d.state) == (5, 5, 0, 0) and d.state.next_expiry() is None
    assert run(d.state, reserve(ALICE), now=later(16)).verdict.ok


def test_stock_changed_follows_every_stock_change_with_rising_seq():
    state = created()
    seqs = [2]
    for cmd in (reserve(ALICE), confirm(ALICE), reserve(BOB),
                ExpireHolds(drop_id=DROP, as_of=later(61))):
        d = run(state, cmd, now=later(1))
        state = d.state
        assert isinstance(d.events[-1].event, StockChanged)
        assert d.events[-1].event.stock == state.stock()
        seqs += [n.seq for n in d.events]
    assert seqs == list(range(2, 2 + len(seqs)))


def test_envelopes_carry_deterministic_ids():
    cid = uuid.uuid4()
    d = run(None, CreateDrop(drop=spec()), cid=cid)
    envelopes = d.envelopes()
    assert [e.event_id for e in envelopes] == [event_id_for(DROP, 1), event_id_for(DROP, 2)]
    assert all(e.causation_id == cid and e.occurred_at == T0 for e in envelopes)
    assert run(None, reserve()).envelopes() == []
