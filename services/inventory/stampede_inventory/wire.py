"""The JSON of what the writer publishes and stores, made once per message.

A batch's event envelopes and replies are serialised ONCE: the same text is the
``processed`` row's reply, part of the outbox row (a JSON array of them) and, after
the commit, the bytes sent to Kafka. Building an ``EventEnvelope`` per event and
``model_dump_json`` on each, twice or three times, was about half of a batch's
Python time.

The frequent shapes (the events and replies of reservations and purchases) are
written from templates; anything else, and any string that would need escaping, goes
through pydantic. Either way the text is exactly ``model.model_dump_json()`` of the
contract model (the same bytes; tests/unit/inventory/test_wire.py checks it against
pydantic for every shape), so consumers decode it with the contracts as before.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

from pydantic import TypeAdapter
from stampede_contracts import (
    HoldCancelled,
    HoldExpired,
    PurchaseConfirmed,
    PurchaseView,
    Reply,
    ReservationRejected,
    ReservationView,
    StockChanged,
    StockReserved,
)
from stampede_contracts.common import UtcDatetime
from stampede_contracts.ids import event_id_text

from .domain.decide import Numbered

_DATETIME: TypeAdapter[datetime] = TypeAdapter(UtcDatetime)
_dt_cache: dict[datetime, str] = {}


def dt_json(value: datetime) -> str:
    """A timestamp as pydantic writes a ``UtcDatetime`` (quoted). A batch has a handful
    of distinct ones (its ``now``, ``now + ttl``), so they are cached."""
    text = _dt_cache.get(value)
    if text is None:
        if value.tzinfo is None:
            raise ValueError("timestamps must carry a timezone")
        if len(_dt_cache) >= 4096:
            _dt_cache.clear()
        text = _DATETIME.dump_json(value.astimezone(UTC)).decode()
        _dt_cache[value] = text
    return text


def _plain(text: str) -> bool:
    """True when ``text`` is written as it is inside JSON quotes (no escaping)."""
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def _q(text: str) -> str | None:
    return f'"{text}"' if _plain(text) else None


def _event_json(event: Any) -> str:
    """``event.model_dump_json()``, from a template for the frequent events."""
    kind = type(event)
    if kind is StockChanged:
        s = event.stock
        return (f'{{"type":"StockChanged","stock":{{"total_stock":{s.total_stock},'
                f'"available":{s.available},"held":{s.held},"sold":{s.sold}}}}}')
    if kind is StockReserved:
        name = _q(event.username)
        if name is not None:
            return (f'{{"type":"StockReserved","reservation_id":"{event.reservation_id}",'
                    f'"user_id":"{event.user_id}","username":{name},'
                    f'"quantity":{event.quantity},"expires_at":{dt_json(event.expires_at)}}}')
    elif kind is PurchaseConfirmed:
        name, currency = _q(event.username), _q(event.currency)
        if name is not None and currency is not None:
            return (f'{{"type":"PurchaseConfirmed","purchase_id":"{event.purchase_id}",'
                    f'"reservation_id":"{event.reservation_id}","user_id":"{event.user_id}",'
                    f'"username":{name},"quantity":{event.quantity},'
                    f'"amount_cents":{event.amount_cents},"currency":{currency}}}')
    elif kind is ReservationRejected:
        return (f'{{"type":"ReservationRejected","user_id":"{event.user_id}",'
                f'"code":"{event.code.value}","quantity":{event.quantity}}}')
    elif kind is HoldExpired or kind is HoldCancelled:
        return (f'{{"type":"{kind.__name__}","reservation_id":"{event.reservation_id}",'
                f'"user_id":"{event.user_id}","quantity":{event.quantity}}}')
    return str(event.model_dump_json())


def envelopes_json(
    drop_id: UUID, events: tuple[Numbered, ...], at: datetime, cause: UUID | None,
    trace: str = "{}",
) -> list[str]:
    """The ``EventEnvelope`` JSON of a decision's events (ids: ``event_id_for``);
    ``trace``: the JSON of the W3C fields they carry (the decision's span's)."""
    tail = f'","drop_id":"{drop_key(drop_id)}","seq":'
    occurred = f',"occurred_at":{dt_json(at)},"causation_id":'
    occurred += f'"{cause}"' if cause is not None else "null"
    occurred += f',"trace":{trace},"event":'
    return [
        f'{{"schema_version":1,"event_id":"{event_id_text(drop_id, n.seq)}{tail}{n.seq}'
        f"{occurred}{_event_json(n.event)}}}"
        for n in events
    ]


@lru_cache(maxsize=4096)
def drop_key(drop_id: UUID) -> str:
    """A drop id as text (the events' Kafka key and a field of each of them)."""
    return str(drop_id)


def _result_json(result: Any) -> str | None:
    kind = type(result)
    if kind is ReservationView:
        return (f'{{"kind":"reservation","id":"{result.id}","drop_id":"{drop_key(result.drop_id)}",'
                f'"user_id":"{result.user_id}","quantity":{result.quantity},'
                f'"status":"{result.status.value}","expires_at":{dt_json(result.expires_at)}}}')
    if kind is PurchaseView:
        currency = _q(result.currency)
        if currency is not None:
            return (f'{{"kind":"purchase","id":"{result.id}",'
                    f'"drop_id":"{drop_key(result.drop_id)}",'
                    f'"reservation_id":"{result.reservation_id}","user_id":"{result.user_id}",'
                    f'"quantity":{result.quantity},"amount_cents":{result.amount_cents},'
                    f'"currency":{currency},"created_at":{dt_json(result.created_at)}}}')
    return None


def reply_json(reply: Reply) -> str:
    """``reply.model_dump_json()``, from a template for the frequent replies."""
    to = _q(reply.reply_to)
    if reply.detail is None and reply.schema_version == 1 and to is not None:
        if reply.result is None:
            result: str | None = "null"
        else:
            result = _result_json(reply.result)
        if result is not None:
            code = f'"{reply.code.value}"' if reply.code is not None else "null"
            seq = "null" if reply.seq is None else int(reply.seq)
            return (f'{{"schema_version":1,"command_id":"{reply.command_id}",'
                    f'"drop_id":"{drop_key(reply.drop_id)}","reply_to":{to},'
                    f'"ok":{"true" if reply.ok else "false"},"code":{code},"detail":null,'
                    f'"result":{result},"decided_at":{dt_json(reply.decided_at)},'
                    f'"seq":{seq}}}')
    return str(reply.model_dump_json())
