"""Every route and error code of API.md against the running system."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from .helpers import admin, create_drop, eventually, key, problem, reserve, user

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(shared_stack):
    with httpx.Client(base_url=shared_stack.gateway_url, timeout=15) as c:
        yield c


@pytest.fixture(scope="module")
def boss(client):
    return admin(client)


def test_accounts_signup_login_refresh_logout(client):
    name = f"buyer_{uuid.uuid4().hex[:8]}"
    r = client.post("/api/auth/signup", json={"username": name, "password": "s3cret-pass"})
    assert r.status_code == 201 and r.json()["role"] == "buyer"
    problem(client.post("/api/auth/signup", json={"username": name.upper(),
                                                  "password": "s3cret-pass"}),
            409, "USERNAME_TAKEN")
    problem(client.post("/api/auth/signup", json={"username": "ab", "password": "short"}),
            422, "VALIDATION_ERROR")
    problem(client.post("/api/auth/login", json={"username": name, "password": "wrong-pass"}),
            401, "INVALID_CREDENTIALS")
    problem(client.post("/api/auth/login", json={"username": "nobody_here", "password": "x"}),
            401, "INVALID_CREDENTIALS")

    pair = client.post("/api/auth/login", json={"username": name, "password": "s3cret-pass"})
    assert pair.status_code == 200, pair.text
    tokens = pair.json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] > 0
    me = client.get("/api/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.json()["username"] == name
    # a refresh token is not an access token
    problem(client.get("/api/me", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}),
            401, "INVALID_TOKEN")

    fresh = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert fresh.status_code == 200
    problem(client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}),
            401, "INVALID_TOKEN")  # rotated: spent
    newer = fresh.json()["refresh_token"]
    assert client.post("/api/auth/logout", json={"refresh_token": newer}).status_code == 204
    problem(client.post("/api/auth/refresh", json={"refresh_token": newer}), 401, "INVALID_TOKEN")
    problem(client.post("/api/auth/logout", json={"refresh_token": "garbage"}), 401,
            "INVALID_TOKEN")


def test_drop_management_is_for_admins(client, boss):
    body = {"name": "X", "price_cents": 1, "total_stock": 1}
    problem(client.post("/api/drops", json=body), 401, "UNAUTHORIZED")
    problem(client.post("/api/drops", json=body, headers=user()), 403, "FORBIDDEN")
    problem(client.post("/api/drops", json={**body, "total_stock": -1}, headers=boss), 422,
            "VALIDATION_ERROR")
    problem(client.post("/api/drops", json={**body, "status": "scheduled"}, headers=boss), 422,
            "VALIDATION_ERROR")
    problem(client.post("/api/drops", json={**body, "surprise": 1}, headers=boss), 422,
            "VALIDATION_ERROR")


def test_drop_lifecycle(client, boss):
    drop = create_drop(client, boss, total_stock=3, currency="EUR")
    assert drop["status"] == "live" and drop["available_stock"] == 3
    drop_id = drop["id"]
    uuid.UUID(drop_id)

    one = eventually(lambda: (r := client.get(f"/api/drops/{drop_id}")).status_code == 200 and r)
    assert one.json()["currency"] == "EUR"
    listed = eventually(lambda: drop_id in [d["id"] for d in
                                            client.get("/api/drops?limit=100").json()["items"]])
    assert listed
    problem(client.get(f"/api/drops/{uuid.uuid4()}"), 404, "DROP_NOT_FOUND")
    problem(client.get("/api/drops/not-a-uuid"), 422, "VALIDATION_ERROR")

    patched = client.patch(f"/api/drops/{drop_id}", json={"name": "Renamed"}, headers=boss)
    assert patched.status_code == 200 and patched.json()["name"] == "Renamed"
    assert patched.json()["total_stock"] == 3
    problem(client.patch(f"/api/drops/{drop_id}", json={"total_stock": 9}, headers=boss),
            422, "VALIDATION_ERROR")
    problem(client.patch(f"/api/drops/{uuid.uuid4()}", json={"name": "x"}, headers=boss),
            404, "DROP_NOT_FOUND")

    restocked = client.post(f"/api/drops/{drop_id}/restock", json={"total_stock": 4},
                            headers=boss)
    assert restocked.status_code == 200 and restocked.json()["total_stock"] == 4
    status = eventually(lambda: (s := client.get(f"/api/drops/{drop_id}/status").json())
                        ["total_stock"] == 4 and s)
    assert status == {"total_stock": 4, "available": 4, "held": 0, "sold": 0}
    problem(client.get(f"/api/drops/{uuid.uuid4()}/status"), 404, "DROP_NOT_FOUND")

    buyer = user()
    assert reserve(client, drop_id, buyer).status_code == 201
    problem(client.delete(f"/api/drops/{drop_id}", headers=boss), 409, "DROP_NOT_EMPTY")
    assert client.post(f"/api/drops/{drop_id}/purchase", headers={**buyer, "Idempotency-Key":
                                                                  key()}).status_code == 201
    purchases = eventually(lambda: client.get(f"/api/drops/{drop_id}/purchases").json()["items"])
    assert purchases[0]["username"] == buyer["X-User-Name"]
    assert "user_id" not in purchases[0]

    empty = create_drop(client, boss)
    assert client.delete(f"/api/drops/{empty['id']}", headers=boss).status_code == 204
    problem(client.delete(f"/api/drops/{empty['id']}", headers=boss), 404, "DROP_NOT_FOUND")


def test_reserve_purchase_and_their_errors(client, boss):
    drop_id = create_drop(client, boss, total_stock=2, per_user_limit=1)["id"]
    alice, bob, carol = user(), user(), user()

    held = reserve(client, drop_id, alice)
    assert held.status_code == 201, held.text
    hold = held.json()["reservation"]
    assert hold["status"] == "active" and hold["drop_id"] == drop_id and hold["quantity"] == 1
    problem(reserve(client, drop_id, alice), 409, "ALREADY_RESERVED")
    problem(reserve(client, drop_id, bob, quantity=0), 422, "VALIDATION_ERROR")
    problem(reserve(client, drop_id, bob, quantity=11), 422, "VALIDATION_ERROR")
    problem(reserve(client, str(uuid.uuid4()), bob), 404, "DROP_NOT_FOUND")
    problem(client.post(f"/api/drops/{drop_id}/purchase",
                        headers={**bob, "Idempotency-Key": key()}), 409, "NO_ACTIVE_RESERVATION")

    bought = client.post(f"/api/drops/{drop_id}/purchase", json={"reservation_id": hold["id"]},
                         headers={**alice, "Idempotency-Key": key()})
    assert bought.status_code == 201, bought.text
    sale = bought.json()["purchase"]
    assert sale["status"] == "paid" and sale["reservation_id"] == hold["id"]
    assert sale["amount_cents"] == 12_000 and sale["currency"] == "USD"
    problem(reserve(client, drop_id, alice), 409, "LIMIT_EXCEEDED")

    assert reserve(client, drop_id, bob).status_code == 201
    problem(reserve(client, drop_id, carol), 409, "OUT_OF_STOCK")  # 2 of 2: held + sold

    mine = eventually(lambda: client.get("/api/me/purchases", headers=alice).json()["items"])
    assert mine[0]["id"] == sale["id"]
    holds = eventually(lambda: client.get("/api/me/reservations", headers=bob).json()["items"])
    assert holds[0]["drop_id"] == drop_id
    problem(client.get("/api/me/purchases"), 401, "UNAUTHORIZED")


def test_cancel_returns_the_stock(client, boss):
    drop_id = create_drop(client, boss, total_stock=1)["id"]
    alice, bob = user(), user()
    hold = reserve(client, drop_id, alice).json()["reservation"]
    problem(client.delete(f"/api/reservations/{hold['id']}", headers=bob | {"Idempotency-Key":
                                                                          key()}),
            404, "RESERVATION_NOT_FOUND")
    problem(client.delete(f"/api/reservations/{hold['id']}", headers=alice), 400,
            "IDEMPOTENCY_KEY_MISSING")
    cancelled = client.delete(f"/api/reservations/{hold['id']}",
                              headers={**alice, "Idempotency-Key": key()})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["reservation"]["status"] == "cancelled"
    assert reserve(client, drop_id, bob).status_code == 201  # the stock came back at once


def test_buy_now_and_sold_out(client, boss):
    drop_id = create_drop(client, boss, total_stock=1)["id"]
    first = client.post("/api/order", json={"drop_id": drop_id},
                        headers={**user(), "Idempotency-Key": key()})
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "success"
    problem(client.post("/api/order", json={"drop_id": drop_id},
                        headers={**user(), "Idempotency-Key": key()}), 409, "SOLD_OUT")
    problem(client.post("/api/order", json={"drop_id": "nope"},
                        headers={**user(), "Idempotency-Key": key()}), 422, "VALIDATION_ERROR")


def test_a_drop_not_live_is_refused(client, boss):
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    scheduled = create_drop(client, boss, starts_at=later)
    assert scheduled["status"] == "scheduled"
    problem(reserve(client, scheduled["id"], user()), 409, "DROP_NOT_ACTIVE")
    draft = create_drop(client, boss, status="draft")
    assert draft["status"] == "draft"
    problem(reserve(client, draft["id"], user()), 409, "DROP_NOT_ACTIVE")


def test_a_hold_expires(client, boss):
    drop_id = create_drop(client, boss, total_stock=1, reservation_ttl_seconds=1)["id"]
    alice = user()
    assert reserve(client, drop_id, alice).status_code == 201
    # the drop's owner expires the hold: its stock comes back
    eventually(lambda: client.get(f"/api/drops/{drop_id}/status").json() == {
        "total_stock": 1, "available": 1, "held": 0, "sold": 0})
    r = client.post(f"/api/drops/{drop_id}/purchase", headers={**alice, "Idempotency-Key": key()})
    problem(r, 409, "RESERVATION_EXPIRED")  # it remembers whose hold expired


def test_idempotency_keys(client, boss):
    drop_id = create_drop(client, boss, total_stock=5)["id"]
    alice = user()
    k = key()
    first = reserve(client, drop_id, alice, k)
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    again = reserve(client, drop_id, alice, k)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    # the alias header, and a body equal to the default, are the same request
    alias = client.post(f"/api/drops/{drop_id}/reserve", json={"quantity": 1},
                        headers={**alice, "X-Idempotency-Key": k})
    assert alias.status_code == 201 and alias.headers["idempotent-replayed"] == "true"
    problem(reserve(client, drop_id, alice, k, quantity=2), 422, "IDEMPOTENCY_KEY_REUSED")
    problem(client.post(f"/api/drops/{drop_id}/purchase", headers={**alice, "Idempotency-Key": k}),
            422, "IDEMPOTENCY_KEY_REUSED")
    # keys are per user: another user's same key is another request
    bob = user()
    assert reserve(client, drop_id, bob, k).status_code == 201
    # a refusal is replayed too
    refused = reserve(client, drop_id, alice)
    replay = client.post(f"/api/drops/{drop_id}/reserve",
                         headers={**alice, "Idempotency-Key": refused.request.headers[
                             "idempotency-key"]})
    assert replay.status_code == 409 and replay.headers["idempotent-replayed"] == "true"
    # the outcome of a decided request
    outcome = client.get(f"/api/requests/{k}", headers=alice)
    assert outcome.status_code == 200
    assert outcome.json()["response_status"] == 201
    assert outcome.json()["response"] == first.json()
    problem(client.get(f"/api/requests/{key()}", headers=alice), 404, "REQUEST_NOT_FOUND")
    problem(client.get(f"/api/requests/{k}"), 401, "UNAUTHORIZED")


def test_one_key_sent_many_times_at_once(client, shared_stack, boss):
    """Concurrent requests with one key (claimed in one group-committed batch or in
    concurrent ones): one first answer, every other one its replay (a request that finds
    the key pending sends the same command id again, which the inventory answers with its
    one decision); the sure "no" of a sold-out drop the same way."""
    from concurrent.futures import ThreadPoolExecutor

    def burst(drop_id: str, who: dict[str, str], k: str, n: int = 16) -> list[httpx.Response]:
        with ThreadPoolExecutor(n) as pool, httpx.Client(
            base_url=shared_stack.gateway_url, timeout=15,
            limits=httpx.Limits(max_connections=n)) as c:
            return list(pool.map(lambda _: reserve(c, drop_id, who, k), range(n)))

    drop_id = create_drop(client, boss, total_stock=3)["id"]
    alice, k = user(), key()
    answers = burst(drop_id, alice, k)
    first = [r for r in answers if "idempotent-replayed" not in r.headers]
    assert len(first) == 1 and first[0].status_code == 201, [r.text for r in answers]
    replays = [r for r in answers if r is not first[0]]
    assert all(r.status_code == 201 and r.headers["idempotent-replayed"] == "true"
               and r.json() == first[0].json() for r in replays), [r.text for r in replays]
    assert eventually(lambda: client.get(f"/api/drops/{drop_id}/status").json()["held"] == 1)

    # sold out, and the view knows it: the sure "no", recorded once
    for _ in range(2):
        assert reserve(client, drop_id, user()).status_code == 201
    # (the status is read from the gateway's view: once it says so, the view refuses)
    eventually(lambda: client.get(f"/api/drops/{drop_id}/status").json()["available"] == 0)
    bob, k = user(), key()
    answers = burst(drop_id, bob, k)
    assert [r.json()["code"] for r in answers] == ["OUT_OF_STOCK"] * len(answers)
    assert sum("idempotent-replayed" not in r.headers for r in answers) == 1
    problem(reserve(client, drop_id, bob, k, quantity=2), 422, "IDEMPOTENCY_KEY_REUSED")


def test_limits_on_input(client):
    problem(client.post("/api/auth/login", content=b"{" + b" " * 20_000 + b"}",
                        headers={"Content-Type": "application/json"}), 413, "PAYLOAD_TOO_LARGE")
    problem(client.get("/api/me", headers={**user(), "X-Pad": "p" * 10_000}), 431,
            "HEADERS_TOO_LARGE")


def test_operations_and_docs(client, shared_stack):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    assert "stampede_messages_consumed_total" in client.get("/metrics").text
    assert client.get("/docs").status_code == 200
    assert "/api/order" in client.get("/openapi.json").json()["paths"]
