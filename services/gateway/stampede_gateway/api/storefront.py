"""The storefront: the pages a buyer and an admin use in a browser, and their assets.

The pages are plain HTML in ``static/`` with ES modules and CSS in ``static/assets/`` (no
build step). They use only the public API and the notifier's WebSocket, as a storefront on
another origin would (``docs/storefront.md``). What the gateway adds to them:

- ``/assets/js/config.js``: what a page cannot know by itself (the notifier's public
  WebSocket URL, ``NOTIFIER_PUBLIC_URL``), as an ES module;
- the waiting room's ``302``: a navigation to a drop's page while the drop's room is
  queueing goes to ``/waiting-room?drop=<id>``. A navigation carries no identity and no
  ``Idempotency-Key``, so it cannot be given a ticket here; the waiting-room page takes
  the place itself with the buyer's token and the reserve's key, and comes back with the
  admitted ticket in the address (``/drops/<id>?ticket=…``), which lets the page through
  (its signature and drop checked, no lookup). The gate on reserve stays the enforcement;
  this only spares the queue a page that would be sent there at its first click;
- headers: a Content-Security-Policy (scripts and styles of this origin only; connections
  to this origin and the notifier), no referrer (a waiting-room address carries a
  ticket), no framing, and ``no-store`` on pages (the 302 depends on the moment).
"""

from __future__ import annotations

import json
import time
from functools import cache
from importlib.resources import files
from typing import Annotated
from urllib.parse import urlsplit
from uuid import UUID

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from ..domain.tickets import MAX_TICKET_CHARS, TicketInvalid, TicketSigner
from ..settings import GatewaySettings

router = APIRouter(tags=["storefront"])
_STATIC = files("stampede_gateway").joinpath("static")
_NO_STORE = {"Cache-Control": "no-store"}


@cache
def _page_text(name: str) -> str:
    return _STATIC.joinpath(name).read_text(encoding="utf-8")


@cache
def _page_headers(notifier_url: str) -> dict[str, str]:
    ws = urlsplit(notifier_url)
    csp = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
           f"connect-src 'self' {ws.scheme}://{ws.netloc}; base-uri 'none'; "
           "form-action 'self'; frame-ancestors 'none'")
    return {**_NO_STORE, "Content-Security-Policy": csp, "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"}


def _settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.edge.settings
    return settings


def _page(request: Request, name: str, status_code: int = 200) -> HTMLResponse:
    headers = _page_headers(_settings(request).notifier_public_url)
    return HTMLResponse(_page_text(name), status_code=status_code, headers=headers)


def _queueing(request: Request, drop_id: UUID) -> bool:
    """Whether buyers wait in the drop's room now (this process's view of the shared
    room, refreshed every tick)."""
    gateway = getattr(request.app.state, "gateway", None)
    room = gateway.rooms.rooms.get(drop_id) if gateway is not None else None
    return room is not None and room.waiting(time.time()) > 0


def _returning(request: Request, drop_id: UUID, ticket: str | None) -> bool:
    """Back from the waiting room: a genuine, unexpired ticket of this drop. Whose it is
    and whether it was admitted is for the reserve to check (a navigation has no caller)."""
    if not ticket:
        return False
    signer: TicketSigner = request.app.state.edge.signer
    try:
        return signer.verify(ticket, time.time()).drop_id == drop_id
    except TicketInvalid:
        return False


@router.get("/", response_class=HTMLResponse, summary="The drops page",
            description="Active drops, their stock and latest buyers, live.")
async def drops_page(request: Request) -> HTMLResponse:
    return _page(request, "index.html")


@router.get(
    "/drops/{drop_id}", response_class=HTMLResponse, summary="A drop's page",
    description="Reserve, hold countdown, purchase, cancel; stock and buyers live. While the "
                "drop's waiting room is queueing, `302` to `/waiting-room?drop=<id>` unless "
                "`ticket` is a genuine ticket of this drop (back from the waiting room).",
    responses={302: {"description": "The drop's room is queueing: to the waiting room."},
               404: {"description": "`drop_id` is not a drop's id: the not-found page.",
                     "content": {"text/html": {}}}},
)
async def drop_page(request: Request, drop_id: str, ticket: Annotated[
        str | None, Query(max_length=MAX_TICKET_CHARS)] = None) -> Response:
    try:
        drop = UUID(drop_id)
    except ValueError:
        return _page(request, "not-found.html", 404)
    if _queueing(request, drop) and not _returning(request, drop, ticket):
        return RedirectResponse(f"/waiting-room?drop={drop}", status_code=302, headers=_NO_STORE)
    return _page(request, "drop.html")


@router.get("/waiting-room", response_class=HTMLResponse, tags=["waiting room"],
            summary="The waiting room page",
            description="`?ticket=` (a place already taken) or `?drop=` (take one): shows the "
                        "buyer's place and ETA as they move (WebSocket `QUEUE_UPDATED`), says "
                        "at once when the drop sells out, and once admitted goes back to the "
                        "drop's page, which reserves with the ticket.")
async def waiting_room_page(request: Request) -> HTMLResponse:
    return _page(request, "waiting-room.html")


@router.get("/account", response_class=HTMLResponse, summary="Sign up, log in, my orders")
async def account_page(request: Request) -> HTMLResponse:
    return _page(request, "account.html")


@router.get("/admin", response_class=HTMLResponse, summary="Manage drops (admin)")
async def admin_page(request: Request) -> HTMLResponse:
    return _page(request, "admin.html")


@router.get("/assets/js/config.js", include_in_schema=False)
async def page_config(request: Request) -> Response:
    """The settings the pages read, as an ES module."""
    config = {"notifierUrl": _settings(request).notifier_public_url}
    body = f"export default Object.freeze({json.dumps(config)});\n"
    return Response(body, media_type="text/javascript",
                    headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


def install(app: FastAPI) -> None:
    """The pages, then the assets (``/assets/js/config.js`` above wins over the files)."""
    app.include_router(router)
    app.mount("/assets", StaticFiles(packages=[("stampede_gateway", "static/assets")]),
              name="assets")
