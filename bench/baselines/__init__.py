"""The designs Stampede is compared with, and the processes a bench starts for them.

- :mod:`bench.baselines.redis_lua`: stock in Redis, decided by one Lua script
  (check, decrement, record the idempotency key), behind a minimal FastAPI service;
- :mod:`bench.baselines.pg_for_update`: stock in PostgreSQL, one transaction per request
  that locks the drop's row (``SELECT ... FOR UPDATE``), checks, decrements and records
  the idempotency key, behind a minimal FastAPI service;
- :mod:`bench.baselines.trivial`: a fixed HTTP answer from a bare uvloop protocol, the
  fastest server this machine can run in Python: against it, the load generator's own
  ceiling.

Each runs as ``python -m bench.baselines.<name> --port P ...`` on 127.0.0.1, one process,
started and stopped by the bench through :func:`baseline` (or :func:`service`,
:func:`redis_server`, :func:`postgres`): context managers, what they started is stopped
on any exit.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stampede_devstack.ports import free_port, wait_for_port
from stampede_devstack.process import stop_process

from .._stack import ensure_tool, wait_http

REPO = Path(__file__).resolve().parents[2]


@contextmanager
def _process(argv: list[str], log_path: Path, **popen: object) -> Iterator[subprocess.Popen[bytes]]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, **popen)  # type: ignore[call-overload]
    try:
        yield proc
    finally:
        stop_process(proc, grace_s=10)


@contextmanager
def service(name: str, log_dir: Path, *args: str) -> Iterator[str]:
    """``python -m bench.baselines.<name> --port <free> *args``, until it answers
    ``/healthz``; yields its base URL."""
    port = free_port()
    argv = [sys.executable, "-m", f"bench.baselines.{name}", "--port", str(port), *args]
    with _process(argv, log_dir / f"{name}.log", cwd=REPO) as proc:
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", 60)
        except TimeoutError as exc:
            tail = (log_dir / f"{name}.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{name} did not start (exit {proc.poll()}):\n{tail}") from exc
        yield f"http://127.0.0.1:{port}"


@contextmanager
def redis_server(data_dir: Path) -> Iterator[str]:
    """Debian's ``redis-server`` (installed if missing) on a free loopback port, with
    its append-only file fsynced every second (Redis's own advice for durability at
    little cost; no RDB snapshots); yields its URL."""
    binary = ensure_tool("redis-server", "redis-server")
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data_dir),
            "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
            "--daemonize", "no", "--protected-mode", "yes"]
    with _process(argv, data_dir / "redis.log"):
        wait_for_port(port, 20, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"


@contextmanager
def postgres(data_dir: Path) -> Iterator[str]:
    """A PostgreSQL of its own, started as the stack starts its embedded one (the same
    binaries and settings, durable: fsync and synchronous_commit on); yields its URL."""
    from stampede_devstack.database import EmbeddedPostgres

    server = EmbeddedPostgres(data_dir, free_port(), durable=True)
    try:
        server.start()
        yield server.url()
    finally:
        server.stop()


#: the baselines a bench compares with, by the name it prints
BASELINES = {"redis": "redis+lua", "pg": "pg for update"}


class Unavailable(RuntimeError):
    """A baseline cannot run here (a package is missing); the bench goes on without it."""


def check(name: str) -> None:
    """Raise :class:`Unavailable`, saying what to install, if ``name`` cannot run."""
    if name == "redis" and importlib.util.find_spec("redis") is None:
        raise Unavailable(
            "the Redis baseline needs the Python package `redis` (in the dev dependency "
            "group): run `make install`")


@contextmanager
def or_skipped(name: str) -> Iterator[None]:
    """Run a comparison; if its baseline is :class:`Unavailable`, say why and go on."""
    try:
        yield
    except Unavailable as exc:
        print(f"{name}: skipped: {exc}", flush=True)


@contextmanager
def baseline(name: str, work_dir: Path, drop_id: str, stock: int) -> Iterator[str]:
    """The ``redis`` or ``pg`` baseline with its store, a drop of ``stock`` seeded; yields
    the service's base URL."""
    check(name)
    logs = work_dir / "logs"
    if name == "redis":
        with redis_server(work_dir / "redis") as url, service(
                "redis_lua", logs, "--redis-url", url, "--drop-id", drop_id,
                "--stock", str(stock)) as base:
            yield base
    elif name == "pg":
        with postgres(work_dir / "pgdata") as url, service(
                "pg_for_update", logs, "--database-url", url, "--drop-id", drop_id,
                "--stock", str(stock)) as base:
            yield base
    else:
        raise ValueError(f"no baseline {name!r}; there are {sorted(BASELINES)}")
