"""The whole system on one machine: broker, database, topics and the four services.

Used by ``make up`` (through ``python -m stampede_devstack up``) and by the
integration and end-to-end tests, so what the tests drive is what users run.
A broker or database named by ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL``
is used instead of starting the embedded one.

The inventory and orders processes share their partitions by fixed slots
(``KAFKA_GROUP_MEMBERSHIP=slots``: inventory-i of ``INVENTORY_INSTANCES`` reads the
partitions ``p % n == i``; see docs/recovery.md): the stack knows every slot and restarts
a dead one (``supervise``), so a replacement decides as soon as it has loaded its state,
with no group coordinator to wait for. Each slot service also has a warm spare
(``stampede_devstack.warm``: an interpreter with the service already imported), so the
replacement starts in the time it takes to load its state, not to import Python.
``supervise`` also restarts a dead embedded broker (its log, in memory, is lost: the
services notice and carry on from PostgreSQL) and a dead embedded PostgreSQL.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .broker import EmbeddedBroker
from .database import EmbeddedPostgres
from .ports import free_port, require_free
from .process import ServiceProcess, Spare, wait_ready

#: a service dead this soon after its start (a bad setting, say) is restarted with backoff
QUICK_DEATH_S = 2.0
#: how often dead processes are looked for (a replacement's start-up is the hand-over)
SUPERVISE_EVERY_S = 0.2
#: the services whose slots keep a warm spare (a single owner of partitions each)
SLOT_SERVICES = ("stampede_inventory", "stampede_orders")
#: the topic settings of a one-broker cluster (the embedded one, a test's), for services
#: started on it (production defaults: 3 and 2)
SINGLE_BROKER_ENV = {"KAFKA_REPLICATION_FACTOR": "1", "KAFKA_MIN_INSYNC_REPLICAS": "1"}
#: a used spare is replaced this long after (not at once: its import would compete for
#: the cores with the start-up of the process it became)
SPARE_AGAIN_AFTER_S = 2.0


class StackSettings(BaseSettings):
    """``make up`` settings, all from the environment."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    kafka_bootstrap_servers: str | None = None
    database_url: str | None = None
    gateway_port: int = 8000
    notifier_port: int = 8001
    orders_port: int = 8002
    inventory_port: int = 8003
    broker_port: int = 19092
    postgres_port: int = 15432
    inventory_instances: int = Field(default=1, ge=1, le=8)
    #: gateway / notifier processes sharing one port each (SO_REUSEPORT)
    gateway_workers: int = Field(default=2, ge=1, le=16)
    notifier_workers: int = Field(default=2, ge=1, le=16)
    state_dir: Path = Path(".stampede")
    admin_username: str = "admin"
    admin_password: str = "admin"
    log_level: str = "INFO"
    #: a warm spare per slot service, for a replacement in a fraction of a second
    warm_spares: bool = True
    #: where browsers reach the notifier (the storefront's pages connect there);
    #: default ws://127.0.0.1:NOTIFIER_PORT/ws
    notifier_public_url: str | None = None
    #: the notifier's allowed browser origins; default the gateway's own origins
    #: (localhost and 127.0.0.1) and CORS_ALLOW_ORIGINS (storefronts elsewhere)
    allowed_origins: str | None = None
    cors_allow_origins: str = ""


