"""The HTTP shell every service shares: an app with problem handlers and the ops
routes, and ``serve`` to run it under uvicorn on the settings' host and port."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import uvicorn
from fastapi import FastAPI

from .ops import ReadinessCheck, ops_router
from .problems import install_problem_handlers
from .settings import ServiceSettings


def build_app(
    *,
    title: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    readiness: Mapping[str, ReadinessCheck],
    description: str = "",
    version: str = "0.1.0",
) -> FastAPI:
    """``readiness`` may be a dict the lifespan fills in once connections exist."""
    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan)
    install_problem_handlers(app)
    app.include_router(ops_router(readiness))
    return app


def serve(app: FastAPI, settings: ServiceSettings, **uvicorn_options: Any) -> None:
    """``uvicorn_options`` (e.g. the notifier's ``ws=...``, ``ws_ping_interval=...``)
    are passed on to ``uvicorn.run``."""
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
        **uvicorn_options,
    )
