"""The gateway's errors, each a ``Problem`` with its stable code (RFC 9457 at the edge).

    Problem (stampede_runtime.problems)
    ├── Unauthorized            401 UNAUTHORIZED
    ├── InvalidCredentials      401 INVALID_CREDENTIALS
    ├── InvalidToken            401 INVALID_TOKEN
    ├── Forbidden               403 FORBIDDEN
    ├── DropNotFound            404 DROP_NOT_FOUND
    ├── ReservationNotFound     404 RESERVATION_NOT_FOUND
    ├── RequestNotFound         404 REQUEST_NOT_FOUND
    ├── TicketRefused           403 TICKET_INVALID
    ├── UsernameTaken           409 USERNAME_TAKEN
    ├── DropNotEmpty            409 DROP_NOT_EMPTY (via rejections)
    ├── IdempotencyKeyMissing   400 IDEMPOTENCY_KEY_MISSING
    ├── IdempotencyKeyReused    422 IDEMPOTENCY_KEY_REUSED
    ├── RequestInProgress       409 REQUEST_IN_PROGRESS
    ├── InvalidInput            422 VALIDATION_ERROR
    ├── UpstreamUnavailable     503 UPSTREAM_UNAVAILABLE
    └── InventoryTimeout        504 INVENTORY_TIMEOUT
"""

from __future__ import annotations

from stampede_contracts import RejectionCode
from stampede_runtime.problems import Problem

from .domain.outcomes import REJECTION_STATUS


class Unauthorized(Problem):
    def __init__(self, detail: str = "Authentication required.") -> None:
        super().__init__(401, "UNAUTHORIZED", detail, headers={"WWW-Authenticate": "Bearer"})


class InvalidCredentials(Problem):
    def __init__(self) -> None:
        super().__init__(401, "INVALID_CREDENTIALS", "Wrong username or password.")


class InvalidToken(Problem):
    def __init__(self, detail: str = "The token is invalid, expired or revoked.") -> None:
        super().__init__(401, "INVALID_TOKEN", detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(Problem):
    def __init__(self, detail: str = "Only an admin may do this.") -> None:
        super().__init__(403, "FORBIDDEN", detail)


class DropNotFound(Problem):
    def __init__(self) -> None:
        super().__init__(404, "DROP_NOT_FOUND", "No such drop.")


class ReservationNotFound(Problem):
    def __init__(self) -> None:
        super().__init__(404, "RESERVATION_NOT_FOUND", "No such reservation of yours.")


class RequestNotFound(Problem):
    def __init__(self) -> None:
        super().__init__(404, "REQUEST_NOT_FOUND", "No request of yours with this key.")


class TicketRefused(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(403, "TICKET_INVALID", detail)


class UsernameTaken(Problem):
    def __init__(self) -> None:
        super().__init__(409, "USERNAME_TAKEN", "That username is taken.")


class IdempotencyKeyMissing(Problem):
    def __init__(self) -> None:
        super().__init__(400, "IDEMPOTENCY_KEY_MISSING",
                         "This request needs an Idempotency-Key header.")


class IdempotencyKeyReused(Problem):
    def __init__(self) -> None:
        super().__init__(422, "IDEMPOTENCY_KEY_REUSED",
                         "This Idempotency-Key was used for another request.")


class RequestInProgress(Problem):
    def __init__(self, location: str) -> None:
        super().__init__(409, "REQUEST_IN_PROGRESS",
                         "The first request with this key is still being decided.",
                         headers={"Retry-After": "1", "Location": location})


class InvalidInput(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(422, "VALIDATION_ERROR", detail)


class UpstreamUnavailable(Problem):
    def __init__(self, detail: str = "A backing service is unavailable; try again.") -> None:
        super().__init__(503, "UPSTREAM_UNAVAILABLE", detail, headers={"Retry-After": "1"})


class InventoryTimeout(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(504, "INVENTORY_TIMEOUT", detail, headers={"Retry-After": "1"})


def rejected(code: RejectionCode, detail: str | None = None) -> Problem:
    """The inventory said no to an admin command."""
    return Problem(REJECTION_STATUS.get(code, 409), code.value, detail)
