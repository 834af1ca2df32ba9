"""Edge guards, as one ASGI middleware in front of every route under ``/api``:
header size, body size and the per-client rate limit (with the RateLimit headers
of draft-ietf-httpapi-ratelimit-headers on every answer). A refusal is a problem
document, decided before any route runs, so bad input never reaches Kafka."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from stampede_runtime.problems import Problem, problem_response
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .domain.token_bucket import RateLimiter

ClientKey = Callable[[Scope, Mapping[str, str], str], str]  # (scope, headers, ip)


class Guards:
    def __init__(
        self, app: ASGIApp, *, limiter: RateLimiter, client_key: ClientKey,
        max_body_bytes: int, max_header_bytes: int, prefixes: tuple[str, ...] = ("/api",),
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.client_key = client_key
        self.max_body = max_body_bytes
        self.max_headers = max_header_bytes
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_headers = scope.get("headers", [])
        if sum(len(k) + len(v) + 4 for k, v in raw_headers) > self.max_headers:
            await self._refuse(scope, receive, send, Problem(
                431, "HEADERS_TOO_LARGE", f"Request headers exceed {self.max_headers} bytes."
            ))
            return
        headers = Headers(scope=scope)
        extra: dict[str, str] = {}
        if str(scope.get("path", "")).startswith(self.prefixes):
            ip = scope["client"][0] if scope.get("client") else "unknown"
            verdict = self.limiter.hit(self.client_key(scope, headers, ip), time.monotonic())
            extra = self.limiter.headers(verdict)
            if not verdict.allowed:
                await self._refuse(scope, receive, send, Problem(
                    429, "RATE_LIMITED", "Too many requests; slow down.", headers=extra,
                ))
                return
        body_receive = await self._bounded_body(scope, receive, send, headers)
        if body_receive is None:
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and extra:
                message["headers"] = [
                    *message.get("headers", []),
                    *((k.lower().encode(), v.encode()) for k, v in extra.items()),
                ]
            await send(message)

        await self.app(scope, body_receive, send_with_headers)

    async def _bounded_body(
        self, scope: Scope, receive: Receive, send: Send, headers: Headers
    ) -> Receive | None:
        """The body read up to the limit and replayed, or None when refused (413)."""
        if scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            return receive
        too_large = Problem(413, "PAYLOAD_TOO_LARGE",
                            f"Request bodies are limited to {self.max_body} bytes.")
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await self._refuse(scope, receive, send, too_large)
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return receive
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await self._refuse(scope, receive, send, too_large)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, problem: Problem) -> None:
        await problem_response(problem)(scope, receive, send)
