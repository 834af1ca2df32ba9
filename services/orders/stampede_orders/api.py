"""The internal HTTP read API the gateway calls (routes of ``read_models``' docstring).

Every route needs the service token (``Authorization: Bearer <ORDERS_SERVICE_TOKEN>``,
which the gateway sends): ``401 UNAUTHORIZED`` without it. The probes and ``/metrics``
are outside ``/internal`` and need none.

Errors are problem documents: an unknown drop is ``404 DROP_NOT_FOUND``; a bad
``limit``/``offset``/id is ``422 VALIDATION_ERROR`` (the shared handlers); the
database out of reach is ``503 SERVICE_UNAVAILABLE`` with ``Retry-After``.
"""

from __future__ import annotations

from uuid import UUID

import psycopg
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from stampede_contracts import (
    DropRead,
    Page,
    PublicPurchase,
    PurchaseRead,
    RejectionCode,
    ReservationRead,
    utcnow,
)
from stampede_runtime.problems import Problem, problem_response, problem_responses

from .deps import Limit, Offset, Queries, require_service_token

router = APIRouter(
    prefix="/internal", tags=["read model"],
    dependencies=[Depends(require_service_token)],
    responses=problem_responses(
        401, 422, headers={401: {"WWW-Authenticate": {
            "description": "Bearer: the service token (ORDERS_SERVICE_TOKEN)",
            "schema": {"type": "string"}}}}),
)


async def _database_unavailable(_: Request, exc: Exception) -> JSONResponse:
    return problem_response(Problem(
        503, "SERVICE_UNAVAILABLE", "The read model is unavailable; try again.",
        headers={"Retry-After": "1"},
    ))


def install(app: FastAPI, *, service_token: str) -> None:
    """The routes (answering only ``service_token``'s holders), and the mapping of a
    database out of reach to 503."""
    app.state.service_token = service_token
    app.include_router(router)
    for exc in (psycopg.OperationalError, TimeoutError):
        app.add_exception_handler(exc, _database_unavailable)


def _not_found(drop_id: UUID) -> Problem:
    return Problem(404, RejectionCode.DROP_NOT_FOUND.value, f"No drop {drop_id}.")


@router.get("/drops", summary="Drops, active ones by default")
async def list_drops(
    queries: Queries, active: bool = True, limit: Limit = 20, offset: Offset = 0
) -> Page[DropRead]:
    return await queries.list_drops(active=active, limit=limit, offset=offset, now=utcnow())


@router.get("/drops/{drop_id}", summary="One drop", responses=problem_responses(404))
async def get_drop(drop_id: UUID, queries: Queries) -> DropRead:
    drop = await queries.get_drop(drop_id, now=utcnow())
    if drop is None:
        raise _not_found(drop_id)
    return drop


@router.get("/drops/{drop_id}/purchases", summary="A drop's purchases, newest first",
            responses=problem_responses(404))
async def drop_purchases(
    drop_id: UUID, queries: Queries, limit: Limit = 20, offset: Offset = 0
) -> Page[PublicPurchase]:
    page = await queries.drop_purchases(drop_id, limit=limit, offset=offset)
    if page is None:
        raise _not_found(drop_id)
    return page


@router.get("/users/{user_id}/reservations", summary="A user's holds, newest first")
async def user_reservations(
    user_id: UUID, queries: Queries, limit: Limit = 20, offset: Offset = 0
) -> Page[ReservationRead]:
    return await queries.user_reservations(user_id, limit=limit, offset=offset)


@router.get("/users/{user_id}/purchases", summary="A user's purchases, newest first")
async def user_purchases(
    user_id: UUID, queries: Queries, limit: Limit = 20, offset: Offset = 0
) -> Page[PurchaseRead]:
    return await queries.user_purchases(user_id, limit=limit, offset=offset)
