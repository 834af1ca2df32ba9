"""The gateway's refusals (``errors``) as RFC 9457 problem documents: status, headers and
body, in one table. Used by the raw front door and by FastAPI's exception handler alike."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from stampede_runtime.problem_docs import PROBLEM_MEDIA_TYPE, problem_document

from ..domain.outcomes import REJECTION_STATUS
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
    Rejected,
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

STATUS: dict[type[GatewayError], int] = {
    Unauthorized: 401, InvalidCredentials: 401, InvalidToken: 401, Forbidden: 403,
    TicketInvalid: 403, DropNotFound: 404, ReservationNotFound: 404, RequestNotFound: 404,
    UsernameTaken: 409, RequestInProgress: 409, IdempotencyKeyMissing: 400,
    IdempotencyKeyReused: 422, InvalidInput: 422, WaitingRoom: 503, WaitingRoomFull: 503,
    UpstreamUnavailable: 503, InventoryTimeout: 504, RateLimited: 429, PayloadTooLarge: 413,
    HeadersTooLarge: 431,
}


def waiting_room_url(ticket: str) -> str:
    return f"/waiting-room?ticket={quote(ticket)}"


def prefers_html(accept: str) -> bool:
    """A browser navigating (not a script asking for JSON) is sent to the page."""
    accept = accept.lower()
    if "application/json" in accept or "application/problem+json" in accept:
        return False
    return "text/html" in accept


def problem_of(exc: GatewayError, accept: str = "") -> tuple[int, dict[str, str],
                                                             dict[str, Any]]:
    """(status, headers, body) of a refusal."""
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    status = STATUS.get(type(exc), 409)
    title = None
    if isinstance(exc, Rejected):
        status = REJECTION_STATUS.get(exc.code, 409)
    elif isinstance(exc, Unauthorized | InvalidToken):
        headers["WWW-Authenticate"] = "Bearer"
    elif isinstance(exc, RequestInProgress):
        headers.update({"Retry-After": "1", "Location": exc.outcome_url})
    elif isinstance(exc, UpstreamUnavailable | InventoryTimeout):
        headers["Retry-After"] = "1"
    elif isinstance(exc, RateLimited):
        headers.update(exc.headers)
    elif isinstance(exc, WaitingRoomFull):
        headers["Retry-After"] = "10"
    elif isinstance(exc, InvalidInput) and exc.errors is not None:
        extra["errors"] = exc.errors
    elif isinstance(exc, WaitingRoom):
        headers.update({"Location": waiting_room_url(exc.ticket),
                        "Retry-After": str(exc.retry_after_s), "X-Queue-Ticket": exc.ticket})
        if prefers_html(accept):
            status, title = 302, "Found"
        else:
            extra.update(ticket=exc.ticket, position=exc.position,
                         status_url=f"/waiting-room/status?ticket={quote(exc.ticket)}")
    body = problem_document(status, exc.code, exc.detail, title=title, extra=extra)
    return status, headers, body


async def _on_gateway_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GatewayError)
    status, headers, body = problem_of(exc, request.headers.get("accept", ""))
    return JSONResponse(body, status_code=status, headers=headers,
                        media_type=PROBLEM_MEDIA_TYPE)


def install(app: FastAPI) -> None:
    app.add_exception_handler(GatewayError, _on_gateway_error)
