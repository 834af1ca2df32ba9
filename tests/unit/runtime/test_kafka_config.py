"""TLS/SASL and topic settings: from the environment (ServiceSettings) to each Kafka
client's configuration (aiokafka producer and consumer, confluent-kafka's AdminClient),
and the comparison of an existing topic with the wanted one."""

from __future__ import annotations

import ssl

import certifi
import pytest
from pydantic import ValidationError
from stampede_contracts import INVENTORY_COMMANDS, Topics
from stampede_runtime.admin import ExistingTopic, _client, differences
from stampede_runtime.consumer import ConsumerLoop
from stampede_runtime.kafka_config import (
    SINGLE_BROKER,
    KafkaConnection,
    KafkaSecurity,
    TopicConfig,
)
from stampede_runtime.membership import Membership
from stampede_runtime.producer import Producer
from stampede_runtime.settings import ServiceSettings

BASE = {"KAFKA_BOOTSTRAP_SERVERS": "k1:9093,k2:9093"}
SASL_SSL = {**BASE, "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "KAFKA_SASL_USERNAME": "stampede",
            "KAFKA_SASL_PASSWORD": "s3cret", "KAFKA_SSL_CAFILE": certifi.where()}


def settings_from(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> ServiceSettings:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return ServiceSettings()


def _consumer_kwargs(connection: KafkaConnection) -> dict[str, object]:
    loop: ConsumerLoop[object] = ConsumerLoop(
        bootstrap_servers=connection, topic=INVENTORY_COMMANDS, decode=lambda b: b,
        handler=None, dead_letters=None, group_id="g",  # type: ignore[arg-type]
        membership=Membership(mode="static", instance_id="inv-0"))
    return loop.client_kwargs()


def test_plaintext_by_default_for_every_client(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings_from(monkeypatch, BASE)
    assert s.kafka.security == KafkaSecurity()
    producer = Producer(s.kafka, client_id="p").client_kwargs()
    assert producer["bootstrap_servers"] == "k1:9093,k2:9093"
    assert producer["security_protocol"] == "PLAINTEXT"
    assert producer["acks"] == "all"
    assert "sasl_mechanism" not in producer and "ssl_context" not in producer
    consumer = _consumer_kwargs(s.kafka)
    assert consumer["security_protocol"] == "PLAINTEXT"
    assert consumer["group_instance_id"] == "inv-0"
    assert s.kafka.confluent_config() == {"bootstrap.servers": "k1:9093,k2:9093",
                                          "security.protocol": "plaintext"}


def test_sasl_ssl_reaches_aiokafka_producer_and_consumer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = settings_from(monkeypatch, SASL_SSL)
    for kwargs in (Producer(s.kafka, client_id="p").client_kwargs(),
                   _consumer_kwargs(s.kafka)):
        assert kwargs["security_protocol"] == "SASL_SSL"
        assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
        assert kwargs["sasl_plain_username"] == "stampede"
        assert kwargs["sasl_plain_password"] == "s3cret"
        context = kwargs["ssl_context"]
        assert isinstance(context, ssl.SSLContext)
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_sasl_ssl_reaches_confluent_kafka(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings_from(monkeypatch, {**SASL_SSL, "KAFKA_SSL_CERTFILE": "/certs/client.pem",
                                    "KAFKA_SSL_KEYFILE": "/certs/client.key"})
    assert s.kafka.confluent_config() == {
        "bootstrap.servers": "k1:9093,k2:9093",
        "security.protocol": "sasl_ssl",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "stampede",
        "sasl.password": "s3cret",
        "ssl.ca.location": certifi.where(),
        "ssl.certificate.location": "/certs/client.pem",
        "ssl.key.location": "/certs/client.key",
        "ssl.endpoint.identification.algorithm": "https",
    }
    # librdkafka accepts every property (an unknown one, or a CA file it cannot read,
    # raises at construction)
    _client(KafkaConnection("127.0.0.1:1", KafkaSecurity(
        protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_username="u",
        sasl_password="p")))
    _client(KafkaConnection("127.0.0.1:1", KafkaSecurity(
        protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512", sasl_username="u",
        sasl_password="p", ssl_cafile=certifi.where())))


def test_the_password_is_not_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings_from(monkeypatch, SASL_SSL)
    assert "s3cret" not in repr(s) and "s3cret" not in repr(s.kafka)


@pytest.mark.parametrize("env, names", [
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "KAFKA_SASL_MECHANISM"),
    ({"KAFKA_SASL_USERNAME": "u"}, "uses no SASL"),
    ({"KAFKA_SSL_CAFILE": "/ca.pem"}, "uses no TLS"),
    ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERTFILE": "/c.pem"}, "go together"),
    ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "kafka_security_protocol"),
    ({"KAFKA_SASL_MECHANISM": "GSSAPI"}, "kafka_sasl_mechanism"),
    ({"KAFKA_MIN_INSYNC_REPLICAS": "4"}, "cannot exceed KAFKA_REPLICATION_FACTOR"),
    ({"KAFKA_TOPIC_PARTITIONS": "inventory.cmds=16"}, "unknown topics"),
])
def test_settings_that_do_not_fit_fail_naming_the_variables(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], names: str,
) -> None:
    with pytest.raises(ValidationError) as err:
        settings_from(monkeypatch, {**BASE, **env})
    assert names in str(err.value)


