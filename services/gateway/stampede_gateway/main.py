"""Wiring: the FastAPI app of the gateway, its middleware, routers and lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from stampede_runtime.web import build_app

from .api import auth, drops, me, order_path, requests, waiting_room
from .bootstrap import Edge, Gateway
from .guards import Guards
from .identity import client_key
from .settings import GatewaySettings

DESCRIPTION = """
The public API of Stampede, a flash-sale backend.

* Errors are RFC 9457 problem documents (`application/problem+json`) with an upper-case `code`.
* Authenticate with `Authorization: Bearer <access token>` (see `/api/auth/login`); in
  development mode `X-User-Id` (+ `X-User-Name`) identifies a user without a token.
* Every order-path request (reserve, purchase, order, cancel) needs an `Idempotency-Key`
  (alias `X-Idempotency-Key`): a retry with the same key replays the first answer
  (`Idempotent-Replayed: true`); the same key for another request is `422
  IDEMPOTENCY_KEY_REUSED`; while the first is being decided, `409 REQUEST_IN_PROGRESS`.
  Keys are kept at least 24 hours (`IDEMPOTENCY_TTL_HOURS`, default 25).
* Not decided within 2 s: `202` with `Location: /api/requests/{key}` to read the outcome.
* Per-client rate limits: `429 RATE_LIMITED` with `Retry-After`, `RateLimit-Policy`, `RateLimit`.
* Overload on the order path: `302` to the waiting room (browsers) or `503 WAITING_ROOM`
  with `Location` (`Accept: application/json`).
* Request bodies are limited (16 KiB by default: `413`), headers too (`431`).
"""


def create_app(settings: GatewaySettings) -> FastAPI:
    edge = Edge.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.gateway = await Gateway.start(edge)
        try:
            yield
        finally:
            gateway, app.state.gateway = app.state.gateway, None
            await gateway.stop()

    async def ready() -> bool:
        gateway: Gateway | None = app.state.gateway
        return gateway is not None and all((await gateway.ready()).values())

    app = build_app(title="Stampede gateway", lifespan=lifespan,
                    readiness={"gateway": ready}, description=DESCRIPTION)
    app.state.edge = edge
    app.state.gateway = None
    for router in (auth.router, drops.router, order_path.router, me.router, requests.router,
                   waiting_room.router):
        app.include_router(router)
    app.add_middleware(
        Guards, limiter=edge.limiter,
        client_key=lambda scope, headers, ip: client_key(scope, headers, ip, edge.tokens,
                                                        settings.dev_mode),
        max_body_bytes=settings.max_body_bytes, max_header_bytes=settings.max_header_bytes,
    )
    return app
