"""The orders service's settings, all from the environment (``load_settings``)."""

from __future__ import annotations

from pydantic import Field
from stampede_runtime.settings import DatabaseSettings


class OrdersSettings(DatabaseSettings):
    """``DATABASE_URL``, ``KAFKA_BOOTSTRAP_SERVERS`` and ``ORDERS_SERVICE_TOKEN`` are
    required (no defaults)."""

    db_schema: str = Field(default="orders", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    consumer_group: str = Field(default="orders", min_length=1)
    max_batch: int = Field(default=2000, ge=1, le=10_000)
    #: the shared secret the gateway sends to read the model (a Secret; no default)
    orders_service_token: str = Field(min_length=16, repr=False)

    @property
    def group_id(self) -> str:
        """Namespaced like the topics, so several systems can share one broker."""
        ns = self.topic_namespace
        return f"{ns}.{self.consumer_group}" if ns else self.consumer_group
