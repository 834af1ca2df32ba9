"""The gateway's refusals: plain exceptions, each with its stable API ``code``.

They carry what the client is told, never how: ``api/problem_map.py`` alone turns them
into RFC 9457 problem documents (status, headers), so nothing outside ``api/`` knows HTTP.

    GatewayError
    ├── Unauthorized            UNAUTHORIZED
    ├── InvalidCredentials      INVALID_CREDENTIALS
    ├── InvalidToken            INVALID_TOKEN
    ├── Forbidden               FORBIDDEN
    ├── DropNotFound            DROP_NOT_FOUND
    ├── ReservationNotFound     RESERVATION_NOT_FOUND
    ├── RequestNotFound         REQUEST_NOT_FOUND
    ├── TicketInvalid           TICKET_INVALID
    ├── UsernameTaken           USERNAME_TAKEN
    ├── IdempotencyKeyMissing   IDEMPOTENCY_KEY_MISSING
    ├── IdempotencyKeyReused    IDEMPOTENCY_KEY_REUSED
    ├── RequestInProgress       REQUEST_IN_PROGRESS
    ├── InvalidInput            VALIDATION_ERROR
    ├── Rejected                the inventory's code (an admin command it refused)
    ├── WaitingRoom             WAITING_ROOM (a place in the drop's queue)
    ├── WaitingRoomFull         SERVICE_UNAVAILABLE
    ├── UpstreamUnavailable     UPSTREAM_UNAVAILABLE
    ├── InventoryTimeout        INVENTORY_TIMEOUT
    ├── RateLimited             RATE_LIMITED (with the RateLimit headers)
    ├── PayloadTooLarge         PAYLOAD_TOO_LARGE
    └── HeadersTooLarge         HEADERS_TOO_LARGE
"""

from __future__ import annotations

from typing import Any, ClassVar


class GatewayError(Exception):
    code: ClassVar[str] = "ERROR"
    default_detail: ClassVar[str] = "The request was refused."

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.default_detail
        super().__init__(f"{self.code}: {self.detail}")


class Unauthorized(GatewayError):
    code = "UNAUTHORIZED"
    default_detail = "Authentication required."


class InvalidCredentials(GatewayError):
    code = "INVALID_CREDENTIALS"
    default_detail = "Wrong username or password."


class InvalidToken(GatewayError):
    code = "INVALID_TOKEN"
    default_detail = "The token is invalid, expired or revoked."


class Forbidden(GatewayError):
    code = "FORBIDDEN"
    default_detail = "Only an admin may do this."


class DropNotFound(GatewayError):
    code = "DROP_NOT_FOUND"
    default_detail = "No such drop."


class ReservationNotFound(GatewayError):
    code = "RESERVATION_NOT_FOUND"
    default_detail = "No such reservation of yours."


class RequestNotFound(GatewayError):
    code = "REQUEST_NOT_FOUND"
    default_detail = "No request of yours with this key."


class TicketInvalid(GatewayError):
    code = "TICKET_INVALID"
    default_detail = "Queue ticket refused: forged, expired, used or another buyer's."


class UsernameTaken(GatewayError):
    code = "USERNAME_TAKEN"
    default_detail = "That username is taken."


class IdempotencyKeyMissing(GatewayError):
    code = "IDEMPOTENCY_KEY_MISSING"
    default_detail = "This request needs an Idempotency-Key header."


class IdempotencyKeyReused(GatewayError):
    code = "IDEMPOTENCY_KEY_REUSED"
    default_detail = "This Idempotency-Key was used for another request."


class RequestInProgress(GatewayError):
    code = "REQUEST_IN_PROGRESS"
    default_detail = "The first request with this key is still being decided."

    def __init__(self, outcome_url: str) -> None:
        super().__init__()
        self.outcome_url = outcome_url


class InvalidInput(GatewayError):
    code = "VALIDATION_ERROR"
    default_detail = "The request is not valid."

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors


class Rejected(GatewayError):
    """The inventory said no to an admin command (its code is the API's)."""

    def __init__(self, code: str, detail: str | None = None) -> None:
        self.code = code  # type: ignore[misc]  # per instance: the inventory's code
        super().__init__(detail or code.replace("_", " ").capitalize() + ".")


class WaitingRoom(GatewayError):
    """Not now: the buyer has a place in the drop's queue (a signed ticket)."""

    code = "WAITING_ROOM"
    default_detail = "Too many buyers right now: you have a place in the waiting room."

    def __init__(self, ticket: str, position: int | None, retry_after_s: int) -> None:
        super().__init__()
        self.ticket = ticket
        self.position = position
        self.retry_after_s = retry_after_s


class WaitingRoomFull(GatewayError):
    code = "SERVICE_UNAVAILABLE"
    default_detail = "The waiting room is full; try again later."


class UpstreamUnavailable(GatewayError):
    code = "UPSTREAM_UNAVAILABLE"
    default_detail = "A backing service is unavailable; try again."


class InventoryTimeout(GatewayError):
    code = "INVENTORY_TIMEOUT"
    default_detail = "The inventory did not answer in time."


class RateLimited(GatewayError):
    code = "RATE_LIMITED"
    default_detail = "Too many requests; slow down."

    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__()
        self.headers = headers


class PayloadTooLarge(GatewayError):
    code = "PAYLOAD_TOO_LARGE"


class HeadersTooLarge(GatewayError):
    code = "HEADERS_TOO_LARGE"
