"""The limits every request under ``/api`` meets before any route: header size, body size
and the per-client rate limit (with the RateLimit headers of
draft-ietf-httpapi-ratelimit-headers on every answer). A refusal is decided before any
route runs, so bad input never reaches Kafka.

``EdgeLimits`` is used inline by the front door (the hot routes) and, through
``Guards``, as a middleware in front of the FastAPI routes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..domain.token_bucket import RateLimiter
from ..errors import GatewayError, HeadersTooLarge, PayloadTooLarge, RateLimited

RawHeaders = list[tuple[bytes, bytes]]
ClientKey = Callable[[MutableMapping[str, Any], Mapping[str, str], str], str]


class EdgeLimits:
    def __init__(self, limiter: RateLimiter, *, max_body_bytes: int,
                 max_header_bytes: int) -> None:
        self.limiter = limiter
        self.max_body = max_body_bytes
        self.max_headers = max_header_bytes

    def check_headers(self, raw: RawHeaders) -> None:
        if sum(len(k) + len(v) + 4 for k, v in raw) > self.max_headers:
            raise HeadersTooLarge(f"Request headers exceed {self.max_headers} bytes.")

    def rate(self, client_key: str) -> dict[str, str]:
        """Count one request of the client: its RateLimit headers, or ``RateLimited``."""
        verdict = self.limiter.hit(client_key, time.monotonic())
        headers = self.limiter.headers(verdict)
        if not verdict.allowed:
            raise RateLimited(headers)
        return headers

    def too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"Request bodies are limited to {self.max_body} bytes.")

    async def read_body(self, receive: Receive, content_length: str | None) -> bytes:
        """The body, read up to the limit (``PayloadTooLarge`` beyond it)."""
        if content_length is not None and (not content_length.isdigit()
                                           or int(content_length) > self.max_body):
            raise self.too_large()
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise self.too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def decode_headers(raw: RawHeaders) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in raw}


Refuse = Callable[[Scope, Receive, Send, GatewayError], Any]


class Guards:
    """``EdgeLimits`` as an ASGI middleware in front of the FastAPI routes under ``/api``."""

    def __init__(self, app: ASGIApp, *, limits: EdgeLimits, client_key: ClientKey,
                 refuse: Refuse, prefixes: tuple[str, ...] = ("/api",)) -> None:
        self.app = app
        self.limits = limits
        self.client_key = client_key
        self.refuse = refuse
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw: RawHeaders = scope.get("headers", [])
        extra: dict[str, str] = {}
        try:
            self.limits.check_headers(raw)
            headers = decode_headers(raw)
            if str(scope.get("path", "")).startswith(self.prefixes):
                ip = scope["client"][0] if scope.get("client") else "unknown"
                extra = self.limits.rate(self.client_key(scope, headers, ip))
            if scope.get("method") not in ("GET", "HEAD", "OPTIONS"):
                body = await self.limits.read_body(receive, headers.get("content-length"))
                receive = _replay(body, receive)
        except GatewayError as exc:
            await self.refuse(scope, receive, send, exc)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and extra:
                message["headers"] = [
                    *message.get("headers", []),
                    *((k.lower().encode(), v.encode()) for k, v in extra.items()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
