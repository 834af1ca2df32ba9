"""Waiting-room tickets: signed, time-stamped, bound to one client."""

from __future__ import annotations

import pytest
from stampede_gateway.domain.tickets import TicketInvalid, TicketSigner

SIGNER = TicketSigner("a-secret-of-sixteen-or-more", ttl_s=60)


def test_a_ticket_verifies_for_its_client():
    ticket, token = SIGNER.issue("user:a", "drop-1", now=1000.0)
    verified = SIGNER.verify(token, now=1010.0, client_key="user:a")
    assert verified == ticket
    assert verified.drop_id == "drop-1"


def test_each_ticket_is_unique():
    assert SIGNER.issue("user:a", "", 1.0)[1] != SIGNER.issue("user:a", "", 1.0)[1]


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature changed
    lambda t: "x" + t,  # payload changed
    lambda t: t.replace(".", ""),  # no separator
    lambda t: "",
    lambda t: t + "." + t,
    lambda t: "a" * 600,
    lambda t: t[:-1] + "é",
])
def test_forged_tickets_are_refused(mangle):
    _, token = SIGNER.issue("user:a", "", 1000.0)
    with pytest.raises(TicketInvalid):
        SIGNER.verify(mangle(token), 1000.0)


def test_another_secret_is_a_forgery():
    _, token = TicketSigner("another-secret-of-sixteen", 60).issue("user:a", "", 1000.0)
    with pytest.raises(TicketInvalid, match="signature"):
        SIGNER.verify(token, 1000.0)


def test_expired_and_future_tickets_are_refused():
    _, token = SIGNER.issue("user:a", "", 1000.0)
    with pytest.raises(TicketInvalid, match="expired"):
        SIGNER.verify(token, 1061.0)
    with pytest.raises(TicketInvalid, match="expired"):
        SIGNER.verify(token, 900.0)


def test_a_ticket_of_another_client_is_refused():
    _, token = SIGNER.issue("user:a", "", 1000.0)
    with pytest.raises(TicketInvalid, match="another client"):
        SIGNER.verify(token, 1000.0, client_key="user:b")
