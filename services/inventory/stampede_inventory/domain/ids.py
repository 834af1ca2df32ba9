"""The contracts' deterministic ids (``uuid5`` in ``STAMPEDE_NS``), computed cheaper.

``uuid.uuid5`` hashes the namespace and the whole name each time and builds the UUID
through its validating ``__init__``: about 4 us, and the writer derives up to four ids
per decision. Here the SHA-1 of the namespace and the constant part of the name is
computed once (per drop for event ids) and copied, and the UUID is made from its int.
The results are the contracts' ids, bit for bit (tests/unit/inventory/test_ids.py).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any
from uuid import UUID, SafeUUID

from stampede_contracts import STAMPEDE_NS

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


_RESERVATION = hashlib.sha1(_NS + b"reservation:", usedforsecurity=False)
_PURCHASE = hashlib.sha1(_NS + b"purchase:", usedforsecurity=False)


def reservation_id_for(command_id: UUID) -> UUID:
    return _uuid5(_RESERVATION, str(command_id).encode())


def purchase_id_for(reservation_id: UUID) -> UUID:
    return _uuid5(_PURCHASE, str(reservation_id).encode())


@lru_cache(maxsize=4096)
def _event_prefix(drop_id: UUID) -> Any:
    return hashlib.sha1(_NS + f"event:{drop_id}:".encode(), usedforsecurity=False)


def event_id_for(drop_id: UUID, seq: int) -> UUID:
    return _uuid5(_event_prefix(drop_id), str(seq).encode())


def event_id_text(drop_id: UUID, seq: int) -> str:
    """``str(event_id_for(drop_id, seq))`` without making the UUID (the wire needs text)."""
    h = _event_prefix(drop_id).copy()
    h.update(str(seq).encode())
    x = h.hexdigest()
    # version 5 in the 13th digit, the RFC 4122 variant (10xx) in the 17th
    return f"{x[:8]}-{x[8:12]}-5{x[13:16]}-{_VARIANT[x[16]]}{x[17:20]}-{x[20:32]}"


_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}
