"""Routes of the waiting room: the page (plain HTML + JS polling) and its status."""

from __future__ import annotations

from importlib.resources import files
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, JSONResponse
from stampede_runtime.problems import problem_responses

from ..domain.tickets import MAX_TICKET_CHARS
from .deps import EdgeDep
from .schemas import QueueStatusOut

router = APIRouter(prefix="/waiting-room", tags=["waiting room"])

Ticket = Annotated[str, Query(min_length=1, max_length=MAX_TICKET_CHARS,
                              description="The signed ticket from the redirect.")]
_PAGE = files("stampede_gateway").joinpath("static/waiting_room.html")


@router.get("", response_class=HTMLResponse, summary="The waiting room page",
            description="Shows the buyer's place and polls the status without a reload.",
            responses=problem_responses(422))
async def page(ticket: Annotated[str | None, Query(max_length=MAX_TICKET_CHARS)] = None
               ) -> HTMLResponse:
    return HTMLResponse(_PAGE.read_text(encoding="utf-8"),
                        headers={"Cache-Control": "no-store"})


@router.get(
    "/status", response_model=QueueStatusOut, summary="Where a ticket stands",
    description="`{position, admitted, retry_after}` (+ `eta_seconds`, `sold_out`). Once "
                "admitted, send the ticket back as `X-Queue-Ticket` (it passes once). "
                "`403 TICKET_INVALID` for a forged, expired, used or unknown ticket.",
    responses=problem_responses(403, 422),
)
async def status(ticket: Ticket, edge: EdgeDep) -> JSONResponse:
    queue, sold_out = edge.admission.status(ticket)
    body = QueueStatusOut(
        position=queue.position, admitted=queue.admitted, retry_after=queue.retry_after_s,
        eta_seconds=queue.eta_s, sold_out=sold_out, drop_id=queue.drop_id or None,
    )
    return JSONResponse(body.model_dump(mode="json"),
                        headers={"Cache-Control": "no-store",
                                 "Retry-After": str(queue.retry_after_s)})
