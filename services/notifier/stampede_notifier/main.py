"""Wiring: settings -> hub, consumer loops, WebSocket connections, ops routes, lifespan."""

from __future__ import annotations

import functools
import logging
import resource
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from fastapi import FastAPI
from stampede_contracts import decode_event, decode_queue_update
from stampede_runtime.consumer import ConsumerLoop
from stampede_runtime.dead_letters import KafkaDeadLetters
from stampede_runtime.delivery import Subscription
from stampede_runtime.fetch_waits import FetchWaits
from stampede_runtime.observability import configure_observability
from stampede_runtime.producer import Producer
from stampede_runtime.tasks import TaskOwner
from stampede_runtime.web import build_app

from . import metrics
from .adapters.connection import Limits, WebSocketConnection, keep_alive
from .api import Door, documents
from .consumer import HubHandler, tells_clients
from .service import CloseCode, Hub
from .settings import NotifierSettings

log = logging.getLogger(__name__)
T = TypeVar("T")


def build_hub(settings: NotifierSettings) -> Hub:
    return Hub(
        window=settings.recent_window,
        stock_updates_per_second=settings.stock_updates_per_second,
        max_connections=settings.max_connections,
        max_connections_per_ip=settings.max_connections_per_ip,
    )


def create_app(settings: NotifierSettings) -> FastAPI:
    configure_observability("notifier", settings)
    hub = build_hub(settings)
    tasks = TaskOwner()
    producer = Producer(settings.kafka,
                        client_id=f"notifier-{settings.instance_id}")
    dead_letters = KafkaDeadLetters(producer, settings.topics.dead_letters, service="notifier")

    # broadcast: every notifier process reads every partition; the queue figures come in
    # the same fetches as the events (one fetch request instead of two)
    consumer = ConsumerLoop(
        bootstrap_servers=settings.kafka, topic=settings.topics.events,
        decode=decode_event, handler=HubHandler(hub.apply), dead_letters=dead_letters,
        select=tells_clients,
        group_id=None, client_id=f"notifier-{settings.instance_id}", from_beginning=True,
        fetch_waits=FetchWaits(settings.consumer_fetch_max_wait_ms,
                               max(settings.consumer_fetch_max_wait_ms,
                                   settings.kafka_idle_wait_ms),
                               pacing=settings.kafka_fetch_pacing),
        also=[Subscription(settings.topics.queue, decode_queue_update,
                           HubHandler(hub.apply_queue), from_beginning=False)],
        span_name="notifier push",  # tracing on: one span per traced event pushed
    )
    metrics.held_clients.set_function(lambda: hub.rooms.held_count)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await producer.start()
        tasks.start("consumer", consumer.run())
        tasks.start("keepalive", keep_alive(hub, settings.ws_ping_interval_s,
                                            settings.ws_ping_timeout_s))
        try:
            yield
        finally:
            hub.close_all(CloseCode.GOING_AWAY, "notifier shutting down")
            hub.stop()
            await tasks.stop()
            await producer.stop()

    async def consumers_ready() -> bool:
        """Every partition read up to where the log ended at the start: the drops'
        windows rebuilt, so a client resuming here misses nothing it could be sent."""
        return consumer.ready and tasks.healthy

    app = build_app(title="Stampede notifier",
                    description="WebSocket fan-out of drop events (see API.md, Real time)",
                    lifespan=lifespan, readiness={"consumer": consumers_ready},
                    instance_id=settings.instance_id)
    app.state.hub = hub
    app.include_router(documents(settings))
    return app


def uvicorn_options(settings: NotifierSettings, hub: Hub) -> dict[str, Any]:
    """uvicorn serves HTTP (ops routes) and hands WebSocket upgrades to
    ``WebSocketConnection`` (its ``ws`` option takes a protocol class)."""
    limits = Limits(capacity=settings.client_queue_size,
                    close_timeout_s=settings.slow_close_timeout_s,
                    max_message_bytes=settings.ws_max_message_bytes)
    return {
        "ws": functools.partial(WebSocketConnection, hub=hub, door=Door(hub, settings),
                                limits=limits),
        "backlog": settings.listen_backlog,
    }


def raise_open_files_limit(connections: int) -> None:
    """Room for ``connections`` sockets plus the rest: the soft limit up to what is
    needed, within the hard limit (warned when that is too low)."""
    wanted = connections + 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < wanted:
        log.warning("open files limited to %d: fewer than MAX_CONNECTIONS=%d fit",
                    target, connections)
