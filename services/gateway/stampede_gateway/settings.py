"""The gateway's settings: one class, read from the environment only.

Secrets have no defaults: ``JWT_SECRET``, ``ADMIN_PASSWORD`` and ``ORDERS_SERVICE_TOKEN``
(sent to orders' internal API) are required unless
``DEV_MODE`` is true (then a per-process random secret and the password ``admin``
are used, and the start-up log says so).
"""

from __future__ import annotations

import secrets
from typing import Literal

from pydantic import Field, model_validator
from stampede_runtime.settings import DatabaseSettings


class GatewaySettings(DatabaseSettings):
    orders_url: str = Field(default="http://127.0.0.1:8002", pattern=r"^https?://")
    #: sent to orders' internal API (its ORDERS_SERVICE_TOKEN: the same secret)
    orders_service_token: str | None = Field(default=None, min_length=16, repr=False)
    dev_mode: bool = False
    admin_username: str = Field(default="admin", min_length=1, max_length=32,
                                pattern=r"^[A-Za-z0-9_.@-]+$")
    admin_password: str | None = Field(default=None, min_length=1, max_length=128)
    jwt_secret: str | None = Field(default=None, min_length=16)
    ticket_secret: str | None = Field(default=None, min_length=16)
    access_token_ttl_s: int = Field(default=900, ge=30, le=86_400)
    refresh_token_ttl_s: int = Field(default=14 * 86_400, ge=60, le=90 * 86_400)
    argon2_memory_kib: int = Field(default=65_536, ge=8_192, le=1_048_576)
    argon2_time_cost: int = Field(default=3, ge=1, le=10)
    hash_concurrency: int = Field(default=2, ge=1, le=16)

    # request-reply with the inventory
    reply_timeout_s: float = Field(default=2.0, gt=0, le=60)
    #: how long a command waits for others to share its produce request. 0: none, and
    #: still one request per burst: aiokafka keeps one produce request in flight per
    #: broker, and what is sent meanwhile goes in the next one (batches grow with the
    #: load, an idle gateway adds no delay). Issue 14, alternated runs, 0 against 4:
    #: 1 client p50 22-26 against 27-30 ms; 64 connections 703-986 against 659-767 holds/s
    command_linger_ms: int = Field(default=0, ge=0, le=100)
    admin_reply_timeout_s: float = Field(default=10.0, gt=0, le=120)
    idempotency_ttl_hours: float = Field(default=25.0, ge=24, le=24 * 30)

    # per-client rate limit (token bucket): sustained rate and burst
    rate_limit_per_s: float = Field(default=50.0, gt=0, le=1_000_000)
    rate_limit_burst: int = Field(default=100, ge=1, le=1_000_000)

    # waiting rooms (per drop; a drop's own settings override the first two)
    waiting_room_admit_per_s: float = Field(default=5_000.0, gt=0, le=1_000_000)
    waiting_room_mode: Literal["fifo", "lottery"] = "fifo"
    #: a scheduled drop's room opens (buyers may queue) this long before it starts
    waiting_room_opens_before_s: int = Field(default=600, ge=0, le=86_400)
    waiting_room_max: int = Field(default=1_000_000, ge=1, le=100_000_000)
    waiting_room_tick_ms: int = Field(default=100, ge=10, le=5_000)
    ticket_ttl_s: int = Field(default=1_800, ge=10, le=86_400)
    admitted_window_s: int = Field(default=60, ge=1, le=3_600)
    #: order-path requests one process lets wait for the inventory at once; beyond it,
    #: newcomers queue (the process is over capacity)
    gate_max_in_flight: int = Field(default=2_000, ge=1, le=100_000)

    # the storefront (api/storefront.py) and storefronts on other origins
    #: the notifier's WebSocket as a browser reaches it (the pages connect there)
    notifier_public_url: str = Field(default="ws://localhost:8001/ws", pattern=r"^wss?://\S+$")
    #: comma-separated origins (scheme://host[:port]) whose pages may call the API
    #: (CORS); empty: none, only the gateway's own pages
    cors_allow_origins: str = ""

    # input limits
    max_body_bytes: int = Field(default=16 * 1024, ge=256, le=1024 * 1024)
    max_header_bytes: int = Field(default=8 * 1024, ge=1024, le=64 * 1024)

    @model_validator(mode="after")
    def _secrets_outside_dev(self) -> GatewaySettings:
        missing = []
        if not self.dev_mode and not self.jwt_secret:
            missing.append("JWT_SECRET")
        if not self.dev_mode and not self.admin_password:
            missing.append("ADMIN_PASSWORD")
        if not self.dev_mode and not self.orders_service_token:
            missing.append("ORDERS_SERVICE_TOKEN")
        if missing:
            raise ValueError(f"{' and '.join(missing)} required when DEV_MODE is false")
        return self

    @property
    def cors_origins(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_allow_origins.split(",") if o.strip()]

    def effective_jwt_secret(self) -> str:
        if self.jwt_secret is None:  # dev mode only (validated above)
            self.jwt_secret = secrets.token_urlsafe(32)
        return self.jwt_secret

    def effective_ticket_secret(self) -> str:
        return self.ticket_secret or f"ticket:{self.effective_jwt_secret()}"

    def effective_admin_password(self) -> str:
        return self.admin_password or "admin"
