"""Properties of the core over random command sequences (hypothesis).

For any sequence: ``available + held + sold == total_stock`` with all four >= 0; a
purchase only ever consumes an active hold of its buyer; no user ever holds or buys
more than the drop's limit; and, through the partition writer, a command id
delivered again has no second effect.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stampede_contracts import (
    BuyNow,
    CancelHold,
    CommandEnvelope,
    ConfirmPurchase,
    CreateDrop,
    DeleteDrop,
    ExpireHolds,
    ReserveStock,
    RestockDrop,
    UpdateDrop,
    reservation_id_for,
)
from stampede_inventory.writer import PartitionWriter

from .builders import DROP, T0, spec

USERS = [uuid.UUID(int=i + 1) for i in range(5)]
CIDS = [uuid.UUID(int=1000 + i) for i in range(40)]  # a small pool, so ids repeat
LIMIT = 3

users = st.sampled_from(USERS)
qty = st.integers(1, 3)
holds = st.sampled_from([reservation_id_for(c) for c in CIDS])


def _commands(t: timedelta):
    at = T0 + t
    return st.one_of(
        st.builds(ReserveStock, drop_id=st.just(DROP), user_id=users, username=st.just("u"),
                  quantity=qty),
        st.builds(ConfirmPurchase, drop_id=st.just(DROP), user_id=users, username=st.just("u"),
                  reservation_id=st.none() | holds),
        st.builds(BuyNow, drop_id=st.just(DROP), user_id=users, username=st.just("u"),
                  quantity=qty),
        st.builds(CancelHold, drop_id=st.just(DROP), user_id=users, reservation_id=holds),
        st.builds(ExpireHolds, drop_id=st.just(DROP), as_of=st.just(at)),
        st.builds(RestockDrop, drop_id=st.just(DROP), total_stock=st.integers(0, 12)),
        st.just(UpdateDrop(drop=spec(name="renamed", per_user_limit=LIMIT,
                                     reservation_ttl_seconds=3))),
        st.just(DeleteDrop(drop_id=DROP)),
        st.just(CreateDrop(drop=spec(per_user_limit=LIMIT, reservation_ttl_seconds=3))),
    )


steps = st.lists(
    st.tuples(st.integers(0, 2000).map(lambda ms: timedelta(milliseconds=ms)),
              st.sampled_from(CIDS)).flatmap(
        lambda tc: st.tuples(st.just(tc[0]), st.just(tc[1]), _commands(tc[0]))),
    min_size=1, max_size=60,
)


def _envelope(cid, command, at):
    return CommandEnvelope(command_id=cid, drop_id=DROP, occurred_at=at, reply_to="gw",
                           command=command)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps, batch_size=st.integers(1, 7), failed=st.sets(st.integers(0, 30)))
def test_invariants_hold_over_any_sequence(steps, batch_size, failed):
    """... and a batch whose transaction fails (those numbered in ``failed``) is undone
    whole: the state is what it was, and deciding it again gives what it would have."""
    writer = PartitionWriter(0)
    first = CreateDrop(drop=spec(total_stock=6, per_user_limit=LIMIT, reservation_ttl_seconds=3))
    processed = {}
    clock = T0
    active = {}          # reservation id -> (user, quantity): what the events say is held
    bought = {u: 0 for u in USERS}
    effects = {}         # command id -> events it caused (must be caused once)
    envelopes = [_envelope(uuid.UUID(int=9), first, T0)]
    envelopes += [_envelope(cid, cmd, T0 + t) for t, cid, cmd in steps]
    for i in range(0, len(envelopes), batch_size):
        chunk = envelopes[i:i + batch_size]
        clock = max(clock, *(e.occurred_at for e in chunk))
        if i // batch_size in failed:
            before = {d: state.copy() for d, state in writer.drops.items()}
            writer.rollback(writer.decide_batch(chunk, clock, processed))
            assert writer.drops == before
        batch = writer.decide_batch(chunk, clock, processed)
        writer.commit(batch)
        for a in batch.applied:
            processed[a.envelope.command_id] = a.reply
            assert a.envelope.command_id not in effects, "a command id decided twice"
            effects[a.envelope.command_id] = a.decision.events
            _follow(a.decision.events, active, bought)
        for reply in batch.duplicates:
            assert reply == processed[reply.command_id]
        _check(writer, active, bought)


def _follow(events, active, bought):
    for n in events:
        e = n.event
        if e.type == "StockReserved":
            active[e.reservation_id] = (e.user_id, e.quantity)
        elif e.type == "PurchaseConfirmed":
            # a purchase consumes an active hold of the same buyer, of the same size
            assert active.pop(e.reservation_id) == (e.user_id, e.quantity)
            bought[e.user_id] += e.quantity
        elif e.type in ("HoldExpired", "HoldCancelled"):
            assert active.pop(e.reservation_id) == (e.user_id, e.quantity)
        elif e.type == "DropCreated":
            bought.update({u: 0 for u in USERS})


def _check(writer, active, bought):
    state = writer.drops[DROP]
    assert state.violations() == 0
    assert state.available + state.held + state.sold == state.total_stock
    assert min(state.available, state.held, state.sold, state.total_stock) >= 0
    if state.deleted:
        return
    assert {rid: (h.user_id, h.quantity) for rid, h in state.holds.items()} == active
    assert state.held == sum(q for _, q in active.values())
    for user in USERS:
        held = sum(q for u, q in active.values() if u == user)
        assert state.counts.get(user, 0) == held + bought[user]
        assert held + bought[user] <= LIMIT
    assert state.sold == sum(bought.values())


@settings(max_examples=100, deadline=None)
@given(steps=steps)
def test_replaying_a_whole_sequence_changes_nothing(steps):
    writer = PartitionWriter(0)
    envelopes = [_envelope(uuid.UUID(int=9), CreateDrop(drop=spec()), T0)]
    envelopes += [_envelope(cid, cmd, T0 + t) for t, cid, cmd in steps]
    processed = {}
    batch = writer.decide_batch(envelopes, T0 + timedelta(seconds=1), processed)
    writer.commit(batch)
    processed.update({a.envelope.command_id: a.reply for a in batch.applied})
    before = writer.drops[DROP].copy()
    again = writer.decide_batch(envelopes, T0 + timedelta(seconds=99), processed)
    writer.commit(again)
    assert not again.applied and len(again.duplicates) == len(envelopes)
    assert writer.drops[DROP] == before
