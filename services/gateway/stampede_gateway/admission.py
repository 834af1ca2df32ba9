"""The waiting room at the HTTP edge: the gate on the order path and its tickets.

Over capacity, a request gets a signed ticket and is sent to the waiting room:
``302`` to ``/waiting-room?ticket=…`` when the client prefers HTML, ``503
WAITING_ROOM`` with the same ``Location`` otherwise. An admitted ticket, sent back
as ``X-Queue-Ticket``, passes the gate once.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote
from uuid import UUID

from stampede_runtime.problems import Problem

from .domain.drop_view import DropViews
from .domain.tickets import TicketInvalid, TicketSigner
from .domain.waiting_room import Pass, QueueStatus, WaitingRoom
from .errors import TicketRefused


def prefers_html(accept: str) -> bool:
    accept = accept.lower()
    if "application/json" in accept or "application/problem+json" in accept:
        return False
    return "text/html" in accept


def waiting_room_url(token: str) -> str:
    return f"/waiting-room?ticket={quote(token)}"


class Admission:
    def __init__(self, room: WaitingRoom, signer: TicketSigner, views: DropViews) -> None:
        self.room = room
        self.signer = signer
        self.views = views

    @asynccontextmanager
    async def enter(
        self, client_key: str, drop_id: UUID | None, ticket: str | None, accept: str
    ) -> AsyncIterator[None]:
        now = time.time()
        if ticket:
            try:
                verified = self.signer.verify(ticket, now, client_key)
            except TicketInvalid as exc:
                raise TicketRefused(f"Queue ticket refused: {exc}.") from None
            verdict = self.room.use(verified.ticket_id, now)
            if verdict is Pass.REFUSED:
                raise TicketRefused("Queue ticket refused: already used, expired or unknown.")
            if verdict is Pass.WAITING:
                status = self.room.status(verified.ticket_id, now)
                raise self._to_waiting_room(ticket, status, accept)
        elif not self.room.try_enter(now):
            if self.room.full():
                raise Problem(503, "SERVICE_UNAVAILABLE", "The waiting room is full.",
                              headers={"Retry-After": "10"})
            issued, token = self.signer.issue(client_key, str(drop_id or ""), now)
            self.room.enqueue(issued.ticket_id, issued.drop_id, issued.issued_at, now)
            raise self._to_waiting_room(token, self.room.status(issued.ticket_id, now), accept)
        try:
            yield
        finally:
            self.room.leave(time.time())

    def release(self, client_key: str, ticket: str) -> None:
        """Give up the ticket's place: its request was answered at once (a sure "no")."""
        now = time.time()
        try:
            verified = self.signer.verify(ticket, now, client_key)
        except TicketInvalid:
            return
        self.room.withdraw(verified.ticket_id, now)

    def _to_waiting_room(self, token: str, status: QueueStatus | None, accept: str) -> Problem:
        location = waiting_room_url(token)
        retry = status.retry_after_s if status else 1
        headers = {"Location": location, "Retry-After": str(retry), "X-Queue-Ticket": token}
        detail = "Too many buyers right now: you have a place in the waiting room."
        if prefers_html(accept):
            return Problem(302, "WAITING_ROOM", detail, title="Found", headers=headers)
        return Problem(503, "WAITING_ROOM", detail, headers=headers, extra={
            "ticket": token, "position": status.position if status else None,
            "status_url": f"/waiting-room/status?ticket={quote(token)}",
        })

    def status(self, token: str) -> tuple[QueueStatus, bool]:
        now = time.time()
        try:
            verified = self.signer.verify(token, now)
        except TicketInvalid as exc:
            raise TicketRefused(f"Queue ticket refused: {exc}.") from None
        status = self.room.status(verified.ticket_id, now)
        if status is None:
            raise TicketRefused("Queue ticket refused: already used, expired or unknown.")
        sold_out = False
        if status.drop_id:
            try:
                sold_out = self.views.sold_out(UUID(status.drop_id))
            except ValueError:
                sold_out = False
        return status, sold_out
