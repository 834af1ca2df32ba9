"""Wiring: migrations, the engine, the consumer loop and the internal API.

Start-up order matters: the schema is migrated before the consumer starts, and
the consumer resumes from the positions stored in that schema. Everything
started here is stopped here, in reverse.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from stampede_contracts import EventEnvelope, decode_event
from stampede_runtime.admin import ensure_topics
from stampede_runtime.consumer import ConsumerLoop
from stampede_runtime.dead_letters import KafkaDeadLetters
from stampede_runtime.ops import ReadinessCheck
from stampede_runtime.producer import Producer
from stampede_runtime.tasks import TaskOwner
from stampede_runtime.web import build_app

from . import api
from .adapters import database, migrate
from .adapters.queries import ReadModelQueries
from .adapters.store import ProjectionStore
from .consumer import ProjectionHandler
from .settings import OrdersSettings

SERVICE = "orders"


@contextlib.asynccontextmanager
async def running(settings: OrdersSettings, app: FastAPI,
                  checks: dict[str, ReadinessCheck]) -> AsyncIterator[None]:
    topics = settings.topics
    await migrate.upgrade(settings.database_url, settings.db_schema)
    await ensure_topics(settings.kafka, [topics.events, topics.dead_letters],
                        config=settings.topic_config)
    engine = database.create_engine(
        settings.database_url, settings.db_schema, pool_size=settings.db_pool_size
    )
    producer = Producer(settings.kafka,
                        client_id=f"{SERVICE}-{settings.instance_id}")
    tasks = TaskOwner()
    try:
        await producer.start()
        loop = ConsumerLoop[EventEnvelope](
            bootstrap_servers=settings.kafka,
            topic=topics.events,
            decode=decode_event,
            handler=ProjectionHandler(ProjectionStore(engine, topics.events.name)),
            dead_letters=KafkaDeadLetters(producer, topics.dead_letters, service=SERVICE),
            group_id=settings.group_id,
            client_id=f"{SERVICE}-{settings.instance_id}",
            membership=settings.membership,
            fetch_waits=settings.follow_waits,
            max_records=settings.max_batch,
            span_name="orders project",  # tracing on: one span per traced event
        )
        tasks.start("orders-consumer", loop.run())

        async def database_ready() -> bool:
            return await database.ping(engine)

        async def consumer_ready() -> bool:
            """Its partitions held (or none are its own) and the events that came while
            it was away applied: the read model is current."""
            return tasks.healthy and loop.ready

        checks.update(database=database_ready, consumer=consumer_ready)
        app.state.queries = ReadModelQueries(engine)
        yield
    finally:
        checks.clear()
        await tasks.stop()
        await producer.stop()
        await engine.dispose()


def create_app(settings: OrdersSettings) -> FastAPI:
    checks: dict[str, ReadinessCheck] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(settings, app, checks):
            yield

    app = build_app(
        title="Stampede orders",
        description="The durable record of purchases and the read model the gateway serves.",
        lifespan=lifespan,
        readiness=checks,
        instance_id=settings.instance_id,
    )
    api.install(app, service_token=settings.orders_service_token)
    return app
