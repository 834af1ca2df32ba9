"""The notifier's settings: one class, read from the environment only.

The notifier keeps no database; everything it knows it rebuilds from
``topics.events`` (read from the beginning of the log on start) and ``topics.queue``
(from its end).
"""

from __future__ import annotations

from pydantic import Field
from stampede_runtime.settings import ServiceSettings


class NotifierSettings(ServiceSettings):
    http_port: int = Field(default=8001, ge=0, le=65535)

    # fan-out
    stock_updates_per_second: float = Field(default=10.0, ge=0, le=1_000)
    """Per drop, at most this many STOCK_UPDATED a second reach a client (0: no coalescing)."""
    client_queue_size: int = Field(default=1_000, ge=1, le=1_000_000)
    """Messages waiting for one client; past it the client is dropped (close code 4008)."""
    recent_window: int = Field(default=512, ge=1, le=1_000_000)
    """Messages kept per drop for resume with ``since``; older ones need a snapshot."""
    slow_close_timeout_s: float = Field(default=2.0, gt=0, le=60)

    consumer_fetch_max_wait_ms: int = Field(default=50, ge=1, le=1_000)
    """How long the broker may hold a fetch while events flow (events and queue figures
    are read by one consumer, in the same fetches). tansu notices new data only some
    milliseconds into a fetch's wait (measured alone, not at the deadline: issue 14), so
    this bounds the delay before fan-out (a consumer alone: 10 ms, ~5 ms median; 50 ms,
    ~9 ms, p90 27; 100 ms, ~16 ms, p90 29; an older measurement through the notifier,
    fan-out included, read 100 ms as ~45 ms median). Once nothing
    comes for a second the wait is ``KAFKA_IDLE_WAIT_MS``. Polling is not free: at 10 ms
    each notifier cost ~0.09 cores of the broker and ~0.08 of its own while events
    flowed, whatever their rate; at 50 ms ~0.02 and ~0.02 (issue 14). Screens are
    throttled to ``STOCK_UPDATES_PER_SECOND`` anyway."""

    # admission
    max_connections: int = Field(default=20_000, ge=1, le=1_000_000)
    max_connections_per_ip: int = Field(default=200, ge=1, le=1_000_000)
    allowed_origins: str = "http://localhost:8000,http://127.0.0.1:8000"
    """Comma-separated browser origins allowed to connect (``*``: any). A client
    sending no ``Origin`` header (not a browser) is always allowed."""
    max_drops_per_connection: int = Field(default=100, ge=1, le=10_000)

    # the WebSocket connections (adapters/connection.py)
    ws_ping_interval_s: float = Field(default=20.0, gt=0, le=3_600)
    ws_ping_timeout_s: float = Field(default=20.0, gt=0, le=3_600)
    """A connection that answers no keepalive ping within this is closed with 1011."""
    ws_max_message_bytes: int = Field(default=64 * 1024, ge=125, le=16 * 1024 * 1024)
    """Clients only ever send ``ping``: a bigger frame closes the connection (1009)."""
    listen_backlog: int = Field(default=4_096, ge=16, le=65_535)

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(o.strip().rstrip("/") for o in self.allowed_origins.split(",")
                         if o.strip())
