"""Contracts: round trips, strictness, deterministic ids, the topic registry."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from stampede_contracts import (
    ALL_TOPICS,
    CommandEnvelope,
    DropSpec,
    DropStatus,
    EventEnvelope,
    MalformedMessage,
    PurchaseConfirmed,
    Reply,
    ReservationView,
    ReserveStock,
    StockChanged,
    StockLevels,
    Topics,
    command_id_for,
    decode_command,
    decode_event,
    decode_reply,
    encode,
    event_id_for,
    purchase_id_for,
    reservation_id_for,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def _drop(**kw: object) -> DropSpec:
    base: dict[str, object] = {
        "drop_id": uuid.uuid4(), "name": "Air Max", "price_cents": 18000, "total_stock": 40,
    }
    base.update(kw)
    return DropSpec.model_validate(base)


def test_command_envelope_round_trips():
    drop = uuid.uuid4()
    env = CommandEnvelope(
        command_id=uuid.uuid4(), drop_id=drop, occurred_at=NOW, reply_to="gw-1",
        command=ReserveStock(drop_id=drop, user_id=uuid.uuid4(), username="ana", quantity=2),
    )
    back = decode_command(encode(env))
    assert back == env
    assert isinstance(back.command, ReserveStock)


def test_event_envelope_round_trips_each_kind():
    drop = uuid.uuid4()
    for seq, event in enumerate(
        [
            StockChanged(stock=StockLevels(total_stock=3, available=1, held=1, sold=1)),
            PurchaseConfirmed(
                purchase_id=uuid.uuid4(), reservation_id=uuid.uuid4(), user_id=uuid.uuid4(),
                username="bo", quantity=1, amount_cents=100, currency="EUR",
            ),
        ],
        start=1,
    ):
        env = EventEnvelope(
            event_id=event_id_for(drop, seq), drop_id=drop, seq=seq, occurred_at=NOW, event=event
        )
        assert decode_event(encode(env)) == env


def test_reply_round_trips_with_result():
    drop, cmd = uuid.uuid4(), uuid.uuid4()
    reply = Reply(
        command_id=cmd, drop_id=drop, reply_to="gw", ok=True, decided_at=NOW,
        result=ReservationView(
            id=reservation_id_for(cmd), drop_id=drop, user_id=uuid.uuid4(), quantity=1,
            status="active", expires_at=NOW + timedelta(seconds=60),
        ),
    )
    assert decode_reply(encode(reply)) == reply


@pytest.mark.parametrize(
    "raw",
    [None, b"", b"{", b"[]", b'{"command_id": "x"}', b'{"schema_version": 99}'],
)
def test_garbage_is_malformed_not_a_crash(raw):
    with pytest.raises(MalformedMessage):
        decode_command(raw)


def test_newer_schema_version_is_refused():
    drop = uuid.uuid4()
    env = CommandEnvelope(
        command_id=uuid.uuid4(), drop_id=drop, occurred_at=NOW,
        command=ReserveStock(drop_id=drop, user_id=uuid.uuid4(), username="x"),
    )
    raw = encode(env).replace(b'"schema_version":1', b'"schema_version":2')
    with pytest.raises(MalformedMessage, match="schema_version"):
        decode_command(raw)


def test_models_are_frozen_and_strict():
    spec = _drop()
    with pytest.raises(ValidationError):
        spec.name = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        DropSpec.model_validate({**spec.model_dump(), "surprise": 1})
    with pytest.raises(ValidationError):
        _drop(total_stock=-1)
    with pytest.raises(ValidationError):
        _drop(currency="usd")
    with pytest.raises(ValidationError):
        _drop(starts_at=datetime(2026, 1, 1))  # naive timestamps are refused


def test_status_follows_the_clock():
    assert _drop().status_at(NOW) is DropStatus.LIVE
    assert _drop(draft=True).status_at(NOW) is DropStatus.DRAFT
    assert _drop(starts_at=NOW + timedelta(seconds=1)).status_at(NOW) is DropStatus.SCHEDULED
    window = _drop(starts_at=NOW - timedelta(hours=1), ends_at=NOW)
    assert window.status_at(NOW) is DropStatus.ENDED
    assert window.status_at(NOW - timedelta(seconds=1)) is DropStatus.LIVE


def test_ids_are_deterministic_and_distinct():
    user = uuid.uuid4()
    assert command_id_for(user, "k1") == command_id_for(user, "k1")
    assert command_id_for(user, "k1") != command_id_for(user, "k2")
    assert command_id_for(user, "k1") != command_id_for(uuid.uuid4(), "k1")
    drop = uuid.uuid4()
    assert event_id_for(drop, 1) == event_id_for(drop, 1) != event_id_for(drop, 2)
    r = reservation_id_for(uuid.uuid4())
    assert purchase_id_for(r) == purchase_id_for(r) != r


def test_topic_registry_is_complete_and_namespaced():
    names = [t.name for t in ALL_TOPICS]
    assert len(names) == len(set(names))
    assert all(t.partitions >= 1 for t in ALL_TOPICS)
    plain, spaced = Topics.for_namespace(), Topics.for_namespace("t1")
    assert [t.name for t in plain.all()] == names
    assert [t.name for t in spaced.all()] == [f"t1.{n}" for n in names]
    assert spaced.commands.partitions == plain.commands.partitions
