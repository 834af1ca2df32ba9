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

    @property
    def topics(self) -> Topics:
        return Topics.for_namespace(self.topic_namespace)


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
