"""What the client is told: the inventory's reply (or the view's refusal) as an
HTTP status and body, per order-path operation. Pure, so the mapping is one table."""

from __future__ import annotations

from enum import StrEnum
from http import HTTPStatus
from typing import Any

from stampede_contracts import PurchaseView, RejectionCode, Reply, ReservationView
from stampede_runtime.problems import TYPE_BASE

from .idempotency import StoredResponse


class Operation(StrEnum):
    RESERVE = "reserve"
    PURCHASE = "purchase"
    ORDER = "order"
    CANCEL = "cancel"


REJECTION_STATUS: dict[RejectionCode, int] = {
    RejectionCode.DROP_NOT_FOUND: 404,
    RejectionCode.RESERVATION_NOT_FOUND: 404,
    RejectionCode.VALIDATION_ERROR: 422,
    RejectionCode.INVALID_STOCK: 422,
}

_DETAILS: dict[RejectionCode, str] = {
    RejectionCode.DROP_NOT_FOUND: "No such drop.",
    RejectionCode.DROP_NOT_ACTIVE: "The drop is not live.",
    RejectionCode.OUT_OF_STOCK: "Not enough stock left.",
    RejectionCode.ALREADY_RESERVED: "You already hold a reservation on this drop.",
    RejectionCode.LIMIT_EXCEEDED: "That would exceed the per-user limit of this drop.",
    RejectionCode.NO_ACTIVE_RESERVATION: "You hold no active reservation on this drop.",
    RejectionCode.RESERVATION_EXPIRED: "Your reservation has expired.",
    RejectionCode.RESERVATION_NOT_FOUND: "No such reservation of yours.",
}


def problem_body(status: int, code: str, detail: str | None) -> dict[str, Any]:
    return {
        "type": TYPE_BASE + code.lower().replace("_", "-"),
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }


def rejection(
    operation: Operation, code: RejectionCode, detail: str | None = None
) -> StoredResponse:
    status = REJECTION_STATUS.get(code, 409)
    public = code.value
    if operation is Operation.ORDER and code is RejectionCode.OUT_OF_STOCK:
        public = "SOLD_OUT"
    body = problem_body(status, public, _DETAILS.get(code, detail))
    return StoredResponse(status, body, {"Content-Type": "application/problem+json"})


def reservation_body(view: ReservationView) -> dict[str, Any]:
    return {
        "id": str(view.id), "drop_id": str(view.drop_id), "quantity": view.quantity,
        "status": view.status.value, "expires_at": view.expires_at.isoformat(),
    }


def purchase_body(view: PurchaseView) -> dict[str, Any]:
    return {
        "id": str(view.id), "drop_id": str(view.drop_id),
        "reservation_id": str(view.reservation_id), "quantity": view.quantity,
        "amount_cents": view.amount_cents, "currency": view.currency, "status": "paid",
        "created_at": view.created_at.isoformat(),
    }


def from_reply(operation: Operation, reply: Reply) -> StoredResponse:
    if not reply.ok:
        return rejection(operation, reply.code or RejectionCode.VALIDATION_ERROR, reply.detail)
    result = reply.result
    if operation in (Operation.RESERVE, Operation.CANCEL) and isinstance(result, ReservationView):
        status = 201 if operation is Operation.RESERVE else 200
        return StoredResponse(status, {"reservation": reservation_body(result)}, {})
    if operation is Operation.PURCHASE and isinstance(result, PurchaseView):
        return StoredResponse(201, {"purchase": purchase_body(result)}, {})
    if operation is Operation.ORDER and isinstance(result, PurchaseView):
        return StoredResponse(200, {"status": "success", "purchase": purchase_body(result)}, {})
    raise ValueError(f"unexpected reply result for {operation}: {type(result).__name__}")
