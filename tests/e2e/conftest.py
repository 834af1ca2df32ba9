"""The system started exactly as ``make up`` starts it (``python -m stampede_devstack up``),
on free ports and a state directory of its own; stopped with SIGTERM after the module."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
from stampede_devstack.ports import free_port


@dataclass
class RunningSystem:
    proc: subprocess.Popen[str]
    api: str
    ws: str
    database_url: str
    output: list[str] = field(default_factory=list)
    descendants: list[int] = field(default_factory=list)


def _wait_until_up(proc: subprocess.Popen[str], lines: list[str], timeout_s: float) -> None:
    """Read ``up``'s output (in a thread: a pipe read blocks) until it says it is up."""
    assert proc.stdout is not None
    stdout = proc.stdout
    done = threading.Event()

    def pump() -> None:
        for line in stdout:
            lines.append(line.rstrip("\n"))
            if "Press Ctrl-C to stop." in line:
                done.set()
        done.set()

    threading.Thread(target=pump, daemon=True).start()
    if not done.wait(timeout_s):
        raise TimeoutError(f"`up` not up in {timeout_s}s:\n" + "\n".join(lines))
    if proc.poll() is not None or not any("Press Ctrl-C" in line for line in lines):
        time.sleep(0.5)
        raise RuntimeError(f"`up` exited with {proc.poll()}:\n" + "\n".join(lines))


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    state = tmp_path_factory.mktemp("up")
    ports = {name: free_port() for name in ("GATEWAY", "NOTIFIER", "ORDERS", "INVENTORY",
                                             "BROKER", "POSTGRES")}
    env = {**os.environ, "STATE_DIR": str(state), "PYTHONUNBUFFERED": "1",
           **{f"{k}_PORT": str(v) for k, v in ports.items()}}
    proc = subprocess.Popen(
        [sys.executable, "-m", "stampede_devstack", "up"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, cwd=Path.cwd(),
    )
    lines: list[str] = []
    try:
        _wait_until_up(proc, lines, 180)
    except BaseException:
        proc.kill()
        logs = state / "logs"
        for log in sorted(logs.glob("*.log")) if logs.exists() else []:
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        raise
    text = "\n".join(lines)
    database = re.search(r"^\s+database\s+(\S+)", text, re.MULTILINE)
    assert database, text
    running = RunningSystem(
        proc=proc, api=f"http://127.0.0.1:{ports['GATEWAY']}",
        ws=f"ws://127.0.0.1:{ports['NOTIFIER']}/ws", database_url=database.group(1),
        output=lines,
        descendants=[p.pid for p in psutil.Process(proc.pid).children(recursive=True)],
    )
    try:
        yield running
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
