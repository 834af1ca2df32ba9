"""One-shot: create Stampede's topics with their partition counts, then exit.

Idempotent (existing topics are left alone). Reads KAFKA_BOOTSTRAP_SERVERS and
TOPIC_NAMESPACE (default empty) from the environment; TOPICS_TIMEOUT_S (default 120)
bounds how long it waits for the broker. Run from the service image:
    python /app/bin/create_topics.py
Exit status 0 when every topic exists, non-zero otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    from stampede_contracts import Topics
    from stampede_runtime.admin import ensure_topics

    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if not bootstrap:
        print("create_topics: environment variable KAFKA_BOOTSTRAP_SERVERS is required",
              file=sys.stderr)
        return 2
    namespace = os.environ.get("TOPIC_NAMESPACE", "")
    timeout_s = float(os.environ.get("TOPICS_TIMEOUT_S", "120"))
    specs = Topics.for_namespace(namespace).all()
    asyncio.run(ensure_topics(bootstrap, specs, timeout_s=timeout_s))
    for spec in specs:
        print(f"topic {spec.name}: {spec.partitions} partitions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
