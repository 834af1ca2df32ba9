"""The whole system on one machine: broker, database, topics and the four services.

Used by ``make up`` (through ``python -m stampede_devstack up``) and by the
integration and end-to-end tests, so what the tests drive is what users run.
A broker or database named by ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL``
is used instead of starting the embedded one.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .broker import EmbeddedBroker
from .database import EmbeddedPostgres
from .ports import free_port, require_free
from .process import ServiceProcess, wait_ready


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
    notifier_public_url: str | None = None
    allowed_origins: str | None = None
    cors_allow_origins: str = ""
    broker: EmbeddedBroker | None = None
    postgres: EmbeddedPostgres | None = None
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, s: StackSettings) -> Stack:
        return cls(
            state_dir=s.state_dir.resolve(), gateway_port=s.gateway_port,
            notifier_port=s.notifier_port, orders_port=s.orders_port,
            inventory_ports=[s.inventory_port + 10 * i for i in range(s.inventory_instances)],
            broker_port=s.broker_port, postgres_port=s.postgres_port,
            kafka_bootstrap_servers=s.kafka_bootstrap_servers, database_url=s.database_url,
            admin_username=s.admin_username, admin_password=s.admin_password,
            log_level=s.log_level, gateway_workers=s.gateway_workers,
            notifier_workers=s.notifier_workers, notifier_public_url=s.notifier_public_url,
            allowed_origins=s.allowed_origins, cors_allow_origins=s.cors_allow_origins,
        )

    @classmethod
    def for_tests(cls, state_dir: Path, *, kafka: str | None, database_url: str | None,
                  topic_namespace: str = "", inventory_instances: int = 1,
                  gateway_workers: int = 1, notifier_workers: int = 1,
                  **extra_env: str) -> Stack:
        return cls(
            state_dir=state_dir, gateway_port=free_port(), notifier_port=free_port(),
            orders_port=free_port(),
            inventory_ports=[free_port() for _ in range(inventory_instances)],
            broker_port=0, postgres_port=0, kafka_bootstrap_servers=kafka,
            database_url=database_url, topic_namespace=topic_namespace,
            gateway_workers=gateway_workers, notifier_workers=notifier_workers,
            extra_env=dict(extra_env),
        )

    # -- infrastructure ---------------------------------------------------
    def start_infrastructure(self) -> None:
        from stampede_contracts import Topics
        from stampede_runtime.admin import ensure_topics

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
        asyncio.run(ensure_topics(
            self.kafka_bootstrap_servers, Topics.for_namespace(self.topic_namespace).all()
        ))

    # -- services -----------------------------------------------------------
    def service_env(self) -> dict[str, str]:
        assert self.kafka_bootstrap_servers and self.database_url
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "DATABASE_URL": self.database_url,
            "LOG_LEVEL": self.log_level,
            "TOPIC_NAMESPACE": self.topic_namespace,
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

    def define_services(self) -> None:
        secret = self.extra_env.get("JWT_SECRET") or secrets.token_urlsafe(32)
        for i, port in enumerate(self.inventory_ports):
            self._make(f"inventory-{i}", "stampede_inventory", port,
                       {"INSTANCE_ID": f"inventory-{i}"})
        self._make("orders", "stampede_orders", self.orders_port, {"INSTANCE_ID": "orders"})
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
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
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
