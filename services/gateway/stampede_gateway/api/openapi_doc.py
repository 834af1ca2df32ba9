"""The OpenAPI document as this process's settings make it true: how a caller
authenticates (a bearer token; in DEV_MODE only, also the development headers), and
where the WebSocket's own document (AsyncAPI, served by the notifier) is.

The routes describe themselves (``responses``, ``schemas``); the problem documents
are completed by ``stampede_runtime.problems``. This adds what depends on the settings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from fastapi import FastAPI

from ..settings import GatewaySettings

BEARER = "HTTPBearer"
DEV_USER = "DevUserId"

BEARER_SCHEME = {
    "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
    "description": "An access token from `POST /api/auth/login` (15 min; renew it with "
                   "`POST /api/auth/refresh`).",
}
DEV_USER_SCHEME = {
    "type": "apiKey", "in": "header", "name": "X-User-Id",
    "description": "DEV_MODE only (on under `make up`, off by default): `X-User-Id: <uuid>` "
                   "acts as that user without a token; `X-User-Name` sets the username shown "
                   "and `X-User-Role: admin` makes the caller an admin.",
}


def asyncapi_url(notifier_ws_url: str) -> str:
    """The notifier's AsyncAPI document, next to its WebSocket (``ws://h/ws`` ->
    ``http://h/asyncapi.json``)."""
    parts = urlsplit(notifier_ws_url)
    scheme = "https" if parts.scheme == "wss" else "http"
    return urlunsplit((scheme, parts.netloc, "/asyncapi.json", "", ""))


def install(app: FastAPI, settings: GatewaySettings) -> None:
    generate: Callable[[], dict[str, Any]] = app.openapi
    done: list[dict[str, Any]] = []  # the document already completed (FastAPI caches it)
    events = asyncapi_url(settings.notifier_public_url)

    def openapi() -> dict[str, Any]:
        schema = generate()
        if done and done[0] is schema:
            return schema
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes[BEARER] = BEARER_SCHEME
        info = schema.setdefault("info", {})
        info["description"] = info.get("description", "") + (
            f"\n* Real time: the WebSocket's messages are described by the notifier's "
            f"AsyncAPI document, [{events}]({events}).\n")
        if settings.dev_mode:
            schemes[DEV_USER] = DEV_USER_SCHEME
            info["description"] += ("* DEV_MODE is on: `X-User-Id` (+ `X-User-Name`, "
                                    "`X-User-Role: admin`) identifies a caller without a "
                                    "token.\n")
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    security = operation.get("security")
                    if security and {BEARER: []} in security:
                        security.append({DEV_USER: []})
        done[:] = [schema]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
