"""The composition root: every part of a gateway process, started and stopped here.

``Edge`` holds what needs no I/O (built with the app, used by the front door and the
middleware); ``Gateway`` adds the connections and background tasks, opened in the
lifespan.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from psycopg_pool import AsyncConnectionPool
from stampede_contracts import utcnow
from stampede_runtime.admin import ensure_topics
from stampede_runtime.consumer import ConsumerLoop
from stampede_runtime.db import open_pool, ping
from stampede_runtime.dead_letters import KafkaDeadLetters
from stampede_runtime.delivery import Subscription
from stampede_runtime.gc_tuning import tune_gc
from stampede_runtime.producer import Producer
from stampede_runtime.tasks import TaskOwner

from .accounts_service import Accounts
from .adapters.accounts import AccountStore
from .adapters.claims import Claims
from .adapters.drop_events import DropEventsHandler, decode_view_event, wanted
from .adapters.heartbeat import Heartbeat
from .adapters.idempotency_store import IdempotencyStore
from .adapters.inventory import InventoryClient, RawReply, decode_reply_json
from .adapters.migrate import upgrade
from .adapters.orders_client import OrdersClient
from .adapters.rooms import RoomStore
from .api.edge_limits import EdgeLimits
from .domain.drop_view import DropViews
from .domain.serving import Mode
from .domain.tickets import TicketSigner
from .domain.token_bucket import RateLimiter
from .drops_service import DropsService
from .identity import Identities
from .order_path import OrderPath
from .security import Passwords, Tokens
from .settings import GatewaySettings
from .waiting_room import RoomDefaults, WaitingRooms

log = logging.getLogger(__name__)
SCHEMA = "gateway"


@dataclass
class Edge:
    settings: GatewaySettings
    tokens: Tokens
    identities: Identities
    limiter: RateLimiter
    limits: EdgeLimits
    views: DropViews
    signer: TicketSigner

    @classmethod
    def build(cls, settings: GatewaySettings) -> Edge:
        tokens = Tokens(settings.effective_jwt_secret(), access_ttl_s=settings.access_token_ttl_s,
                        refresh_ttl_s=settings.refresh_token_ttl_s)
        limiter = RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
        return cls(
            settings=settings, tokens=tokens, identities=Identities(tokens, settings.dev_mode),
            limiter=limiter,
            limits=EdgeLimits(limiter, max_body_bytes=settings.max_body_bytes,
                              max_header_bytes=settings.max_header_bytes),
            views=DropViews(timedelta(seconds=settings.waiting_room_opens_before_s)),
            signer=TicketSigner(settings.effective_ticket_secret(), settings.ticket_ttl_s),
        )


@dataclass
class Gateway:
    edge: Edge
    pool: AsyncConnectionPool
    producer: Producer
    orders: OrdersClient
    inventory: InventoryClient
    accounts: Accounts
    claims: Claims
    records: IdempotencyStore
    room_store: RoomStore
    heartbeat: Heartbeat
    rooms: WaitingRooms
    order_path: OrderPath
    drops: DropsService
    consumer: ConsumerLoop[RawReply]
    tasks: TaskOwner = field(default_factory=TaskOwner)

    @classmethod
    async def start(cls, edge: Edge) -> Gateway:
        s = edge.settings
        topics = s.topics
        await ensure_topics(s.kafka, topics.all(), config=s.topic_config)
        await upgrade(s.database_url, SCHEMA)
        pool = await open_pool(s.database_url, SCHEMA, size=s.db_pool_size, autocommit=True)
        producer = Producer(s.kafka, client_id=f"gateway-{s.instance_id}",
                            linger_ms=s.command_linger_ms)
        await producer.start()
        dead_letters = KafkaDeadLetters(producer, topics.dead_letters, service="gateway")
        inventory = InventoryClient(producer, topics.commands, s.instance_id)
        orders = OrdersClient(s.orders_url, token=s.orders_service_token)
        passwords = Passwords(memory_kib=s.argon2_memory_kib, time_cost=s.argon2_time_cost,
                              concurrency=s.hash_concurrency)
        claims = Claims(pool)
        records = IdempotencyStore(pool)
        room_store = RoomStore(pool)
        heartbeat = Heartbeat(pool, s.instance_id)
        rooms = WaitingRooms(
            edge.signer, room_store, edge.views, heartbeat, records,
            RoomDefaults(admit_per_s=s.waiting_room_admit_per_s, mode=Mode(s.waiting_room_mode),
                         admitted_window_s=s.admitted_window_s,
                         max_in_flight=s.gate_max_in_flight, max_waiting=s.waiting_room_max,
                         tick_s=s.waiting_room_tick_ms / 1000),
            producer, topics.queue,
        )
        gateway = cls(
            edge=edge, pool=pool, producer=producer, orders=orders, inventory=inventory,
            accounts=Accounts(AccountStore(pool), passwords, edge.tokens), claims=claims,
            records=records, room_store=room_store, heartbeat=heartbeat, rooms=rooms,
            order_path=OrderPath(edge.views, claims, records, inventory, rooms, orders,
                                 s.reply_timeout_s),
            drops=DropsService(inventory, orders, edge.views, s.admin_reply_timeout_s),
            # its replies and the drop events come in the same fetches (one fetch request
            # instead of two: a fetch is what the broker's work is counted in)
            consumer=ConsumerLoop(
                bootstrap_servers=s.kafka, topic=topics.replies,
                decode=decode_reply_json, handler=inventory, dead_letters=dead_letters,
                client_id=f"gateway-{s.instance_id}", from_beginning=False,
                select=inventory.mine, partitions=inventory.my_partitions,
                fetch_waits=s.reply_waits,
                also=[Subscription(topics.events, decode_view_event,
                                   DropEventsHandler(edge.views), select=wanted)],
            ),
        )
        inventory.on_ask = gateway.consumer.expect  # replies come: fetch them soon
        edge.limiter.share(await heartbeat.beat())
        gateway.tasks.start("consumer", gateway.consumer.run())
        gateway.tasks.start("waiting-rooms", rooms.run(edge.limiter.share))
        gateway.tasks.start("purge", gateway._purge_forever())
        await gateway.accounts.ensure_admin(s.admin_username, s.effective_admin_password())
        if s.dev_mode and s.admin_password is None:
            log.warning("DEV_MODE: admin %r has the password 'admin'", s.admin_username)
        await asyncio.wait_for(gateway.consumer.started.wait(), 60)
        tune_gc()  # what start-up loaded is long-lived: no collection walks it again
        log.info("gateway %s started", s.instance_id)
        return gateway

    async def stop(self) -> None:
        await self.tasks.stop()
        try:
            await self.heartbeat.leave()  # the others take its share of the limits at once
        except Exception as exc:
            log.warning("could not leave the live processes: %r", exc)
        await self.claims.close()
        await self.records.close()
        await self.room_store.close()
        await self.orders.close()
        await self.producer.stop()
        await self.pool.close()

    async def _purge_forever(self) -> None:
        keep = timedelta(hours=self.edge.settings.idempotency_ttl_hours)
        while True:
            try:
                purged = await self.records.purge(utcnow() - keep)
                if purged:
                    log.info("purged %d idempotency records older than %s", purged, keep)
            except Exception as exc:  # a purge may fail; the next one catches up
                log.warning("idempotency purge failed: %r", exc)
            await asyncio.sleep(3600)

    async def ready(self) -> dict[str, bool]:
        """Serving truthfully: the database answers, the drop view has caught up with the
        events (its sure "no" are current), and drops' owners answer (no ask has waited
        past the reply timeout without a reply about its drop since; see
        ``InventoryClient.silent``)."""
        return {
            "database": await ping(self.pool),
            "broker": self.producer.started,
            "consumer": self.consumer.ready,
            "owners": not self.inventory.silent(self.edge.settings.reply_timeout_s),
            "tasks": self.tasks.healthy,
        }
