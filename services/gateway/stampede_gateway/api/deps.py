"""Dependencies of the routes, as ``Annotated`` aliases: the running gateway, the
caller, the admin, the idempotency key.

They are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in a worker
thread, a thread hop (and GIL hand-over) per dependency per request, which on the
order path under a storm cost more than the work itself. None of them blocks."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..bootstrap import Edge, Gateway
from ..domain.idempotency import KEY_PATTERN
from ..errors import (
    Forbidden,
    IdempotencyKeyMissing,
    InvalidInput,
    Unauthorized,
    UpstreamUnavailable,
)
from ..identity import resolve_once
from ..security import Identity

_KEY = re.compile(KEY_PATTERN)
_bearer = HTTPBearer(auto_error=False, description="An access token from /api/auth/login.")


async def get_edge(request: Request) -> Edge:
    edge: Edge = request.app.state.edge
    return edge


async def get_gateway(request: Request) -> Gateway:
    gateway: Gateway | None = getattr(request.app.state, "gateway", None)
    if gateway is None:
        raise UpstreamUnavailable("The gateway is starting.")
    return gateway


EdgeDep = Annotated[Edge, Depends(get_edge)]
GatewayDep = Annotated[Gateway, Depends(get_gateway)]


async def current_user(
    request: Request,
    edge: EdgeDep,
    _token: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    _x_user_id: Annotated[str | None, Header(
        alias="X-User-Id", max_length=64,
        description="DEV_MODE only: act as this user (UUID) without a token.")] = None,
    _x_user_name: Annotated[str | None, Header(
        alias="X-User-Name", max_length=64,
        description="DEV_MODE only: the username shown for X-User-Id.")] = None,
) -> Identity:
    who = resolve_once(request.scope, request.headers, edge.tokens, edge.settings.dev_mode)
    if who is None:
        raise Unauthorized()
    return who


CurrentUser = Annotated[Identity, Depends(current_user)]


async def admin_user(who: CurrentUser) -> Identity:
    if not who.is_admin:
        raise Forbidden()
    return who


AdminUser = Annotated[Identity, Depends(admin_user)]


async def idempotency_key(
    key: Annotated[str | None, Header(
        alias="Idempotency-Key", max_length=257,
        description="Required. A unique key per intended request (e.g. a UUID); a retry with "
                    "the same key replays the first answer. Kept at least 24 h. "
                    "1-255 of A-Z a-z 0-9 . _ ~ : @ + = -",
        examples=["5f1c3a4e-8a0b-4b7e-9d52-1b1f8c2d9e77"])] = None,
    alias: Annotated[str | None, Header(
        alias="X-Idempotency-Key", max_length=257,
        description="Accepted alias of Idempotency-Key.")] = None,
) -> str:
    raw = (key or alias or "").strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':  # an sf-string, as the draft writes it
        raw = raw[1:-1]
    if not raw:
        raise IdempotencyKeyMissing()
    if not _KEY.match(raw):
        raise InvalidInput("Idempotency-Key: 1-255 of A-Z a-z 0-9 . _ ~ : @ + = -")
    return raw


IdempotencyKey = Annotated[str, Depends(idempotency_key)]
