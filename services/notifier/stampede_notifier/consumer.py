"""The handler given to the shared ConsumerLoop (broadcast mode, from the start
of ``topics.events``): every notifier process sees every drop's events."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from stampede_contracts import EventEnvelope
from stampede_runtime.consumer import BaseHandler, Delivered

from .service import Hub

#: Events fanned out between two yields to the event loop. Fan-out only queues;
#: the client's sender tasks write. Yielding every few events lets them drain
#: their queues as a batch of hundreds of events goes by, so a client's bounded
#: queue measures how far behind it is, not how large the consumer's batch was.
YIELD_EVERY = 8


class EventsHandler(BaseHandler[EventEnvelope]):
    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    async def handle(self, partition: int, batch: Sequence[Delivered[EventEnvelope]]) -> None:
        for start in range(0, len(batch), YIELD_EVERY):
            self._hub.apply(d.message for d in batch[start:start + YIELD_EVERY])
            await asyncio.sleep(0)
