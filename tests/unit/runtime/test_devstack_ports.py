"""The embedded stack refuses a port that is taken instead of talking to a stranger."""

from __future__ import annotations

import socket

import pytest
from stampede_devstack.broker import EmbeddedBroker
from stampede_devstack.ports import PortInUse, free_port, require_free


def test_taken_port_is_refused(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUse, match=str(port)):
            require_free(port, "thing")
        with pytest.raises(PortInUse, match="BROKER_PORT"):
            EmbeddedBroker(port, tmp_path / "tansu.log").start()
    require_free(free_port(), "thing")  # a free one passes
