"""The waiting room's gate and queue: first come, first served, each ticket once."""

from __future__ import annotations

from stampede_gateway.domain.waiting_room import Pass, WaitingRoom


def room(**kw) -> WaitingRoom:
    defaults = dict(rate=1.0, burst=1, max_in_flight=1, admitted_window_s=30, ticket_ttl_s=600)
    return WaitingRoom(**{**defaults, **kw})


def test_the_gate_lets_through_up_to_its_capacity():
    r = room(max_in_flight=2, burst=10, rate=100)
    assert r.try_enter(0.0) and r.try_enter(0.0)
    assert not r.try_enter(0.0)
    r.leave(0.0)
    assert r.try_enter(0.0)


def test_the_gate_meters_admissions_by_rate():
    r = room(max_in_flight=100, burst=1, rate=1)
    assert r.try_enter(0.0)
    r.leave(0.0)
    assert not r.try_enter(0.5)
    assert r.try_enter(1.0)


def test_queued_tickets_are_admitted_in_order_as_capacity_frees():
    r = room()
    assert r.try_enter(0.0)
    assert r.enqueue("t1", "d", 0, 0.0) == 1
    assert r.enqueue("t2", "d", 0, 0.0) == 2
    assert not r.try_enter(5.0)  # nobody jumps the queue
    assert r.status("t2", 0.1).position == 2
    r.leave(2.0)  # capacity frees: t1 is admitted (its place kept)
    s1, s2 = r.status("t1", 2.0), r.status("t2", 2.0)
    assert s1.admitted and s1.position == 0
    assert not s2.admitted and s2.position == 1
    assert r.use("t2", 2.0) is Pass.WAITING
    assert r.use("t1", 2.0) is Pass.PASS
    assert r.use("t1", 2.1) is Pass.REFUSED  # passes once
    r.leave(3.0)
    assert r.status("t2", 3.0).admitted


def test_an_admission_not_used_in_time_frees_its_place():
    r = room(admitted_window_s=5)
    r.enqueue("t1", "d", 0, 0.0)
    r.admit_ready(1.0)
    assert r.status("t1", 1.0).admitted
    assert r.status("t1", 7.0) is None
    assert r.use("t1", 7.0) is Pass.REFUSED
    assert r.try_enter(7.0)


def test_unknown_and_abandoned_tickets():
    r = room(abandon_after_s=10)
    assert r.use("nope", 0.0) is Pass.REFUSED
    assert r.status("nope", 0.0) is None
    r.try_enter(0.0)
    r.enqueue("t1", "d", 0, 0.0)
    r.enqueue("t2", "d", 0, 0.0)
    r.status("t2", 15.0)  # t2 still polls, t1 went away
    r.leave(20.0)
    assert r.status("t1", 20.0) is None
    assert r.status("t2", 20.0).admitted


def test_eta_and_retry_after_follow_the_rate():
    r = room(rate=2.0)
    r.try_enter(0.0)
    for i in range(10):
        r.enqueue(f"t{i}", "d", 0, 0.0)
    s = r.status("t9", 0.0)
    assert s.position == 10 and s.eta_s == 5 and s.retry_after_s == 5


def test_a_withdrawn_ticket_gives_its_place_up():
    r = room()
    r.try_enter(0.0)
    r.enqueue("t1", "d", 0, 0.0)
    r.enqueue("t2", "d", 0, 0.0)
    r.withdraw("t1", 0.1)
    assert r.status("t1", 0.1) is None and r.use("t1", 0.1) is Pass.REFUSED
    r.leave(1.0)
    assert r.status("t2", 1.0).admitted
    r.withdraw("t2", 1.0)  # admitted, then answered at once: its slot frees
    assert r.try_enter(2.0)
