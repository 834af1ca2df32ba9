"""Every deterministic id in Stampede: ``uuid5(STAMPEDE_NS, name)``, computed cheaper.

``uuid.uuid5`` hashes the namespace and the whole name each time and builds the UUID
through its validating ``__init__``: about 4 us, and the writer derives up to four ids
per decision, the gateway two per order. Here the SHA-1 of the namespace and the
constant part of the name is computed once (per drop for event ids) and copied, and the
UUID is made from its int. The results are ``uuid.uuid5``'s, bit for bit
(tests/unit/contracts/test_ids.py).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any
from uuid import UUID, SafeUUID

#: Namespace of every deterministic id in Stampede (uuid5 names below).
STAMPEDE_NS = UUID("7d4b8a52-4c0e-4f59-9b3a-3c1f0c6a2e11")
_NS = STAMPEDE_NS.bytes
# RFC 4122 variant and version 5, as uuid.UUID(bytes=..., version=5) sets them
_KEEP = ~((0xC000 << 48) | (0xF000 << 64)) & ((1 << 128) - 1)
_SET = (0x8000 << 48) | (5 << 76)
_new = object.__new__
_set = object.__setattr__
_UNKNOWN = SafeUUID.unknown


def _uuid5(prefix: Any, suffix: bytes) -> UUID:
    h = prefix.copy()
    h.update(suffix)
    value = (int.from_bytes(h.digest()[:16], "big") & _KEEP) | _SET
    out: UUID = _new(UUID)
    _set(out, "int", value)
    _set(out, "is_safe", _UNKNOWN)
    return out


_COMMAND = hashlib.sha1(_NS + b"command:", usedforsecurity=False)
_RESERVATION = hashlib.sha1(_NS + b"reservation:", usedforsecurity=False)
_PURCHASE = hashlib.sha1(_NS + b"purchase:", usedforsecurity=False)


def command_id_for(user_id: UUID, idempotency_key: str) -> UUID:
    """The command id of a request: the same (user, key) always gives the same id
    (``command:{user_id}:{idempotency_key}``)."""
    return _uuid5(_COMMAND, f"{user_id}:{idempotency_key}".encode())


def reservation_id_for(command_id: UUID) -> UUID:
    """The hold a reserve command makes (``reservation:{command_id}``)."""
    return _uuid5(_RESERVATION, str(command_id).encode())


def purchase_id_for(reservation_id: UUID) -> UUID:
    """One purchase per hold: the purchase id is a function of the hold it consumed
    (``purchase:{reservation_id}``)."""
    return _uuid5(_PURCHASE, str(reservation_id).encode())


@lru_cache(maxsize=4096)
def _event_prefix(drop_id: UUID) -> Any:
    return hashlib.sha1(_NS + f"event:{drop_id}:".encode(), usedforsecurity=False)


def event_id_for(drop_id: UUID, seq: int) -> UUID:
    """Event ids are deterministic so a republished event is recognised as a duplicate
    (``event:{drop_id}:{seq}``)."""
    return _uuid5(_event_prefix(drop_id), str(seq).encode())


def event_id_text(drop_id: UUID, seq: int) -> str:
    """``str(event_id_for(drop_id, seq))`` without making the UUID (the wire needs text)."""
    h = _event_prefix(drop_id).copy()
    h.update(str(seq).encode())
    x = h.hexdigest()
    # version 5 in the 13th digit, the RFC 4122 variant (10xx) in the 17th
    return f"{x[:8]}-{x[8:12]}-5{x[13:16]}-{_VARIANT[x[16]]}{x[17:20]}-{x[20:32]}"


_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}
