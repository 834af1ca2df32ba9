"""The order path's use case: refuse → gate → decide → release.

1. **refuse**: the drop view's sure "no" (sold out, not live) is answered at once,
   recorded under the key as its code alone, and touches no Kafka;
2. **gate**: reserve and buy-now pass the drop's waiting room (``waiting_room``): at once,
   with an admitted ticket, or not now (``WaitingRoom``);
3. **decide**: the key is claimed (group-committed, durable, spending the ticket if any),
   the command (id derived from user and key) goes to the drop's single writer, and its
   reply is the answer; no reply within ``REPLY_TIMEOUT_S`` is a ``202`` with the outcome
   URL, never a false yes or no. The answer is *not* written again here: the inventory
   keeps every decision's first reply by command id (at least 24 h) and answers the same
   command id with it, so a retry of the key, or its outcome URL, asks again and gets
   the very answer (a reply that comes after its 202 is recorded, so the
   outcome URL mostly finds it stored);
4. **release**: the gate's place is given back.

A key already known is judged by its record: replayed (its answer stored), refused as
reused (another request), or asked again (the same command id: the inventory decides a
command once and answers it again with that decision, so a retry while the first is
still in flight, or after its process died, gets the one answer).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from opentelemetry.trace import SpanKind
from stampede_contracts import RejectionCode, command_id_for, reservation_id_for, utcnow
from stampede_runtime import tracing

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
LATE_REPLY_S = 60.0  # a reply after its 202 is recorded if it comes within this
MIN_REPLY_WAIT_S = 0.01  # a command sent late in its deadline still gets a moment


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
    received: float = field(default_factory=time.monotonic)  # when the request came in


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
            metrics.answered(req.operation.value, response.status, "view",
                             time.monotonic() - req.received)
            return Answer(response)
        return await self._known(req, ticket_id)

    async def _decide(self, req: OrderRequest, ticket_id: str | None) -> Answer:
        if not tracing.enabled:
            return await self._claim_and_ask(req, ticket_id)
        with tracing.span("commands send", SpanKind.PRODUCER, {
                "messaging.system": "kafka", "messaging.operation.type": "send",
                "stampede.operation": req.operation.value,
                "stampede.drop_id": str(req.drop_id)}):
            return await self._claim_and_ask(req, ticket_id)

    async def _claim_and_ask(self, req: OrderRequest, ticket_id: str | None) -> Answer:
        """The claim, then the ask (tracing on: in the span the command carries)."""
        command_id = command_id_for(req.user_id, req.key)
        envelope = command_envelope(command_id, req.drop_id, req.command,
                                    self._inventory.instance_id, utcnow(), tracing.carrier())
        hold = None
        if req.operation is Operation.RESERVE:
            hold = (reservation_id_for(command_id), req.drop_id)
        claim = Claim(req.user_id, req.key, req.fingerprint, req.operation.value,
                      command_id=command_id, command=envelope.decode(),
                      ticket=ticket_id, hold=hold)
        if await self._claims.claim(claim):
            return await self._ask(req, command_id, envelope)
        return await self._known(req, ticket_id)

    async def _known(self, req: OrderRequest, ticket_id: str | None) -> Answer:
        record = await self._records.get(req.user_id, req.key)
        if record is None:
            if ticket_id is not None:  # the key is new: its ticket was spent by another
                raise TicketInvalid("Queue ticket refused: it was already used.")
            raise RequestInProgress(outcome_url(req.key))  # purged meanwhile: retry
        seen = judge(record, req.fingerprint)
        if seen is Seen.REUSED:
            raise IdempotencyKeyReused()
        if seen is Seen.REPLAY:
            assert record.response is not None
            metrics.answered(req.operation.value, record.response.status, "replay",
                             time.monotonic() - req.received)
            return Answer(record.response, replayed=True)
        if record.command is None:  # a decided record always has its response
            raise RequestInProgress(outcome_url(req.key))
        _, envelope = readdressed(record.command, self._inventory.instance_id)
        answer = await self._ask(req, record.command_id, envelope)
        return Answer(answer.response, replayed=answer.response.status != 202)

    async def _ask(self, req: OrderRequest, command_id: UUID, envelope: bytes) -> Answer:
        # the reply timeout bounds the whole answer, not only the wait for the reply
        left = self._timeout - (time.monotonic() - req.received)
        reply = await self._inventory.ask(command_id, req.drop_id, envelope,
                                          max(left, MIN_REPLY_WAIT_S))
        if reply is None:
            self._expect_late(command_id, req.user_id, req.key, req.operation)
            metrics.reply_timeouts.inc()
            metrics.answered(req.operation.value, 202, "pending",
                             time.monotonic() - req.received)
            return Answer(pending(req.key))
        response = self._answer(req.operation, reply)
        metrics.answered(req.operation.value, response.status, "inventory",
                         time.monotonic() - req.received)
        return Answer(response)

    def _answer(self, operation: Operation, reply: RawReply) -> StoredResponse:
        response = from_reply(operation, reply)
        seq = reply.get("seq")
        if reply["ok"] and seq is not None:  # read-your-writes for the view
            drop_id = UUID(reply["drop_id"])
            self._views.note(drop_id, int(seq), time.monotonic())
            if operation is Operation.CANCEL:  # stock came back: no sure "no" until seen
                self._views.invalidate(drop_id, int(seq))
        return response

    def _expect_late(self, command_id: UUID, user_id: UUID, key: str,
                     operation: Operation) -> None:
        """No reply in time: record it if it still comes (the outcome URL finds it)."""
        self._late[str(command_id)] = _Asked(
            user_id, key, operation,
            time.monotonic() + LATE_REPLY_S)

    async def record_late_reply(self, reply: RawReply) -> None:
        now = time.monotonic()
        for command in [c for c, a in self._late.items() if a.until <= now]:
            del self._late[command]
        asked: _Asked | None = self._late.pop(reply["command_id"], None)
        if asked is not None:
            response = self._answer(asked.operation, reply)
            self._records.complete(Completion(asked.user_id, asked.key, response))
            metrics.late_replies.inc()

    async def outcome(self, user_id: UUID, key: str) -> tuple[int, dict[str, Any]]:
        """What became of a request (for ``GET /api/requests/{key}``): stored, or asked
        again (the same command id: the inventory answers with its first reply)."""
        record = await self._records.get(user_id, key)
        if record is None:
            raise RequestNotFound()
        response = record.response
        if response is None and record.command is not None:
            drop_id, envelope = readdressed(record.command, self._inventory.instance_id)
            reply = await self._inventory.ask(record.command_id, drop_id, envelope,
                                              self._timeout)
            if reply is None:
                self._expect_late(record.command_id, user_id, key,
                                  Operation(record.operation))
            else:
                response = self._answer(Operation(record.operation), reply)
                self._records.complete(Completion(user_id, key, response))
        if response is None:
            return 202, pending(key).body
        return 200, {"idempotency_key": key, "status": "completed",
                     "response_status": response.status, "response": response.body}

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
