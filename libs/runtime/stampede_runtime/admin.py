"""Topics created and checked with confluent-kafka's AdminClient.

``ensure_topics`` creates the registry's topics that are missing, with their partition
counts and the ``TopicConfig`` (replication factor, ``min.insync.replicas``,
retention), and checks the ones that exist: partitions, replication factor and the two
configs. A difference is a ``TopicMismatch`` naming each topic, what it has and what is
wanted (``strict``, the topics Job), or an error in the log (a service starting: an
existing cluster's topics are the operator's to change, the service still runs).

On tansu (the embedded broker) every call used here works: create_topics, list_topics
(metadata) and describe_configs; tansu reports only the configs a topic was created with,
so a config it does not report is logged as unchecked, not as a difference.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import ConfigResource
from confluent_kafka.admin._resource import ResourceType
from confluent_kafka.cimpl import NewTopic
from stampede_contracts import Topics, TopicSpec

from .kafka_config import KafkaConnection, TopicConfig

log = logging.getLogger(__name__)

#: production defaults (3 / 2); tests and the embedded broker pass ``SINGLE_BROKER``
DEFAULT_CONFIG = TopicConfig()


class TopicMismatch(Exception):
    """Existing topics differ from what the settings want (one line per difference)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("topics differ from the settings:\n  " + "\n  ".join(problems))


class ClusterTooSmall(Exception):
    """The replication factor asks for more brokers than the cluster has."""


@dataclass(frozen=True, slots=True)
class ExistingTopic:
    """What the cluster says about one topic (None: the broker did not report it)."""

    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str]


def differences(spec: TopicSpec, config: TopicConfig, have: ExistingTopic) -> list[str]:
    """Where an existing topic differs from the wanted one (pure: unit-tested)."""
    out = []
    if have.partitions != spec.partitions:
        out.append(f"{spec.name}: {have.partitions} partitions, the registry wants "
                   f"{spec.partitions} (keys would map to other partitions: recreate it "
                   "or set KAFKA_TOPIC_PARTITIONS)")
    if have.replication_factor != config.replication_factor:
        out.append(f"{spec.name}: replication factor {have.replication_factor}, "
                   f"KAFKA_REPLICATION_FACTOR wants {config.replication_factor} "
                   "(kafka-reassign-partitions changes it)")
    names = {"min.insync.replicas": "KAFKA_MIN_INSYNC_REPLICAS",
             "retention.ms": "KAFKA_RETENTION_MS"}
    for key, wanted in config.topic_configs().items():
        actual = have.configs.get(key)
        if actual is not None and actual != wanted:
            out.append(f"{spec.name}: {key}={actual}, {names[key]} wants {wanted} "
                       f"(kafka-configs --alter --entity-type topics --entity-name "
                       f"{spec.name} --add-config {key}={wanted})")
    return out


def _client(connection: KafkaConnection) -> AdminClient:
    conf: dict[str, str | int | float | bool] = {**connection.confluent_config(),
                                                 "client.id": "stampede-admin"}
    # librdkafka's own lines (a broker going away, say) into the log, not onto stderr
    return AdminClient(conf, logger=logging.getLogger("stampede_runtime.admin.librdkafka"))


def _describe(admin: AdminClient, names: list[str], timeout_s: float
              ) -> dict[str, ExistingTopic]:
    if not names:
        return {}
    metadata = admin.list_topics(timeout=timeout_s)
    found = {}
    resources = [ConfigResource(ResourceType.TOPIC, n) for n in names]
    futures = admin.describe_configs(resources, request_timeout=timeout_s)
    configs: dict[str, dict[str, str]] = {}
    for resource, future in futures.items():
        entries = future.result()
        configs[resource.name] = {k: v.value for k, v in entries.items()
                                  if v.value is not None}
    for name in names:
        topic = metadata.topics[name]
        partitions = list(topic.partitions.values())
        found[name] = ExistingTopic(
            name, len(partitions), min((len(p.replicas) for p in partitions), default=0),
            configs.get(name, {}))
    return found


def ensure_topics_sync(
    connection: str | KafkaConnection, topics: Iterable[TopicSpec] | None = None, *,
    config: TopicConfig = DEFAULT_CONFIG, timeout_s: float = 30, strict: bool = False,
) -> list[str]:
    """Create the missing topics, check the others; return the differences found (and
    raise ``TopicMismatch`` with them when ``strict``). Waits up to ``timeout_s`` for the
    cluster to answer."""
    conn = KafkaConnection.of(connection)
    wanted = list(topics) if topics is not None else list(Topics.for_namespace().all())
    deadline = time.monotonic() + timeout_s
    admin = _client(conn)
    while True:
        try:
            metadata = admin.list_topics(timeout=min(10.0, max(1.0, timeout_s)))
            brokers = len(metadata.brokers)
            if brokers and config.replication_factor > brokers:
                raise ClusterTooSmall(
                    f"KAFKA_REPLICATION_FACTOR={config.replication_factor} but the cluster "
                    f"has {brokers} broker(s); set KAFKA_REPLICATION_FACTOR and "
                    "KAFKA_MIN_INSYNC_REPLICAS to fit it (1 and 1 for a single broker)")
            existing = [t for t in wanted if t.name in metadata.topics]
            missing = [t for t in wanted if t.name not in metadata.topics]
            if missing:
                futures = admin.create_topics(
                    [NewTopic(t.name, t.partitions, config.replication_factor,
                              config=config.topic_configs()) for t in missing],
                    request_timeout=10)
                for name, future in futures.items():
                    try:
                        future.result()
                        log.info("created topic %s (%s)", name, config)
                    except KafkaException as exc:
                        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                            raise
                        # another process created it meanwhile: its creator used the same
                        # settings, or the next check reports it
            described = _describe(admin, [t.name for t in existing], 10)
            problems: list[str] = []
            for spec in existing:
                have = described[spec.name]
                problems.extend(differences(spec, config, have))
                unreported = set(config.topic_configs()) - set(have.configs)
                if unreported:
                    log.debug("topic %s: the broker does not report %s (not checked)",
                              spec.name, ", ".join(sorted(unreported)))
            if problems:
                if strict:
                    raise TopicMismatch(problems)
                for line in problems:
                    log.error("topic differs from the settings: %s", line)
            return problems
        except (TopicMismatch, ClusterTooSmall):
            raise
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


async def ensure_topics(
    connection: str | KafkaConnection, topics: Iterable[TopicSpec] | None = None, *,
    config: TopicConfig = DEFAULT_CONFIG, timeout_s: float = 30, strict: bool = False,
) -> list[str]:
    """``ensure_topics_sync`` off the event loop (librdkafka's calls block)."""
    specs = list(topics) if topics is not None else None
    return await asyncio.to_thread(
        ensure_topics_sync, connection, specs, config=config, timeout_s=timeout_s,
        strict=strict)
