"""The order path's use cases: reserve, purchase, buy now, cancel, with idempotency keys.

1. The drop view may refuse at once (sold out, not live): the refusal is recorded
   under the key like any answer, without a round trip to the inventory.
2. Otherwise the key is claimed in PostgreSQL (pending, with a lease) and the command
   (``command_id_for(user, key)``) is sent to the inventory; the reply is recorded and
   returned. No reply within ``REPLY_TIMEOUT_S``: ``202`` with the outcome URL; the late
   reply is recorded when it comes.
3. A key already known: another request -> 422; decided -> replay; pending with a live
   lease -> 409; pending with its lease over (its gateway died, or the reply was lost)
   -> the same command is sent again, which the inventory answers with its first reply.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from stampede_contracts import (
    Command,
    CommandEnvelope,
    RejectionCode,
    Reply,
    ReservationView,
    command_id_for,
    utcnow,
)
from starlette.responses import JSONResponse

from . import metrics
from .adapters.idempotency_store import IdempotencyStore
from .adapters.inventory import InventoryClient
from .adapters.orders_client import OrdersClient
from .domain.drop_view import DropViews
from .domain.idempotency import Seen, StoredResponse, judge
from .domain.outcomes import Operation, from_reply, rejection
from .errors import (
    IdempotencyKeyReused,
    RequestInProgress,
    RequestNotFound,
    UpstreamUnavailable,
)

log = logging.getLogger(__name__)


def outcome_url(key: str) -> str:
    return f"/api/requests/{key}"


@dataclass(frozen=True, slots=True)
class OrderRequest:
    user_id: UUID
    key: str
    operation: Operation
    drop_id: UUID
    command: Command
    fingerprint: str
    quantity: int = 1


@dataclass(frozen=True, slots=True)
class Answer:
    response: StoredResponse
    replayed: bool = False
    rendered: bytes | None = None  # the body already rendered (a constant refusal)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A sure "no" of the drop view, prepared once: the same for every buyer."""

    response: StoredResponse
    body_json: str  # as stored with the key
    headers_json: str
    rendered: bytes  # as sent
    counter: Any  # metrics.order_answers for it


@functools.cache
def _refusal(operation: Operation, code: RejectionCode) -> Refusal:
    response = rejection(operation, code)
    return Refusal(
        response, json.dumps(response.body), json.dumps(response.headers),
        bytes(JSONResponse(response.body).body),
        metrics.order_answers.labels(operation.value, response.status, "view"),
    )


def pending(key: str) -> StoredResponse:
    url = outcome_url(key)
    body = {"status": "pending", "idempotency_key": key, "outcome_url": url}
    return StoredResponse(202, body, {"Location": url, "Retry-After": "1"})


class OrderPath:
    def __init__(
        self, views: DropViews, store: IdempotencyStore, inventory: InventoryClient,
        reply_timeout_s: float, orders: OrdersClient,
    ) -> None:
        self._orders = orders
        self._views = views
        self._store = store
        self._inventory = inventory
        self._timeout = reply_timeout_s
        inventory.on_late_reply = self.record_late_reply

    async def refuse_at_once(self, req: OrderRequest) -> Answer | None:
        """The view's sure "no" (recorded under the key), or None: ask the inventory."""
        if req.operation not in (Operation.RESERVE, Operation.ORDER):
            return None
        code = self._views.refuse_at_once(req.drop_id, req.quantity, utcnow())
        if code is None:
            return None
        refusal = _refusal(req.operation, code)
        if await self._store.record_decided(
            req.user_id, req.key, req.fingerprint, req.operation.value, refusal.response,
            refusal.body_json, refusal.headers_json,
        ):
            refusal.counter.inc()
            return Answer(refusal.response, rendered=refusal.rendered)
        return await self._known(req)

    async def decide(self, req: OrderRequest) -> Answer:
        command_id = command_id_for(req.user_id, req.key)
        envelope = self._inventory.envelope(command_id, req.drop_id, req.command)
        if await self._store.begin(
            req.user_id, req.key, req.fingerprint, req.operation.value, command_id,
            envelope.model_dump_json(),
        ):
            return await self._ask(req.operation, req.key, envelope)
        return await self._known(req)

    async def _known(self, req: OrderRequest) -> Answer:
        record = await self._store.get(req.user_id, req.key)
        if record is None:  # purged in between: treat as in progress, the client retries
            raise RequestInProgress(outcome_url(req.key))
        seen = judge(record, req.fingerprint, utcnow())
        if seen is Seen.REUSED:
            raise IdempotencyKeyReused()
        if seen is Seen.REPLAY:
            assert record.response is not None
            metrics.order_answers.labels(req.operation.value, record.response.status,
                                         "replay").inc()
            return Answer(record.response, replayed=True)
        if seen is Seen.TAKE_OVER:
            command = await self._store.take_over(req.user_id, req.key)
            if command is not None:
                log.info("taking over pending request %s (command %s)", req.key,
                         record.command_id)
                envelope = CommandEnvelope.model_validate_json(command)
                return await self._ask(req.operation, req.key, envelope)
        raise RequestInProgress(outcome_url(req.key))

    async def _ask(self, operation: Operation, key: str, envelope: CommandEnvelope) -> Answer:
        reply = await self._inventory.ask(envelope, self._timeout)
        if reply is None:
            metrics.reply_timeouts.inc()
            metrics.order_answers.labels(operation.value, 202, "pending").inc()
            return Answer(pending(key))
        response = await self._record(operation, reply)
        metrics.order_answers.labels(operation.value, response.status, "inventory").inc()
        return Answer(response)

    async def _record(self, operation: Operation, reply: Reply) -> StoredResponse:
        response = from_reply(operation, reply)
        if reply.ok:  # read-your-writes for the view (GET .../status waits for it)
            self._views.expect(reply.drop_id, reply.command_id, time.monotonic())
        hold = None
        if operation is Operation.CANCEL and reply.ok:
            self._views.invalidate(reply.drop_id)
        if operation is Operation.RESERVE and isinstance(reply.result, ReservationView):
            hold = (reply.result.id, reply.result.user_id, reply.result.drop_id)
        await self._store.complete(reply.command_id, response, hold)
        return response

    async def record_late_reply(self, reply: Reply) -> None:
        operation = await self._store.operation_of(reply.command_id)
        if operation is not None:
            await self._record(Operation(operation), reply)
            metrics.late_replies.inc()

    async def outcome(self, user_id: UUID, key: str) -> tuple[int, dict[str, Any]]:
        """What became of a request (for GET /api/requests/{key})."""
        record = await self._store.get(user_id, key)
        if record is None:
            raise RequestNotFound()
        if record.response is not None:
            return 200, {"idempotency_key": key, "status": "completed",
                         "response_status": record.response.status,
                         "response": record.response.body}
        if record.lease_until <= utcnow():
            command = await self._store.take_over(user_id, key)
            if command is not None:  # its reply was lost: ask again (same command id)
                envelope = CommandEnvelope.model_validate_json(command)
                await self._inventory.send(
                    envelope.model_copy(update={"reply_to": self._inventory.instance_id})
                )
        return 202, pending(key).body

    async def drop_of_hold(self, user_id: UUID, reservation_id: UUID) -> UUID | None:
        """The drop of one's hold: noted by the gateway that placed it, else the read model."""
        drop_id = await self._store.hold_drop(user_id, reservation_id)
        if drop_id is not None:
            return drop_id
        try:
            page = await self._orders.user_reservations(user_id, 100, 0)
        except UpstreamUnavailable:
            return None
        return next((r.drop_id for r in page.items if r.id == reservation_id), None)
