"""Operations endpoints every service serves: /healthz, /readyz, /metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

ReadinessCheck = Callable[[], Awaitable[bool]]


def ops_router(checks: Mapping[str, ReadinessCheck], instance_id: str = "") -> APIRouter:
    """``checks`` name what /readyz verifies (broker, database, consumer...); the answer
    names the process (``instance``), so processes sharing a port can be told apart."""
    router = APIRouter(tags=["operations"])

    def example(value: object, media: str = "application/json") -> dict[int | str, Any]:
        return {200: {"content": {media: {"example": value}}}}

    @router.get("/healthz", summary="Liveness: the process answers",
                responses=example({"status": "ok"}))
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: connected to its broker and database",
                responses={**example({"status": "ready", "checks": dict.fromkeys(checks, True),
                                      "instance": "gateway-0"}),
                           503: {"description": "Not ready (yet): which check failed.",
                                 "content": {"application/json": {"example": {
                                     "status": "not ready",
                                     "checks": dict.fromkeys(checks, False),
                                     "instance": "gateway-0"}}}}})
    async def readyz() -> JSONResponse:
        results: dict[str, bool] = {}
        for name, check in checks.items():
            try:
                results[name] = bool(await check())
            except Exception:
                results[name] = False
        ready = all(results.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": results,
             "instance": instance_id},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response,
                responses=example("# TYPE process_cpu_seconds_total counter\n"
                                  "process_cpu_seconds_total 1.5\n", CONTENT_TYPE_LATEST))
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
