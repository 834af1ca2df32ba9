"""Query parsing and the origin rule of the WebSocket door."""

from __future__ import annotations

import uuid

import pytest
from stampede_notifier.api import BadQuery, origin_allowed, parse_drops, parse_since


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
