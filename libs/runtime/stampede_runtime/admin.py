"""Topic creation from the registry (idempotent: existing topics are left alone)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from stampede_contracts import Topics, TopicSpec

log = logging.getLogger(__name__)


async def ensure_topics(
    bootstrap_servers: str, topics: Iterable[TopicSpec] | None = None, *,
    timeout_s: float = 30,
) -> None:
    wanted = list(topics) if topics is not None else list(Topics.for_namespace().all())
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [t for t in wanted if t.name not in existing]
            for spec in missing:
                try:
                    await admin.create_topics([NewTopic(spec.name, spec.partitions, 1)])
                    log.info("created topic %s with %d partitions", spec.name, spec.partitions)
                except TopicAlreadyExistsError:
                    pass
            return
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.3)
        finally:
            await admin.close()
