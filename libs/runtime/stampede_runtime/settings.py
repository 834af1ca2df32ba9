"""The one settings loader: each service subclasses ``ServiceSettings``.

Settings come only from the environment (and nothing else reads ``os.environ``).
``load_settings`` fails fast: a missing or malformed variable stops the process
with one clear line per problem, naming the variable.
"""

from __future__ import annotations

import socket
import sys
import uuid
from typing import Literal, TypeVar

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from stampede_contracts import ALL_TOPICS, Topics

from .fetch_waits import FetchWaits, Pacing
from .kafka_config import (
    DEFAULT_RETENTION_MS,
    KafkaConnection,
    KafkaSecurity,
    SaslMechanism,
    SecurityProtocol,
    TopicConfig,
)
from .membership import Membership, MembershipMode, slot_of

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
    #: one JSON line per HTTP request (and per traced Kafka message handled)
    access_log: bool = False
    #: OTLP/HTTP collector (e.g. http://otel-collector:4318): traces are exported there;
    #: unset, no tracer is installed (the other ``OTEL_*`` variables apply as usual)
    otel_exporter_otlp_endpoint: str = ""
    #: the share of new traces recorded (a request or message that arrives traced is
    #: recorded as its caller decided): 1.0 records all, 0.01 one in a hundred
    otel_traces_sampler_arg: float = Field(default=1.0, ge=0.0, le=1.0)
    #: unique per process; stable per slot where the group membership needs it
    #: (``{hostname}`` in it is replaced by the host's name: a container's own id)
    instance_id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    topic_namespace: str = Field(default="", pattern=r"^[a-zA-Z0-9_-]{0,40}$")
    #: how long a fetch waits at the broker (see ``fetch_waits.FetchWaits``). The defaults
    #: suit the embedded broker, which notices new data late (a 5 ms wait delivers in ~4 ms,
    #: 50 ms in ~9 ms median, 100 ms in ~16 ms) and costs CPU while a fetch waits; with Apache
    #: Kafka (which answers as soon as data is there) set all three to e.g. 500.
    kafka_fetch_wait_ms: int = Field(default=5, ge=1, le=10_000)  # on the request path
    #: following the events (orders' read model): 100, not 25, since a fetch's wait is
    #: what the embedded broker's polling costs (issue 14: ~0.04 cores of the broker and
    #: ~0.03 of the reader at 25 ms, whatever the event rate; ~0.01 each at 100 ms)
    kafka_follow_wait_ms: int = Field(default=100, ge=1, le=10_000)
    kafka_idle_wait_ms: int = Field(default=100, ge=1, le=10_000)  # once nothing comes
    #: who waits for new data (``fetch_waits``): ``client`` for the embedded broker (a
    #: fetch waits 1 ms there and the consumer pauses between fetches: tansu polls its
    #: store while a fetch waits, so an idle 8-partition reader costs it ~4x less):
    #: the followers pause always, the gateway once idle (a command it sends ends the
    #: pause), the inventory never (delivery paced by the client took twice as long,
    #: ``bench.broker_waits``); ``broker`` for Apache Kafka (it answers as soon as data
    #: is there): every loop lets the broker wait
    kafka_fetch_pacing: Literal["client", "broker"] = "client"

    #: how a service's group loop shares its partitions (``membership.Membership``;
    #: docs/recovery.md says which mode suits which deployment)
    kafka_group_membership: MembershipMode = "dynamic"
    #: ``slots``: how many slots share the partitions (each process's slot: the trailing
    #: number of its INSTANCE_ID)
    kafka_group_slots: int = Field(default=1, ge=1, le=1024)
    #: how soon the broker gives a dead member's partitions to the others (dynamic and
    #: static; Apache Kafka accepts 6000 and up unless its group.min.session.timeout.ms
    #: says otherwise); heartbeats at most a third of it
    kafka_session_timeout_ms: int = Field(
        default=6_000, ge=1_000, le=300_000,
        validation_alias=AliasChoices("kafka_session_timeout_ms", "session_timeout_ms"))
    kafka_heartbeat_interval_ms: int = Field(
        default=1_000, ge=100, le=30_000,
        validation_alias=AliasChoices("kafka_heartbeat_interval_ms", "heartbeat_interval_ms"))
    #: a static member leaves the group on a graceful stop (a dynamic one always does)
    kafka_leave_group_on_stop: bool = True

    #: TLS and SASL of every Kafka client (aiokafka and confluent-kafka alike; see
    #: ``kafka_config.KafkaSecurity``)
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = Field(default=None, repr=False)
    kafka_ssl_cafile: str | None = None
    kafka_ssl_certfile: str | None = None
    kafka_ssl_keyfile: str | None = None

    #: what topics are created with and checked against (``admin.ensure_topics``): the
    #: defaults are a production cluster's; the devstack sets 1 and 1 for its one broker
    kafka_replication_factor: int = Field(default=3, ge=1, le=10)
    kafka_min_insync_replicas: int = Field(default=2, ge=1, le=10)
    kafka_retention_ms: int = Field(default=DEFAULT_RETENTION_MS, ge=-1)
    #: partition counts other than the registry's, e.g.
    #: ``inventory.commands=16,inventory.events=16`` (every service must be given the same)
    kafka_topic_partitions: str = Field(
        default="", pattern=r"^\s*([\w.-]+=\d+\s*(,\s*[\w.-]+=\d+\s*)*)?$")

    @field_validator("instance_id")
    @classmethod
    def _hostname(cls, value: str) -> str:
        return value.replace("{hostname}", socket.gethostname()) if "{" in value else value

    @model_validator(mode="after")
    def _membership_fits(self) -> ServiceSettings:
        slot = slot_of(self.instance_id)
        if self.kafka_group_membership == "slots" and slot >= self.kafka_group_slots:
            raise ValueError(
                f"INSTANCE_ID {self.instance_id!r} names slot {slot}, but KAFKA_GROUP_SLOTS "
                f"is {self.kafka_group_slots} (slots 0..{self.kafka_group_slots - 1})")
        if self.kafka_heartbeat_interval_ms * 3 > self.kafka_session_timeout_ms:
            raise ValueError("KAFKA_HEARTBEAT_INTERVAL_MS must be at most a third of "
                             "KAFKA_SESSION_TIMEOUT_MS")
        self.kafka_security  # noqa: B018 - TLS/SASL variables that do not fit together
        self.topic_config  # noqa: B018 - replication and min ISR that do not fit together
        unknown = set(self.partition_overrides) - {t.name for t in ALL_TOPICS}
        if unknown:
            raise ValueError(f"KAFKA_TOPIC_PARTITIONS names unknown topics: {sorted(unknown)}")
        return self

    @property
    def kafka_security(self) -> KafkaSecurity:
        """TLS and SASL for every Kafka client of this process."""
        return KafkaSecurity(
            protocol=self.kafka_security_protocol, sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username, sasl_password=self.kafka_sasl_password,
            ssl_cafile=self.kafka_ssl_cafile, ssl_certfile=self.kafka_ssl_certfile,
            ssl_keyfile=self.kafka_ssl_keyfile,
        )

    @property
    def kafka(self) -> KafkaConnection:
        """The brokers and how to reach them: what every Kafka client is given."""
        return KafkaConnection(self.kafka_bootstrap_servers, self.kafka_security)

    @property
    def topic_config(self) -> TopicConfig:
        return TopicConfig(replication_factor=self.kafka_replication_factor,
                           min_insync_replicas=self.kafka_min_insync_replicas,
                           retention_ms=self.kafka_retention_ms)

    @property
    def partition_overrides(self) -> dict[str, int]:
        out = {}
        for item in self.kafka_topic_partitions.split(","):
            if item.strip():
                name, _, count = item.partition("=")
                out[name.strip()] = int(count)
        return out

    @property
    def membership(self) -> Membership:
        """The group membership of this process's group loop."""
        return Membership(
            mode=self.kafka_group_membership, instance_id=self.instance_id,
            slots=self.kafka_group_slots, session_timeout_ms=self.kafka_session_timeout_ms,
            heartbeat_interval_ms=self.kafka_heartbeat_interval_ms,
            leave_on_stop=self.kafka_leave_group_on_stop,
        )

    @property
    def topics(self) -> Topics:
        """The registry's topics in this deployment's namespace, with its partition
        counts (``KAFKA_TOPIC_PARTITIONS``)."""
        return Topics.for_namespace(self.topic_namespace,
                                    partitions=self.partition_overrides)

    @property
    def request_waits(self) -> FetchWaits:
        """For a loop on the request path that is never told when data is due (the
        inventory's commands): the broker waits."""
        return FetchWaits(self.kafka_fetch_wait_ms, self.kafka_idle_wait_ms, pacing="broker")

    @property
    def reply_waits(self) -> FetchWaits:
        """For a loop on the request path told when data is due (``expect()``: the
        gateway's replies): the broker waits while busy, the client pauses once idle."""
        pacing: Pacing = "idle-client" if self.kafka_fetch_pacing == "client" else "broker"
        return FetchWaits(self.kafka_fetch_wait_ms, self.kafka_idle_wait_ms, pacing=pacing)

    @property
    def follow_waits(self) -> FetchWaits:
        """For a loop that follows the events (views, projections, fan-out)."""
        return FetchWaits(self.kafka_follow_wait_ms, self.kafka_idle_wait_ms,
                          pacing=self.kafka_fetch_pacing)


class DatabaseSettings(ServiceSettings):
    """A service that owns a PostgreSQL schema."""

    database_url: str = Field(min_length=1, pattern=r"^postgres(ql)?(\+\w+)?://")
    db_pool_size: int = Field(default=8, ge=1, le=200)


def describe_errors(exc: ValidationError, cls: type[ServiceSettings]) -> list[str]:
    lines = []
    for error in exc.errors():
        if not error["loc"]:  # a rule between variables: its message names them
            lines.append(f"{cls.__name__}: {error['msg']}")
            continue
        name = str(error["loc"][0]).upper()
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
