"""The storefront's HTTP side, without a browser or a running system: what the gateway
adds to the pages (the waiting room's 302, the config module, headers), CORS in front of
the front door, and a human message in the pages for every error code the API has."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from fastapi.testclient import TestClient
from stampede_contracts import RejectionCode
from stampede_gateway import errors
from stampede_gateway.domain.serving import RoomState
from stampede_gateway.main import create_app
from stampede_gateway.settings import GatewaySettings

STATIC = Path(errors.__file__).parent / "static"


def gateway(**settings: Any) -> Any:
    return create_app(GatewaySettings(
        kafka_bootstrap_servers="127.0.0.1:1", database_url="postgresql://x@h/db",
        dev_mode=True, jwt_secret="s" * 32, notifier_public_url="ws://127.0.0.1:9/ws",
        **settings))


def test_a_drop_page_goes_to_the_waiting_room_while_its_room_queues() -> None:
    front = gateway()
    client = TestClient(front)
    drop, other = uuid.uuid4(), uuid.uuid4()
    now = time.time()
    queueing = RoomState(drop, issued=5, serving=1, serving_at=now, rate=0.01, advancing=True)
    front.state.gateway = SimpleNamespace(rooms=SimpleNamespace(rooms={drop: queueing}))

    def page(drop_id: uuid.UUID, **params: str) -> Any:
        return client.get(f"/drops/{drop_id}", params=params, follow_redirects=False)

    sent = page(drop)
    assert sent.status_code == 302, sent.text
    assert sent.headers["location"] == f"/waiting-room?drop={drop}"
    assert sent.headers["cache-control"] == "no-store"
    # back from the waiting room: a genuine ticket of this drop lets the page through
    signer = front.state.edge.signer
    ticket = signer.issue("user:someone", drop, 5, now)
    assert page(drop, ticket=ticket).status_code == 200
    assert page(drop, ticket=signer.issue("user:someone", other, 1, now)).status_code == 302
    assert page(drop, ticket=ticket[:-4] + "AAAA").status_code == 302  # forged
    assert page(other).status_code == 200  # nobody waits for it
    assert client.get("/drops/not-a-drop").status_code == 404


def test_pages_config_and_headers() -> None:
    client = TestClient(gateway())
    for path in ("/", "/account", "/admin", "/waiting-room", f"/drops/{uuid.uuid4()}"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "connect-src 'self' ws://127.0.0.1:9" in csp
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["cache-control"] == "no-store"
    config = client.get("/assets/js/config.js")
    assert config.headers["content-type"].startswith("text/javascript")
    assert '"notifierUrl": "ws://127.0.0.1:9/ws"' in config.text
    assert client.get("/assets/js/drop-page.js").status_code == 200
    assert client.get("/assets/css/storefront.css").status_code == 200
    assert client.get("/assets/../settings.py").status_code == 404


def test_cors_covers_the_front_doors_hot_routes_only_for_allowed_origins() -> None:
    shop = "https://shop.example"
    client = TestClient(gateway(cors_allow_origins=f"{shop}, https://other.example/"))
    reserve = f"/api/drops/{uuid.uuid4()}/reserve"
    preflight = client.options(reserve, headers={
        "Origin": shop, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,idempotency-key,"
                                          "x-queue-ticket"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == shop
    answer = client.post(reserve, headers={"Origin": shop})  # refused (no caller), with CORS
    assert answer.status_code == 401
    assert answer.headers["access-control-allow-origin"] == shop
    exposed = answer.headers["access-control-expose-headers"].lower()
    assert {"location", "retry-after", "x-queue-ticket", "idempotent-replayed"} <= {
        h.strip() for h in exposed.split(",")}
    assert "access-control-allow-origin" not in client.get(
        "/api/drops/x", headers={"Origin": "https://evil.example"}).headers
    assert "access-control-allow-origin" not in TestClient(gateway()).post(
        reserve, headers={"Origin": shop}).headers


def _codes(cls: type[errors.GatewayError]) -> set[str]:
    found = {cls.code} if cls.code != "ERROR" else set()
    for sub in cls.__subclasses__():
        found |= _codes(sub)
    return found


def test_every_error_code_has_a_human_message() -> None:
    text = (STATIC / "assets" / "js" / "messages.js").read_text()
    messages = set(re.findall(r"^\s+([A-Z_]+): \(", text, re.MULTILINE))
    wanted = (_codes(errors.GatewayError) | {c.value for c in RejectionCode}
              | {"SOLD_OUT", "NOT_FOUND", "BAD_REQUEST", "INTERNAL_ERROR", "NETWORK"})
    assert wanted <= messages, sorted(wanted - messages)
