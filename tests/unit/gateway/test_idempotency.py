"""Idempotency keys: fingerprints and what a known key means."""

from __future__ import annotations

import re

from stampede_gateway.domain.idempotency import (
    KEY_PATTERN,
    IdempotencyRecord,
    Seen,
    StoredResponse,
    fingerprint,
    judge,
    valid_key,
)


def test_the_fingerprint_ignores_key_order_and_sees_body_path_and_method():
    a = fingerprint("POST", "/api/order", {"drop_id": "x", "quantity": 1})
    assert a == fingerprint("post", "/api/order", {"quantity": 1, "drop_id": "x"})
    assert a != fingerprint("POST", "/api/order", {"drop_id": "x", "quantity": 2})
    assert a != fingerprint("POST", "/api/orders", {"drop_id": "x", "quantity": 1})
    assert a != fingerprint("DELETE", "/api/order", {"drop_id": "x", "quantity": 1})


def record(fp="f", response=None) -> IdempotencyRecord:
    return IdempotencyRecord(fp, "reserve", None, response)


def test_judge_a_known_key():
    done = StoredResponse(201, {"ok": True}, {})
    assert judge(record(fp="other"), "f") is Seen.REUSED
    assert judge(record(fp="other", response=done), "f") is Seen.REUSED
    assert judge(record(response=done), "f") is Seen.REPLAY
    assert judge(record(), "f") is Seen.ASK_AGAIN


def test_keys_are_url_safe():
    key = re.compile(KEY_PATTERN)
    assert key.match("5f1c3a4e-8a0b-4b7e-9d52-1b1f8c2d9e77")
    assert key.match("a" * 255) and not key.match("a" * 256)
    for bad in ("", "a/b", "a?b", "a b", "a#b", "é"):
        assert not key.match(bad) and not valid_key(bad)
    assert valid_key("k-1")


def test_the_fingerprint_is_the_one_stored_before():
    """Records written before this codec (json.dumps, sorted, compact) still match."""
    import hashlib
    import json

    body = {"quantity": 1, "reservation_id": None, "drop_id": "d"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    old = hashlib.sha256(f"POST /api/order\n{canonical}".encode()).hexdigest()
    assert fingerprint("POST", "/api/order", body) == old
