"""Request-reply with the inventory over Kafka.

Commands go to ``topics.commands`` keyed by drop id with ``reply_to`` = this process's
instance id. Every gateway process reads every partition of ``topics.replies`` (the one
consumer loop in broadcast mode), skips the replies keyed for other processes *before*
decoding them, and decodes its own as plain JSON (``decode_reply_json``): the order path
reads four fields of a reply, so no model is built. A waiting request is woken through a
future keyed by command id. A reply nobody waits for any more (its request was answered
202) goes to ``on_late_reply``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from aiokafka.structs import ConsumerRecord
from stampede_contracts import SCHEMA_VERSION, MalformedMessage, TopicSpec
from stampede_runtime.consumer import BaseHandler, Delivered
from stampede_runtime.producer import Outgoing, Producer

log = logging.getLogger(__name__)

RawReply = dict[str, Any]
LateReply = Callable[[RawReply], Awaitable[None]]


def decode_reply_json(raw: bytes | None) -> RawReply:
    """A ``stampede_contracts.Reply`` as JSON, checked for what the order path reads."""
    try:
        reply = orjson.loads(raw or b"")
    except orjson.JSONDecodeError as exc:
        raise MalformedMessage(f"reply is not JSON: {exc}") from None
    if (not isinstance(reply, dict) or not isinstance(reply.get("command_id"), str)
            or not isinstance(reply.get("ok"), bool)):
        raise MalformedMessage("reply without command_id or ok")
    if int(reply.get("schema_version") or 1) > SCHEMA_VERSION:
        raise MalformedMessage(f"schema_version {reply.get('schema_version')} is too new")
    return reply


def command_envelope(command_id: UUID, drop_id: UUID, command: dict[str, Any],
                     reply_to: str, now: datetime) -> bytes:
    """A ``CommandEnvelope`` as JSON (the command already validated at the edge)."""
    return orjson.dumps({
        "schema_version": SCHEMA_VERSION, "command_id": command_id, "drop_id": drop_id,
        "occurred_at": now, "reply_to": reply_to, "trace": {}, "command": command,
    })


def readdressed(envelope: bytes | str, reply_to: str) -> tuple[UUID, bytes]:
    """A stored command envelope, to be answered to this process this time (and its drop,
    the key it is sent with)."""
    decoded = orjson.loads(envelope)
    decoded["reply_to"] = reply_to
    return UUID(decoded["drop_id"]), orjson.dumps(decoded)


class InventoryClient(BaseHandler[RawReply]):
    def __init__(self, producer: Producer, commands: TopicSpec, instance_id: str) -> None:
        self._producer = producer
        self._commands = commands
        self.instance_id = instance_id
        self._key = instance_id.encode()
        self._waiting: dict[str, asyncio.Future[RawReply]] = {}
        self.on_late_reply: LateReply | None = None
        self.on_ask: Callable[[], None] | None = None  # a reply is expected soon

    def mine(self, record: ConsumerRecord) -> bool:
        """Replies are keyed by ``reply_to``: only this process's are decoded."""
        return bool(record.key == self._key)

    async def send(self, drop_id: UUID, envelope: bytes) -> None:
        await self._producer.send(Outgoing(self._commands, drop_id, envelope))

    async def ask(self, command_id: UUID, drop_id: UUID, envelope: bytes,
                  timeout_s: float) -> RawReply | None:
        """Send and wait for the reply; None on timeout (the reply may still come). A
        command already asked for by this process is not sent again: its askers share
        the one reply (one key sent many times at once)."""
        key = str(command_id)
        if self.on_ask is not None:
            self.on_ask()
        shared = self._waiting.get(key)
        if shared is not None and not shared.done():
            try:
                async with asyncio.timeout(timeout_s):
                    return await asyncio.shield(shared)
            except TimeoutError:
                return None
        future: asyncio.Future[RawReply] = asyncio.get_running_loop().create_future()
        self._waiting[key] = future
        try:
            async with asyncio.timeout(timeout_s):
                await self.send(drop_id, envelope)
                return await asyncio.shield(future)
        except TimeoutError:
            return None
        finally:
            if self._waiting.get(key) is future:
                del self._waiting[key]

    async def handle(self, partition: int, batch: Sequence[Delivered[RawReply]]) -> None:
        for delivered in batch:
            reply = delivered.message
            if reply.get("reply_to") != self.instance_id:
                continue
            future = self._waiting.pop(reply["command_id"], None)
            if future is not None and not future.done():
                future.set_result(reply)
            elif self.on_late_reply is not None:
                await self.on_late_reply(reply)
