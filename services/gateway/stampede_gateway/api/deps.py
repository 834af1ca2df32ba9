"""Dependencies of the FastAPI routes, as ``Annotated`` aliases: the running gateway, the
caller, the admin.

They are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in a worker
thread, a thread hop per dependency per request. None of them blocks."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..bootstrap import Edge, Gateway
from ..errors import Forbidden, Unauthorized, UpstreamUnavailable
from ..security import Identity

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
) -> Identity:
    """The caller: a bearer token, or in DEV_MODE ``X-User-Id`` (+ ``X-User-Name``,
    ``X-User-Role``), read by ``identities`` (the document names the development headers
    as a security scheme only when DEV_MODE is on: ``openapi_doc``)."""
    who = edge.identities.resolve_once(request.scope, request.headers)
    if who is None:
        raise Unauthorized()
    return who


CurrentUser = Annotated[Identity, Depends(current_user)]


async def admin_user(who: CurrentUser) -> Identity:
    if not who.is_admin:
        raise Forbidden()
    return who


AdminUser = Annotated[Identity, Depends(admin_user)]
