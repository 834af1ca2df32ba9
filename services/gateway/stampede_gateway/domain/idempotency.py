"""Idempotency keys (draft-ietf-httpapi-idempotency-key-header): the pure rules.

A request is fingerprinted by method, path and its canonical JSON body, so the same
key with another body or path is recognised as a reuse. What to do with a key that
is already known is a function of the stored record and the clock.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson

KEY_PATTERN = r"^[A-Za-z0-9._~:@+=-]{1,255}$"  # URL-safe: it is part of the outcome URL
_KEY = re.compile(KEY_PATTERN)


def valid_key(key: str) -> bool:
    return _KEY.match(key) is not None


def fingerprint(method: str, path: str, body: dict[str, Any]) -> str:
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(f"{method.upper()} {path}\n".encode() + canonical).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    fingerprint: str
    operation: str
    command_id: Any
    lease_until: datetime
    response: StoredResponse | None  # None while the request is being decided


class Seen(StrEnum):
    REUSED = "reused"  # same key, another request: 422
    REPLAY = "replay"  # decided: replay the first response
    IN_PROGRESS = "in_progress"  # being decided by a live owner: 409
    TAKE_OVER = "take_over"  # its owner is gone (lease over): send the same command again


def judge(record: IdempotencyRecord, fingerprint_: str, now: datetime) -> Seen:
    if record.fingerprint != fingerprint_:
        return Seen.REUSED
    if record.response is not None:
        return Seen.REPLAY
    if record.lease_until > now:
        return Seen.IN_PROGRESS
    return Seen.TAKE_OVER
