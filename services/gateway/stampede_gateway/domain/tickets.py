"""Waiting-room tickets: signed, self-describing, bound to the client they were given to.

A ticket names its drop, its number in the drop's queue, when it was issued and a digest
of its client; any gateway process verifies it with the shared secret, without a lookup.
Wire form: base64url of ``payload || mac``, the payload being
``version (1) | drop id (16) | number (8) | issued at, unix s (4) | client digest (8)``
and the mac the first 16 bytes of HMAC-SHA256 over the payload (72 characters in all).

Whether a ticket's number has been reached, and whether it was already used, is the
waiting room's business (``serving``, and the idempotency records), not the ticket's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass
from uuid import UUID

MAX_TICKET_CHARS = 512  # what the API accepts before looking (the real ones are 72)
_VERSION = 1
_PAYLOAD = struct.Struct(">B16sQI8s")
_MAC_BYTES = 16
_SIZE = _PAYLOAD.size + _MAC_BYTES


class TicketInvalid(ValueError):
    """The ticket is forged, malformed, expired or another client's."""


@dataclass(frozen=True, slots=True)
class Ticket:
    drop_id: UUID
    number: int  # its place in the drop's queue, in order of arrival (1 = first)
    issued_at: int  # unix seconds
    client: bytes  # digest of the client key, never the key itself

    @property
    def ticket_id(self) -> str:
        """What its single use is recorded under: one per (drop, number)."""
        return f"{self.drop_id}:{self.number}"


def client_digest(client_key: str) -> bytes:
    return hashlib.blake2b(client_key.encode(), digest_size=8).digest()


class TicketSigner:
    def __init__(self, secret: str, ttl_s: int) -> None:
        self._key = hashlib.sha256(secret.encode()).digest()
        self.ttl_s = ttl_s

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def issue(self, client_key: str, drop_id: UUID, number: int, now: float) -> str:
        payload = _PAYLOAD.pack(_VERSION, drop_id.bytes, number, int(now),
                                client_digest(client_key))
        return base64.urlsafe_b64encode(payload + self._mac(payload)).decode()

    def verify(self, token: str, now: float, client_key: str | None = None) -> Ticket:
        """The ticket, if genuine, unexpired and (when ``client_key`` is given) its own."""
        if not token or len(token) > MAX_TICKET_CHARS or not token.isascii():
            raise TicketInvalid("malformed ticket")
        try:
            raw = base64.urlsafe_b64decode(token.encode())
        except (binascii.Error, ValueError):
            raise TicketInvalid("malformed ticket") from None
        if len(raw) != _SIZE or base64.urlsafe_b64encode(raw).decode() != token:
            raise TicketInvalid("malformed ticket")  # one spelling only: no padding tricks
        payload, mac = raw[: _PAYLOAD.size], raw[_PAYLOAD.size:]
        if not hmac.compare_digest(self._mac(payload), mac):
            raise TicketInvalid("bad signature")
        version, drop, number, issued_at, client = _PAYLOAD.unpack(payload)
        if version != _VERSION:
            raise TicketInvalid("malformed ticket")
        if now - issued_at > self.ttl_s or issued_at > now + 5:
            raise TicketInvalid("expired ticket")
        if client_key is not None and not hmac.compare_digest(client, client_digest(client_key)):
            raise TicketInvalid("ticket of another client")
        return Ticket(UUID(bytes=drop), number, issued_at, client)
