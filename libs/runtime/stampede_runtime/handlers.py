"""The handler's side of the consumer loop (``consumer.ConsumerLoop``): what it is given
(``Delivered``), what it must do (``PartitionHandler``) and the defaults of a handler that
keeps no positions of its own (``BaseHandler``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Delivered(Generic[T]):
    """A decoded message with where it came from."""

    partition: int
    offset: int
    key: bytes | None
    timestamp_ms: int
    message: T
    raw: bytes | None = None
    #: the W3C trace fields of this message's consumer span (tracing on and the message
    #: traced), to carry on in what the handler sends because of it
    trace: dict[str, str] | None = None


class PartitionHandler(Protocol[T]):
    async def on_assigned(self, partitions: Sequence[int]) -> Mapping[int, int]:
        """Load state; return the offset to resume from for partitions it knows."""
        ...

    async def on_revoked(self, partitions: Sequence[int]) -> None: ...

    async def handle(self, partition: int, batch: Sequence[Delivered[T]]) -> None: ...

    async def on_log_lost(self, partition: int, position: int, high_watermark: int) -> int:
        """The broker's log ends before our position; return where to continue."""
        ...


class BaseHandler(Generic[T]):
    """Defaults for handlers that keep no positions of their own."""

    async def on_assigned(self, partitions: Sequence[int]) -> Mapping[int, int]:
        return {}

    async def on_revoked(self, partitions: Sequence[int]) -> None:
        return None

    async def on_log_lost(self, partition: int, position: int, high_watermark: int) -> int:
        return 0
