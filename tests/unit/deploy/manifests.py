"""The deploy tree as the static tests read it: paths, the environment each service's
settings require, and loaders for the YAML files, kustomizations and helper scripts."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
DOCKER = DEPLOY / "docker"
COMPOSE_DIR = DEPLOY / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
K8S = DEPLOY / "k8s"
BASE = K8S / "base"
OVERLAYS = K8S / "overlays"

SERVICES = ("gateway", "inventory", "orders", "notifier")
PORTS = {"gateway": 8000, "notifier": 8001, "orders": 8002, "inventory": 8003}

# The environment each service reads (docs/CONVENTIONS.md, stampede_runtime.settings).
COMMON_ENV = {
    "KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "LOG_LEVEL", "TOPIC_NAMESPACE",
    "HTTP_HOST", "HTTP_PORT",
}
REQUIRED_ENV = {
    "gateway": COMMON_ENV | {"ORDERS_URL", "DEV_MODE", "ADMIN_USERNAME", "ADMIN_PASSWORD",
                             "JWT_SECRET", "ORDERS_SERVICE_TOKEN"},
    "inventory": COMMON_ENV,
    "orders": COMMON_ENV | {"ORDERS_SERVICE_TOKEN"},
    "notifier": COMMON_ENV,
}
# Never a literal value in a manifest: these come from a Secret / the .env file.
SECRET_ENV = {"DATABASE_URL", "ADMIN_PASSWORD", "JWT_SECRET", "TICKET_SECRET",
              "ORDERS_SERVICE_TOKEN"}
PLACEHOLDER = "CHANGE_ME"


def _commands_partitions() -> int:
    """Partitions of inventory.commands, from the topic registry (8 if not importable)."""
    try:
        from stampede_contracts.topics import INVENTORY_COMMANDS
    except ImportError:  # pragma: no cover - contracts are always in the workspace venv
        return 8
    return INVENTORY_COMMANDS.partitions


MAX_INVENTORY_REPLICAS = _commands_partitions()


# -- helpers -------------------------------------------------------------------------------
def yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in {".yaml", ".yml"})


def load_all(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def kustomization(directory: Path) -> dict[str, Any]:
    return yaml.safe_load((directory / "kustomization.yaml").read_text())


def base_docs() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for res in kustomization(BASE)["resources"]:
        docs.extend(load_all(BASE / res))
    return docs


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d.get("kind") == kind}


def deployments() -> dict[str, dict[str, Any]]:
    return of_kind(base_docs(), "Deployment")


def main_container(dep: dict[str, Any]) -> dict[str, Any]:
    name = dep["metadata"]["name"]
    containers = dep["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == name)


def generator_literals(kust: dict[str, Any], name: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for gen in kust.get("configMapGenerator", []):
        if gen["name"] == name:
            for lit in gen.get("literals", []):
                key, _, value = lit.partition("=")
                out[key] = value
    return out


def base_config() -> dict[str, str]:
    return generator_literals(kustomization(BASE), "stampede-config")


def overlay_dirs() -> list[Path]:
    return sorted(p for p in OVERLAYS.iterdir() if (p / "kustomization.yaml").exists())


def replicas_in(directory: Path, name: str) -> int | None:
    """Replica count an overlay sets for ``name`` (``replicas:`` field), if any."""
    for item in kustomization(directory).get("replicas", []):
        if item["name"] == name:
            return int(item["count"])
    return None


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def env_keys(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def load_script(name: str) -> Any:
    path = DOCKER / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"deploy_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
