"""Wiring: settings -> hub, consumer loop, WebSocket route, ops routes, lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from stampede_contracts import EventEnvelope, decode_event
from stampede_runtime.consumer import ConsumerLoop
from stampede_runtime.dead_letters import KafkaDeadLetters
from stampede_runtime.logs import configure_logging
from stampede_runtime.producer import Producer
from stampede_runtime.tasks import TaskOwner
from stampede_runtime.web import build_app

from .adapters.direct import ServerSendMiddleware, WriteBatch
from .api import ws_router
from .consumer import EventsHandler
from .service import CloseCode, Hub
from .settings import NotifierSettings


def build_hub(settings: NotifierSettings) -> Hub:
    return Hub(
        window=settings.recent_window,
        stock_updates_per_second=settings.stock_updates_per_second,
        max_connections=settings.max_connections,
        max_connections_per_ip=settings.max_connections_per_ip,
        batch=WriteBatch(settings.fanout_threads, settings.fanout_min_split),
    )


def create_app(settings: NotifierSettings) -> FastAPI:
    configure_logging("notifier", settings.log_level)
    hub = build_hub(settings)
    tasks = TaskOwner()
    producer = Producer(settings.kafka_bootstrap_servers,
                        client_id=f"notifier-{settings.instance_id}")
    events: ConsumerLoop[EventEnvelope] = ConsumerLoop(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        topic=settings.topics.events,
        decode=decode_event,
        handler=EventsHandler(hub),
        dead_letters=KafkaDeadLetters(producer, settings.topics.dead_letters,
                                      service="notifier"),
        group_id=None,  # broadcast: every notifier process reads every partition
        client_id=f"notifier-{settings.instance_id}",
        from_beginning=True,
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await producer.start()
        tasks.start("events-consumer", events.run())
        try:
            yield
        finally:
            hub.close_all(CloseCode.GOING_AWAY, "notifier shutting down")
            hub.stop()
            await tasks.stop()
            if isinstance(hub.batch, WriteBatch):
                hub.batch.close()
            await producer.stop()

    async def consumer_ready() -> bool:
        return events.started.is_set() and tasks.healthy

    app = build_app(title="Stampede notifier",
                    description="WebSocket fan-out of drop events (see API.md, Real time)",
                    lifespan=lifespan, readiness={"consumer": consumer_ready})
    app.include_router(ws_router(hub, settings))
    app.add_middleware(ServerSendMiddleware)
    app.state.hub = hub
    return app


def uvicorn_options(settings: NotifierSettings) -> dict[str, Any]:
    return {
        "ws": settings.ws_implementation,
        "ws_ping_interval": settings.ws_ping_interval_s,
        "ws_ping_timeout": settings.ws_ping_timeout_s,
        "ws_per_message_deflate": settings.ws_per_message_deflate,
        "ws_max_size": 64 * 1024,  # clients only ever send "ping"
        "backlog": settings.listen_backlog,
    }
