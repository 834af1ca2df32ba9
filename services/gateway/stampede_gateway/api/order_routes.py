"""The hot routes as FastAPI declares them, for the OpenAPI document: their endpoints
hand the request to the front door (``front_door``), which answers them in plain ASGI
when it stands in front of the app, and the same way when it does not. Parameters and
bodies are described with ``openapi_extra`` (declaring them as FastAPI parameters would
make FastAPI read and validate them before the front door does)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from starlette.types import Receive, Scope, Send

from ..domain.idempotency import KEY_PATTERN
from ..domain.tickets import MAX_TICKET_CHARS
from .front_door import FrontDoor, Handler
from .responses import (
    CALLER,
    GATED,
    ORDER_PATH,
    OUTCOME_LOCATION,
    RETRY_AFTER,
    Responses,
    errors,
    success,
)
from .schemas import (
    OrderBody,
    OrderOut,
    Outcome,
    Pending,
    PurchaseBody,
    PurchaseEnvelope,
    QueueStatusOut,
    ReservationEnvelope,
    ReserveBody,
)

router = APIRouter()


class Delegated(Response):
    """The front door's answer to a request FastAPI routed (the body is still unread)."""

    def __init__(self, front: FrontDoor, handler: Handler) -> None:
        super().__init__()
        self._front = front
        self._handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._front.run(self._handler, scope, receive, send)


def _front(request: Request) -> FrontDoor:
    front: FrontDoor = request.app.state.front_door
    return front


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "format": "uuid"}}


