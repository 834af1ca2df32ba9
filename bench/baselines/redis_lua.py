"""Baseline: the stock in Redis, decided by one Lua script, behind a minimal FastAPI service.

``python -m bench.baselines.redis_lua --port P --redis-url redis://127.0.0.1:R/0
--drop-id ID --stock N`` (started by ``bench.front_door`` / ``bench.accepted_path``)

The design many flash sales start with: ``POST /api/drops/{id}/reserve`` with an
``Idempotency-Key`` header (and ``X-User-Id``) runs one ``EVALSHA`` that, atomically in
Redis, replays the answer already recorded for (user, key), else checks the stock,
decrements it when enough is left, and records the answer under the key (24 h): ``201``
with a reservation id, or ``409 OUT_OF_STOCK``. One process, uvicorn with uvloop and
httptools, redis-py's asyncio client (a pooled connection per request in flight).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from ._api import arguments, new_app, serve

RESERVE = """
local done = redis.call('GET', KEYS[2])
if done then return {1, done} end
local stock = tonumber(redis.call('GET', KEYS[1]))
if stock == nil then return {0, '404'} end
local answer = '409'
if stock >= tonumber(ARGV[1]) then
  redis.call('DECRBY', KEYS[1], ARGV[1])
  answer = '201 ' .. ARGV[2]
end
redis.call('SET', KEYS[2], answer, 'EX', 86400)
return {0, answer}
"""


def create_app(redis_url: str, drop_id: str, stock: int) -> FastAPI:
    try:
        import redis.asyncio as aioredis
    except ImportError as exc:  # a .venv older than the dev group
        raise SystemExit(
            "the Redis baseline needs the `redis` package (in the dev dependency group): "
            "run `make install`") from exc

    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = aioredis.Redis.from_url(redis_url)
        await client.set(f"stock:{drop_id}", stock)
        state["reserve"] = client.register_script(RESERVE)
        try:
            yield
        finally:
            await client.aclose()

    async def decide(drop: uuid.UUID, user: uuid.UUID | None, key: str,
                     quantity: int) -> tuple[int, str, bool]:
        replayed, recorded = await state["reserve"](
            keys=[f"stock:{drop}", f"idem:{user}:{key}"], args=[quantity, str(uuid.uuid4())])
        status, _, reservation = recorded.decode().partition(" ")
        return int(status), reservation, bool(replayed)

    return new_app(lifespan, decide)


def main() -> None:
    args = arguments(__doc__, "redis").parse_args()
    serve(create_app(args.store_url, args.drop_id, args.stock), args.port)


if __name__ == "__main__":
    main()
