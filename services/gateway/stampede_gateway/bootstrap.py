"""The composition root: every part of a gateway process, started and stopped here.

``Edge`` holds what needs no I/O (built with the app, used by the middleware);
``Gateway`` adds the connections and background tasks, opened in the lifespan.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from psycopg_pool import AsyncConnectionPool
from stampede_contracts import EventEnvelope, Reply, decode_event, decode_reply, utcnow
from stampede_runtime.admin import ensure_topics
from stampede_runtime.consumer import ConsumerLoop
from stampede_runtime.db import open_pool, ping
from stampede_runtime.dead_letters import KafkaDeadLetters
from stampede_runtime.producer import Producer
from stampede_runtime.tasks import TaskOwner

from . import metrics
from .accounts_service import Accounts
from .adapters.accounts import AccountStore
from .adapters.drop_events import DropEventsHandler
from .adapters.idempotency_store import IdempotencyStore
from .adapters.inventory import InventoryClient
from .adapters.orders_client import OrdersClient
from .adapters.schema import create_tables
from .admission import Admission
from .domain.drop_view import DropViews
from .domain.tickets import TicketSigner
from .domain.token_bucket import RateLimiter
from .domain.waiting_room import WaitingRoom
from .drops_service import DropsService
from .order_path import OrderPath
from .security import Passwords, Tokens
from .settings import GatewaySettings

log = logging.getLogger(__name__)
SCHEMA = "gateway"


@dataclass
class Edge:
    settings: GatewaySettings
    tokens: Tokens
    limiter: RateLimiter
    views: DropViews
    admission: Admission

    @classmethod
    def build(cls, settings: GatewaySettings) -> Edge:
        views = DropViews()
        room = WaitingRoom(
            rate=settings.gate_rate_per_s, burst=settings.gate_burst,
            max_in_flight=settings.gate_max_in_flight,
            admitted_window_s=settings.admitted_window_s, ticket_ttl_s=settings.ticket_ttl_s,
            max_waiting=settings.waiting_room_max,
        )
        signer = TicketSigner(settings.effective_ticket_secret(), settings.ticket_ttl_s)
        return cls(
            settings=settings,
            tokens=Tokens(settings.effective_jwt_secret(),
                          access_ttl_s=settings.access_token_ttl_s,
                          refresh_ttl_s=settings.refresh_token_ttl_s),
            limiter=RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst),
            views=views,
            admission=Admission(room, signer, views),
        )


@dataclass
class Gateway:
    edge: Edge
    pool: AsyncConnectionPool
    producer: Producer
    orders: OrdersClient
    inventory: InventoryClient
    accounts: Accounts
    order_path: OrderPath
    drops: DropsService
    replies_loop: ConsumerLoop[Reply]
    events_loop: ConsumerLoop[EventEnvelope]
    store: IdempotencyStore
    tasks: TaskOwner = field(default_factory=TaskOwner)

    @classmethod
    async def start(cls, edge: Edge) -> Gateway:
        s = edge.settings
        topics = s.topics
        await ensure_topics(s.kafka_bootstrap_servers, topics.all())
        pool = await open_pool(s.database_url, SCHEMA, size=s.db_pool_size, autocommit=True)
        await create_tables(pool)
        producer = Producer(s.kafka_bootstrap_servers, client_id=f"gateway-{s.instance_id}")
        await producer.start()
        dead_letters = KafkaDeadLetters(producer, topics.dead_letters, service="gateway")
        inventory = InventoryClient(producer, topics.commands, s.instance_id)
        orders = OrdersClient(s.orders_url)
        passwords = Passwords(memory_kib=s.argon2_memory_kib, time_cost=s.argon2_time_cost,
                              concurrency=s.hash_concurrency)
        store = IdempotencyStore(pool, s.idempotency_lease_s)
        gateway = cls(
            edge=edge, pool=pool, producer=producer, orders=orders, inventory=inventory,
            accounts=Accounts(AccountStore(pool), passwords, edge.tokens),
            order_path=OrderPath(edge.views, store, inventory, s.reply_timeout_s, orders),
            drops=DropsService(inventory, orders, edge.views, s.admin_reply_timeout_s),
            replies_loop=ConsumerLoop(
                bootstrap_servers=s.kafka_bootstrap_servers, topic=topics.replies,
                decode=decode_reply, handler=inventory, dead_letters=dead_letters,
                client_id=f"gateway-{s.instance_id}-replies", from_beginning=False,
            ),
            events_loop=ConsumerLoop(
                bootstrap_servers=s.kafka_bootstrap_servers, topic=topics.events,
                decode=decode_event, handler=DropEventsHandler(edge.views),
                dead_letters=dead_letters, client_id=f"gateway-{s.instance_id}-events",
                from_beginning=True,
            ),
            store=store,
        )
        gateway.tasks.start("replies", gateway.replies_loop.run())
        gateway.tasks.start("drop-events", gateway.events_loop.run())
        gateway.tasks.start("admitter", gateway._admit_forever())
        gateway.tasks.start("purge", gateway._purge_forever(store))
        await gateway.accounts.ensure_admin(s.admin_username, s.effective_admin_password())
        if s.dev_mode and s.admin_password is None:
            log.warning("DEV_MODE: admin %r has the password 'admin'", s.admin_username)
        await asyncio.wait_for(gateway.replies_loop.started.wait(), 60)
        log.info("gateway %s started", s.instance_id)
        return gateway

    async def stop(self) -> None:
        await self.tasks.stop()
        await self.store.close()
        await self.orders.close()
        await self.producer.stop()
        await self.pool.close()

    async def _admit_forever(self) -> None:
        room = self.edge.admission.room
        while True:
            room.admit_ready(time.time())
            metrics.waiting_room_queued.set(room.waiting)
            metrics.waiting_room_in_flight.set(room.in_flight)
            await asyncio.sleep(0.05)

    async def _purge_forever(self, store: IdempotencyStore) -> None:
        keep = timedelta(hours=self.edge.settings.idempotency_ttl_hours)
        while True:
            try:
                purged = await store.purge(utcnow() - keep)
                if purged:
                    log.info("purged %d idempotency records older than %s", purged, keep)
            except Exception as exc:  # a purge may fail; the next one catches up
                log.warning("idempotency purge failed: %r", exc)
            await asyncio.sleep(3600)

    async def ready(self) -> dict[str, bool]:
        return {
            "database": await ping(self.pool),
            "broker": self.producer.started,
            "replies": self.replies_loop.started.is_set(),
            "drop_events": self.events_loop.started.is_set(),
            "tasks": self.tasks.healthy,
        }