def _header(name: str, description: str, *, required: bool = False,
            pattern: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    return {"name": name, "in": "header", "required": required, "description": description,
            "schema": schema}


IDEMPOTENCY_KEY = _header(
    "Idempotency-Key", "Required (or its alias X-Idempotency-Key). A unique key per "
    "intended request (e.g. a UUID); a retry with the same key replays the first answer "
    "(`Idempotent-Replayed: true`). Kept at least 24 h. 1-255 of A-Z a-z 0-9 . _ ~ : @ + = -",
    required=True, pattern=KEY_PATTERN)
IDEMPOTENCY_KEY["example"] = "buy-7f3e9c"
IDEMPOTENCY_ALIAS = _header("X-Idempotency-Key", "Accepted alias of Idempotency-Key.",
                            pattern=KEY_PATTERN)
QUEUE_TICKET = _header("X-Queue-Ticket", "An admitted waiting-room ticket (from a `503 "
                       "WAITING_ROOM`): passes once, at any gateway process.")


def _body(model: type[BaseModel], required: bool) -> dict[str, Any]:
    return {"required": required,
            "content": {"application/json": {"schema": model.model_json_schema()}}}


def _doc(params: list[dict[str, Any]], body: dict[str, Any] | None = None, *,
         idempotent: bool = True, caller: bool = True) -> dict[str, Any]:
    """Parameters (plus the key header), body and security of a route (the development
    identity is added to the document by ``openapi_doc`` when DEV_MODE is on)."""
    if idempotent:
        params = [*params, IDEMPOTENCY_KEY, IDEMPOTENCY_ALIAS]
    extra: dict[str, Any] = {"parameters": params}
    if caller:
        extra["security"] = [{"HTTPBearer": []}]
    if body is not None:
        extra["requestBody"] = body
    return extra


PENDING: Responses = {202: {
    "model": Pending,
    "description": "Not decided in time: read the outcome at `Location` (`/api/requests/{key}`).",
    "headers": {**OUTCOME_LOCATION, **RETRY_AFTER, **success(202)[202]["headers"]},
}}


@router.post(
    "/api/drops/{drop_id}/reserve", status_code=201, tags=["order path"],
    response_model=ReservationEnvelope, summary="Hold stock of a drop",
    description="One active hold per user per drop; it expires after the drop's "
                "`reservation_ttl_seconds`. Errors: `404 DROP_NOT_FOUND`, `409 DROP_NOT_ACTIVE`, "
                "`409 OUT_OF_STOCK`, `409 ALREADY_RESERVED`, `409 LIMIT_EXCEEDED`, "
                "`422 VALIDATION_ERROR`; idempotency: `400 IDEMPOTENCY_KEY_MISSING`, "
                "`422 IDEMPOTENCY_KEY_REUSED`, `409 REQUEST_IN_PROGRESS`; overload: "
                "`302`/`503 WAITING_ROOM` (a place in the drop's queue), `403 TICKET_INVALID`, "
                "`429 RATE_LIMITED`.",
    responses={**PENDING, **success(201, replayed=True), **errors(
        *ORDER_PATH, *GATED, "DROP_NOT_FOUND", "DROP_NOT_ACTIVE", "OUT_OF_STOCK",
        "ALREADY_RESERVED", "LIMIT_EXCEEDED", order_path=True)},
    openapi_extra=_doc([_path("drop_id", "The drop."), QUEUE_TICKET], _body(ReserveBody, False)),
)
async def reserve(request: Request) -> Response:
    front = _front(request)
    return Delegated(front, front.reserve)


@router.post(
    "/api/drops/{drop_id}/purchase", status_code=201, tags=["order path"],
    response_model=PurchaseEnvelope, summary="Buy with one's hold",
    description="Consumes the caller's active, unexpired hold on the drop. Errors: "
                "`409 NO_ACTIVE_RESERVATION`, `409 RESERVATION_EXPIRED`, `404 DROP_NOT_FOUND`, "
                "plus the idempotency errors of reserve. Never sent to the waiting room: "
                "it acts on a hold already granted.",
    responses={**PENDING, **success(201, replayed=True), **errors(
        *ORDER_PATH, "DROP_NOT_FOUND", "NO_ACTIVE_RESERVATION", "RESERVATION_EXPIRED",
        order_path=True)},
    openapi_extra=_doc([_path("drop_id", "The drop.")], _body(PurchaseBody, False)),
)
async def purchase(request: Request) -> Response:
    front = _front(request)
    return Delegated(front, front.purchase)


@router.post(
    "/api/order", tags=["order path"], response_model=OrderOut,
    summary="Buy now: reserve and purchase at once",
    description="For edge clients' \"buy now\" button. `409 SOLD_OUT` when no stock is left; "
                "other errors as reserve.",
    responses={**PENDING, **success(200, replayed=True), **errors(
        *ORDER_PATH, *GATED, "DROP_NOT_FOUND", "DROP_NOT_ACTIVE", "SOLD_OUT",
        "ALREADY_RESERVED", "LIMIT_EXCEEDED", order_path=True)},
    openapi_extra=_doc([QUEUE_TICKET], _body(OrderBody, True)),
)
async def order(request: Request) -> Response:
    front = _front(request)
    return Delegated(front, front.order)


@router.delete(
    "/api/reservations/{reservation_id}", tags=["order path"],
    response_model=ReservationEnvelope, summary="Cancel one's own hold",
    description="Stock returns at once. Errors: `404 RESERVATION_NOT_FOUND` (not the "
                "caller's, or already bought or cancelled), `409 RESERVATION_EXPIRED`, plus "
                "the idempotency errors.",
    responses={**PENDING, **success(200, replayed=True), **errors(
        *ORDER_PATH, "DROP_NOT_FOUND", "RESERVATION_NOT_FOUND", "RESERVATION_EXPIRED",
        order_path=True)},
    openapi_extra=_doc([_path("reservation_id", "The hold.")]),
)
async def cancel(request: Request) -> Response:
    front = _front(request)
    return Delegated(front, front.cancel)


@router.get(
    "/api/requests/{idempotency_key}", tags=["order path"], response_model=Outcome,
    summary="The outcome of a request answered 202",
    description="`200` with the status and body the request was (or would have been) "
                "answered with, once decided; `202` while still pending (ask again after "
                "`Retry-After`). A request whose reply was lost is asked again (same command "
                "id: the inventory answers with its first decision). `404 REQUEST_NOT_FOUND`.",
    responses={202: {"model": Pending, "description": "Not decided yet.",
                     "headers": {**RETRY_AFTER, **success(202)[202]["headers"]}},
               **success(200), **errors("HEADERS_TOO_LARGE", "RATE_LIMITED", *CALLER,
                                        "VALIDATION_ERROR", "REQUEST_NOT_FOUND",
                                        "UPSTREAM_UNAVAILABLE")},
    openapi_extra=_doc([{"name": "idempotency_key", "in": "path", "required": True,
                         "example": "buy-7f3e9c",
                         "schema": {"type": "string", "pattern": KEY_PATTERN}}],
                       idempotent=False),
)
async def outcome(request: Request) -> Response:
    front = _front(request)
    return Delegated(front, front.outcome)


@router.get(
    "/waiting-room/status", tags=["waiting room"], response_model=QueueStatusOut,
    summary="Where a ticket stands",
    description="`{drop_id, position, admitted, sold_out, eta_seconds, retry_after}`. Once "
                "admitted, send the ticket back as `X-Queue-Ticket` on the reserve or order "
                "request (it passes once, at any gateway process). `sold_out: true`: stop "
                "waiting. `403 TICKET_INVALID` for a forged, expired, used or unknown ticket.",
    responses={**success(200, rate=False, retry=RETRY_AFTER), **errors(
        "HEADERS_TOO_LARGE", "TICKET_INVALID", "VALIDATION_ERROR", "UPSTREAM_UNAVAILABLE",
        rate=False)},
    openapi_extra=_doc([{"name": "ticket", "in": "query", "required": True,
                         "schema": {"type": "string", "maxLength": MAX_TICKET_CHARS}}],
                       idempotent=False, caller=False),
)
async def ticket_status(request: Request) -> Response:
    front = _front(request)
    return Delegated(front, front.ticket_status)
