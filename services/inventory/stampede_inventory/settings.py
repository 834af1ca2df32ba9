"""The inventory's settings, from the environment only (see CONVENTIONS.md)."""

from __future__ import annotations

from pydantic import Field
from stampede_runtime.settings import DatabaseSettings


class InventorySettings(DatabaseSettings):
    """``DATABASE_URL`` and ``KAFKA_BOOTSTRAP_SERVERS`` are required; the rest tune it."""

    db_schema: str = "inventory"
    #: commands decided (and committed) per partition batch at most
    max_records: int = Field(default=2_000, ge=1, le=10_000)
    #: decide and commit the batches of different partitions at the same time (each
    #: partition's own batches stay in order): one's transaction overlaps another's CPU
    concurrent_partitions: bool = True
    # how soon a dead writer's partitions move (SESSION_TIMEOUT_MS, KAFKA_GROUP_MEMBERSHIP,
    # ...): the shared group settings of ``stampede_runtime.settings``
    #: how often due holds are looked for; expiry lands within about this plus a batch
    expiry_tick_ms: int = Field(default=100, ge=10, le=10_000)
    #: processed command ids (and their replies) are kept this long (API: >= 24 h)
    processed_retention_hours: float = Field(default=25.0, ge=24.0)
