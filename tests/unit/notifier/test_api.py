"""Query parsing and the origin rule of the WebSocket door."""

from __future__ import annotations

import uuid

import pytest
from stampede_notifier.adapters.connection import Admitted, Refused
from stampede_notifier.api import BadQuery, Door, origin_allowed, parse_drops, parse_since
from stampede_notifier.main import build_hub
from stampede_notifier.settings import NotifierSettings


def test_parse_drops():
    a, b = uuid.uuid4(), uuid.uuid4()
    assert parse_drops(None, 10) is None
    assert parse_drops("", 10) is None
    assert parse_drops(f"{a}, {b}", 10) == frozenset({a, b})
    with pytest.raises(BadQuery):
        parse_drops("nope", 10)
    with pytest.raises(BadQuery):
        parse_drops(f"{a},{b}", 1)


def test_parse_since():
    a = uuid.uuid4()
    assert parse_since(None) is None
    assert parse_since("42") == 42
    assert parse_since(f"{a}:7") == {a: 7}
    for bad in ("-1", "x", f"{a}:x", "nope:3"):
        with pytest.raises(BadQuery):
            parse_since(bad)


def test_origins():
    allowed = frozenset({"http://localhost:8000"})
    assert origin_allowed(None, allowed)
    assert origin_allowed("http://localhost:8000/", allowed)
    assert not origin_allowed("https://evil.example", allowed)
    assert origin_allowed("https://evil.example", frozenset({"*"}))


def test_door_checks_in_order_with_close_codes():
    settings = NotifierSettings(kafka_bootstrap_servers="x:1", max_connections_per_ip=1,
                                allowed_origins="https://shop.example")
    hub = build_hub(settings)
    door = Door(hub, settings)
    drop = uuid.uuid4()
    assert door("/ws", "https://evil.example", "1.1.1.1") == Refused(1008, "origin not allowed")
    refused = door("/ws?drops=nope", None, "1.1.1.1")
    assert isinstance(refused, Refused) and refused.code == 4400
    assert door(f"/ws?drops={drop}&since=7", "https://shop.example", "1.1.1.1") == Admitted(
        frozenset({drop}), 7)
    full = door("/ws", None, "1.1.1.1")
    assert isinstance(full, Refused) and full.code == 4429
    assert door("/ws", None, "2.2.2.2") == Admitted(None, None)
    assert hub.connection_count == 2
