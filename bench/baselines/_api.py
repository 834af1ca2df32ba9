"""What the two baseline services share: the request shape, the answers, the server.

The same contract as the gateway's reserve, as far as a baseline goes: ``{"quantity"}``
in 1..10, ``Idempotency-Key`` required (``400 IDEMPOTENCY_KEY_MISSING``), ``201
{"reservation": {...}}`` or a problem document (``409 OUT_OF_STOCK``, ``404
DROP_NOT_FOUND``), a replay marked ``Idempotent-Replayed: true``. orjson encodes.
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Annotated

import orjson
import uvicorn
from fastapi import FastAPI, Header
from fastapi.responses import Response
from pydantic import BaseModel, Field

PROBLEMS = {
    400: ("IDEMPOTENCY_KEY_MISSING", "An Idempotency-Key header is required."),
    404: ("DROP_NOT_FOUND", "No such drop."),
    409: ("OUT_OF_STOCK", "Nothing left to reserve."),
}
HOLD = timedelta(seconds=60)


class ReserveBody(BaseModel):
    quantity: int = Field(default=1, ge=1, le=10)


def answer(status: int, drop: uuid.UUID, quantity: int, reservation: str,
           replayed: bool) -> Response:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    if status == 201:
        body = {"reservation": {
            "id": reservation, "drop_id": str(drop), "quantity": quantity, "status": "active",
            "expires_at": (datetime.now(UTC) + HOLD).isoformat()}}
        return Response(orjson.dumps(body), 201, headers, media_type="application/json")
    code, detail = PROBLEMS[status]
    problem = {"type": "about:blank", "title": code.replace("_", " ").capitalize(),
               "status": status, "detail": detail, "code": code}
    return Response(orjson.dumps(problem), status, headers,
                    media_type="application/problem+json")


#: (drop, user, idempotency key, quantity) -> (status, reservation id, replayed)
Decide = Callable[[uuid.UUID, uuid.UUID | None, str, int], Awaitable[tuple[int, str, bool]]]


def new_app(lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
            decide: Decide) -> FastAPI:
    """``POST /api/drops/{id}/reserve`` answered by ``decide``, and ``GET /healthz``."""
    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @app.post("/api/drops/{drop}/reserve")
    async def reserve(drop: uuid.UUID, body: ReserveBody,
                      idempotency_key: Annotated[str | None, Header()] = None,
                      x_user_id: Annotated[uuid.UUID | None, Header()] = None) -> Response:
        if not idempotency_key:
            return answer(400, drop, body.quantity, "", False)
        status, reservation, replayed = await decide(drop, x_user_id, idempotency_key,
                                                     body.quantity)
        return answer(status, drop, body.quantity, reservation, replayed)

    return app


def arguments(doc: str, store: str) -> argparse.ArgumentParser:
    """The options every baseline takes: its port, its store's URL (``--<store>-url``),
    the drop to seed and its stock."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(f"--{store}-url", dest="store_url", required=True)
    parser.add_argument("--drop-id", required=True)
    parser.add_argument("--stock", type=int, required=True)
    return parser


def serve(app: FastAPI, port: int) -> None:
    """One process: uvicorn with uvloop and httptools, no access log."""
    uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools",
                log_level="warning", access_log=False)

