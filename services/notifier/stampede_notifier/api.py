"""The WebSocket entrypoint: ``/ws?drops=<id>,<id>&since=<seq>``.

- ``drops``: the drops to follow (absent: every drop, including new ones).
- ``since``: resume. Either one seq, applied to every followed drop (natural with
  one drop), or ``<drop_id>:<seq>,...`` per drop. The client gets what it missed
  after that seq (compacted: every event, the latest stock and activity), or a
  SNAPSHOT when that is older than the recent window, then the live stream.
  ``since=0`` asks for the current state of drops at once.

Door checks, in order, each refused connection being accepted then closed with
a code the client can act on (see ``CloseCode``): Origin (1008), query (4400),
total limit (1013), per-IP limit (4429).
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, WebSocket

from .adapters.direct import WriteBatch
from .adapters.websocket import WebSocketClient
from .service import CloseCode, Hub, Since
from .settings import NotifierSettings


class BadQuery(ValueError):
    pass


def parse_drops(raw: str | None, limit: int) -> frozenset[UUID] | None:
    if raw is None or not raw.strip():
        return None
    try:
        drops = frozenset(UUID(part.strip()) for part in raw.split(",") if part.strip())
    except ValueError:
        raise BadQuery("drops must be comma-separated drop ids") from None
    if len(drops) > limit:
        raise BadQuery(f"at most {limit} drops per connection")
    return drops or None


def parse_since(raw: str | None) -> Since:
    if raw is None or not raw.strip():
        return None
    try:
        if ":" not in raw:
            return _seq(raw)
        points: dict[UUID, int] = {}
        for part in raw.split(","):
            drop, _, seq = part.partition(":")
            points[UUID(drop.strip())] = _seq(seq)
        return points
    except ValueError:
        raise BadQuery("since must be <seq> or <drop_id>:<seq>,...") from None


def _seq(raw: str) -> int:
    value = int(raw.strip())
    if value < 0:
        raise ValueError("negative seq")
    return value


def origin_allowed(origin: str | None, allowed: frozenset[str]) -> bool:
    """No Origin header: not a browser (a server, a script), allowed."""
    return origin is None or "*" in allowed or origin.rstrip("/") in allowed


def ws_router(hub: Hub, settings: NotifierSettings) -> APIRouter:
    router = APIRouter()
    origins = settings.origins

    @router.websocket("/ws")
    async def stream(websocket: WebSocket) -> None:
        if not origin_allowed(websocket.headers.get("origin"), origins):
            await _refuse(websocket, CloseCode.POLICY, "origin not allowed")
            return
        try:
            drops = parse_drops(websocket.query_params.get("drops"),
                                settings.max_drops_per_connection)
            since = parse_since(websocket.query_params.get("since"))
        except BadQuery as exc:
            await _refuse(websocket, CloseCode.BAD_REQUEST, str(exc))
            return
        ip = websocket.client.host if websocket.client else "?"
        refused = hub.admit(ip)
        if refused is not None:
            await _refuse(websocket, *refused)
            return
        try:
            await websocket.accept()
            client = WebSocketClient(websocket, ip, capacity=settings.client_queue_size,
                                     close_timeout_s=settings.slow_close_timeout_s,
                                     direct=settings.ws_direct_writes,
                                     batch=hub.batch if isinstance(hub.batch, WriteBatch)
                                     else None)
            hub.connect(client, drops, since)
            try:
                await client.run()
            finally:
                hub.disconnect(client)
        finally:
            hub.release(ip)

    return router


async def _refuse(websocket: WebSocket, code: int, reason: str) -> None:
    await websocket.accept()
    await websocket.close(code, reason)
