"""Topics created and checked with confluent-kafka's AdminClient on the test broker (the
embedded tansu, or Apache Kafka): created with their partitions and configs, found again
without a difference, a difference reported by topic and setting, a replication factor
the cluster cannot hold refused before anything is created."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka.admin import AdminClient
from stampede_contracts import Topics
from stampede_runtime.admin import (
    ClusterTooSmall,
    TopicMismatch,
    ensure_topics,
    ensure_topics_sync,
)
from stampede_runtime.kafka_config import SINGLE_BROKER, TopicConfig

pytestmark = pytest.mark.integration


def _names(bootstrap: str) -> set[str]:
    return set(AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics)


async def test_topics_are_created_then_checked(infra) -> None:
    topics = Topics.for_namespace(f"t{uuid.uuid4().hex[:10]}")
    config = TopicConfig(1, 1, retention_ms=3_600_000)
    assert await ensure_topics(infra.kafka_bootstrap_servers, topics.all(),
                               config=config, strict=True) == []
    metadata = AdminClient({"bootstrap.servers": infra.kafka_bootstrap_servers}
                           ).list_topics(timeout=10)
    for spec in topics.all():
        assert len(metadata.topics[spec.name].partitions) == spec.partitions
    # the second time every topic exists and matches
    assert ensure_topics_sync(infra.kafka_bootstrap_servers, topics.all(), config=config,
                              strict=True) == []

    other = TopicConfig(1, 1, retention_ms=7_200_000)
    with pytest.raises(TopicMismatch) as err:
        ensure_topics_sync(infra.kafka_bootstrap_servers, topics.all(), config=other,
                           strict=True)
    assert len(err.value.problems) == len(topics.all())
    assert f"{topics.commands.name}: retention.ms=3600000, KAFKA_RETENTION_MS wants " \
           "7200000" in str(err.value)
    # not strict (a service starting): reported, not raised
    assert len(ensure_topics_sync(infra.kafka_bootstrap_servers, topics.all(),
                                  config=other)) == len(topics.all())


async def test_partitions_that_differ_are_reported(infra) -> None:
    topics = Topics.for_namespace(f"t{uuid.uuid4().hex[:10]}")
    ensure_topics_sync(infra.kafka_bootstrap_servers, [topics.replies], config=SINGLE_BROKER)
    more = Topics.for_namespace(topics.replies.name.split(".")[0],
                                partitions={"inventory.replies": 6})
    with pytest.raises(TopicMismatch, match=r"replies: 4 partitions, the registry wants 6"):
        ensure_topics_sync(infra.kafka_bootstrap_servers, [more.replies],
                           config=SINGLE_BROKER, strict=True)


async def test_a_replication_factor_beyond_the_cluster_is_refused(infra) -> None:
    topics = Topics.for_namespace(f"t{uuid.uuid4().hex[:10]}")
    brokers = len(AdminClient({"bootstrap.servers": infra.kafka_bootstrap_servers}
                              ).list_topics(timeout=10).brokers)
    with pytest.raises(ClusterTooSmall, match="KAFKA_REPLICATION_FACTOR"):
        ensure_topics_sync(infra.kafka_bootstrap_servers, topics.all(),
                           config=TopicConfig(brokers + 1, 1))
    assert not {t.name for t in topics.all()} & _names(infra.kafka_bootstrap_servers)
