"""The problem-document mapper and the settings loader, through a real ASGI app."""

from __future__ import annotations

from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field
from stampede_runtime.errors import RetryPolicy, is_transient
from stampede_runtime.problems import PROBLEM_MEDIA_TYPE, Problem
from stampede_runtime.settings import DatabaseSettings, load_settings
from stampede_runtime.web import build_app


class Body(BaseModel):
    quantity: int = Field(ge=1, le=10)


def _app() -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield

    async def never_ready() -> bool:
        return False

    app = build_app(title="t", lifespan=lifespan, readiness={"db": never_ready})

    @app.post("/thing")
    async def thing(body: Body) -> dict[str, int]:
        if body.quantity == 7:
            raise Problem(409, "OUT_OF_STOCK", "sold out", headers={"Retry-After": "1"})
        if body.quantity == 9:
            raise RuntimeError("SELECT secret FROM internals")
        return {"quantity": body.quantity}

    return app


@pytest.fixture
async def client():
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


async def test_problem_is_rfc9457(client):
    r = await client.post("/thing", json={"quantity": 7})
    assert r.status_code == 409
    assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert r.headers["retry-after"] == "1"
    body = r.json()
    assert body["code"] == "OUT_OF_STOCK" and body["status"] == 409
    assert {"type", "title", "status", "detail", "code"} <= body.keys()


async def test_validation_error_has_stable_code(client):
    r = await client.post("/thing", json={"quantity": 0})
    assert r.status_code == 422
    assert r.json()["code"] == "VALIDATION_ERROR"
    r = await client.post(
        "/thing", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_ERROR"


async def test_unknown_route_and_method(client):
    assert (await client.get("/nope")).json()["code"] == "NOT_FOUND"
    assert (await client.get("/thing")).json()["code"] == "METHOD_NOT_ALLOWED"


async def test_unexpected_error_leaks_nothing(client):
    r = await client.post("/thing", json={"quantity": 9})
    assert r.status_code == 500
    assert r.json()["code"] == "INTERNAL_ERROR"
    assert "SELECT" not in r.text and "RuntimeError" not in r.text


async def test_ops_endpoints(client):
    assert (await client.get("/healthz")).status_code == 200
    r = await client.get("/readyz")
    assert r.status_code == 503 and r.json()["checks"] == {"db": False}
    import stampede_runtime.metrics  # noqa: F401  (registers the shared metrics)

    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert "stampede_dead_letters_total" in metrics.text


def test_settings_fail_fast_naming_the_variable(monkeypatch, capsys):
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    with pytest.raises(SystemExit) as exit_info:
        load_settings(DatabaseSettings)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "KAFKA_BOOTSTRAP_SERVERS is required" in err
    assert "DATABASE_URL is invalid" in err


def test_settings_load(monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("TOPIC_NAMESPACE", "ns")
    s = load_settings(DatabaseSettings)
    assert s.topics.commands.name == "ns.inventory.commands"


def test_error_policy():
    assert is_transient(ConnectionRefusedError())
    assert not is_transient(ValueError())
    policy = RetryPolicy(first_backoff_s=0.1, max_backoff_s=1.0)
    assert [policy.backoff(a) for a in (1, 2, 3, 10)] == [0.1, 0.2, 0.4, 1.0]
