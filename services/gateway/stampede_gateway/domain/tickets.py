"""Waiting-room tickets: signed (HMAC-SHA256), time-stamped, bound to one client.

A ticket is ``<payload>.<signature>``, both base64url: the payload is compact JSON
``{"t": ticket id, "i": issued at (unix s), "c": client digest, "d": drop id or ""}``.
Forged (bad signature, bad shape) and expired tickets are refused here; whether a
ticket is admitted or was already used is the waiting room's business.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

MAX_TICKET_CHARS = 512


class TicketInvalid(ValueError):
    """The ticket is forged, malformed, expired or for another client."""


@dataclass(frozen=True, slots=True)
class Ticket:
    ticket_id: str
    issued_at: int
    client: str  # digest of the client key, never the key itself
    drop_id: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def client_digest(client_key: str) -> str:
    return hashlib.sha256(client_key.encode()).hexdigest()[:16]


class TicketSigner:
    def __init__(self, secret: str, ttl_s: int) -> None:
        self._key = hashlib.sha256(secret.encode()).digest()
        self.ttl_s = ttl_s

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def issue(self, client_key: str, drop_id: str, now: float) -> tuple[Ticket, str]:
        ticket = Ticket(secrets.token_hex(8), int(now), client_digest(client_key), drop_id)
        body = json.dumps(
            {"t": ticket.ticket_id, "i": ticket.issued_at, "c": ticket.client, "d": drop_id},
            separators=(",", ":"),
        )
        payload = _b64(body.encode())
        return ticket, f"{payload}.{self._sign(payload)}"

    def verify(self, token: str, now: float, client_key: str | None = None) -> Ticket:
        if (not token or len(token) > MAX_TICKET_CHARS or not token.isascii()
                or token.count(".") != 1):
            raise TicketInvalid("malformed ticket")
        payload, signature = token.split(".")
        if not hmac.compare_digest(self._sign(payload), signature):
            raise TicketInvalid("bad signature")
        try:
            data = json.loads(_unb64(payload))
            ticket = Ticket(str(data["t"]), int(data["i"]), str(data["c"]), str(data["d"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise TicketInvalid("malformed ticket") from exc
        if now - ticket.issued_at > self.ttl_s or ticket.issued_at > now + 5:
            raise TicketInvalid("expired ticket")
        if client_key is not None and not hmac.compare_digest(
            ticket.client, client_digest(client_key)
        ):
            raise TicketInvalid("ticket of another client")
        return ticket
