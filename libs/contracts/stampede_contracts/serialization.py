"""Bytes on the wire: UTF-8 JSON of the envelopes, keys as UTF-8 strings.

``decode_*`` raise ``MalformedMessage`` (never a pydantic or JSON error), which
is what a consumer loop catches to dead-letter a message.
"""

from __future__ import annotations

from typing import TypeVar
from uuid import UUID

from pydantic import BaseModel, ValidationError

from .envelope import SCHEMA_VERSION, CommandEnvelope, EventEnvelope
from .queue import QueueUpdated
from .replies import Reply

M = TypeVar("M", bound=BaseModel)


class MalformedMessage(ValueError):
    """A message that is not valid JSON of the expected envelope and version."""


def encode(message: BaseModel) -> bytes:
    return message.model_dump_json().encode()


def encode_key(value: UUID | str) -> bytes:
    return str(value).encode()


def _decode(model: type[M], raw: bytes | None) -> M:
    if raw is None:
        raise MalformedMessage("empty message")
    try:
        decoded = model.model_validate_json(raw)
    except ValidationError as exc:
        raise MalformedMessage(f"invalid {model.__name__}: {exc.error_count()} error(s): "
                               f"{exc.errors()[0]['msg']}") from None
    version = getattr(decoded, "schema_version", SCHEMA_VERSION)
    if version > SCHEMA_VERSION:
        raise MalformedMessage(f"schema_version {version} is newer than {SCHEMA_VERSION}")
    return decoded


def decode_command(raw: bytes | None) -> CommandEnvelope:
    return _decode(CommandEnvelope, raw)


def decode_event(raw: bytes | None) -> EventEnvelope:
    return _decode(EventEnvelope, raw)


def decode_reply(raw: bytes | None) -> Reply:
    return _decode(Reply, raw)


def decode_queue_update(raw: bytes | None) -> QueueUpdated:
    return _decode(QueueUpdated, raw)
