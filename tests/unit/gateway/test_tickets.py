"""Waiting-room tickets: signed, self-describing (drop, number, issue time), bound to one
client, verified by any process with the secret."""

from __future__ import annotations

import base64
import uuid

import pytest
from stampede_gateway.domain.tickets import Ticket, TicketInvalid, TicketSigner, client_digest

SIGNER = TicketSigner("a-secret-of-sixteen-or-more", ttl_s=60)
DROP = uuid.UUID("6f1c0a9e-3b2d-4c5e-8f70-1a2b3c4d5e6f")


def test_a_ticket_verifies_for_its_client_and_says_what_it_is():
    token = SIGNER.issue("user:a", DROP, 42, now=1000.0)
    verified = SIGNER.verify(token, now=1010.0, client_key="user:a")
    assert verified == Ticket(DROP, 42, 1000, client_digest("user:a"))
    assert verified.ticket_id == f"{DROP}:42"
    assert len(token) == 72 and token.isascii()
    # another process with the same secret verifies it too
    assert TicketSigner("a-secret-of-sixteen-or-more", ttl_s=60).verify(token, 1010.0) == verified


def test_numbers_make_tickets_distinct():
    assert SIGNER.issue("user:a", DROP, 1, 1.0) != SIGNER.issue("user:a", DROP, 2, 1.0)


def _flip(token: str, at: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[at] ^= 1
    return base64.urlsafe_b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("mangle", [
    lambda t: _flip(t, 20),  # the number changed
    lambda t: _flip(t, 1),  # the drop changed
    lambda t: _flip(t, len(base64.urlsafe_b64decode(t)) - 1),  # the mac changed
    lambda t: t[:-4],
    lambda t: "",
    lambda t: t + t,
    lambda t: "a" * 600,
    lambda t: t[:-1] + "é",
    lambda t: "!!" + t[2:],
])
def test_forged_tickets_are_refused(mangle):
    token = SIGNER.issue("user:a", DROP, 7, 1000.0)
    with pytest.raises(TicketInvalid):
        SIGNER.verify(mangle(token), 1000.0)


def test_another_secret_is_a_forgery():
    token = TicketSigner("another-secret-of-sixteen", 60).issue("user:a", DROP, 1, 1000.0)
    with pytest.raises(TicketInvalid, match="signature"):
        SIGNER.verify(token, 1000.0)


def test_expired_and_future_tickets_are_refused():
    token = SIGNER.issue("user:a", DROP, 1, 1000.0)
    with pytest.raises(TicketInvalid, match="expired"):
        SIGNER.verify(token, 1061.0)
    with pytest.raises(TicketInvalid, match="expired"):
        SIGNER.verify(token, 900.0)


def test_a_ticket_of_another_client_is_refused():
    token = SIGNER.issue("user:a", DROP, 1, 1000.0)
    with pytest.raises(TicketInvalid, match="another client"):
        SIGNER.verify(token, 1000.0, client_key="user:b")
