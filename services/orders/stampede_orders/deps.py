"""Request dependencies of the internal API, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from .adapters.queries import ReadModelQueries


def _queries(request: Request) -> ReadModelQueries:
    queries: ReadModelQueries = request.app.state.queries
    return queries


Queries = Annotated[ReadModelQueries, Depends(_queries)]
Limit = Annotated[int, Query(ge=1, le=100, description="Page size, 1..100")]
Offset = Annotated[int, Query(ge=0, description="Items to skip")]
