"""Static checks of the service image: multi-stage, uv frozen, non-root, a small build
context, and the two helper scripts it carries."""

from __future__ import annotations

import re

import pytest

from .manifests import (
    DOCKER,
    load_script,
)


# -- image ---------------------------------------------------------------------------------
def test_dockerfile_is_multistage_uv_frozen_and_non_root() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", text, re.M)
    assert len(re.findall(r"^FROM ", text, re.M)) >= 3
    assert "ghcr.io/astral-sh/uv:" in text
    assert re.search(r"uv sync --frozen --no-dev --all-packages", text)
    assert "--no-editable" in text
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert users[-1].split(":")[0].isdigit()  # numeric so runAsNonRoot can verify it
    assert re.search(r"^HEALTHCHECK .*\n.*/readyz", text, re.M)
    for script in ("healthcheck.py", "create_topics.py"):
        assert f"deploy/docker/{script}" in text
        assert (DOCKER / script).is_file()


def test_dockerignore_keeps_the_context_small() -> None:
    lines = (DOCKER / "Dockerfile.dockerignore").read_text().split()
    assert "*" in lines  # deny by default, then allow what the image needs
    for needed in ("!pyproject.toml", "!uv.lock", "!libs/", "!services/",
                   "!deploy/docker/healthcheck.py", "!deploy/docker/create_topics.py"):
        assert needed in lines
    assert "**/.venv" in lines


def test_healthcheck_script_targets_the_service_port() -> None:
    hc = load_script("healthcheck")
    assert hc.url_for("/readyz", "8003") == "http://127.0.0.1:8003/readyz"
    assert hc.url_for("healthz", None) == "http://127.0.0.1:8000/healthz"


def test_create_topics_script_fails_clearly_without_a_broker_address(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    assert load_script("create_topics").main() == 2
    assert "KAFKA_BOOTSTRAP_SERVERS" in capsys.readouterr().err
