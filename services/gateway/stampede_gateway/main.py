"""Wiring: the FastAPI app of the gateway, its middleware, routers and lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from stampede_runtime.web import build_app
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from .api import auth, drops, me, openapi_doc, order_routes, problem_map, storefront
from .api.edge_limits import Guards
from .api.front_door import Call, FrontDoor
from .bootstrap import Edge, Gateway
from .errors import GatewayError
from .settings import GatewaySettings

DESCRIPTION = """
The public API of Stampede, a flash-sale backend.

* Errors are RFC 9457 problem documents (`application/problem+json`) with an upper-case `code`.
* Authenticate with `Authorization: Bearer <access token>` (see `/api/auth/login`).
* Every order-path request (reserve, purchase, order, cancel) needs an `Idempotency-Key`
  (alias `X-Idempotency-Key`): a retry with the same key replays the first answer
  (`Idempotent-Replayed: true`); the same key for another request is `422
  IDEMPOTENCY_KEY_REUSED`; while the first is being decided, `409 REQUEST_IN_PROGRESS`.
  Keys are kept at least 24 hours (`IDEMPOTENCY_TTL_HOURS`, default 25).
* Not decided within 2 s: `202` with `Location: /api/requests/{key}` to read the outcome.
* Per-client rate limits: `429 RATE_LIMITED` with `Retry-After`, `RateLimit-Policy`, `RateLimit`.
* Overload on the order path: each drop has a waiting room. A reserve or buy-now over the
  drop's admission rate gets a place: `503 WAITING_ROOM` with the ticket in the body,
  `X-Queue-Ticket` and `Location` (browsers: `302` to the waiting-room page). Follow the
  place at `/waiting-room/status?ticket=` (or by WebSocket, `QUEUE_UPDATED`); once admitted,
  send the request again with `X-Queue-Ticket` (it passes once).
* Request bodies are limited (16 KiB by default: `413`), headers too (`431`).
"""


def create_app(settings: GatewaySettings) -> ASGIApp:
    """The gateway: the front door (the hot routes, plain ASGI) before the FastAPI app."""
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

    app = build_app(title="Stampede gateway", lifespan=lifespan, readiness={"gateway": ready},
                    description=DESCRIPTION, instance_id=settings.instance_id)
    app.state.edge = edge
    app.state.gateway = None
    problem_map.install(app)
    for router in (auth.router, drops.router, order_routes.router, me.router):
        app.include_router(router)
    openapi_doc.install(app, settings)
    storefront.install(app)

    async def refuse(scope: Scope, receive: Receive, send: Send, exc: GatewayError) -> None:
        await Call(scope, receive, send).refuse(exc)

    app.add_middleware(
        Guards, limits=edge.limits, refuse=refuse,
        client_key=lambda scope, headers, ip: edge.identities.client_key(scope, headers, ip),
    )
    front = FrontDoor(app, edge, lambda: app.state.gateway)
    app.state.front_door = front
    if not settings.cors_origins:
        return front
    # outside the front door, so its hot routes answer preflights and carry the headers too
    return CORSMiddleware(
        front, allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key",
                       "X-Idempotency-Key", "X-Queue-Ticket", "X-Request-Id",
                       "traceparent", "tracestate"],
        expose_headers=["Location", "Retry-After", "X-Queue-Ticket", "Idempotent-Replayed",
                        "RateLimit", "RateLimit-Policy", "X-Request-Id"],
        max_age=600,
    )
