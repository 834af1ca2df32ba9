"""Feeds the gateway's drop views from ``topics.events`` (broadcast mode, from the start)."""

from __future__ import annotations

from collections.abc import Sequence

from stampede_contracts import EventEnvelope
from stampede_runtime.consumer import BaseHandler, Delivered

from ..domain.drop_view import DropViews


class DropEventsHandler(BaseHandler[EventEnvelope]):
    def __init__(self, views: DropViews) -> None:
        self.views = views

    async def handle(self, partition: int, batch: Sequence[Delivered[EventEnvelope]]) -> None:
        for delivered in batch:
            envelope = delivered.message
            self.views.apply(envelope.drop_id, envelope.seq, envelope.event,
                             envelope.causation_id)
