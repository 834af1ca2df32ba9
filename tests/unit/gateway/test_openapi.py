"""The gateway's OpenAPI document is complete: every route with request and response
examples, every error a problem document with its code, every header where it is
carried, the security schemes of the mode it runs in, every schema with an example that
matches it. And the walk that says so fails when one of those is taken away."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi import FastAPI
from stampede_gateway.main import create_app
from stampede_gateway.settings import GatewaySettings

from .openapi_walk import PROBLEM, walk


def document(*, dev_mode: bool) -> dict[str, Any]:
    settings = GatewaySettings(
        kafka_bootstrap_servers="127.0.0.1:9", database_url="postgresql://u@127.0.0.1:9/x",
        dev_mode=dev_mode, jwt_secret="a-secret-of-the-test-only",
        admin_password="not-used-here", orders_service_token="a-token-of-the-test-only",
    )
    app: Any = create_app(settings)
    while not isinstance(app, FastAPI):  # the front door (and CORS) wrap the app
        app = app.app
    return copy.deepcopy(app.openapi())


@pytest.fixture(scope="module")
def dev_doc() -> dict[str, Any]:
    return document(dev_mode=True)


@pytest.mark.parametrize("dev_mode", [True, False])
def test_the_document_is_complete(dev_mode: bool) -> None:
    result = walk(document(dev_mode=dev_mode), dev_mode=dev_mode)
    print(f"dev_mode={dev_mode}:", result.counts)
    assert result.faults == []
    # what the walk covered (so a route or an example dropped from the walk shows here)
    assert result.counts["operations"] >= 30
    assert result.counts["error responses"] >= 150
    assert result.counts["error examples"] >= 180
    assert result.counts["schemas"] >= 33
    assert result.counts["headers checked"] >= 390


def test_every_documented_code_of_the_order_path(dev_doc: dict[str, Any]) -> None:
    """The codes API.md promises on the order path are each an example of their status."""
    def codes(path: str, method: str = "post") -> dict[str, set[str]]:
        responses = dev_doc["paths"][path][method]["responses"]
        return {s: set(r["content"][PROBLEM]["examples"]) for s, r in responses.items()
                if PROBLEM in r.get("content", {})}

    reserve = codes("/api/drops/{drop_id}/reserve")
    assert {"DROP_NOT_ACTIVE", "OUT_OF_STOCK", "ALREADY_RESERVED", "LIMIT_EXCEEDED",
            "REQUEST_IN_PROGRESS"} <= reserve["409"]
    assert reserve["404"] == {"DROP_NOT_FOUND"}
    assert {"VALIDATION_ERROR", "IDEMPOTENCY_KEY_REUSED"} <= reserve["422"]
    assert reserve["400"] == {"IDEMPOTENCY_KEY_MISSING"}
    assert "WAITING_ROOM" in reserve["503"] and reserve["302"] == {"WAITING_ROOM"}
    assert reserve["403"] == {"TICKET_INVALID"}
    assert reserve["429"] == {"RATE_LIMITED"}
    purchase = codes("/api/drops/{drop_id}/purchase")
    assert {"NO_ACTIVE_RESERVATION", "RESERVATION_EXPIRED"} <= purchase["409"]
    assert "SOLD_OUT" in codes("/api/order")["409"]
    me = dev_doc["paths"]["/api/me"]["get"]["responses"]
    assert "422" not in me  # no input of its own to be invalid: no 422 at all


def _drop(doc: dict[str, Any], *keys: str) -> None:
    *parents, last = keys
    node: Any = doc
    for key in parents:
        node = node[key]
    del node[last]


RESERVE = ("paths", "/api/drops/{drop_id}/reserve", "post")
REMOVALS = {
    "an error's examples": (*RESERVE, "responses", "409", "content", PROBLEM, "examples"),
    "an error's problem schema": (*RESERVE, "responses", "404", "content", PROBLEM, "schema"),
    "a request example": ("components", "schemas", "DropCreate", "examples"),
    "a response example": ("components", "schemas", "StockStatus", "examples"),
    "the replay header": (*RESERVE, "responses", "201", "headers", "Idempotent-Replayed"),
    "the waiting room's ticket header": (*RESERVE, "responses", "503", "headers",
                                         "X-Queue-Ticket"),
    "the rate-limit header": ("paths", "/api/drops", "get", "responses", "200", "headers",
                              "RateLimit"),
    "the outcome's location": (*RESERVE, "responses", "202", "headers", "Location"),
    "the dev security scheme": ("components", "securitySchemes", "DevUserId"),
    "a route's summary": ("paths", "/api/me", "get", "summary"),
}


@pytest.mark.parametrize("removed", sorted(REMOVALS))
def test_the_walk_fails_when_something_is_taken_away(dev_doc: dict[str, Any],
                                                     removed: str) -> None:
    doc = copy.deepcopy(dev_doc)
    _drop(doc, *REMOVALS[removed])
    assert walk(doc, dev_mode=True).faults != []


def test_the_walk_fails_on_a_wrong_example_or_media_type(dev_doc: dict[str, Any]) -> None:
    doc = copy.deepcopy(dev_doc)
    media = doc["paths"]["/api/drops/{drop_id}"]["get"]["responses"]["404"]["content"]
    media[PROBLEM]["examples"]["DROP_NOT_FOUND"]["value"]["code"] = "drop not found"
    assert any("code" in f for f in walk(doc, dev_mode=True).faults)
    doc = copy.deepcopy(dev_doc)
    media = doc["paths"]["/api/drops/{drop_id}"]["get"]["responses"]["404"]["content"]
    media["application/json"] = media.pop(PROBLEM)
    assert walk(doc, dev_mode=True).faults != []
    doc = copy.deepcopy(dev_doc)
    doc["components"]["schemas"]["StockStatus"]["examples"] = [{"total_stock": "many"}]
    assert any("does not match" in f for f in walk(doc, dev_mode=True).faults)
