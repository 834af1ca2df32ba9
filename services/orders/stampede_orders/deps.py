"""Request dependencies of the internal API, as ``Annotated`` aliases."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Query, Request
from stampede_runtime.problems import Problem

from .adapters.queries import ReadModelQueries

#: how a caller shows it is a Stampede service (``Authorization: Bearer <token>``)
SERVICE_TOKEN_SCHEME = "Bearer"


def require_service_token(request: Request) -> None:
    """Only the services that hold ORDERS_SERVICE_TOKEN (the gateway) read the model:
    ``401 UNAUTHORIZED`` otherwise. Compared in constant time."""
    expected: str = request.app.state.service_token
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != SERVICE_TOKEN_SCHEME.lower() or not hmac.compare_digest(
            given.strip().encode(), expected.encode()):
        raise Problem(401, "UNAUTHORIZED", "This API is for Stampede's services: send "
                      "the service token as 'Authorization: Bearer <token>'.",
                      headers={"WWW-Authenticate": f'{SERVICE_TOKEN_SCHEME} realm="orders"'})


def _queries(request: Request) -> ReadModelQueries:
    queries: ReadModelQueries = request.app.state.queries
    return queries


Queries = Annotated[ReadModelQueries, Depends(_queries)]
Limit = Annotated[int, Query(ge=1, le=100, description="Page size, 1..100")]
Offset = Annotated[int, Query(ge=0, description="Items to skip")]
