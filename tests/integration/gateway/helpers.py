"""Small helpers for driving the gateway as a client does."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


def user() -> dict[str, str]:
    """A development-mode identity (DEV_MODE is on in the test stack)."""
    uid = uuid.uuid4()
    return {"X-User-Id": str(uid), "X-User-Name": f"u{uid.hex[:10]}"}


def key() -> str:
    return str(uuid.uuid4())


def login(client: httpx.Client, username: str, password: str) -> dict[str, str]:
    r = client.post("/api/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def admin(client: httpx.Client) -> dict[str, str]:
    return login(client, "admin", "admin")


def create_drop(
    client: httpx.Client, admin_headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = {"name": "Air Test", "price_cents": 12_000, "total_stock": 5, **fields}
    r = client.post("/api/drops", json=body, headers=admin_headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, f"{r.status_code} {r.text}"
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = dict(r.json())
    assert body["code"] == code, body
    return body


def eventually(probe: Callable[[], T | None], timeout_s: float = 15, every_s: float = 0.1) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout_s}s: {probe}")
        time.sleep(every_s)


def reserve(client: httpx.Client, drop_id: str, who: dict[str, str], k: str | None = None,
            **body: Any) -> httpx.Response:
    return client.post(f"/api/drops/{drop_id}/reserve", json=body or None,
                       headers={**who, "Idempotency-Key": k or key()})
