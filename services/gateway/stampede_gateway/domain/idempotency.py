"""Idempotency keys (draft-ietf-httpapi-idempotency-key-header): the pure rules.

A request is fingerprinted by method, path and its canonical JSON body, so the same
key with another body or path is recognised as a reuse. What to do with a key that
is already known is a function of the stored record and the clock.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
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
    response: StoredResponse | None  # None: being decided, or decided and not recorded
    command: str | None = None  # the command sent (JSON), to ask again


class Seen(StrEnum):
    REUSED = "reused"  # same key, another request: 422
    REPLAY = "replay"  # the answer is stored: replay it
    ASK_AGAIN = "ask_again"  # sent to the inventory: send the same command id again,
    # which is answered with the first decision (or decided once, if still in flight)


def judge(record: IdempotencyRecord, fingerprint_: str) -> Seen:
    if record.fingerprint != fingerprint_:
        return Seen.REUSED
    if record.response is not None:
        return Seen.REPLAY
    return Seen.ASK_AGAIN
