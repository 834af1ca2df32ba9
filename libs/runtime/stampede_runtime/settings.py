"""The one settings loader: each service subclasses ``ServiceSettings``.

Settings come only from the environment (and nothing else reads ``os.environ``).
``load_settings`` fails fast: a missing or malformed variable stops the process
with one clear line per problem, naming the variable.
"""

from __future__ import annotations

import sys
import uuid
from typing import TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from stampede_contracts import Topics

from .consumer import FetchWaits

S = TypeVar("S", bound="ServiceSettings")


class ServiceSettings(BaseSettings):
    """Fields every service has. Secrets never get a default."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    kafka_bootstrap_servers: str = Field(min_length=1)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    #: share HTTP_PORT with other processes of the service (SO_REUSEPORT)
    http_reuse_port: bool = False
    log_level: str = "INFO"
    instance_id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    topic_namespace: str = Field(default="", pattern=r"^[a-zA-Z0-9_-]{0,40}$")
    #: how long a fetch waits at the broker (see ``consumer.FetchWaits``). The defaults
    #: suit the embedded broker, which answers a fetch only at that deadline; with Apache
    #: Kafka (which answers as soon as data is there) set all three to e.g. 500.
    kafka_fetch_wait_ms: int = Field(default=5, ge=1, le=10_000)  # on the request path
    kafka_follow_wait_ms: int = Field(default=25, ge=1, le=10_000)  # following the events
    kafka_idle_wait_ms: int = Field(default=100, ge=1, le=10_000)  # once nothing comes

    @property
    def topics(self) -> Topics:
        return Topics.for_namespace(self.topic_namespace)

    @property
    def request_waits(self) -> FetchWaits:
        """For a loop on the request path (commands, replies)."""
        return FetchWaits(self.kafka_fetch_wait_ms, self.kafka_idle_wait_ms)

    @property
    def follow_waits(self) -> FetchWaits:
        """For a loop that follows the events (views, projections, fan-out)."""
        return FetchWaits(self.kafka_follow_wait_ms, self.kafka_idle_wait_ms)


class DatabaseSettings(ServiceSettings):
    """A service that owns a PostgreSQL schema."""

    database_url: str = Field(min_length=1, pattern=r"^postgres(ql)?(\+\w+)?://")
    db_pool_size: int = Field(default=8, ge=1, le=200)


def describe_errors(exc: ValidationError, cls: type[ServiceSettings]) -> list[str]:
    lines = []
    for error in exc.errors():
        name = str(error["loc"][0]).upper() if error["loc"] else "?"
        problem = "is required" if error["type"] == "missing" else f"is invalid: {error['msg']}"
        lines.append(f"{cls.__name__}: environment variable {name} {problem}")
    return lines


def load_settings(cls: type[S]) -> S:
    """Read ``cls`` from the environment or exit with status 2 and a clear message."""
    try:
        return cls()
    except ValidationError as exc:
        for line in describe_errors(exc, cls):
            print(line, file=sys.stderr)
        raise SystemExit(2) from None
