"""The WebSocket entrypoint: ``/ws?drops=<id>,<id>&since=<seq>``.

- ``drops``: the drops to follow (absent: every drop, including new ones).
- ``since``: resume. Either one seq, applied to every followed drop (natural with
  one drop), or ``<drop_id>:<seq>,...`` per drop. The client gets what it missed
  after that seq (compacted: every event, the latest of each state), or a SNAPSHOT
  when that is older than the recent window, then the latest queue figures, then
  the live stream. ``since=0`` asks for the current state of drops at once.

``/asyncapi.json`` (``documents``) is this protocol as an AsyncAPI 3.0 document.

Door checks, in order, each refused connection being accepted then closed with
a code the client can act on (see ``CloseCode``): Origin (1008), query (4400),
total limit (1013), per-IP limit (4429). ``Door`` runs them for the connection
adapter (adapters/connection.py) once the WebSocket handshake is valid.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

from fastapi import APIRouter, Request

from . import asyncapi
from .adapters.connection import Admitted, Refused
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


class Door:
    """(request target, Origin, client IP) -> Admitted (drops, since) or Refused."""

    def __init__(self, hub: Hub, settings: NotifierSettings) -> None:
        self._hub = hub
        self._origins = settings.origins
        self._max_drops = settings.max_drops_per_connection

    def __call__(self, target: str, origin: str | None, ip: str) -> Admitted | Refused:
        if not origin_allowed(origin, self._origins):
            return Refused(CloseCode.POLICY, "origin not allowed")
        query = {k: v[-1] for k, v in parse_qs(urlsplit(target).query).items()}
        try:
            drops = parse_drops(query.get("drops"), self._max_drops)
            since = parse_since(query.get("since"))
        except BadQuery as exc:
            return Refused(CloseCode.BAD_REQUEST, str(exc))
        refused = self._hub.admit(ip)
        if refused is not None:
            return Refused(*refused)
        return Admitted(drops, since)


def documents(settings: NotifierSettings) -> APIRouter:
    """``GET /asyncapi.json``: the WebSocket's AsyncAPI document, its server the host the
    client asked."""
    router = APIRouter(tags=["documents"])

    @router.get("/asyncapi.json", summary="The WebSocket, as an AsyncAPI 3.0 document",
                responses={200: {"content": {"application/json": {"example": {
                    "asyncapi": asyncapi.VERSION, "info": {"title": "Stampede notifier"}}}}}})
    async def asyncapi_document(request: Request) -> dict[str, Any]:
        host = request.headers.get("host") or f"localhost:{settings.http_port}"
        return asyncapi.document(host, max_drops=settings.max_drops_per_connection)

    return router
