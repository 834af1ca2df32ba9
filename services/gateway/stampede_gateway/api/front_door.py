"""The front door: the hot routes answered in plain ASGI, everything else passed on to
FastAPI (the accounts, the catalog, the admin, the docs).

A storm lands on a handful of routes: reserve, purchase, buy now, cancel, a request's
outcome and a ticket's standing. For them FastAPI's machinery (its middleware stack,
dependency resolution, validation of parameters that exist only for the docs) cost more
than the work. Here each is: the headers read once, the edge limits, the caller, the
``Idempotency-Key``, the body validated by its pydantic model straight from the bytes,
the use case, and the answer written as bytes (orjson). What every HTTP answer gets
elsewhere (``stampede_runtime.http``) it gets here too, cheaply: ``X-Request-Id`` (the
caller's if acceptable, else made: a counter), the request counted under its route template
(the labelled series cached), the access line when ``ACCESS_LOG`` is on, and, when tracing
is on, a lean server span of its own (``tracing.server_span``: the caller's ``traceparent``
honoured, named after the template); OpenTelemetry's ASGI middleware (several times that
cost) serves the FastAPI routes behind. The same routes stay declared in
FastAPI (``order_routes``) for the OpenAPI document, their endpoints delegating here, so
both doors give the same answers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs
from uuid import UUID

import orjson
from fastapi import FastAPI
from pydantic import BaseModel, ValidationError
from stampede_runtime import http, logs, tracing
from stampede_runtime.problem_docs import PROBLEM_MEDIA_TYPE, problem_document
from starlette.datastructures import State
from starlette.types import Receive, Scope, Send

from ..domain.idempotency import fingerprint, valid_key
from ..domain.outcomes import Operation
from ..errors import (
    GatewayError,
    IdempotencyKeyMissing,
    InvalidInput,
    ReservationNotFound,
    Unauthorized,
    UpstreamUnavailable,
)
from ..identity import client_key_of
from ..order_path import Answer, OrderRequest
from ..security import Identity
from ..waiting_room import verify
from .edge_limits import RawHeaders, decode_headers
from .problem_map import problem_of
from .schemas import OrderBody, PurchaseBody, ReserveBody

if TYPE_CHECKING:
    from ..bootstrap import Edge, Gateway

log = logging.getLogger(__name__)

Handler = Callable[["Call"], Awaitable[None]]
JSON = b"application/json"
_NO_STORE = [(b"cache-control", b"no-store")]
#: the route template of each handler (by its name): metrics and span names
TEMPLATES = {
    "reserve": "/api/drops/{drop_id}/reserve", "purchase": "/api/drops/{drop_id}/purchase",
    "order": "/api/order", "cancel": "/api/reservations/{reservation_id}",
    "outcome": "/api/requests/{idempotency_key}", "ticket_status": "/waiting-room/status",
}


class Call:
    """One request on the front door: what its handler reads, and how it answers."""

    __slots__ = ("headers", "ip", "method", "path", "rate_headers", "receive", "received",
                 "request_id", "scope", "send", "status")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.received = time.monotonic()  # the reply timeout counts from here
        self.scope = scope
        self.receive = receive
        self.send = send
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.headers = decode_headers(scope["headers"])
        client = scope.get("client")
        self.ip = client[0] if client else "unknown"
        self.rate_headers: dict[str, str] = {}
        self.request_id = logs.request_id_of(self.headers.get("x-request-id"))
        self.status = 500  # until answered

    async def answer(self, status: int, body: bytes, content_type: bytes = JSON,
                     headers: dict[str, str] | None = None,
                     raw: RawHeaders | None = None) -> None:
        out: RawHeaders = [(b"content-type", content_type),
                           (b"content-length", str(len(body)).encode()),
                           (b"x-request-id", self.request_id.encode())]
        for name, value in (headers or {}).items():
            if name.lower() != "content-type":
                out.append((name.lower().encode(), value.encode()))
        for name, value in self.rate_headers.items():
            out.append((name.lower().encode(), value.encode()))
        if raw:
            out.extend(raw)
        self.status = status
        await self.send({"type": "http.response.start", "status": status, "headers": out})
        await self.send({"type": "http.response.body", "body": body})

    async def refuse(self, exc: GatewayError) -> None:
        status, headers, body = problem_of(exc, self.headers.get("accept", ""))
        await self.answer(status, orjson.dumps(body), PROBLEM_MEDIA_TYPE.encode(), headers)


def invalid(exc: ValidationError, where: str) -> InvalidInput:
    """A body's validation errors as FastAPI words them (``loc`` from ``body``)."""
    errors = [{"loc": [where, *(str(p) for p in e["loc"])], "msg": e["msg"]}
              for e in exc.errors()[:20]]
    first = errors[0] if errors else {"loc": [where], "msg": "invalid"}
    return InvalidInput(f"{'.'.join(first['loc'])}: {first['msg']}", errors)


