"""Stopping child processes, and a service process with its readiness."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx


def stop_process(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM the process group, then SIGKILL what is left after ``grace_s``."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group (a crash: no shutdown code runs) and reap the leader."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


class Spare:
    """A warm spare of one service module (``stampede_devstack.warm``): started now, it
    imports the service and waits to be told which process to become (``become``)."""

    def __init__(self, module: str, log_dir: Path) -> None:
        self.module = module
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"spare-{module}.log"
        with self.log_path.open("ab") as log:
            self.proc: subprocess.Popen[bytes] = subprocess.Popen(
                [sys.executable, "-m", "stampede_devstack.warm", module],
                env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdin=subprocess.PIPE,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    @property
    def ready(self) -> bool:
        """Imported and waiting (it says so in its log)."""
        from .warm import READY

        try:
            return f"{READY} {self.proc.pid}\n" in self.log_path.read_text(errors="replace")
        except OSError:
            return False

    def become(self, env: Mapping[str, str], log_path: Path) -> subprocess.Popen[bytes] | None:
        """Hand it its order; its process (now the service's), or None if it is gone."""
        if not self.alive or self.proc.stdin is None:
            return None
        order = json.dumps({"env": dict(env), "log": str(log_path)}).encode() + b"\n"
        try:
            self.proc.stdin.write(order)
            self.proc.stdin.close()
        except OSError:
            return None
        return self.proc

    def stop(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()  # no order: it exits
        stop_process(self.proc, grace_s=2)


class ServiceProcess:
    """One service as ``python -m <module>`` with its environment and log file."""

    def __init__(self, name: str, module: str, port: int, env: Mapping[str, str],
                 log_dir: Path) -> None:
        self.name = name
        self.module = module
        self.port = port
        self.env = dict(env)
        self.instance_id = self.env.get("INSTANCE_ID")  # None: any process on its port
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0  # time.monotonic() of the last start

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, spare: Spare | None = None) -> None:
        """Start ``python -m <module>``, or make ``spare`` (already imported) it."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env, "HTTP_PORT": str(self.port), "PYTHONUNBUFFERED": "1"}
        self.started_at = time.monotonic()
        warm = spare.become(env, self.log_path) if spare is not None else None
        if warm is not None:
            self.proc = warm
            return
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module], env=env, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )

    def wait_ready(self, timeout_s: float = 60) -> None:
        wait_ready([self], timeout_s)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def kill9(self) -> None:
        """SIGKILL, as a crash: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            kill_group(self.proc)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, grace_s=10)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def _ready_instance(url: str) -> tuple[str | None, str]:
    """Ask ``/readyz`` on a new connection: (the instance that said ready, what it said)."""
    try:
        r = httpx.get(f"{url}/readyz", timeout=1)
    except httpx.HTTPError as exc:
        return None, repr(exc)
    if r.status_code != 200:
        return None, r.text
    try:
        return str(r.json().get("instance") or ""), r.text
    except ValueError:
        return "", r.text


def wait_ready(procs: list[ServiceProcess], timeout_s: float = 60) -> None:
    """Until every process of ``procs`` answered ``/readyz`` with 200. Processes sharing a
    port (SO_REUSEPORT) are told apart by the ``instance`` they name: each poll is a new
    connection, which the kernel gives to any of them, so polling goes on until each
    instance has answered (a process given no instance id, or a service that names none,
    is ready when any process on its port is)."""
    deadline = time.monotonic() + timeout_s
    waiting = {p.instance_id or p.name: p for p in procs}
    last = "no answer"
    while waiting and time.monotonic() < deadline:
        for proc in list(waiting.values()):
            if proc.proc is not None and proc.proc.poll() is not None:
                raise RuntimeError(
                    f"{proc.name} exited with {proc.proc.returncode}; log:\n{proc.tail()}"
                )
        for url in sorted({p.url for p in waiting.values()}):
            instance, last = _ready_instance(url)
            if instance is None:
                continue
            waiting.pop(instance, None)
            waiting = {i: p for i, p in waiting.items()
                       if p.url != url or (instance and p.instance_id)}
        if waiting:
            time.sleep(0.05)
    if waiting:
        names = ", ".join(p.name for p in waiting.values())
        tails = "\n".join(f"--- {p.name}\n{p.tail()}" for p in waiting.values())
        raise TimeoutError(f"{names} not ready in {timeout_s:.0f}s ({last}); logs:\n{tails}")
