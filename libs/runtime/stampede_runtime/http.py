"""What every HTTP answer goes through: its request id, its metrics, its access line.

``RequestMiddleware`` (pure ASGI, outermost in ``build_app``'s stack) takes or makes the
request id (``logs.request_id_of``), keeps it in ``logs.request_id_var`` while the request
is answered, adds ``X-Request-Id`` to the answer, and counts the answer in
``stampede_http_requests_total`` / ``stampede_http_request_duration_seconds`` under its
route *template* (the matched route's path, ``<unmatched>`` when none matched), and
writes the access line when ``ACCESS_LOG`` is on. A handler that raises is counted as a
500 (the exception goes on to the server's error handler).

``record`` is what the gateway's front door calls for its own routes (it sets its own
header).
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import logs, metrics, tracing

UNMATCHED = "<unmatched>"
_observe = metrics.http_requests.observe
_labels: dict[tuple[str, str, int], tuple[str, str, str]] = {}


def record(route: str, method: str, status: int, seconds: float) -> None:
    """Count one answer and its duration (~1 µs: ``metrics.LabelledHistogram``)."""
    key = (route, method, status)
    labels = _labels.get(key)
    if labels is None:
        labels = _labels[key] = (route, method, str(status))
    _observe(labels, seconds)


def access_line(method: str, route: str, path: str, status: int, seconds: float) -> None:
    logs.access.info("%s %s %d", method, path, status, extra={"fields": {
        "method": method, "route": route, "path": path, "status": status,
        "duration_ms": round(seconds * 1000, 3)}})


def route_of(scope: Scope) -> str:
    """The route template a request matched: FastAPI/Starlette's route (``scope["route"]``)
    or what an ASGI door set (``scope["route_template"]``)."""
    template = scope.get("route_template")
    if template is not None:
        return str(template)
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        return UNMATCHED
    return str(scope.get("root_path", "")) + str(path) if scope.get("root_path") else str(path)


def request_id_header(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            return logs.request_id_of(value)
    return logs.new_request_id()


class RequestMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_header(scope)
        token = logs.request_id_var.set(request_id)
        header = (b"x-request-id", request_id.encode())
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), header]}
                if tracing.enabled:  # routed by now; the server span ends with the answer
                    tracing.name_request_span(scope["method"], route_of(scope))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = route_of(scope)
            method: str = scope["method"]
            record(route, method, status, seconds)
            if logs.access_on():
                access_line(method, route, scope["path"], status, seconds)
            logs.request_id_var.reset(token)


def wrap_outermost(app: Any, traced: bool = True) -> None:
    """Put ``RequestMiddleware`` around the FastAPI app's whole stack, outside its error
    middleware: an unexpected error's 500 carries the request id and is counted too.
    ``traced``: inside OpenTelemetry's server span when tracing is on (decided at the first
    request, after ``setup_tracing``); an app behind its own traced door says False."""
    build = app.build_middleware_stack

    def build_with_requests() -> ASGIApp:
        inner = RequestMiddleware(build())
        return tracing.asgi(inner) if traced else inner

    app.build_middleware_stack = build_with_requests
