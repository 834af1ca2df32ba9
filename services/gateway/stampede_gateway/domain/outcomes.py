"""What the client is told: the inventory's reply (or the view's sure "no") as an HTTP
status and body, per order-path operation. Pure, so the mapping is one table.

Replies arrive as plain JSON objects (``stampede_contracts.Reply`` decoded without
building the model: the order path reads four fields of it); the bodies are the API's.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from functools import cache
from typing import Any

from stampede_contracts import RejectionCode
from stampede_runtime.problem_docs import PROBLEM_MEDIA_TYPE, problem_document

from .idempotency import StoredResponse


class Operation(StrEnum):
    RESERVE = "reserve"
    PURCHASE = "purchase"
    ORDER = "order"
    CANCEL = "cancel"


#: the stampede comes in through reserve and buy-now; purchase and cancel act on a hold
#: already granted (bounded by stock), so only these two pass the waiting room
GATED = frozenset({Operation.RESERVE, Operation.ORDER})

REJECTION_STATUS: dict[str, int] = {
    RejectionCode.DROP_NOT_FOUND: 404,
    RejectionCode.RESERVATION_NOT_FOUND: 404,
    RejectionCode.VALIDATION_ERROR: 422,
    RejectionCode.INVALID_STOCK: 422,
}

_DETAILS: dict[str, str] = {
    RejectionCode.DROP_NOT_FOUND: "No such drop.",
    RejectionCode.DROP_NOT_ACTIVE: "The drop is not live.",
    RejectionCode.OUT_OF_STOCK: "Not enough stock left.",
    RejectionCode.ALREADY_RESERVED: "You already hold a reservation on this drop.",
    RejectionCode.LIMIT_EXCEEDED: "That would exceed the per-user limit of this drop.",
    RejectionCode.NO_ACTIVE_RESERVATION: "You hold no active reservation on this drop.",
    RejectionCode.RESERVATION_EXPIRED: "Your reservation has expired.",
    RejectionCode.RESERVATION_NOT_FOUND: "No such reservation of yours.",
}

_PROBLEM_HEADERS = {"Content-Type": PROBLEM_MEDIA_TYPE}


def public_code(operation: Operation, code: str) -> str:
    """The code the client sees: buy-now says ``SOLD_OUT`` where a hold says out of stock."""
    if operation is Operation.ORDER and code == RejectionCode.OUT_OF_STOCK:
        return "SOLD_OUT"
    return code


def rejection(operation: Operation, code: str, detail: str | None = None) -> StoredResponse:
    status = REJECTION_STATUS.get(code, 409)
    body = problem_document(status, public_code(operation, code), _DETAILS.get(code, detail))
    return StoredResponse(status, body, _PROBLEM_HEADERS)


@cache
def refusal(operation: Operation, code: str) -> StoredResponse:
    """A sure "no" of the drop view: the same for every buyer, prepared once. Stored with
    the key as its code alone (``refusal``), rebuilt from it on a replay."""
    return rejection(operation, code)


def _reservation(result: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": result["id"], "drop_id": result["drop_id"], "quantity": result["quantity"],
            "status": result["status"], "expires_at": result["expires_at"]}


def _purchase(result: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": result["id"], "drop_id": result["drop_id"],
            "reservation_id": result["reservation_id"], "quantity": result["quantity"],
            "amount_cents": result["amount_cents"], "currency": result["currency"],
            "status": "paid", "created_at": result["created_at"]}


def from_reply(operation: Operation, reply: Mapping[str, Any]) -> StoredResponse:
    """The answer to a request from the inventory's reply (a ``Reply`` as JSON)."""
    if not reply["ok"]:
        return rejection(operation, reply.get("code") or RejectionCode.VALIDATION_ERROR,
                         reply.get("detail"))
    result = reply.get("result") or {}
    kind = result.get("kind")
    if kind == "reservation" and operation in (Operation.RESERVE, Operation.CANCEL):
        status = 201 if operation is Operation.RESERVE else 200
        return StoredResponse(status, {"reservation": _reservation(result)}, {})
    if kind == "purchase" and operation is Operation.PURCHASE:
        return StoredResponse(201, {"purchase": _purchase(result)}, {})
    if kind == "purchase" and operation is Operation.ORDER:
        return StoredResponse(200, {"status": "success", "purchase": _purchase(result)}, {})
    raise ValueError(f"unexpected reply result for {operation}: {kind}")
