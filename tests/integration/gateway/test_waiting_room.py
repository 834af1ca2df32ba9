"""Per-drop waiting rooms across two gateway processes on two ports (A and B), as a load
balancer with no affinity would send a buyer to either: tickets issued by one are
followed and used at the other, admitted in order, once each; the sold-out exit; a
lottery drawn at the start; a client's rate limit holds across both."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from stampede_devstack.stack import Stack

from .helpers import admin, create_drop, eventually, key, problem, user

pytestmark = pytest.mark.integration
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def two(infra, tmp_path_factory) -> Iterator[tuple[Stack, httpx.Client, httpx.Client]]:
    from .conftest import start_stack

    stack = start_stack(infra, tmp_path_factory.mktemp("gateway-rooms"),
                        ADMITTED_WINDOW_S="60", WAITING_ROOM_TICK_MS="50")
    b = stack.add_gateway()
    with httpx.Client(base_url=stack.gateway_url, timeout=15) as ca, \
            httpx.Client(base_url=b.url, timeout=15) as cb:
        yield stack, ca, cb
    stack.stop()


def room_drop(a: httpx.Client, b: httpx.Client, boss: dict[str, str], rate: float,
              **fields) -> str:
    """A drop with its own waiting room, once both processes know its settings."""
    drop_id = create_drop(a, boss, waiting_room={"admit_per_s": rate, **fields.pop(
        "room", {})}, **fields)["id"]
    for c in (a, b):  # (404 until the catalog has it, the default rate until the view has)
        eventually(lambda c=c: (r := c.get(f"/api/drops/{drop_id}/waiting-room",
                                           headers=boss)).status_code == 200
                   and r.json()["admit_per_s"] == rate)
    return str(drop_id)


def ticket_of(r: httpx.Response) -> str:
    body = problem(r, 503, "WAITING_ROOM")
    assert r.headers["x-queue-ticket"] == body["ticket"]
    assert parse_qs(urlsplit(r.headers["location"]).query)["ticket"] == [body["ticket"]]
    return str(body["ticket"])


def status(c: httpx.Client, ticket: str) -> dict:
    r = c.get("/waiting-room/status", params={"ticket": ticket})
    assert r.status_code == 200, r.text
    return dict(r.json())


def reserve(c: httpx.Client, drop_id: str, who: dict[str, str], k: str | None = None,
            ticket: str | None = None) -> httpx.Response:
    headers = {**who, **JSON, "Idempotency-Key": k or key()}
    if ticket:
        headers["X-Queue-Ticket"] = ticket
    return c.post(f"/api/drops/{drop_id}/reserve", json={"quantity": 1}, headers=headers)


def test_a_ticket_from_one_process_is_followed_and_used_at_the_other_in_order_once(two):
    _, a, b = two
    boss = admin(a)
    drop_id = room_drop(a, b, boss, rate=0.1, total_stock=10)
    # nobody waits: each process lets its share of direct admissions through (1 token)
    assert reserve(a, drop_id, user()).status_code == 201
    assert reserve(b, drop_id, user()).status_code == 201
    # then buyers queue, whichever process they reach: numbers in order of arrival
    buyers = [user() for _ in range(6)]
    tickets = [ticket_of(reserve((a, b)[i % 2], drop_id, who)) for i, who in enumerate(buyers)]
    for i, ticket in enumerate(tickets):  # followed at the process that did not issue it
        s = status((b, a)[i % 2], ticket)
        assert (s["drop_id"], s["position"], s["admitted"], s["sold_out"]) == (
            drop_id, i + 1, False, False)
    early = reserve(a, drop_id, buyers[5], ticket=tickets[5])  # not its turn: same place
    assert ticket_of(early) == tickets[5] and early.json()["position"] == 6
    problem(reserve(b, drop_id, user(), ticket=tickets[0]), 403, "TICKET_INVALID")  # not yours

    # the admin speeds the room up: every ticket is admitted, in the order of the queue
    r = a.patch(f"/api/drops/{drop_id}", json={"waiting_room": {"admit_per_s": 4}},
                headers=boss)
    assert r.status_code == 200 and r.json()["waiting_room"]["admit_per_s"] == 4
    admitted_at: dict[int, float] = {}
    deadline = time.monotonic() + 30
    while len(admitted_at) < len(tickets) and time.monotonic() < deadline:
        for i, ticket in enumerate(tickets):
            if i not in admitted_at and status((a, b)[i % 2], ticket)["admitted"]:
                admitted_at[i] = time.monotonic()
        time.sleep(0.02)
    order = sorted(admitted_at, key=lambda i: admitted_at[i])
    assert order == list(range(len(tickets))), admitted_at

    # an admitted ticket passes once, at any process; its request's retry is a replay
    for i, (who, ticket) in enumerate(zip(buyers, tickets, strict=True)):
        k = key()
        held = reserve((b, a)[i % 2], drop_id, who, k, ticket)
        assert held.status_code == 201, held.text
        again = reserve((a, b)[i % 2], drop_id, who, k, ticket)
        assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
        problem(reserve((a, b)[i % 2], drop_id, who, ticket=ticket), 403, "TICKET_INVALID")
        problem(b.get("/waiting-room/status", params={"ticket": ticket}), 403,
                "TICKET_INVALID")
    figures = b.get(f"/api/drops/{drop_id}/waiting-room", headers=boss).json()
    assert figures == {"waiting": 0, "serving": 6, "issued": 6, "admit_per_s": 4.0,
                       "mode": "fifo"}


def test_waiting_buyers_are_told_at_once_when_the_drop_sells_out(two):
    _, a, b = two
    boss = admin(a)
    drop_id = room_drop(a, b, boss, rate=0.5, total_stock=3)
    first, second = user(), user()
    assert reserve(a, drop_id, first).status_code == 201
    assert reserve(b, drop_id, second).status_code == 201
    queued = [(who, ticket_of(reserve((a, b)[i % 2], drop_id, who)))
              for i, who in enumerate([user() for _ in range(3)])]
    for who in (first, second):  # the two holds become sales: one pair left
        bought = a.post(f"/api/drops/{drop_id}/purchase", headers={**who, "Idempotency-Key":
                                                                  key()})
        assert bought.status_code == 201, bought.text
    head, head_ticket = queued[0]
    eventually(lambda: status(b, head_ticket)["admitted"], timeout_s=20, every_s=0.05)
    assert reserve(a, drop_id, head, ticket=head_ticket).status_code == 201
    assert all(not status(a, t)["sold_out"] for _, t in queued[1:])  # a hold may come back
    bought = b.post(f"/api/drops/{drop_id}/purchase", headers={**head, "Idempotency-Key": key()})
    assert bought.status_code == 201
    sold = time.monotonic()
    for _, ticket in queued[1:]:  # nothing available, nothing held: every place says so
        eventually(lambda t=ticket: status(a, t)["sold_out"] and status(b, t)["sold_out"],
                   timeout_s=2, every_s=0.02)
    assert time.monotonic() - sold < 2
    late, late_ticket = queued[2]
    problem(reserve(b, drop_id, late, ticket=late_ticket), 409, "OUT_OF_STOCK")


def test_a_lottery_draws_the_early_places_at_the_start_and_queues_later_ones_after(two):
    _, a, b = two
    boss = admin(a)
    starts = datetime.now(UTC) + timedelta(seconds=5)
    # so slow a room that its counter does not move while we look: places = positions
    drop_id = room_drop(a, b, boss, rate=0.01, total_stock=50, starts_at=starts.isoformat(),
                        room={"mode": "lottery"})
    early = [ticket_of(reserve((a, b)[i % 2], drop_id, user())) for i in range(8)]
    assert [status(a, t)["position"] for t in early] == [None] * 8  # not drawn yet
    eventually(lambda: datetime.now(UTC) > starts, timeout_s=10)
    places = eventually(lambda: all(status(b, t)["position"] is not None for t in early)
                        and [status(b, t)["position"] for t in early], timeout_s=10)
    assert sorted(places) == list(range(1, 9)), places  # a permutation of the early ones
    assert [status(a, t)["position"] for t in early] == places  # the same draw everywhere
    late = ticket_of(reserve(a, drop_id, user()))
    assert status(b, late)["position"] == 9  # after the start: behind everyone drawn


def test_a_clients_rate_limit_holds_across_both_processes(infra, tmp_path):
    from .conftest import start_stack

    stack = start_stack(infra, tmp_path / "rl", RATE_LIMIT_PER_S="0.01", RATE_LIMIT_BURST="6")
    try:
        b = stack.add_gateway()
        with httpx.Client(base_url=stack.gateway_url, timeout=15) as a, \
                httpx.Client(base_url=b.url, timeout=15) as cb:
            for c in (a, cb):  # each process enforces half once it counts the other
                eventually(lambda c=c: c.get("/api/me", headers=user()).headers[
                    "ratelimit-policy"] == '"default";q=3;w=600', timeout_s=15)
            alice = user()
            answers = [(a, cb)[i % 2].get("/api/me", headers=alice).status_code
                       for i in range(12)]
        assert answers.count(200) == 6, answers  # the limit, not twice it
        assert answers.count(429) == 6
    finally:
        stack.stop()
