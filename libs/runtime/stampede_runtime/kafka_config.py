"""How every Kafka client connects and how the topics are set up: one place for both.

``KafkaSecurity`` holds TLS and SASL (``KAFKA_SECURITY_PROTOCOL``, ``KAFKA_SASL_*``,
``KAFKA_SSL_*``, read by ``ServiceSettings``) and maps them to each client's
configuration: ``aiokafka_kwargs`` for the aiokafka producers and consumers,
``confluent_config`` for confluent-kafka (librdkafka: the topic administration).
``KafkaConnection`` is the bootstrap servers plus that security; the producer, the
consumer loop and ``admin.ensure_topics`` take one (or a bare bootstrap string, meaning
PLAINTEXT).

``TopicConfig`` is what a topic is created with and checked against: replication factor,
``min.insync.replicas`` and retention. The defaults are a production cluster's (3 / 2: an
acknowledged write, acks=all, is on two brokers at least, so one broker lost loses no
confirmed hold); ``SINGLE_BROKER`` is the embedded broker's and a one-node test cluster's
(1 / 1), which the devstack sets.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any, Literal

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

#: retention of the topics unless KAFKA_RETENTION_MS says otherwise: 7 days
DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """TLS and SASL of the connection to the brokers (PLAINTEXT when all is left unset)."""

    protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    def __post_init__(self) -> None:
        for problem in self.problems():
            raise ValueError(problem)

    @property
    def uses_ssl(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    def problems(self) -> list[str]:
        """What does not fit together, one sentence each naming the variables."""
        out = []
        if self.uses_sasl:
            if not (self.sasl_mechanism and self.sasl_username and self.sasl_password):
                out.append(f"KAFKA_SECURITY_PROTOCOL={self.protocol} needs "
                           "KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
        elif self.sasl_mechanism or self.sasl_username or self.sasl_password:
            out.append(f"KAFKA_SASL_* are set but KAFKA_SECURITY_PROTOCOL={self.protocol} "
                       "uses no SASL (SASL_PLAINTEXT or SASL_SSL)")
        ssl_files = self.ssl_cafile or self.ssl_certfile or self.ssl_keyfile
        if ssl_files and not self.uses_ssl:
            out.append(f"KAFKA_SSL_* are set but KAFKA_SECURITY_PROTOCOL={self.protocol} "
                       "uses no TLS (SSL or SASL_SSL)")
        if bool(self.ssl_certfile) != bool(self.ssl_keyfile):
            out.append("KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE go together (a client "
                       "certificate and its key)")
        return out

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context aiokafka needs: the CA file (or the system's CAs), and the client
        certificate when one is given; host names are checked."""
        context = ssl.create_default_context(cafile=self.ssl_cafile)
        if self.ssl_certfile:
            context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
        return context

    def aiokafka_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``AIOKafkaProducer`` / ``AIOKafkaConsumer`` /
        ``AIOKafkaAdminClient``."""
        kwargs: dict[str, Any] = {"security_protocol": self.protocol}
        if self.uses_sasl:
            kwargs.update(sasl_mechanism=self.sasl_mechanism,
                          sasl_plain_username=self.sasl_username,
                          sasl_plain_password=self.sasl_password)
        if self.uses_ssl:
            kwargs["ssl_context"] = self.ssl_context()
        return kwargs

    def confluent_config(self) -> dict[str, str]:
        """librdkafka properties for confluent-kafka's clients."""
        config = {"security.protocol": self.protocol.lower()}
        if self.uses_sasl:
            assert self.sasl_mechanism and self.sasl_username and self.sasl_password
            config.update({"sasl.mechanism": self.sasl_mechanism,
                           "sasl.username": self.sasl_username,
                           "sasl.password": self.sasl_password})
        if self.uses_ssl:
            if self.ssl_cafile:
                config["ssl.ca.location"] = self.ssl_cafile
            if self.ssl_certfile:
                config["ssl.certificate.location"] = self.ssl_certfile
            if self.ssl_keyfile:
                config["ssl.key.location"] = self.ssl_keyfile
            config["ssl.endpoint.identification.algorithm"] = "https"
        return config


PLAINTEXT = KafkaSecurity()


@dataclass(frozen=True, slots=True)
class KafkaConnection:
    """Where the brokers are and how to talk to them."""

    bootstrap_servers: str
    security: KafkaSecurity = PLAINTEXT

    @classmethod
    def of(cls, value: str | KafkaConnection) -> KafkaConnection:
        return value if isinstance(value, KafkaConnection) else cls(value)

    def aiokafka_kwargs(self) -> dict[str, Any]:
        return {"bootstrap_servers": self.bootstrap_servers,
                **self.security.aiokafka_kwargs()}

    def confluent_config(self) -> dict[str, str]:
        return {"bootstrap.servers": self.bootstrap_servers,
                **self.security.confluent_config()}


@dataclass(frozen=True, slots=True)
class TopicConfig:
    """What every topic is created with (partitions come from each ``TopicSpec``)."""

    replication_factor: int = 3
    min_insync_replicas: int = 2
    #: -1: kept forever
    retention_ms: int = DEFAULT_RETENTION_MS

    def __post_init__(self) -> None:
        if self.replication_factor < 1 or self.min_insync_replicas < 1:
            raise ValueError("the replication factor and min.insync.replicas are at least 1")
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError(
                f"KAFKA_MIN_INSYNC_REPLICAS ({self.min_insync_replicas}) cannot exceed "
                f"KAFKA_REPLICATION_FACTOR ({self.replication_factor}): every acks=all "
                "write would fail")
        if self.retention_ms < -1 or self.retention_ms == 0:
            raise ValueError("KAFKA_RETENTION_MS is -1 (forever) or a positive duration")

    def topic_configs(self) -> dict[str, str]:
        """The per-topic configuration set at creation and checked afterwards."""
        return {"min.insync.replicas": str(self.min_insync_replicas),
                "retention.ms": str(self.retention_ms)}


#: the embedded broker's (and a one-node test cluster's) needs
SINGLE_BROKER = TopicConfig(replication_factor=1, min_insync_replicas=1)
