"""Wiring: the app, its lifespan (pool, schema, topics, producer, consumer loop, expiry
timers, retention) and the readiness checks. Nothing connects before the lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool
from stampede_contracts import CommandEnvelope, decode_command, utcnow
from stampede_runtime.admin import ensure_topics
from stampede_runtime.consumer import ConsumerLoop
from stampede_runtime.db import open_pool, ping
from stampede_runtime.dead_letters import KafkaDeadLetters
from stampede_runtime.gc_tuning import tune_gc
from stampede_runtime.observability import configure_observability
from stampede_runtime.ops import ReadinessCheck
from stampede_runtime.producer import Producer
from stampede_runtime.settings import load_settings
from stampede_runtime.tasks import TaskOwner
from stampede_runtime.web import build_app

from . import metrics
from .adapters.schema import migrate
from .adapters.store import InventoryStore
from .consumer import InventoryHandler
from .expiry import ExpiryTimers
from .settings import InventorySettings

log = logging.getLogger(__name__)


def build_consumer(
    settings: InventorySettings, pool: AsyncConnectionPool, producer: Producer
) -> tuple[InventoryHandler, ConsumerLoop[CommandEnvelope], ExpiryTimers]:
    """The composition root of the writer (tests build it the same way)."""
    topics = settings.topics
    dead_letters = KafkaDeadLetters(producer, topics.dead_letters, service="inventory")
    handler = InventoryHandler(InventoryStore(pool), producer, topics, dead_letters)
    timers = ExpiryTimers(
        producer, topics.commands, handler.drop, tick_s=settings.expiry_tick_ms / 1000
    )
    handler.timers = timers
    loop: ConsumerLoop[CommandEnvelope] = ConsumerLoop(
        bootstrap_servers=settings.kafka, topic=topics.commands,
        decode=decode_command, handler=handler, dead_letters=dead_letters,
        group_id=f"{topics.commands.name}.inventory",
        client_id=f"inventory-{settings.instance_id}", max_records=settings.max_records,
        membership=settings.membership, fetch_waits=settings.request_waits,
        concurrent_partitions=settings.concurrent_partitions,
        span_name="inventory decide",  # tracing on: one span per traced command
    )
    metrics.holds_active.set_function(handler.holds_active)
    metrics.oversell_violations.set_function(handler.violations)
    return handler, loop, timers


async def forget_old_commands(store: InventoryStore, retention: timedelta) -> None:
    """Processed command ids are kept at least ``retention`` (>= 24 h), then dropped."""
    while True:
        try:
            removed = await store.forget_processed_before(utcnow() - retention)
            if removed:
                log.info("forgot %d processed command id(s) older than %s", removed, retention)
        except Exception as exc:
            log.warning("retention: %r", exc)
        await asyncio.sleep(600)


def create_app(settings: InventorySettings | None = None) -> FastAPI:
    settings = settings or load_settings(InventorySettings)
    readiness: dict[str, ReadinessCheck] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_observability("inventory", settings)
        tune_gc()
        pool = await open_pool(settings.database_url, settings.db_schema,
                               size=settings.db_pool_size)
        # no linger: a publisher appends a whole outbox before the sender runs (aiokafka's
        # send does not suspend while the buffer has room), so waiting adds nothing to a
        # batch, only to each reply's way back (~1.4 ms at the embedded broker)
        producer = Producer(settings.kafka,
                            client_id=f"inventory-{settings.instance_id}", linger_ms=0)
        tasks = TaskOwner()
        try:
            async with pool.connection() as conn:
                await migrate(conn)
            await ensure_topics(settings.kafka, settings.topics.all(),
                                config=settings.topic_config)
            await producer.start()
            handler, loop, timers = build_consumer(settings, pool, producer)
            tasks.start("commands", loop.run())
            tasks.start("expiry", timers.run())
            tasks.start("retention", forget_old_commands(
                InventoryStore(pool), timedelta(hours=settings.processed_retention_hours)
            ))

            async def database() -> bool:
                return await ping(pool)

            async def broker() -> bool:
                return producer.started

            async def consumer() -> bool:
                """Deciding: every partition given to it claimed (or none is its own) and
                the commands that came meanwhile decided (caught up)."""
                return loop.ready and tasks.healthy and handler.partitions >= loop.assigned

            readiness.update(database=database, broker=broker, consumer=consumer)
            log.info("inventory %s started", settings.instance_id)
            yield
        finally:
            readiness.clear()
            await tasks.stop()
            await producer.stop()
            await pool.close()

    return build_app(
        title="Stampede inventory", lifespan=lifespan, readiness=readiness,
        description="The single writer of stock: holds, purchases, limits, expiry.",
        instance_id=settings.instance_id,
    )
