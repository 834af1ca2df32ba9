"""The HTTP shell every service shares: an app with problem handlers and the ops
routes, and ``serve`` to run it under uvicorn on the settings' host and port.

Several processes of one service may share a port (``HTTP_REUSE_PORT``): each binds
its own socket with ``SO_REUSEPORT`` and the kernel spreads new connections over the
processes listening. A process listens only once its lifespan has started (uvicorn
calls ``listen`` after start-up), so it takes no connection before it can answer, and
a process that dies takes only the connections it had accepted with it.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp

from .http import wrap_outermost
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
    instance_id: str = "",
    traced: bool = True,
) -> FastAPI:
    """``readiness`` may be a dict the lifespan fills in once connections exist;
    ``instance_id`` is named in /readyz (processes sharing a port tell themselves apart);
    ``traced=False``: the app sits behind a door that starts the server spans itself."""
    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan)
    install_problem_handlers(app)
    app.include_router(ops_router(readiness, instance_id))
    wrap_outermost(app, traced)  # request ids, request metrics, the access log (``http``)
    return app


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound with ``SO_REUSEPORT`` (not listening yet: uvicorn listens after
    the lifespan started)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def serve(app: ASGIApp, settings: ServiceSettings, **uvicorn_options: Any) -> None:
    """``uvicorn_options`` (e.g. the notifier's ``ws=...``, ``ws_ping_interval=...``)
    are passed on to ``uvicorn.run``."""
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        access_log=False,  # ours (``http.RequestMiddleware``) when ACCESS_LOG is on
        log_config=None,  # uvicorn's lines go to the root logger: JSON (``logs``)
        lifespan="on",
        timeout_graceful_shutdown=10,
        **uvicorn_options,
    )
    sockets = None
    if settings.http_reuse_port:
        sockets = [reuse_port_socket(settings.http_host, settings.http_port)]
    uvicorn.Server(config).run(sockets=sockets)
