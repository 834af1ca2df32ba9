"""What each route answers besides its success, for the OpenAPI document: every refusal
as the problem document the gateway really sends (built here by the code that answers,
``problem_map.problem_of`` and ``domain.outcomes.rejection``), by code, and the headers
each answer carries. The routes name their codes; ``errors`` groups them by status."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from stampede_contracts import RejectionCode
from stampede_runtime.problems import ProblemExample, problem_responses

from ..domain.outcomes import Operation, rejection
from ..domain.tickets import TicketSigner
from ..errors import (
    DropNotFound,
    Forbidden,
    GatewayError,
    HeadersTooLarge,
    IdempotencyKeyMissing,
    IdempotencyKeyReused,
    InvalidCredentials,
    InvalidInput,
    InvalidToken,
    InventoryTimeout,
    PayloadTooLarge,
    RateLimited,
    RequestInProgress,
    RequestNotFound,
    ReservationNotFound,
    TicketInvalid,
    Unauthorized,
    UpstreamUnavailable,
    UsernameTaken,
    WaitingRoom,
    WaitingRoomFull,
)
from .problem_map import problem_of, waiting_room_url

Responses = dict[int | str, dict[str, Any]]


def _header(description: str, example: str, **schema: Any) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string", **schema},
            "example": example}


RATE_LIMIT = {
    "RateLimit": _header("The client's quota now (IETF httpapi ratelimit-headers draft): "
                         "`r` requests left, `t` seconds until it is full again.",
                         '"default";r=97;t=1'),
    "RateLimit-Policy": _header("The quota this gateway process enforces: `q` requests per "
                                "window of `w` seconds (a client's limit is shared out over "
                                "the live processes).", '"default";q=100;w=2'),
}
RETRY_AFTER = {"Retry-After": _header("Seconds to wait before trying again.", "1",
                                      pattern=r"^\d+$")}
REPLAYED = {"Idempotent-Replayed": _header(
    "`true` when this answer is the replay of the first answer to this Idempotency-Key.",
    "true", enum=["true"])}
OUTCOME_LOCATION = {"Location": _header("Where the outcome of the request is read.",
                                        "/api/requests/buy-7f3e9c")}
WWW_AUTHENTICATE = {"WWW-Authenticate": _header("How to authenticate.", "Bearer")}

_DOCS_SIGNER = TicketSigner("example-secret-for-the-openapi-document", 1800)
_TICKET = _DOCS_SIGNER.issue("user:3c9a7f5e-1d2b-4e8f-9a6c-7b5d4e3f2a10",
                             UUID("5f0c6d2e-8a4b-4c61-9d1e-2b7f3a9c8e10"), 1042, 1795860000.0)
ROOM_HEADERS = {
    "Location": _header("The waiting-room page of the ticket (`/waiting-room?ticket=`).",
                        waiting_room_url(_TICKET)),
    "X-Queue-Ticket": _header("The signed ticket: send it back as `X-Queue-Ticket` once "
                              "admitted.", _TICKET),
    **RETRY_AFTER,
}
_ROOM_MEMBERS = {
    "ticket": {"type": "string", "description": "The signed ticket (also `X-Queue-Ticket`)."},
    "position": {"type": ["integer", "null"], "description": "Places ahead, its own included; "
                 "null until a lottery is drawn at the start."},
    "status_url": {"type": "string", "description": "Where the ticket's standing is read."},
}


def _refusal(exc: GatewayError, accept: str = "", summary: str = "") -> ProblemExample:
    status, _, body = problem_of(exc, accept)
    members = _ROOM_MEMBERS if "ticket" in body else {}
    return ProblemExample(status, body, summary=summary, extra_schema=members)


def _rejected(code: str, operation: Operation = Operation.RESERVE) -> ProblemExample:
    answer = rejection(operation, code)
    return ProblemExample(answer.status, answer.body)


_VALIDATION = InvalidInput(
    "body.quantity: Input should be less than or equal to 10",
    [{"loc": ["body", "quantity"], "msg": "Input should be less than or equal to 10"}])

#: every refusal of the gateway by its code (the waiting room's twice: a script's 503,
#: a browser's 302)
CATALOG: dict[str, ProblemExample] = {
    "UNAUTHORIZED": _refusal(Unauthorized()),
    "INVALID_TOKEN": _refusal(InvalidToken()),
    "INVALID_CREDENTIALS": _refusal(InvalidCredentials()),
    "FORBIDDEN": _refusal(Forbidden()),
    "TICKET_INVALID": _refusal(TicketInvalid()),
    "DROP_NOT_FOUND": _refusal(DropNotFound()),
    "RESERVATION_NOT_FOUND": _refusal(ReservationNotFound()),
    "REQUEST_NOT_FOUND": _refusal(RequestNotFound()),
    "USERNAME_TAKEN": _refusal(UsernameTaken()),
    "IDEMPOTENCY_KEY_MISSING": _refusal(IdempotencyKeyMissing()),
    "IDEMPOTENCY_KEY_REUSED": _refusal(IdempotencyKeyReused()),
    "REQUEST_IN_PROGRESS": _refusal(RequestInProgress("/api/requests/buy-7f3e9c")),
    "VALIDATION_ERROR": _refusal(_VALIDATION),
    "WAITING_ROOM": _refusal(WaitingRoom(_TICKET, 42, 1),
                             summary="A place in the drop's queue (a script)"),
    "WAITING_ROOM_PAGE": _refusal(WaitingRoom(_TICKET, 42, 1), "text/html",
                                  summary="A browser is sent to the waiting-room page"),
    "SERVICE_UNAVAILABLE": _refusal(WaitingRoomFull()),
    "UPSTREAM_UNAVAILABLE": _refusal(UpstreamUnavailable()),
    "INVENTORY_TIMEOUT": _refusal(InventoryTimeout(
        "The inventory did not answer in time; the command for drop "
        "5f0c6d2e-8a4b-4c61-9d1e-2b7f3a9c8e10 may still be applied: check it before "
        "retrying.")),
    "RATE_LIMITED": _refusal(RateLimited({})),
    "PAYLOAD_TOO_LARGE": _refusal(PayloadTooLarge("Request bodies are limited to 16384 "
                                                  "bytes.")),
    "HEADERS_TOO_LARGE": _refusal(HeadersTooLarge("Request headers exceed 8192 bytes.")),
    **{code: _rejected(code) for code in (
        RejectionCode.DROP_NOT_ACTIVE, RejectionCode.OUT_OF_STOCK,
        RejectionCode.ALREADY_RESERVED, RejectionCode.LIMIT_EXCEEDED,
        RejectionCode.NO_ACTIVE_RESERVATION, RejectionCode.RESERVATION_EXPIRED,
        RejectionCode.DROP_NOT_EMPTY, RejectionCode.DROP_EXISTS, RejectionCode.INVALID_STOCK)},
    "SOLD_OUT": _rejected(RejectionCode.OUT_OF_STOCK, Operation.ORDER),
    # a FastAPI route's body that is not even text (stampede_runtime.problems)
    "BAD_REQUEST": ProblemExample.of(400, "BAD_REQUEST", "There was an error parsing the body"),
}

#: what any route under /api may answer before it runs (edge limits)
EDGE = ("HEADERS_TOO_LARGE", "RATE_LIMITED")
#: a route with a body, besides (a FastAPI route's: also bytes that are not JSON text)
BODY = ("PAYLOAD_TOO_LARGE", "VALIDATION_ERROR")
JSON_BODY = (*BODY, "BAD_REQUEST")
#: a caller's identity, besides
CALLER = ("UNAUTHORIZED", "INVALID_TOKEN")
#: the admin's drop commands, besides
ADMIN = (*EDGE, *JSON_BODY, *CALLER, "FORBIDDEN", "UPSTREAM_UNAVAILABLE",
         "INVENTORY_TIMEOUT")
#: every order-path request, besides its own refusals
ORDER_PATH = (*EDGE, *BODY, *CALLER, "IDEMPOTENCY_KEY_MISSING", "IDEMPOTENCY_KEY_REUSED",
              "REQUEST_IN_PROGRESS", "UPSTREAM_UNAVAILABLE")
#: reserve and buy-now pass the drop's waiting room
GATED = ("WAITING_ROOM", "WAITING_ROOM_PAGE", "TICKET_INVALID", "SERVICE_UNAVAILABLE")


def _status_headers(statuses: set[int], *, rate: bool, order_path: bool
                    ) -> dict[int, dict[str, Any]]:
    headers: dict[int, dict[str, Any]] = {}
    for status in statuses:
        h: dict[str, Any] = dict(RATE_LIMIT) if rate else {}
        if status == 401:
            h.update(WWW_AUTHENTICATE)
        if status == 429:
            h.update({**RETRY_AFTER, **RATE_LIMIT})
        if status in (503, 504):
            h.update(RETRY_AFTER)
        if status in (302, 503) and order_path:
            h.update(ROOM_HEADERS)
        if status == 409 and order_path:  # REQUEST_IN_PROGRESS
            h.update({**RETRY_AFTER, **OUTCOME_LOCATION})
        if order_path and status in (404, 409, 422):  # a decided refusal is replayed too
            h.update(REPLAYED)
        if h:
            headers[status] = h
    return headers


def errors(*codes: str, rate: bool = True, order_path: bool = False) -> Responses:
    """The problem responses of these codes (each with its real body as example), with
    the headers they carry: the RateLimit pair on every answer under /api (``rate``),
    the waiting room's, the outcome's and the replay's on the order path."""
    examples = [CATALOG[code] for code in dict.fromkeys(codes)]
    statuses = {e.status for e in examples}
    return problem_responses(*examples, headers=_status_headers(
        statuses, rate=rate, order_path=order_path))


def success(status: int, *, rate: bool = True, replayed: bool = False,
            **headers: dict[str, Any]) -> Responses:
    """A success answer's headers (its body is the route's ``response_model``)."""
    h: dict[str, Any] = dict(RATE_LIMIT) if rate else {}
    if replayed:
        h.update(REPLAYED)
    for more in headers.values():
        h.update(more)
    return {status: {"headers": h}} if h else {}
