"""Overload: per-client rate limits (429) and the waiting room (redirect, admission
first come first served, one pass per ticket, sold-out news, refused tickets)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from .helpers import admin, create_drop, eventually, key, problem, user

pytestmark = pytest.mark.integration

JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def stack(infra, tmp_path_factory):
    from .conftest import start_stack

    s = start_stack(
        infra, tmp_path_factory.mktemp("gateway-overload"),
        RATE_LIMIT_PER_S="1", RATE_LIMIT_BURST="6",
        GATE_MAX_IN_FLIGHT="1", GATE_RATE_PER_S="4", GATE_BURST="1", ADMITTED_WINDOW_S="30",
    )
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def client(stack):
    with httpx.Client(base_url=stack.gateway_url, timeout=15, follow_redirects=False) as c:
        yield c


@pytest.fixture(scope="module")
def boss(client):
    return admin(client)  # once: anonymous requests share the bucket of their IP address


def test_rate_limit_per_client(client):
    alice = user()
    answers = [client.get("/api/me", headers=alice) for _ in range(8)]
    assert answers[0].status_code == 200
    assert answers[0].headers["ratelimit-policy"] == '"default";q=6;w=6'
    assert answers[0].headers["ratelimit"].startswith('"default";r=5;')
    limited = [r for r in answers if r.status_code == 429]
    assert limited, [r.status_code for r in answers]
    body = problem(limited[0], 429, "RATE_LIMITED")
    assert body["status"] == 429
    assert int(limited[0].headers["retry-after"]) >= 1
    assert "ratelimit" in limited[0].headers
    assert client.get("/api/me", headers=user()).status_code == 200  # others are not limited


def ticket_of(r: httpx.Response) -> str:
    return parse_qs(urlsplit(r.headers["location"]).query)["ticket"][0]


def status(client: httpx.Client, ticket: str) -> dict:
    r = client.get("/waiting-room/status", params={"ticket": ticket})
    assert r.status_code == 200, r.text
    return dict(r.json())


def decided(client: httpx.Client, ticket: str) -> dict | None:
    """The status once the ticket is admitted or the drop sold out."""
    s = status(client, ticket)
    return s if s["admitted"] or s["sold_out"] else None


def test_waiting_room_admits_in_order_once_each(client, boss):
    drop_id = create_drop(client, boss, total_stock=3)["id"]
    buyers = [user() for _ in range(6)]

    def rush(who):
        return client.post(f"/api/drops/{drop_id}/reserve",
                           headers={**who, **JSON, "Idempotency-Key": key()})

    with ThreadPoolExecutor(len(buyers)) as pool:
        answers = list(pool.map(rush, buyers))
    through = [b for b, r in zip(buyers, answers, strict=True) if r.status_code == 201]
    queued = [(b, r) for b, r in zip(buyers, answers, strict=True) if r.status_code == 503]
    assert len(through) >= 1 and len(queued) >= 3, [r.status_code for r in answers]
    for _, r in queued:
        body = problem(r, 503, "WAITING_ROOM")
        assert r.headers["location"].startswith("/waiting-room?ticket=")
        assert r.headers["x-queue-ticket"] == body["ticket"] == ticket_of(r)
        assert int(r.headers["retry-after"]) >= 1

    # a browser is redirected to the page, which polls the status by itself
    browser_buyer = user()
    browser = client.post(f"/api/drops/{drop_id}/reserve", headers={
        **browser_buyer, "Accept": "text/html", "Idempotency-Key": key()})
    assert browser.status_code == 302, browser.text
    page = client.get(browser.headers["location"])
    assert page.status_code == 200 and "/waiting-room/status" in page.text

    # positions are 1..n in the order tickets were given
    tickets = sorted(((status(client, ticket_of(r))["position"], b, ticket_of(r))
                      for b, r in queued), key=lambda t: t[0])
    assert [t[0] for t in tickets] == list(range(1, len(tickets) + 1))

    # forged, foreign and early tickets are refused; an early one keeps its place
    head_buyer, head_ticket = tickets[0][1], tickets[0][2]
    problem(client.get("/waiting-room/status", params={"ticket": head_ticket[:-3] + "abc"}),
            403, "TICKET_INVALID")
    problem(client.post("/api/order", json={"drop_id": drop_id}, headers={
        **user(), **JSON, "Idempotency-Key": key(), "X-Queue-Ticket": head_ticket}),
        403, "TICKET_INVALID")

    # admission in order; each admitted ticket passes once; then the drop sells out
    admitted_order = []
    results = []
    for position, who, ticket in tickets:
        st = eventually(lambda t=ticket: decided(client, t), timeout_s=20, every_s=0.05)
        for _, _, later in tickets[len(admitted_order) + 1:]:
            later_status = status(client, later)
            assert not later_status["admitted"] or later_status["sold_out"]
        admitted_order.append(position)
        r = client.post("/api/order", json={"drop_id": drop_id}, headers={
            **who, **JSON, "Idempotency-Key": key(), "X-Queue-Ticket": ticket})
        results.append((st, r))
        if r.status_code == 200:  # a replayed ticket is refused...
            replay = client.post("/api/order", json={"drop_id": drop_id}, headers={
                **who, **JSON, "Idempotency-Key": key(), "X-Queue-Ticket": ticket})
            if replay.status_code == 409:  # ...unless the drop sold out meanwhile: a sure no
                problem(replay, 409, "SOLD_OUT")
                status_now = client.get(f"/api/drops/{drop_id}/status", headers=who).json()
                assert status_now["available"] == 0, status_now
            else:
                problem(replay, 403, "TICKET_INVALID")
    assert admitted_order == sorted(admitted_order)
    codes = [r.status_code for _, r in results]
    assert codes.count(200) == 3 - len(through), codes  # the stock left, no more
    assert all(c in (200, 409) for c in codes), codes
    sold_out = [r for _, r in results if r.status_code == 409]
    for r in sold_out:
        problem(r, 409, "SOLD_OUT")
    assert head_buyer is tickets[0][1]
    # the browser's turn comes after the drop sold out: told at once, its place given up
    assert status(client, ticket_of(browser))["sold_out"]
    problem(client.post("/api/order", json={"drop_id": drop_id}, headers={
        **browser_buyer, **JSON, "Idempotency-Key": key(), "X-Queue-Ticket": ticket_of(browser)}),
        409, "SOLD_OUT")
    problem(client.get("/waiting-room/status", params={"ticket": ticket_of(browser)}),
            403, "TICKET_INVALID")


def test_waiting_buyers_are_told_when_the_drop_sells_out(client, boss):
    drop_id = create_drop(client, boss, total_stock=1)["id"]
    buyers = [user() for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        gated = list(pool.map(lambda who: client.post(
            "/api/order", json={"drop_id": drop_id},
            headers={**who, **JSON, "Idempotency-Key": key()}), buyers))
    waiting = sorted(((b, ticket_of(r)) for b, r in zip(buyers, gated, strict=True)
                      if r.status_code == 503), key=lambda w: status(client, w[1])["position"])
    assert len(waiting) >= 2, [r.status_code for r in gated]
    if not any(r.status_code == 200 for r in gated):  # the stock goes to the head of the queue
        who, ticket = waiting.pop(0)
        eventually(lambda: status(client, ticket)["admitted"], timeout_s=10)
        bought = client.post("/api/order", json={"drop_id": drop_id}, headers={
            **who, **JSON, "Idempotency-Key": key(), "X-Queue-Ticket": ticket})
        assert bought.status_code == 200, bought.text
    for _, ticket in waiting:
        assert eventually(lambda t=ticket: status(client, t)["sold_out"], timeout_s=10)
