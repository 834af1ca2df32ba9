"""The handler given to the shared ConsumerLoop (broadcast mode) for each topic the
notifier reads: every process reads every partition of ``topics.events`` (from the
start of the log: it rebuilds the drops from it) and of ``topics.queue`` (from its
end: queue figures are a state, the next update replaces them)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from aiokafka.structs import ConsumerRecord
from stampede_runtime.handlers import BaseHandler, Delivered

T = TypeVar("T")

# events that give clients no message (``domain/drops.messages_for``): their drop's
# StockChanged, in the same batch of the inventory, says all there is to say
_SILENT = (b'"type":"StockReserved"', b'"type":"ReservationRejected"',
           b'"type":"HoldCancelled"')


def tells_clients(record: ConsumerRecord) -> bool:
    """Whether an event is worth decoding: the silent ones are skipped on their bytes (no
    username or drop name can hold a quote, so the patterns occur nowhere else). Every
    process skips the same ones, so a drop's messages and their seqs are alike on all."""
    value = record.value
    return value is None or not any(pattern in value for pattern in _SILENT)


class HubHandler(BaseHandler[T]):
    """Hands each batch to ``apply`` (``Hub.apply`` or ``Hub.apply_queue``)."""

    def __init__(self, apply: Callable[[Iterable[T]], None]) -> None:
        self._apply = apply

    async def handle(self, partition: int, batch: Sequence[Delivered[T]]) -> None:
        self._apply(d.message for d in batch)
        # one loop iteration, so the batch is fanned out now (the hub's tick flush)
        # even when the next fetch is already buffered and returns without waiting
        await asyncio.sleep(0)
