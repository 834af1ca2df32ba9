"""The tools and the system a bench drives: Debian tools installed on demand, the code
version, the whole stack as ``make up`` starts it, an admin client and fresh drops."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx


def ensure_tool(binary: str, package: str) -> str:
    """The path of ``binary``; installed from Debian (``apt-get install -y``) when it is
    missing and we are root, else a clear message and exit."""
    if path := shutil.which(binary):
        return path
    if os.geteuid() != 0:
        raise SystemExit(f"{binary} is not installed: run `sudo apt-get install -y {package}`")
    print(f"installing {package} (apt-get) ...", flush=True)
    install = ["apt-get", "install", "-y", "--no-install-recommends", package]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=False)
        subprocess.run(install, env=env, capture_output=True, check=True)
    if path := shutil.which(binary):
        return path
    raise SystemExit(f"{binary} still missing after `apt-get install -y {package}`")


def code_version() -> str:
    """The commit measured, and whether the tree had uncommitted changes (as it does while
    the code is being rewritten)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "services", "libs")
    return head + (" + uncommitted changes in services/ or libs/" if dirty else "")


def exit_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so every ``finally`` stops what it started."""
    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def start_stack(state_dir: Path, *, gateway_workers: int, notifier_workers: int,
                inventory_instances: int = 1, env: dict[str, str] | None = None) -> Any:
    """The whole system as ``make up`` starts it (durable PostgreSQL, DEV_MODE), on free
    loopback ports, in a namespace of its own, per-client rate limits out of the way
    (each simulated buyer is its own client anyway). ``KAFKA_BOOTSTRAP_SERVERS`` /
    ``DATABASE_URL`` name a real broker / database as for ``make up``; ``env``: more
    settings for every service (e.g. ``OTEL_EXPORTER_OTLP_ENDPOINT``)."""
    from stampede_devstack.ports import free_port
    from stampede_devstack.stack import Stack

    stack = Stack(
        state_dir=state_dir, gateway_port=free_port(), notifier_port=free_port(),
        orders_port=free_port(), inventory_ports=[free_port() for _ in range(inventory_instances)],
        broker_port=free_port(), postgres_port=free_port(), durable_db=True,
        log_level="WARNING", topic_namespace=f"bench{uuid.uuid4().hex[:6]}",
        gateway_workers=gateway_workers, notifier_workers=notifier_workers,
        extra_env={"RATE_LIMIT_PER_S": "1000000", "RATE_LIMIT_BURST": "1000000",
                   **(env or {})},
    )
    stack.kafka_bootstrap_servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None
    stack.database_url = os.environ.get("DATABASE_URL") or None
    stack.start()
    # the warm spares (make up's, for a fast replacement) import their services after the
    # start-up: seconds of CPU that would fall into the first phase's figures. Wait for them.
    deadline = time.monotonic() + 120
    while not all(stack.spare_ready(module) for module in stack.spares):
        if time.monotonic() > deadline:
            raise RuntimeError("the warm spares did not get ready within 120 s")
        time.sleep(0.2)
    return stack


@contextmanager
def admin_client(base_url: str) -> Iterator[httpx.Client]:
    """An httpx client logged in as the stack's admin (admin / admin under make up)."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        login = client.post("/api/auth/login", json={"username": "admin", "password": "admin"})
        login.raise_for_status()
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        yield client


def new_drop(admin: httpx.Client, stock: int, *, admit_per_s: float = 1_000_000,
             ttl_s: int = 3600) -> str:
    """A live drop of ``stock`` pairs, one per buyer, whose waiting room admits up to
    ``admit_per_s`` arrivals a second and whose holds outlast the bench (no expiry work
    lands in a later phase). Waits until the gateway's view knows it."""
    created = admin.post("/api/drops", json={
        "name": f"bench {stock}", "price_cents": 100, "total_stock": stock,
        "per_user_limit": 1, "reservation_ttl_seconds": ttl_s,
        "waiting_room": {"admit_per_s": admit_per_s, "mode": "fifo"},
    })
    created.raise_for_status()
    drop_id = str(created.json()["id"])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        status = admin.get(f"/api/drops/{drop_id}/status")
        if status.status_code == 200 and status.json().get("available") == stock:
            break
        time.sleep(0.1)
    time.sleep(0.5)  # every gateway process's view (each reads the events itself)
    return drop_id


def taken(admin: httpx.Client, drop_id: str, settle_s: float = 5.0) -> dict[str, int]:
    """The drop's ``{total_stock, available, held, sold}`` once it stops changing."""
    deadline, last = time.monotonic() + settle_s, None
    while True:
        now = admin.get(f"/api/drops/{drop_id}/status").json()
        if now == last or time.monotonic() > deadline:
            return {k: int(v) for k, v in now.items()}
        last = now
        time.sleep(0.5)


def wait_http(url: str, timeout_s: float = 60) -> None:
    """Until ``GET url`` answers 200."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer 200 in {timeout_s:.0f}s")
        time.sleep(0.1)
