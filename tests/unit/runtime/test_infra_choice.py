"""Which broker and PostgreSQL the test session runs on (tests/infra.py)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra import choose_infra, docker_available

ROOT = Path(__file__).resolve().parents[3]
GIVEN = {"KAFKA_BOOTSTRAP_SERVERS": "k:9092", "DATABASE_URL": "postgresql://u@h/db"}


@pytest.mark.parametrize("env, docker, kafka, postgres", [
    ({}, False, "embedded", "embedded"),
    ({}, True, "testcontainers", "testcontainers"),
    (GIVEN, True, "given", "given"),
    (GIVEN, False, "given", "given"),
    ({"KAFKA_BOOTSTRAP_SERVERS": "k:9092"}, True, "given", "testcontainers"),
    ({"DATABASE_URL": "postgresql://u@h/db"}, False, "embedded", "given"),
    ({"KAFKA_BOOTSTRAP_SERVERS": "  "}, False, "embedded", "embedded"),
    ({"STAMPEDE_TESTCONTAINERS": "0"}, True, "embedded", "embedded"),
])
def test_the_choice(env: dict[str, str], docker: bool, kafka: str, postgres: str) -> None:
    choice = choose_infra(env, docker)
    assert (choice.kafka, choice.postgres) == (kafka, postgres)


def test_the_choice_is_said_plainly() -> None:
    assert choose_infra({}, False).describe() == (
        "broker: embedded tansu; PostgreSQL: embedded PostgreSQL (no Docker engine)")
    described = choose_infra({}, True).describe()
    assert "Apache Kafka in Docker" in described and "testcontainers" in described
    assert choose_infra(GIVEN, False).describe() == (
        "broker: KAFKA_BOOTSTRAP_SERVERS; PostgreSQL: DATABASE_URL")


def test_docker_is_seen_only_where_an_engine_answers(tmp_path: Path) -> None:
    assert not docker_available({"DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    path = tmp_path / "docker.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(1)
        assert docker_available({"DOCKER_HOST": f"unix://{path}"})
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    assert not docker_available({"DOCKER_HOST": f"tcp://127.0.0.1:{port}"})


def test_testcontainers_is_imported_only_to_start_a_container() -> None:
    # in a fresh interpreter: this session may have started containers itself
    code = ("import sys, tests.infra; "
            "print(sorted({n.split('.')[0] for n in sys.modules} & {'testcontainers', 'docker'}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert out.strip() == "[]"
    conftest = (ROOT / "tests" / "conftest.py").read_text()
    assert "import testcontainers" not in conftest and "from testcontainers" not in conftest
