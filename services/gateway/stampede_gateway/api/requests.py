"""Route of a request's outcome, for requests answered ``202``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from stampede_runtime.problems import problem_responses

from ..domain.idempotency import KEY_PATTERN
from .deps import CurrentUser, GatewayDep
from .schemas import Outcome, Pending

router = APIRouter(prefix="/api/requests", tags=["order path"])


@router.get(
    "/{idempotency_key}", response_model=Outcome,
    summary="The outcome of a request answered 202",
    description="`200` with the status and body the request was (or would have been) "
                "answered with, once decided; `202` while still pending (ask again after "
                "`Retry-After`). A request whose reply was lost is asked again (same command "
                "id: the inventory answers with its first decision). `404 REQUEST_NOT_FOUND`.",
    responses={202: {"model": Pending, "description": "Not decided yet."},
               **problem_responses(401, 404, 422, 429)},
)
async def outcome(
    idempotency_key: Annotated[str, Path(pattern=KEY_PATTERN)], who: CurrentUser,
    gw: GatewayDep,
) -> JSONResponse:
    status, body = await gw.order_path.outcome(who.user_id, idempotency_key)
    headers = {"Retry-After": "1"} if status == 202 else {}
    return JSONResponse(body, status_code=status, headers=headers)