def test_topic_settings_production_defaults_and_overrides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = settings_from(monkeypatch, BASE)
    assert s.topic_config == TopicConfig(3, 2, 7 * 24 * 3600 * 1000)
    assert s.topic_config.topic_configs() == {"min.insync.replicas": "2",
                                              "retention.ms": "604800000"}
    assert s.topics == Topics.for_namespace("")
    s = settings_from(monkeypatch, {
        **BASE, "KAFKA_REPLICATION_FACTOR": "1", "KAFKA_MIN_INSYNC_REPLICAS": "1",
        "KAFKA_RETENTION_MS": "-1", "TOPIC_NAMESPACE": "ns",
        "KAFKA_TOPIC_PARTITIONS": "inventory.commands=16, inventory.events=12"})
    assert s.topic_config == TopicConfig(1, 1, -1)
    assert (s.topics.commands.name, s.topics.commands.partitions) == (
        "ns.inventory.commands", 16)
    assert s.topics.events.partitions == 12
    assert s.topics.replies.partitions == Topics.for_namespace("").replies.partitions


def test_an_existing_topic_is_compared_with_the_wanted_one() -> None:
    config = TopicConfig()
    same = ExistingTopic(INVENTORY_COMMANDS.name, INVENTORY_COMMANDS.partitions, 3,
                         {"min.insync.replicas": "2", "retention.ms": "604800000"})
    assert differences(INVENTORY_COMMANDS, config, same) == []
    # a config the broker does not report (tansu: only those set at creation) is unchecked
    unreported = ExistingTopic(INVENTORY_COMMANDS.name, INVENTORY_COMMANDS.partitions, 3, {})
    assert differences(INVENTORY_COMMANDS, config, unreported) == []
    off = ExistingTopic(INVENTORY_COMMANDS.name, 4, 1,
                        {"min.insync.replicas": "1", "retention.ms": "604800000"})
    problems = differences(INVENTORY_COMMANDS, config, off)
    assert len(problems) == 3
    assert all(p.startswith("inventory.commands: ") for p in problems)
    assert "4 partitions, the registry wants 8" in problems[0]
    assert "replication factor 1, KAFKA_REPLICATION_FACTOR wants 3" in problems[1]
    assert "min.insync.replicas=1, KAFKA_MIN_INSYNC_REPLICAS wants 2" in problems[2]
    assert differences(INVENTORY_COMMANDS, SINGLE_BROKER, off)[1:] == []
