"""The HTTP edge without I/O (the lifespan is not run): problem documents for what is
refused before any connection is needed — limits, identity, idempotency key, tickets."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from stampede_gateway.main import create_app
from stampede_gateway.settings import GatewaySettings

USER = {"X-User-Id": str(uuid.uuid4())}


def settings(**kw) -> GatewaySettings:
    base = dict(kafka_bootstrap_servers="127.0.0.1:1", database_url="postgresql://x@h/db",
                dev_mode=True, jwt_secret="s" * 32)
    return GatewaySettings(**{**base, **kw})


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(settings()))


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code and body["status"] == status
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    return body


def test_identity_is_required_and_checked(client):
    r = client.get("/api/me")
    problem(r, 401, "UNAUTHORIZED")
    assert r.headers["www-authenticate"] == "Bearer"
    problem(client.get("/api/me", headers={"Authorization": "Bearer nope"}), 401, "INVALID_TOKEN")
    problem(client.get("/api/me", headers={"Authorization": "Basic eA=="}), 401, "UNAUTHORIZED")
    problem(client.get("/api/me", headers={"X-User-Id": "not-a-uuid"}), 401, "UNAUTHORIZED")
    me = client.get("/api/me", headers={**USER, "X-User-Name": "bob"})
    assert me.status_code == 200 and me.json()["username"] == "bob"


def test_dev_headers_are_ignored_outside_dev_mode():
    c = TestClient(create_app(settings(dev_mode=False, admin_password="pw",
                                       orders_service_token="t" * 32)))
    problem(c.get("/api/me", headers=USER), 401, "UNAUTHORIZED")


def test_secrets_are_required_outside_dev_mode():
    with pytest.raises(ValueError, match="JWT_SECRET and ADMIN_PASSWORD and ORDERS_SERVICE_TOKEN"):
        settings(dev_mode=False, jwt_secret=None)


def test_order_path_needs_an_idempotency_key(client):
    url = f"/api/drops/{uuid.uuid4()}/reserve"
    problem(client.post(url, headers=USER), 400, "IDEMPOTENCY_KEY_MISSING")
    problem(client.post(url, headers={**USER, "Idempotency-Key": '""'}), 400,
            "IDEMPOTENCY_KEY_MISSING")
    problem(client.post(url, headers={**USER, "Idempotency-Key": "a/b"}), 422,
            "VALIDATION_ERROR")


def test_bodies_and_headers_are_bounded(client):
    big = {"username": "x" * 20_000, "password": "p"}
    problem(client.post("/api/auth/login", json=big), 413, "PAYLOAD_TOO_LARGE")
    problem(client.get("/api/me", headers={**USER, "X-Junk": "j" * 9000}), 431,
            "HEADERS_TOO_LARGE")


def test_validation_errors_are_problems(client):
    client.app.state.gateway = object()  # never reached: validation refuses first
    body = problem(client.post(f"/api/drops/{uuid.uuid4()}/reserve", json={"quantity": 0},
                               headers={**USER, "Idempotency-Key": "k"}), 422,
                   "VALIDATION_ERROR")
    assert body["errors"]
    problem(client.get("/api/nowhere"), 404, "NOT_FOUND")


def test_rate_limit_answers_429_with_the_draft_headers():
    c = TestClient(create_app(settings(rate_limit_per_s=0.5, rate_limit_burst=2)))
    ok = c.get("/api/me", headers=USER)
    assert ok.headers["ratelimit-policy"] == '"default";q=2;w=4'
    assert ok.headers["ratelimit"].startswith('"default";r=1;')
    c.get("/api/me", headers=USER)
    r = problem(c.get("/api/me", headers=USER), 429, "RATE_LIMITED")
    assert r["detail"]
    refused = c.get("/api/me", headers=USER)
    assert int(refused.headers["retry-after"]) >= 1
    other = c.get("/api/me", headers={"X-User-Id": str(uuid.uuid4())})
    assert other.status_code == 200  # per client


def test_waiting_room_page_and_forged_tickets(client):
    page = client.get("/waiting-room", params={"ticket": "abc"})
    assert page.status_code == 200 and "waiting-room/status" in page.text
    problem(client.get("/waiting-room/status", params={"ticket": "abc.def"}), 403,
            "TICKET_INVALID")


def test_openapi_documents_every_route_and_its_errors(client):
    doc = client.get("/openapi.json").json()
    paths = doc["paths"]
    for path in ("/api/auth/signup", "/api/auth/login", "/api/auth/refresh", "/api/auth/logout",
                 "/api/drops", "/api/drops/{drop_id}", "/api/drops/{drop_id}/status",
                 "/api/drops/{drop_id}/restock", "/api/drops/{drop_id}/purchases",
                 "/api/drops/{drop_id}/reserve", "/api/drops/{drop_id}/purchase",
                 "/api/order", "/api/reservations/{reservation_id}", "/api/me",
                 "/api/me/reservations", "/api/me/purchases", "/api/requests/{idempotency_key}",
                 "/waiting-room", "/waiting-room/status", "/healthz", "/readyz", "/metrics"):
        assert path in paths, path
    reserve = paths["/api/drops/{drop_id}/reserve"]["post"]
    assert {"201", "202", "400", "404", "409", "422", "429", "503"} <= set(reserve["responses"])
    assert "application/problem+json" in reserve["responses"]["409"]["content"]
    names = {p["name"] for p in reserve["parameters"]}
    assert {"Idempotency-Key", "X-Idempotency-Key", "X-Queue-Ticket"} <= names
    assert client.get("/docs").status_code == 200
