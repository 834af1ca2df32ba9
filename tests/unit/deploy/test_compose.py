"""Static checks of the docker compose file: the four services and the infrastructure,
healthchecks, the environment each service's settings need, start order, KRaft."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .manifests import (
    COMPOSE_DIR,
    COMPOSE_FILE,
    MAX_INVENTORY_REPLICAS,
    PORTS,
    REQUIRED_ENV,
    SECRET_ENV,
    SERVICES,
    compose,
    env_keys,
)


# -- compose ------------------------------------------------------------------------------
def app_services() -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose()["services"].items() if n in SERVICES}


def test_compose_runs_the_four_services_and_the_infrastructure() -> None:
    services = compose()["services"]
    assert set(SERVICES) | {"kafka", "postgres", "topics-init"} <= set(services)
    for name, svc in app_services().items():
        assert svc["command"] == ["python", "-m", f"stampede_{name}"]
        assert svc["build"]["dockerfile"] == "deploy/docker/Dockerfile"
        assert (COMPOSE_DIR / svc["build"]["context"] / "pyproject.toml").is_file()


@pytest.mark.parametrize("name", [*SERVICES, "kafka", "postgres"])
def test_every_long_running_compose_service_has_a_healthcheck(name: str) -> None:
    svc = compose()["services"][name]
    check = svc["healthcheck"]
    assert not check.get("disable")
    assert check["test"]
    if name in SERVICES:
        assert "/readyz" in check["test"], name


@pytest.mark.parametrize("name", SERVICES)
def test_compose_service_env_matches_its_settings(name: str) -> None:
    env = app_services()[name]["environment"]
    assert isinstance(env, dict)
    missing = REQUIRED_ENV[name] - set(env)
    assert not missing, f"{name} lacks {sorted(missing)}"
    assert env["HTTP_HOST"] == "0.0.0.0"
    assert str(env["HTTP_PORT"]) == str(PORTS[name])
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert "@postgres:5432/" in env["DATABASE_URL"]
    for var in SECRET_ENV & set(env):
        # only interpolated from .env, never a literal
        assert re.search(r"\$\{[A-Z_]+:\?", env[var]), f"{name}: {var}"
    if name == "gateway":
        assert env["DEV_MODE"] == "false"
        assert env["ORDERS_URL"] == f"http://orders:{PORTS['orders']}"


def test_compose_required_variables_are_documented_in_env_example() -> None:
    text = COMPOSE_FILE.read_text()
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    assert {"POSTGRES_PASSWORD", "ADMIN_PASSWORD", "JWT_SECRET"} <= required
    assert required <= set(env_keys(COMPOSE_DIR / ".env.example"))


def test_compose_startup_order_and_topics() -> None:
    services = compose()["services"]
    init = services["topics-init"]
    assert init["command"] == ["python", "/app/bin/create_topics.py"]
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name, svc in app_services().items():
        deps = svc["depends_on"]
        assert deps["topics-init"]["condition"] == "service_completed_successfully", name
        assert deps["kafka"]["condition"] == "service_healthy", name
        assert deps["postgres"]["condition"] == "service_healthy", name


def test_compose_kafka_is_kraft_without_auto_created_topics() -> None:
    kafka = compose()["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert str(env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]).lower() == "false"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@")
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert any(v.endswith(":/var/lib/kafka/data") for v in kafka["volumes"])


def test_compose_postgres_has_a_volume_and_ports_are_published() -> None:
    services = compose()["services"]
    pg = services["postgres"]
    assert pg["image"] == "postgres:17"
    assert any(v.endswith(":/var/lib/postgresql/data") for v in pg["volumes"])
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    assert any(p.endswith(":8001") for p in services["notifier"]["ports"])
    assert not services["inventory"].get("ports"), "replicas cannot share a host port"


def test_compose_gateway_replicas_sit_behind_the_edge_with_no_affinity() -> None:
    services = compose()["services"]
    assert not services["gateway"].get("ports"), "replicas cannot share a host port"
    edge = services["edge"]
    assert any(p.endswith(":8000") for p in edge["ports"])
    conf = (COMPOSE_DIR / "edge.conf").read_text()
    assert "proxy_pass $gateway" in conf and "resolver 127.0.0.11" in conf
    assert "hash" not in conf and "sticky" not in conf and "ip_hash" not in conf
    env = services["gateway"]["environment"]
    assert env["TICKET_SECRET"].startswith("${TICKET_SECRET:?")  # shared by every replica


def test_compose_inventory_replicas_within_partitions() -> None:
    replicas = compose()["services"]["inventory"]["deploy"]["replicas"]
    assert 1 <= replicas <= MAX_INVENTORY_REPLICAS


def test_compose_notifier_replicas_each_get_a_host_port() -> None:
    """``--scale notifier=N``: one host port per replica from a range (any replica
    serves any client), since replicas cannot share one."""
    [mapping] = compose()["services"]["notifier"]["ports"]
    host, _, container = mapping.rpartition(":")
    assert container == "8001" and "-" in host
