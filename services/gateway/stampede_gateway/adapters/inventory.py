"""Request-reply with the inventory over Kafka.

Commands go to ``topics.commands`` keyed by drop id with ``reply_to`` = this process's
instance id. Every gateway process reads every partition of ``topics.replies`` (the one
consumer loop in broadcast mode), skips the replies keyed for other processes *before*
decoding them, and decodes its own as plain JSON (``decode_reply_json``): the order path
reads four fields of a reply, so no model is built. A waiting request is woken through a
future keyed by command id. A reply nobody waits for any more (its request was answered
202) goes to ``on_late_reply``.

An ask never outlasts its timeout, the send to the broker included (a broker that is away
makes it a timeout, as an owner that is away does). Whether drops' owners answer is seen
from the asks themselves, at no cost: a drop is *silent* when an ask about it has waited
longer than the reply timeout and no reply about it came since (``silent``; the
gateway's readiness says so). A silent drop is forgotten after ``FORGET_SILENT_S`` (a
command lost with the broker's log is never answered).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from stampede_contracts import SCHEMA_VERSION, MalformedMessage, TopicSpec
from stampede_runtime import tracing
from stampede_runtime.handlers import BaseHandler, Delivered
from stampede_runtime.producer import KeyPartitioner, Outgoing, Producer

log = logging.getLogger(__name__)

RawReply = dict[str, Any]
LateReply = Callable[[RawReply], Awaitable[None]]
FORGET_SILENT_S = 60.0  # as long as a late reply is awaited (order_path.LATE_REPLY_S)


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
                     reply_to: str, now: datetime,
                     trace: dict[str, str] | None = None) -> bytes:
    """A ``CommandEnvelope`` as JSON (the command already validated at the edge);
    ``trace``: the W3C fields of the span sending it (``tracing.carrier()``)."""
    return orjson.dumps({
        "schema_version": SCHEMA_VERSION, "command_id": command_id, "drop_id": drop_id,
        "occurred_at": now, "reply_to": reply_to, "trace": trace or {}, "command": command,
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
        # drop id -> when the first ask about it since its last reply was made
        self._unanswered: dict[str, float] = {}

    def mine(self, record: ConsumerRecord) -> bool:
        """Replies are keyed by ``reply_to``: only this process's are decoded."""
        return bool(record.key == self._key)

    def my_partitions(self, partitions: list[int]) -> list[int]:
        """The one partition of the replies topic the inventory sends this process's
        replies to: their key (``reply_to``) is hashed as every Kafka producer does.
        Reading only it spares the broker a partition per fetch for each of the others
        (tansu answers a fetch's partitions one after the other within its wait)."""
        return [KeyPartitioner()(self._key, partitions, partitions)]

    async def send(self, drop_id: UUID, envelope: bytes) -> None:
        """Tracing on: the current span's context goes in the message's headers."""
        await self._producer.send(Outgoing(self._commands, drop_id, envelope,
                                           tracing.headers()))

    def silent(self, after_s: float) -> list[str]:
        """The drops whose owner has not answered an ask for longer than ``after_s``."""
        now = time.monotonic()
        for drop, since in list(self._unanswered.items()):
            if now - since > FORGET_SILENT_S:
                del self._unanswered[drop]
        return [drop for drop, since in self._unanswered.items() if now - since > after_s]

    async def ask(self, command_id: UUID, drop_id: UUID, envelope: bytes,
                  timeout_s: float) -> RawReply | None:
        """Send and wait for the reply; None on timeout (the reply may still come). A
        command already asked for by this process is not sent again: its askers share
        the one reply (one key sent many times at once)."""
        key = str(command_id)
        if self.on_ask is not None:
            self.on_ask()
        self._unanswered.setdefault(str(drop_id), time.monotonic())
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
                try:
                    await self.send(drop_id, envelope)
                except KafkaError as exc:  # not sent: the outcome URL sends it again
                    log.warning("command %s not sent: %r", key, exc)
                    return None
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
            self._unanswered.pop(str(reply.get("drop_id")), None)  # its owner answers
            future = self._waiting.pop(reply["command_id"], None)
            if future is not None and not future.done():
                future.set_result(reply)
            elif self.on_late_reply is not None:
                await self.on_late_reply(reply)
