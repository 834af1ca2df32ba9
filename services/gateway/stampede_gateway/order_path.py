"""The order path's use case: refuse → gate → decide → release.

1. **refuse**: the drop view's sure "no" (sold out, not live) is answered at once,
   recorded under the key as its code alone, and touches no Kafka;
2. **gate**: reserve and buy-now pass the drop's waiting room (``waiting_room``): at once,
   with an admitted ticket, or not now (``WaitingRoom``);
3. **decide**: the key is claimed (group-committed, durable, spending the ticket if any),
   the command (id derived from user and key) goes to the drop's single writer, and its
   reply is the answer; no reply within ``REPLY_TIMEOUT_S`` is a ``202`` with the outcome
   URL, never a false yes or no. The answer is recorded under the key behind it (the
   inventory holds the decision by command id, so a lost record is recovered by asking
   again);
4. **release**: the gate's place is given back.

A key already known is judged by its record: replayed, refused as reused, in progress,
or taken over (its owner is gone: the same command is sent again).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from stampede_contracts import RejectionCode, command_id_for, reservation_id_for, utcnow

from . import metrics
from .adapters.claims import Claim, Claims
from .adapters.idempotency_store import Completion, IdempotencyStore
from .adapters.inventory import InventoryClient, RawReply, command_envelope, readdressed
from .adapters.orders_client import OrdersClient
from .domain.drop_view import Admission, DropViews
from .domain.idempotency import Seen, StoredResponse, judge
from .domain.outcomes import GATED, Operation, from_reply, refusal
from .errors import (
    IdempotencyKeyReused,
    RequestInProgress,
    RequestNotFound,
    TicketInvalid,
    UpstreamUnavailable,
)
from .waiting_room import WaitingRooms

log = logging.getLogger(__name__)


def outcome_url(key: str) -> str:
    return f"/api/requests/{key}"


def pending(key: str) -> StoredResponse:
    url = outcome_url(key)
    body = {"status": "pending", "idempotency_key": key, "outcome_url": url}
    return StoredResponse(202, body, {"Location": url, "Retry-After": "1"})


@dataclass(frozen=True, slots=True)
class OrderRequest:
    user_id: UUID
    client_key: str  # whom tickets and limits are for
    key: str  # the Idempotency-Key
    operation: Operation
    drop_id: UUID
    command: dict[str, Any]  # the command as JSON, already validated
    fingerprint: str
    quantity: int = 1
    ticket: str | None = None  # X-Queue-Ticket


@dataclass(frozen=True, slots=True)
class Answer:
    response: StoredResponse
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class _Asked:
    """A request whose reply may come after its answer (a 202): recorded when it does."""

    user_id: UUID
    key: str
    operation: Operation
    until: float  # monotonic: forgotten after (the outcome URL asks again)


class OrderPath:
    def __init__(self, views: DropViews, claims: Claims, records: IdempotencyStore,
                 inventory: InventoryClient, rooms: WaitingRooms, orders: OrdersClient,
                 reply_timeout_s: float) -> None:
        self._views = views
        self._claims = claims
        self._records = records
        self._inventory = inventory
        self._rooms = rooms
        self._orders = orders
        self._timeout = reply_timeout_s
        self._late: dict[str, _Asked] = {}
        inventory.on_late_reply = self.record_late_reply

    async def run(self, req: OrderRequest) -> Answer:
        verdict: RejectionCode | Admission = Admission.ASK
        if req.operation in GATED:
            verdict = self._views.refuse_at_once(req.drop_id, req.quantity, utcnow())
        if isinstance(verdict, RejectionCode):
            return await self._refuse(req, verdict)
        if req.operation not in GATED:
            return await self._decide(req, None)
        passage = await self._rooms.enter(req.client_key, req.drop_id, req.ticket,
                                          queue_only=verdict is Admission.QUEUE)
        try:
            return await self._decide(req, passage.ticket_id)
        finally:
            self._rooms.leave(passage)

    async def _refuse(self, req: OrderRequest, code: RejectionCode) -> Answer:
        """The view's sure "no", one write: claimed already decided (spending a ticket the
        buyer brought: no point keeping a place for it)."""
        ticket_id = self._rooms.ticket_id(req.ticket, req.client_key) if req.ticket else None
        response = refusal(req.operation, code)
        claim = Claim(req.user_id, req.key, req.fingerprint, req.operation.value,
                      status=response.status, refusal=code.value, ticket=ticket_id)
        if await self._claims.claim(claim):
            metrics.order_answers.labels(req.operation.value, response.status, "view").inc()
            return Answer(response)
        return await self._known(req, ticket_id)

    async def _decide(self, req: OrderRequest, ticket_id: str | None) -> Answer:
        command_id = command_id_for(req.user_id, req.key)
        envelope = command_envelope(command_id, req.drop_id, req.command,
                                    self._inventory.instance_id, utcnow())
        hold = None
        if req.operation is Operation.RESERVE:
            hold = (reservation_id_for(command_id), req.drop_id)
        claim = Claim(req.user_id, req.key, req.fingerprint, req.operation.value,
                      command_id=command_id, command=envelope.decode(),
                      lease_until=utcnow() + self._records.lease, ticket=ticket_id, hold=hold)
        if await self._claims.claim(claim):
            return await self._ask(req, command_id, envelope)
        return await self._known(req, ticket_id)

    async def _known(self, req: OrderRequest, ticket_id: str | None) -> Answer:
        record = await self._records.get(req.user_id, req.key)
        if record is None:
            if ticket_id is not None:  # the key is new: its ticket was spent by another
                raise TicketInvalid("Queue ticket refused: it was already used.")
            raise RequestInProgress(outcome_url(req.key))  # purged meanwhile: retry
        seen = judge(record, req.fingerprint, utcnow())
        if seen is Seen.REUSED:
            raise IdempotencyKeyReused()
        if seen is Seen.REPLAY:
            assert record.response is not None
            metrics.order_answers.labels(req.operation.value, record.response.status,
                                         "replay").inc()
            return Answer(record.response, replayed=True)
        if seen is Seen.TAKE_OVER:
            command = await self._records.take_over(req.user_id, req.key)
            if command is not None:
                log.info("taking over pending request %s (command %s)", req.key,
                         record.command_id)
                _, envelope = readdressed(command, self._inventory.instance_id)
                return await self._ask(req, record.command_id, envelope)
        raise RequestInProgress(outcome_url(req.key))

    async def _ask(self, req: OrderRequest, command_id: UUID, envelope: bytes) -> Answer:
        reply = await self._inventory.ask(command_id, req.drop_id, envelope, self._timeout)
        if reply is None:
            self._late[str(command_id)] = _Asked(
                req.user_id, req.key, req.operation,
                time.monotonic() + self._records.lease.total_seconds() + self._timeout)
            metrics.reply_timeouts.inc()
            metrics.order_answers.labels(req.operation.value, 202, "pending").inc()
            return Answer(pending(req.key))
        response = self._record(req.user_id, req.key, req.operation, reply)
        metrics.order_answers.labels(req.operation.value, response.status, "inventory").inc()
        return Answer(response)

    def _record(self, user_id: UUID, key: str, operation: Operation,
                reply: RawReply) -> StoredResponse:
        response = from_reply(operation, reply)
        seq = reply.get("seq")
        if reply["ok"] and seq is not None:  # read-your-writes for the view
            drop_id = UUID(reply["drop_id"])
            self._views.note(drop_id, int(seq), time.monotonic())
            if operation is Operation.CANCEL:  # stock came back: no sure "no" until seen
                self._views.invalidate(drop_id, int(seq))
        self._records.complete(Completion(user_id, key, response))
        return response

    async def record_late_reply(self, reply: RawReply) -> None:
        now = time.monotonic()
        for command in [c for c, a in self._late.items() if a.until <= now]:
            del self._late[command]
        asked: _Asked | None = self._late.pop(reply["command_id"], None)
        if asked is not None:
            self._record(asked.user_id, asked.key, asked.operation, reply)
            metrics.late_replies.inc()

    async def outcome(self, user_id: UUID, key: str) -> tuple[int, dict[str, Any]]:
        """What became of a request (for ``GET /api/requests/{key}``)."""
        record = await self._records.get(user_id, key)
        if record is None:
            raise RequestNotFound()
        if record.response is not None:
            return 200, {"idempotency_key": key, "status": "completed",
                         "response_status": record.response.status,
                         "response": record.response.body}
        if record.lease_until <= utcnow():
            command = await self._records.take_over(user_id, key)
            if command is not None:  # its reply was lost: ask again (same command id)
                self._late[str(record.command_id)] = _Asked(
                    user_id, key, Operation(record.operation),
                    time.monotonic() + self._records.lease.total_seconds())
                drop_id, envelope = readdressed(command, self._inventory.instance_id)
                await self._inventory.send(drop_id, envelope)
        return 202, pending(key).body

    async def drop_of_hold(self, user_id: UUID, reservation_id: UUID) -> UUID | None:
        """The drop of one's hold: noted with the reserve's claim, else the read model."""
        drop_id = await self._records.hold_drop(user_id, reservation_id)
        if drop_id is not None:
            return drop_id
        try:
            page = await self._orders.user_reservations(user_id, 100, 0)
        except UpstreamUnavailable:
            return None
        return next((r.drop_id for r in page.items if r.id == reservation_id), None)