@dataclass
class Stack:
    """Start with ``start()``; every process it started is stopped by ``stop()``."""

    state_dir: Path
    gateway_port: int
    notifier_port: int
    orders_port: int
    inventory_ports: list[int]
    broker_port: int
    postgres_port: int
    kafka_bootstrap_servers: str | None = None
    database_url: str | None = None
    admin_username: str = "admin"
    admin_password: str = "admin"
    log_level: str = "INFO"
    durable_db: bool = True
    topic_namespace: str = ""
    gateway_workers: int = 1
    notifier_workers: int = 1
    extra_env: dict[str, str] = field(default_factory=dict)
    warm_spares: bool = True
    notifier_public_url: str | None = None
    allowed_origins: str | None = None
    cors_allow_origins: str = ""
    broker: EmbeddedBroker | None = None
    postgres: EmbeddedPostgres | None = None
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    #: a service that keeps dying at start is restarted less and less often
    _quick_deaths: dict[str, int] = field(default_factory=dict)
    _restart_at: dict[str, float] = field(default_factory=dict)
    spares: dict[str, Spare] = field(default_factory=dict)
    _spare_at: dict[str, float] = field(default_factory=dict)  # module -> when to start one

    @classmethod
    def from_settings(cls, s: StackSettings) -> Stack:
        return cls(
            state_dir=s.state_dir.resolve(), gateway_port=s.gateway_port,
            notifier_port=s.notifier_port, orders_port=s.orders_port,
            inventory_ports=[s.inventory_port + 10 * i for i in range(s.inventory_instances)],
            broker_port=s.broker_port, postgres_port=s.postgres_port,
            kafka_bootstrap_servers=s.kafka_bootstrap_servers, database_url=s.database_url,
            admin_username=s.admin_username, admin_password=s.admin_password,
            log_level=s.log_level, gateway_workers=s.gateway_workers, warm_spares=s.warm_spares,
            notifier_workers=s.notifier_workers, notifier_public_url=s.notifier_public_url,
            allowed_origins=s.allowed_origins, cors_allow_origins=s.cors_allow_origins,
        )

    @classmethod
    def for_tests(cls, state_dir: Path, *, kafka: str | None, database_url: str | None,
                  topic_namespace: str = "", inventory_instances: int = 1,
                  gateway_workers: int = 1, notifier_workers: int = 1,
                  **extra_env: str) -> Stack:
        """``kafka`` / ``database_url`` None: the stack starts its own embedded broker /
        PostgreSQL (on free ports), which a test may then crash."""
        return cls(
            state_dir=state_dir, gateway_port=free_port(), notifier_port=free_port(),
            orders_port=free_port(),
            inventory_ports=[free_port() for _ in range(inventory_instances)],
            broker_port=free_port() if kafka is None else 0,
            postgres_port=free_port() if database_url is None else 0,
            kafka_bootstrap_servers=kafka,
            database_url=database_url, topic_namespace=topic_namespace,
            gateway_workers=gateway_workers, notifier_workers=notifier_workers,
            extra_env=dict(extra_env), durable_db=False,
        )

    # -- infrastructure ---------------------------------------------------
    def start_infrastructure(self) -> None:
        if self.kafka_bootstrap_servers is None:
            self.broker = EmbeddedBroker(self.broker_port, self.state_dir / "logs" / "tansu.log")
            self.broker.start()
            self.kafka_bootstrap_servers = self.broker.bootstrap_servers
        if self.database_url is None:
            self.postgres = EmbeddedPostgres(
                self.state_dir / "pgdata", self.postgres_port, durable=self.durable_db
            )
            self.postgres.start()
            self.database_url = self.postgres.url()
        self.ensure_topics()

    def ensure_topics(self) -> None:
        from stampede_contracts import Topics
        from stampede_runtime.admin import ensure_topics_sync
        from stampede_runtime.kafka_config import TopicConfig

        assert self.kafka_bootstrap_servers
        env = {**os.environ, **self.extra_env, **self.topic_env()}
        config = TopicConfig(replication_factor=int(env["KAFKA_REPLICATION_FACTOR"]),
                             min_insync_replicas=int(env["KAFKA_MIN_INSYNC_REPLICAS"]))
        ensure_topics_sync(self.kafka_bootstrap_servers,
                           Topics.for_namespace(self.topic_namespace).all(), config=config)

    def topic_env(self) -> dict[str, str]:
        """One broker (the embedded one, or a test's): replication factor 1 and
        min.insync.replicas 1, unless the environment or the test names others."""
        return {k: v for k, v in SINGLE_BROKER_ENV.items()
                if k not in self.extra_env and k not in os.environ}

    # -- services -----------------------------------------------------------
    def service_env(self) -> dict[str, str]:
        assert self.kafka_bootstrap_servers and self.database_url
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "DATABASE_URL": self.database_url,
            "LOG_LEVEL": self.log_level,
            "TOPIC_NAMESPACE": self.topic_namespace,
            **self.topic_env(),
            **self.extra_env,
        }

    def _make(self, name: str, module: str, port: int, env: dict[str, str]) -> ServiceProcess:
        proc = ServiceProcess(name, module, port, {**self.service_env(), **env},
                              self.state_dir / "logs")
        self.services[name] = proc
        return proc

    def _make_workers(self, name: str, module: str, port: int, workers: int,
                      env: dict[str, str]) -> None:
        """``workers`` processes of one service on one port (SO_REUSEPORT when several),
        each with a stable instance id (``name-i``: a restarted slot keeps its id)."""
        for i in range(workers):
            self._make(f"{name}-{i}", module, port, {
                **env, "INSTANCE_ID": f"{name}-{i}",
                "HTTP_REUSE_PORT": "true" if workers > 1 else "false",
            })

    def group_env(self, slots: int) -> dict[str, str]:
        """The group settings of a service run as ``slots`` fixed slots (unless the
        environment or the test names others)."""
        wanted = {"KAFKA_GROUP_MEMBERSHIP": "slots", "KAFKA_GROUP_SLOTS": str(slots)}
        return {k: v for k, v in wanted.items()
                if k not in self.extra_env and k not in os.environ}

    def define_services(self) -> None:
        secret = self.extra_env.get("JWT_SECRET") or secrets.token_urlsafe(32)
        inventory = self.group_env(len(self.inventory_ports))
        for i, port in enumerate(self.inventory_ports):
            self._make(f"inventory-{i}", "stampede_inventory", port,
                       {**inventory, "INSTANCE_ID": f"inventory-{i}"})
        # orders' internal API answers only the gateway, which holds the same token
        orders_token = self.extra_env.get("ORDERS_SERVICE_TOKEN") or secrets.token_urlsafe(32)
        self._make("orders", "stampede_orders", self.orders_port,
                   {**self.group_env(1), "INSTANCE_ID": "orders",
                    "ORDERS_SERVICE_TOKEN": orders_token})
        self._make_workers("notifier", "stampede_notifier", self.notifier_port,
                           self.notifier_workers, {"ALLOWED_ORIGINS": self.browser_origins()})
        self._make_workers("gateway", "stampede_gateway", self.gateway_port,
                           self.gateway_workers, {
            "ORDERS_URL": f"http://127.0.0.1:{self.orders_port}",
            "DEV_MODE": "true",
            "ADMIN_USERNAME": self.admin_username,
            "ADMIN_PASSWORD": self.admin_password,
            # every process signs and verifies tokens and tickets with the same secrets
            "JWT_SECRET": secret,
            "TICKET_SECRET": self.extra_env.get("TICKET_SECRET") or f"ticket:{secret}",
            "ORDERS_SERVICE_TOKEN": orders_token,
            "NOTIFIER_PUBLIC_URL": self.notifier_public_url or self.notifier_ws_url,
        })

    def browser_origins(self) -> str:
        """The origins whose pages may open the notifier's WebSocket: the gateway's own
        (its storefront) unless ``allowed_origins`` says otherwise, and CORS's."""
        if self.allowed_origins:
            return self.allowed_origins
        own = [f"http://{host}:{self.gateway_port}" for host in ("localhost", "127.0.0.1")]
        return ",".join([*own, *(o for o in self.cors_allow_origins.split(",") if o.strip())])

    def add_gateway(self, port: int | None = None) -> ServiceProcess:
        """One more gateway process, on a port of its own (a test's "second machine"),
        started and ready; stopped with the stack."""
        first = self.processes("gateway")[0]
        slot = len(self.processes("gateway"))
        proc = self._make(f"gateway-{slot}", first.module, port or free_port(), {
            **first.env, "INSTANCE_ID": f"gateway-{slot}", "HTTP_REUSE_PORT": "false"})
        proc.start()
        proc.wait_ready(90)
        return proc

    def processes(self, name: str) -> list[ServiceProcess]:
        """The processes of one service (``gateway`` -> gateway-0, gateway-1, ...)."""
        return [p for n, p in self.services.items() if n.rpartition("-")[0] == name]

    def start(self) -> None:
        try:
            self.start_infrastructure()
            self.define_services()
            for port, name in {p.port: n for n, p in self.services.items()}.items():
                require_free(port, name)
            for proc in self.services.values():
                proc.start()
            wait_ready(list(self.services.values()), 90)
            if self.warm_spares:  # after the start-up: their imports would slow it down
                self._spare_at = dict.fromkeys(SLOT_SERVICES, 0.0)
                self._keep_spares(time.monotonic())
        except BaseException:
            self.stop()
            raise

    def supervise(self) -> list[str]:
        """Restart whatever died (the infrastructure first); say what was done. The
        services reconnect by themselves; a new broker gets the topics again."""
        said = []
        if self.postgres is not None and not self.postgres.running:
            said.append("PostgreSQL exited; restarting it (its data is on disk)")
            self.postgres.start()
        if self.broker is not None and not self.broker.running:
            said.append("the broker exited; restarting it. Its log was in memory and is "
                        "lost: the services notice the empty log and carry on from "
                        "PostgreSQL (requests answered 202 meanwhile are decided when "
                        "their outcome is read)")
            self.broker.start()
            self.ensure_topics()
        now = time.monotonic()
        for name, proc in self.services.items():
            if proc.running:
                continue
            if name not in self._restart_at:  # just found dead: now, or later if it died young
                young = now - proc.started_at < QUICK_DEATH_S
                deaths = self._quick_deaths.get(name, 0) + 1 if young else 0
                self._quick_deaths[name] = deaths
                self._restart_at[name] = now + (min(10.0, 0.5 * 2 ** (deaths - 1))
                                                if deaths else 0.0)
            if now < self._restart_at[name]:
                continue
            del self._restart_at[name]
            spare = self.spares.pop(proc.module, None)
            if spare is not None:
                self._spare_at[proc.module] = now + SPARE_AGAIN_AFTER_S
            said.append(f"{name} exited; restarting it{' (warm spare)' if spare else ''}")
            proc.start(spare)
        self._keep_spares(now)
        return said

    def spare_ready(self, module: str) -> bool:
        """Whether ``module`` has a spare that is imported and waiting."""
        spare = self.spares.get(module)
        return spare is not None and spare.ready

    def _keep_spares(self, now: float) -> None:
        for module, spare in list(self.spares.items()):
            if not spare.alive:  # killed by someone: another one soon
                del self.spares[module]
                self._spare_at.setdefault(module, now + SPARE_AGAIN_AFTER_S)
        for module, due in list(self._spare_at.items()):
            if now >= due and module not in self.spares:
                del self._spare_at[module]
                self.spares[module] = Spare(module, self.state_dir / "logs")

    @contextlib.contextmanager
    def supervising(self, every_s: float = SUPERVISE_EVERY_S) -> Iterator[list[str]]:
        """``supervise`` in a thread, as ``make up`` does, while the block runs; yields
        what it said."""
        said: list[str] = []
        done = threading.Event()

        def watch() -> None:
            while not done.wait(every_s):
                said.extend(self.supervise())

        thread = threading.Thread(target=watch, name="supervise", daemon=True)
        thread.start()
        try:
            yield said
        finally:
            done.set()
            thread.join()

    def stop(self) -> None:
        self._spare_at.clear()
        for spare in self.spares.values():
            spare.stop()
        self.spares.clear()
        for proc in reversed(list(self.services.values())):
            proc.stop()
        if self.broker is not None:
            self.broker.stop()
        if self.postgres is not None:
            self.postgres.stop()

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def notifier_ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.notifier_port}/ws"