def path_uuid(text: str, name: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise InvalidInput(f"path.{name}: Input should be a valid UUID",
                           [{"loc": ["path", name], "msg": "Input should be a valid UUID"}],
                           ) from None


class FrontDoor:
    def __init__(self, app: FastAPI, edge: Edge, gateway: Callable[[], Gateway | None]) -> None:
        self.app = app
        self.edge = edge
        self._gateway = gateway

    @property
    def state(self) -> State:
        """The app's state (what the lifespan started lives there)."""
        return self.app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            handler = self.route(scope["method"], scope["path"])
            if handler is not None:
                await self.run(handler, scope, receive, send)
                return
        await self.app(scope, receive, send)

    def route(self, method: str, path: str) -> Handler | None:
        parts = path.split("/")
        if method == "POST":
            if len(parts) == 5 and parts[1:3] == ["api", "drops"]:
                if parts[4] == "reserve":
                    return self.reserve
                if parts[4] == "purchase":
                    return self.purchase
            elif path == "/api/order":
                return self.order
        elif method == "GET":
            if len(parts) == 4 and parts[1:3] == ["api", "requests"]:
                return self.outcome
            if path == "/waiting-room/status":
                return self.ticket_status
        elif method == "DELETE" and len(parts) == 4 and parts[1:3] == ["api", "reservations"]:
            return self.cancel
        return None

    async def run(self, handler: Handler, scope: Scope, receive: Receive, send: Send) -> None:
        call = Call(scope, receive, send)
        route = TEMPLATES[handler.__name__]
        token = logs.request_id_var.set(call.request_id)
        try:
            if not tracing.enabled:
                await self.handle(handler, call)
                self.done(call, route)
                return
            with tracing.server_span(call.method, route, call.headers) as span:
                await self.handle(handler, call)
                span.set_attribute("http.response.status_code", call.status)
                self.done(call, route)
        finally:
            logs.request_id_var.reset(token)

    async def handle(self, handler: Handler, call: Call) -> None:
        try:
            await handler(call)
        except GatewayError as exc:
            await call.refuse(exc)
        except Exception:
            log.exception("unexpected error on %s %s", call.method, call.path)
            body = problem_document(500, "INTERNAL_ERROR", "An unexpected error occurred.")
            await call.answer(500, orjson.dumps(body), PROBLEM_MEDIA_TYPE.encode())

    @staticmethod
    def done(call: Call, route: str) -> None:
        """Counted under its route template; the access line when asked for."""
        seconds = time.monotonic() - call.received
        http.record(route, call.method, call.status, seconds)
        if logs.access_on():
            http.access_line(call.method, route, call.path, call.status, seconds)

    # -- what every order-path route does first ---------------------------------------------
    def gateway(self) -> Gateway:
        gateway = self._gateway()
        if gateway is None:
            raise UpstreamUnavailable("The gateway is starting.")
        return gateway

    def caller(self, call: Call) -> Identity:
        """Edge limits, then the caller (401 when anonymous)."""
        limits = self.edge.limits
        limits.check_headers(call.scope["headers"])
        identities = self.edge.identities
        try:
            who = identities.resolve_once(call.scope, call.headers)
        except GatewayError:
            call.rate_headers = limits.rate(client_key_of(None, call.ip))
            raise
        call.rate_headers = limits.rate(client_key_of(who, call.ip))
        if who is None:
            raise Unauthorized()
        return who

    def idempotency_key(self, call: Call) -> str:
        raw = (call.headers.get("idempotency-key") or call.headers.get("x-idempotency-key")
               or "").strip()
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':  # an sf-string, as the draft writes it
            raw = raw[1:-1]
        if not raw:
            raise IdempotencyKeyMissing()
        if not valid_key(raw):
            raise InvalidInput("Idempotency-Key: 1-255 of A-Z a-z 0-9 . _ ~ : @ + = -")
        return raw

    async def body(self, call: Call, model: type[BaseModel], required: bool) -> Any:
        raw = await self.edge.limits.read_body(call.receive, call.headers.get("content-length"))
        if not raw.strip() or raw.strip() == b"null":
            if required:
                raise InvalidInput("body: Field required",
                                   [{"loc": ["body"], "msg": "Field required"}])
            return model()
        try:
            return model.model_validate_json(raw)
        except ValidationError as exc:
            raise invalid(exc, "body") from None

    async def order_path(self, call: Call, who: Identity, key: str, operation: Operation,
                         drop_id: UUID, command: dict[str, Any], body: dict[str, Any],
                         quantity: int = 1) -> None:
        gateway = self.gateway()
        request = OrderRequest(
            user_id=who.user_id, client_key=client_key_of(who, call.ip), key=key,
            operation=operation, drop_id=drop_id, command=command,
            fingerprint=fingerprint(call.method, call.path, body), quantity=quantity,
            ticket=call.headers.get("x-queue-ticket") or None, received=call.received,
        )
        await self.reply(call, await gateway.order_path.run(request))

    async def reply(self, call: Call, answer: Answer) -> None:
        r = answer.response
        content_type = r.headers.get("Content-Type", "application/json").encode()
        raw = [(b"idempotent-replayed", b"true")] if answer.replayed else None
        await call.answer(r.status, orjson.dumps(r.body), content_type, r.headers, raw)

    # -- the routes -----------------------------------------------------------------------
    async def on_drop(self, call: Call, model: type[BaseModel]
                      ) -> tuple[Identity, str, UUID, Any]:
        """What ``/api/drops/{drop_id}/…`` routes read first: the caller, the key, the drop,
        the body (optional)."""
        who = self.caller(call)
        key = self.idempotency_key(call)
        drop_id = path_uuid(call.path.split("/")[3], "drop_id")
        return who, key, drop_id, await self.body(call, model, required=False)

    async def reserve(self, call: Call) -> None:
        who, key, drop_id, body = await self.on_drop(call, ReserveBody)
        command = {"type": "ReserveStock", "drop_id": drop_id, "user_id": who.user_id,
                   "username": who.username, "quantity": body.quantity}
        await self.order_path(call, who, key, Operation.RESERVE, drop_id, command,
                              {"quantity": body.quantity}, body.quantity)

    async def purchase(self, call: Call) -> None:
        who, key, drop_id, body = await self.on_drop(call, PurchaseBody)
        command = {"type": "ConfirmPurchase", "drop_id": drop_id, "user_id": who.user_id,
                   "username": who.username, "reservation_id": body.reservation_id}
        reservation = str(body.reservation_id) if body.reservation_id else None
        await self.order_path(call, who, key, Operation.PURCHASE, drop_id, command,
                              {"reservation_id": reservation})

    async def order(self, call: Call) -> None:
        who = self.caller(call)
        key = self.idempotency_key(call)
        body: OrderBody = await self.body(call, OrderBody, required=True)
        command = {"type": "BuyNow", "drop_id": body.drop_id, "user_id": who.user_id,
                   "username": who.username, "quantity": body.quantity}
        await self.order_path(call, who, key, Operation.ORDER, body.drop_id, command,
                              {"drop_id": str(body.drop_id), "quantity": body.quantity},
                              body.quantity)

    async def cancel(self, call: Call) -> None:
        who = self.caller(call)
        key = self.idempotency_key(call)
        reservation_id = path_uuid(call.path.split("/")[3], "reservation_id")
        drop_id = await self.gateway().order_path.drop_of_hold(who.user_id, reservation_id)
        if drop_id is None:
            raise ReservationNotFound()
        command = {"type": "CancelHold", "drop_id": drop_id, "user_id": who.user_id,
                   "reservation_id": reservation_id}
        await self.order_path(call, who, key, Operation.CANCEL, drop_id, command, {})

    async def outcome(self, call: Call) -> None:
        who = self.caller(call)
        key = call.path.split("/")[3]
        if not valid_key(key):
            raise InvalidInput("path.idempotency_key: 1-255 of A-Z a-z 0-9 . _ ~ : @ + = -")
        status, body = await self.gateway().order_path.outcome(who.user_id, key)
        headers = {"Retry-After": "1"} if status == 202 else None
        await call.answer(status, orjson.dumps(body), headers=headers)

    async def ticket_status(self, call: Call) -> None:
        self.edge.limits.check_headers(call.scope["headers"])
        ticket = _query_param(call.scope, "ticket")
        if not ticket:
            raise InvalidInput("query.ticket: Field required",
                               [{"loc": ["query", "ticket"], "msg": "Field required"}])
        verified = verify(self.edge.signer, ticket, time.time())
        status = await self.gateway().rooms.status(verified)
        st = status.standing
        body = {"drop_id": status.drop_id, "position": st.position, "admitted": st.admitted,
                "sold_out": status.sold_out, "eta_seconds": st.eta_s,
                "retry_after": st.retry_after_s}
        await call.answer(200, orjson.dumps(body), headers={"Retry-After": str(
            max(1, st.retry_after_s))}, raw=_NO_STORE)


def _query_param(scope: Scope, name: str) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name)
    return values[0] if values else None
