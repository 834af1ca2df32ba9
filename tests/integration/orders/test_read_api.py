"""The read side end to end: events on the broker -> orders -> internal HTTP API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.orders.builders import DropStream

pytestmark = pytest.mark.integration


async def test_drops_feed_holds_and_purchases_over_http(orders):
    now = datetime.now(UTC)
    live = DropStream.new(total_stock=10, name="Live", clock=now - timedelta(minutes=5))
    scheduled = DropStream.new(name="Later", starts_at=now + timedelta(hours=1))
    ended = DropStream.new(name="Over", ends_at=now - timedelta(minutes=1))
    draft = DropStream.new(name="Draft", draft=True)
    gone = DropStream.new(name="Gone")
    for stream in (live, scheduled, ended, draft, gone):
        stream.create()
    gone.delete()
    buyers = [live.buy(f"buyer{i}")[0] for i in range(5)]
    held, _ = live.reserve("holder")
    expired, _ = live.reserve("late")
    live.expire(expired)
    cancelled, _ = live.reserve("changed-mind")
    live.cancel(cancelled)
    for stream in (live, scheduled, ended, draft, gone):
        await orders.publish(stream.events)

    orders.start()
    await orders.caught_up()

    page = orders.get("/internal/drops").json()
    assert page["total"] == 2 and page["limit"] == 20 and page["offset"] == 0
    by_name = {d["name"]: d for d in page["items"]}
    assert set(by_name) == {"Live", "Later"}
    assert [d["name"] for d in page["items"]] == ["Live", "Later"]
    drop = by_name["Live"]
    assert (drop["total_stock"], drop["available_stock"], drop["held"], drop["sold"]) == (
        10, 4, 1, 5)
    assert drop["status"] == "live" and by_name["Later"]["status"] == "scheduled"
    assert [p["username"] for p in drop["activity_feed"]["latest_purchasers"]] == [
        "buyer4", "buyer3", "buyer2"]
    assert by_name["Later"]["activity_feed"]["latest_purchasers"] == []

    everything = orders.get("/internal/drops", active="false").json()
    assert {d["name"] for d in everything["items"]} == {"Live", "Later", "Over", "Draft"}
    statuses = {d["name"]: d["status"] for d in everything["items"]}
    assert statuses["Over"] == "ended" and statuses["Draft"] == "draft"

    one = orders.get(f"/internal/drops/{live.drop_id}")
    assert one.status_code == 200 and one.json()["id"] == str(live.drop_id)

    purchases = orders.get(f"/internal/drops/{live.drop_id}/purchases", limit=2,
                           offset=1).json()
    assert purchases["total"] == 5
    assert [p["username"] for p in purchases["items"]] == ["buyer3", "buyer2"]
    assert set(purchases["items"][0]) == {"id", "drop_id", "username", "quantity",
                                          "created_at"}

    buyer = buyers[0]
    mine = orders.get(f"/internal/users/{buyer.user_id}/purchases").json()
    assert mine["total"] == 1
    assert mine["items"][0]["reservation_id"] == str(buyer.reservation_id)
    assert mine["items"][0]["amount_cents"] == 15_000 and mine["items"][0]["status"] == "paid"
    holds = {
        h.username: orders.get(f"/internal/users/{h.user_id}/reservations").json()["items"]
        for h in (buyer, held, expired, cancelled)
    }
    assert {name: [r["status"] for r in rs] for name, rs in holds.items()} == {
        "buyer0": ["purchased"], "holder": ["active"], "late": ["expired"],
        "changed-mind": ["cancelled"],
    }
    nobody = orders.get(f"/internal/users/{uuid.uuid4()}/reservations").json()
    assert nobody == {"items": [], "total": 0, "limit": 20, "offset": 0}

    metrics = orders.get("/metrics").text
    assert "stampede_orders_purchases_recorded_total 5.0" in metrics


async def test_not_found_and_validation_problems(orders):
    stream = DropStream.new()
    stream.create()
    await orders.publish(stream.events)
    orders.start()
    await orders.caught_up()

    for path in (f"/internal/drops/{uuid.uuid4()}", f"/internal/drops/{uuid.uuid4()}/purchases"):
        r = orders.get(path)
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "DROP_NOT_FOUND"

    base = f"/internal/drops/{stream.drop_id}/purchases"
    for params in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "x"}):
        r = orders.get(base, **params)
        assert r.status_code == 422, params
        assert r.json()["code"] == "VALIDATION_ERROR"
    assert orders.get("/internal/drops/not-a-uuid").json()["code"] == "VALIDATION_ERROR"
    assert orders.get(base, limit=100).status_code == 200
    assert orders.get("/internal/drops", limit=1, offset=5).json()["items"] == []

    ready = orders.get("/readyz").json()
    assert ready["checks"] == {"database": True, "consumer": True}


async def test_the_internal_api_answers_only_holders_of_the_service_token(orders):
    stream = DropStream.new(name="Guarded")
    stream.create()
    await orders.publish(stream.events)
    orders.start()
    await orders.caught_up()

    paths = ("/internal/drops", f"/internal/drops/{stream.drop_id}",
             f"/internal/drops/{stream.drop_id}/purchases",
             f"/internal/users/{uuid.uuid4()}/reservations",
             f"/internal/users/{uuid.uuid4()}/purchases")
    refusals = ({}, {"Authorization": "Bearer not-the-token-at-all"},
                {"Authorization": orders.token}, {"Authorization": f"Basic {orders.token}"})
    for path in paths:
        for headers in refusals:
            r = orders.get(path, headers=headers)
            assert r.status_code == 401, (path, headers)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert r.json()["code"] == "UNAUTHORIZED"
            assert orders.token not in r.text
        assert orders.get(path).status_code == 200, path
    assert orders.get(f"/internal/drops/{stream.drop_id}").json()["name"] == "Guarded"
    # probes and metrics stay open (kubelet, Prometheus)
    for path in ("/healthz", "/readyz", "/metrics"):
        assert orders.get(path, headers={}).status_code == 200, path


async def test_a_later_batch_updates_deletes_and_restocks_known_drops(orders):
    """The catalog rows a batch finds already written: a new spec keeps the row's creation
    time and takes the event's stock, a deletion keeps the row (marked), a stock change
    alone moves only the numbers."""
    renamed, gone, selling = (DropStream.new(total_stock=7, name=n)
                              for n in ("Renamed", "Gone", "Selling"))
    for stream in (renamed, gone, selling):
        stream.create()
        await orders.publish(stream.events)
    orders.start()
    await orders.caught_up()
    created = dict(orders.sql("SELECT id, created_at FROM drops"))

    renamed.reserve("first")
    later = renamed.update(name="Renamed again", price_cents=9_900)
    later += gone.delete()
    later += selling.reserve("buyer")[1] + selling.reserve("other")[1]
    await orders.publish(later)
    await orders.caught_up()

    rows = {r[0]: r[1:] for r in orders.sql(
        "SELECT id, name, price_cents, total_stock, available, held, sold, deleted, created_at"
        " FROM drops")}
    assert rows[renamed.drop_id] == ("Renamed again", 9_900, 7, 6, 1, 0, False,
                                     created[renamed.drop_id])
    assert rows[gone.drop_id] == ("Gone", 15_000, 7, 7, 0, 0, True, created[gone.drop_id])
    assert rows[selling.drop_id] == ("Selling", 15_000, 7, 5, 2, 0, False,
                                     created[selling.drop_id])
    assert orders.get(f"/internal/drops/{gone.drop_id}").status_code == 404
