"""One-shot: create Stampede's topics and check the existing ones, then exit.

Uses confluent-kafka's AdminClient (``stampede_runtime.admin.ensure_topics_sync``) with
the services' own settings: KAFKA_BOOTSTRAP_SERVERS (required), TOPIC_NAMESPACE, the
topic settings (KAFKA_REPLICATION_FACTOR, default 3; KAFKA_MIN_INSYNC_REPLICAS, default
2; KAFKA_RETENTION_MS, default 7 days; KAFKA_TOPIC_PARTITIONS) and TLS/SASL
(KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_*). TOPICS_TIMEOUT_S (default 120)
bounds how long it waits for the broker; TOPICS_STRICT=false only logs a topic that differs
(the pods' init containers) instead of failing. Run from the service image:
    python /app/bin/create_topics.py
Exit status 0 when every topic exists as the settings want; 1 when an existing topic
differs (each difference printed, with the command that fixes it) or the cluster has
fewer brokers than the replication factor; 2 when a setting is missing or invalid.
"""

from __future__ import annotations

import logging
import os
import sys


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    from stampede_runtime.admin import ClusterTooSmall, TopicMismatch, ensure_topics_sync
    from stampede_runtime.settings import ServiceSettings, load_settings

    try:
        settings = load_settings(ServiceSettings)
    except SystemExit as exc:  # the reason is on stderr already, one line per variable
        print("create_topics: settings are missing or invalid", file=sys.stderr)
        return int(exc.code or 2)
    timeout_s = float(os.environ.get("TOPICS_TIMEOUT_S", "120"))
    strict = os.environ.get("TOPICS_STRICT", "true").strip().lower() not in {"false", "0", "no"}
    specs = settings.topics.all()
    try:
        ensure_topics_sync(settings.kafka, specs, config=settings.topic_config,
                           timeout_s=timeout_s, strict=strict)
    except (TopicMismatch, ClusterTooSmall) as exc:
        print(f"create_topics: {exc}", file=sys.stderr)
        return 1
    config = settings.topic_config
    for spec in specs:
        print(f"topic {spec.name}: {spec.partitions} partitions, replication factor "
              f"{config.replication_factor}, min.insync.replicas "
              f"{config.min_insync_replicas}, retention.ms {config.retention_ms}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
