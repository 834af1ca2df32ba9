"""Request-reply with the inventory over Kafka.

Commands go to ``topics.commands`` keyed by drop id with ``reply_to`` = this
process's instance id. Every gateway process reads every partition of
``topics.replies`` (the one consumer loop in broadcast mode) and keeps the replies
addressed to it; a waiting request is woken through a future keyed by command id.
A reply nobody waits for any more (the request was answered 202) goes to
``on_late_reply`` so the outcome is recorded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from uuid import UUID

from stampede_contracts import Command, CommandEnvelope, Reply, TopicSpec, utcnow
from stampede_runtime.consumer import BaseHandler, Delivered
from stampede_runtime.producer import Outgoing, Producer

log = logging.getLogger(__name__)

LateReply = Callable[[Reply], Awaitable[None]]


class InventoryClient(BaseHandler[Reply]):
    def __init__(self, producer: Producer, commands: TopicSpec, instance_id: str) -> None:
        self._producer = producer
        self._commands = commands
        self.instance_id = instance_id
        self._waiting: dict[UUID, asyncio.Future[Reply]] = {}
        self.on_late_reply: LateReply | None = None

    def envelope(self, command_id: UUID, drop_id: UUID, command: Command) -> CommandEnvelope:
        return CommandEnvelope(
            command_id=command_id, drop_id=drop_id, occurred_at=utcnow(),
            reply_to=self.instance_id, command=command,
        )

    async def send(self, envelope: CommandEnvelope) -> None:
        await self._producer.send(Outgoing(self._commands, envelope.drop_id, envelope))

    async def ask(self, envelope: CommandEnvelope, timeout_s: float) -> Reply | None:
        """Send and wait for the reply; None on timeout (the reply may still come)."""
        envelope = envelope.model_copy(update={"reply_to": self.instance_id})
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiting[envelope.command_id] = future
        try:
            async with asyncio.timeout(timeout_s):
                await self.send(envelope)
                return await asyncio.shield(future)
        except TimeoutError:
            return None
        finally:
            if self._waiting.get(envelope.command_id) is future:
                del self._waiting[envelope.command_id]

    async def handle(self, partition: int, batch: Sequence[Delivered[Reply]]) -> None:
        for delivered in batch:
            reply = delivered.message
            if reply.reply_to != self.instance_id:
                continue
            future = self._waiting.pop(reply.command_id, None)
            if future is not None and not future.done():
                future.set_result(reply)
            elif self.on_late_reply is not None:
                await self.on_late_reply(reply)
