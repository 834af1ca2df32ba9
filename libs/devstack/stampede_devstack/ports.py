"""Free-port and readiness helpers for local processes."""

from __future__ import annotations

import socket
import time


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def wait_for_port(port: int, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not port_open(port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not listen on 127.0.0.1:{port} in {timeout_s:.0f}s")
        time.sleep(0.05)


class PortInUse(RuntimeError):
    """A port we were to listen on is taken: never silently talk to a stranger."""


def require_free(port: int, what: str) -> None:
    if port_open(port):
        raise PortInUse(
            f"{what}: port {port} on 127.0.0.1 is already in use (another Stampede or "
            f"service?). Stop it or choose another port (see README: Configuration)."
        )
