"""Routes of the order path: reserve, purchase, buy now, cancel a hold.

Each needs an ``Idempotency-Key``. Answers: the decision (``201``/``200``/a problem),
the replay of the first answer (``Idempotent-Replayed: true``), or ``202`` with the
outcome URL when the inventory did not answer in time (never a false yes or no).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Header, Request
from fastapi.responses import JSONResponse, Response
from stampede_contracts import BuyNow, CancelHold, Command, ConfirmPurchase, ReserveStock
from stampede_runtime.problems import PROBLEM_MEDIA_TYPE, problem_responses

from ..domain.idempotency import fingerprint
from ..domain.outcomes import Operation
from ..errors import ReservationNotFound
from ..order_path import Answer, OrderRequest
from ..security import Identity
from .deps import CurrentUser, GatewayDep, IdempotencyKey
from .schemas import (
    OrderBody,
    OrderOut,
    Pending,
    PurchaseBody,
    PurchaseEnvelope,
    ReservationEnvelope,
    ReserveBody,
)

router = APIRouter(tags=["order path"])

QueueTicket = Annotated[str | None, Header(
    alias="X-Queue-Ticket", max_length=512,
    description="An admitted waiting-room ticket: passes the gate once.")]

# The stampede comes in through reserve and buy-now; purchase and cancel act on a hold
# already granted (bounded by stock), so they are not sent to the waiting room.
GATED = frozenset({Operation.RESERVE, Operation.ORDER})
_COMMON = (400, 401, 403, 413, 422, 429, 503)
_PENDING: dict[int | str, dict[str, Any]] = {202: {
    "model": Pending,
    "description": "Not decided in time: read the outcome at `Location` (`/api/requests/{key}`).",
}}
_REPLAYED: dict[str, Any] = {"Idempotent-Replayed": {
    "description": "`true` when this is the replay of the first answer to this key.",
    "schema": {"type": "string"},
}}


def _respond(answer: Answer) -> Response:
    r = answer.response
    headers = dict(r.headers)
    media = headers.pop("Content-Type", None) or (
        PROBLEM_MEDIA_TYPE if r.status >= 400 else "application/json")
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
    if answer.rendered is not None:
        return Response(answer.rendered, status_code=r.status, headers=headers, media_type=media)
    return JSONResponse(r.body, status_code=r.status, headers=headers, media_type=media)


async def _run(
    gw: GatewayDep, request: Request, who: Identity, key: str, operation: Operation,
    drop_id: UUID, command: Command, body: dict[str, Any], quantity: int, ticket: str | None,
) -> Response:
    req = OrderRequest(
        user_id=who.user_id, key=key, operation=operation, drop_id=drop_id, command=command,
        fingerprint=fingerprint(request.method, request.url.path, body), quantity=quantity,
    )
    client = f"user:{who.user_id}"
    admission = gw.edge.admission
    answer = await gw.order_path.refuse_at_once(req)
    if answer is not None:
        if ticket:  # no point keeping a place for a sure "no"
            admission.release(client, ticket)
    elif operation in GATED:
        async with admission.enter(client, drop_id, ticket, request.headers.get("accept", "")):
            answer = await gw.order_path.decide(req)
    else:
        answer = await gw.order_path.decide(req)
    return _respond(answer)


@router.post(
    "/api/drops/{drop_id}/reserve", status_code=201, response_model=ReservationEnvelope,
    summary="Hold stock of a drop",
    description="One active hold per user per drop; it expires after the drop's "
                "`reservation_ttl_seconds`. Errors: `404 DROP_NOT_FOUND`, `409 DROP_NOT_ACTIVE`, "
                "`409 OUT_OF_STOCK`, `409 ALREADY_RESERVED`, `409 LIMIT_EXCEEDED`, "
                "`422 VALIDATION_ERROR`; idempotency: `400 IDEMPOTENCY_KEY_MISSING`, "
                "`422 IDEMPOTENCY_KEY_REUSED`, `409 REQUEST_IN_PROGRESS`; overload: "
                "`302`/`503 WAITING_ROOM`, `429 RATE_LIMITED`.",
    responses={**_PENDING, 201: {"headers": _REPLAYED},
               **problem_responses(302, 404, 409, *_COMMON)},
)
async def reserve(
    drop_id: UUID, request: Request, who: CurrentUser, key: IdempotencyKey, gw: GatewayDep,
    body: Annotated[ReserveBody | None, Body()] = None, ticket: QueueTicket = None,
) -> Response:
    body = body or ReserveBody()
    command = ReserveStock(drop_id=drop_id, user_id=who.user_id, username=who.username,
                           quantity=body.quantity)
    return await _run(gw, request, who, key, Operation.RESERVE, drop_id, command,
                      body.model_dump(mode="json"), body.quantity, ticket)


@router.post(
    "/api/drops/{drop_id}/purchase", status_code=201, response_model=PurchaseEnvelope,
    summary="Buy with one's hold",
    description="Consumes the caller's active, unexpired hold on the drop. Errors: "
                "`409 NO_ACTIVE_RESERVATION`, `409 RESERVATION_EXPIRED`, `404 DROP_NOT_FOUND`, "
                "plus the idempotency errors of reserve. Never sent to the waiting room: "
                "it acts on a hold already granted.",
    responses={**_PENDING, 201: {"headers": _REPLAYED},
               **problem_responses(404, 409, *_COMMON)},
)
async def purchase(
    drop_id: UUID, request: Request, who: CurrentUser, key: IdempotencyKey, gw: GatewayDep,
    body: Annotated[PurchaseBody | None, Body()] = None,
) -> Response:
    body = body or PurchaseBody()
    command = ConfirmPurchase(drop_id=drop_id, user_id=who.user_id, username=who.username,
                              reservation_id=body.reservation_id)
    return await _run(gw, request, who, key, Operation.PURCHASE, drop_id, command,
                      body.model_dump(mode="json"), 1, None)


@router.post(
    "/api/order", response_model=OrderOut, summary="Buy now: reserve and purchase at once",
    description="For edge clients' \"buy now\" button. `409 SOLD_OUT` when no stock is left; "
                "other errors as reserve.",
    responses={**_PENDING, 200: {"headers": _REPLAYED},
               **problem_responses(302, 404, 409, *_COMMON)},
)
async def order(
    body: OrderBody, request: Request, who: CurrentUser, key: IdempotencyKey, gw: GatewayDep,
    ticket: QueueTicket = None,
) -> Response:
    command = BuyNow(drop_id=body.drop_id, user_id=who.user_id, username=who.username,
                     quantity=body.quantity)
    return await _run(gw, request, who, key, Operation.ORDER, body.drop_id, command,
                      body.model_dump(mode="json"), body.quantity, ticket)


@router.delete(
    "/api/reservations/{reservation_id}", response_model=ReservationEnvelope,
    summary="Cancel one's own hold", description="Stock returns at once. Errors: "
    "`404 RESERVATION_NOT_FOUND`, `409 NO_ACTIVE_RESERVATION` (already bought, cancelled or "
    "expired), plus the idempotency errors.",
    responses={**_PENDING, 200: {"headers": _REPLAYED},
               **problem_responses(404, 409, *_COMMON)},
)
async def cancel(
    reservation_id: UUID, request: Request, who: CurrentUser, key: IdempotencyKey,
    gw: GatewayDep,
) -> Response:
    drop_id = await gw.order_path.drop_of_hold(who.user_id, reservation_id)
    if drop_id is None:
        raise ReservationNotFound()
    command = CancelHold(drop_id=drop_id, user_id=who.user_id, reservation_id=reservation_id)
    return await _run(gw, request, who, key, Operation.CANCEL, drop_id, command, {}, 1, None)
