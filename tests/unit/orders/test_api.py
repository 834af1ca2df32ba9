"""The internal API's edge, over a fake read model: problems, validation, 503."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
from fastapi import FastAPI
from stampede_contracts import Page, ReservationRead
from stampede_orders import api
from stampede_runtime.web import build_app

TOKEN = "the-service-token-of-this-test"


class FakeQueries:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def get_drop(self, drop_id: uuid.UUID, **kw: Any) -> None:
        return None

    async def user_reservations(self, user_id: uuid.UUID, **kw: Any) -> Page[ReservationRead]:
        if self.fail:
            raise psycopg.OperationalError("connection refused")
        self.calls.append(("user_reservations", kw))
        return Page[ReservationRead](items=[], total=0, limit=kw["limit"], offset=kw["offset"])


def _app(queries: FakeQueries) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield

    app = build_app(title="orders", lifespan=lifespan, readiness={})
    api.install(app, service_token=TOKEN)
    app.state.queries = queries
    return app


async def _get(queries: FakeQueries, path: str, token: str | None = None,
               **params: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(queries))
    async with httpx.AsyncClient(transport=transport, base_url="http://orders") as client:
        return await client.get(path, params=params,
                                headers={"Authorization": f"Bearer {token or TOKEN}"})


async def test_a_call_without_the_service_token_is_refused():
    queries = FakeQueries()
    r = await _get(queries, f"/internal/users/{uuid.uuid4()}/reservations",
                   token="someone-else")
    assert r.status_code == 401
    assert r.json()["code"] == "UNAUTHORIZED"
    assert r.headers["www-authenticate"] == 'Bearer realm="orders"'
    assert queries.calls == []


async def test_unknown_drop_is_a_drop_not_found_problem():
    r = await _get(FakeQueries(), f"/internal/drops/{uuid.uuid4()}")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "DROP_NOT_FOUND"


async def test_paging_is_validated_and_passed_on():
    queries = FakeQueries()
    path = f"/internal/users/{uuid.uuid4()}/reservations"
    for bad in ({"limit": 0}, {"limit": 101}, {"offset": -1}):
        r = await _get(queries, path, **bad)
        assert (r.status_code, r.json()["code"]) == (422, "VALIDATION_ERROR")
    r = await _get(queries, path, limit=100, offset=7)
    assert r.json() == {"items": [], "total": 0, "limit": 100, "offset": 7}
    r = await _get(queries, path)
    assert queries.calls[-1] == ("user_reservations", {"limit": 20, "offset": 0})


async def test_database_out_of_reach_is_503_with_retry_after():
    r = await _get(FakeQueries(fail=True), f"/internal/users/{uuid.uuid4()}/reservations")
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    assert r.json()["code"] == "SERVICE_UNAVAILABLE"
    assert "connection refused" not in r.text
