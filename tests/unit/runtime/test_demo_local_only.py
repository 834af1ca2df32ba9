"""The demo sends a stampede: only ever to a loopback address."""

from __future__ import annotations

import pytest
from stampede_devstack.demo import NotLocal, require_loopback


@pytest.mark.parametrize("url", ["http://localhost:8000", "http://127.0.0.1:8000",
                                 "http://127.3.4.5:80", "http://[::1]:8000"])
def test_loopback_addresses_are_accepted(url: str) -> None:
    require_loopback(url)


@pytest.mark.parametrize("url", ["http://10.0.0.5:8000", "http://192.168.1.2",
                                 "https://shop.example.com", "http://0.0.0.0:8000",
                                 "http://localhost.example.com"])
def test_any_other_address_is_refused(url: str) -> None:
    with pytest.raises(NotLocal):
        require_loopback(url)
