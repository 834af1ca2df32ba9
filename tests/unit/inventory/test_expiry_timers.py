"""The expiry timers: which drops get an ExpireHolds, when, and the resend guard."""

from __future__ import annotations

import uuid
from datetime import timedelta

from stampede_contracts import ExpireHolds, ReserveStock, Topics
from stampede_inventory.expiry import RESEND_AFTER, ExpiryTimers, expire_command

from .builders import ALICE, BOB, DROP, created, later, run


def timers_over(states):
    return ExpiryTimers(producer=None, topic=Topics.for_namespace().commands,  # type: ignore[arg-type]
                        lookup=states.get)


def with_holds():
    state = run(created(reservation_ttl_seconds=10), ReserveStock(
        drop_id=DROP, user_id=ALICE, username="a")).state
    return run(state, ReserveStock(drop_id=DROP, user_id=BOB, username="b"),
               now=later(5)).state


def test_fires_at_the_earliest_hold_then_guards_then_follows_the_next():
    states = {DROP: with_holds()}
    timers = timers_over(states)
    timers.arm(states[DROP])
    assert timers.due(later(9.9)) == []
    assert timers.due(later(10)) == [DROP]
    assert timers.due(later(11)) == []  # sent: nothing until the guard
    # the ExpireHolds was applied: only Bob's hold is left, due at 15
    states[DROP] = run(states[DROP], ExpireHolds(drop_id=DROP, as_of=later(10))).state
    timers.arm(states[DROP])
    assert timers.due(later(10) + RESEND_AFTER) == []  # guard finds nothing due, re-arms
    assert timers.due(later(15)) == [DROP]


def test_lost_command_is_sent_again_by_the_guard():
    states = {DROP: with_holds()}
    timers = timers_over(states)
    timers.arm(states[DROP])
    assert timers.due(later(10)) == [DROP]
    assert timers.due(later(10) + RESEND_AFTER) == [DROP]


def test_drop_no_longer_owned_or_without_holds_is_skipped():
    states = {DROP: with_holds()}
    timers = timers_over(states)
    timers.arm(states[DROP])
    del states[DROP]  # revoked
    assert timers.due(later(100)) == []
    timers.arm(created())  # no holds: nothing armed
    assert timers.due(later(200)) == []


def test_expire_command_is_deterministic_and_keyed_by_the_drop():
    a, b = expire_command(DROP, later(3)), expire_command(DROP, later(3))
    assert a.command_id == b.command_id and a.drop_id == DROP
    assert a.command.as_of == later(3) and a.reply_to is None
    assert expire_command(uuid.uuid4(), later(3)).command_id != a.command_id
    assert expire_command(DROP, later(3) + timedelta(milliseconds=1)).command_id != a.command_id
