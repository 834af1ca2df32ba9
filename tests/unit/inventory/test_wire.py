"""The writer's own serialisation (``wire``) is the contracts': the same bytes as
pydantic's ``model_dump_json``, for every shape a decision produces, for any username,
reply address and timestamp."""

from __future__ import annotations

import uuid
from datetime import UTC, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stampede_contracts import (
    BuyNow,
    CancelHold,
    CommandEnvelope,
    ConfirmPurchase,
    CreateDrop,
    DeleteDrop,
    ExpireHolds,
    ReserveStock,
    RestockDrop,
    UpdateDrop,
    decode_event,
    decode_reply,
    ids,
)
from stampede_inventory.adapters.store import outbox_of
from stampede_inventory.wire import dt_json, envelopes_json, reply_json
from stampede_inventory.writer import PartitionWriter

from .builders import DROP, T0, spec

USERS = [uuid.UUID(int=i + 1) for i in range(4)]
CIDS = [uuid.UUID(int=1000 + i) for i in range(30)]

names = st.sampled_from(["u", "ann", 'quo"te', "back\\slash", "tab\there", "new\nline",
                         "ünïcødé", "😀", "\x7f", "a b"]) | st.text(min_size=1, max_size=8)
users = st.sampled_from(USERS)
holds = st.sampled_from([ids.reservation_id_for(c) for c in CIDS])
offsets = st.sampled_from([UTC, timezone(timedelta(hours=2)),
                           timezone(timedelta(hours=-5, minutes=-30))])


def _commands():
    return st.one_of(
        st.builds(ReserveStock, drop_id=st.just(DROP), user_id=users, username=names),
        st.builds(ConfirmPurchase, drop_id=st.just(DROP), user_id=users, username=names,
                  reservation_id=st.none() | holds),
        st.builds(BuyNow, drop_id=st.just(DROP), user_id=users, username=names),
        st.builds(CancelHold, drop_id=st.just(DROP), user_id=users, reservation_id=holds),
        st.builds(ExpireHolds, drop_id=st.just(DROP),
                  as_of=st.integers(0, 9).map(lambda s: T0 + timedelta(seconds=s))),
        st.builds(RestockDrop, drop_id=st.just(DROP), total_stock=st.integers(0, 9)),
        st.just(UpdateDrop(drop=spec(name="renamed", reservation_ttl_seconds=3))),
        st.just(DeleteDrop(drop_id=DROP)),
        st.just(CreateDrop(drop=spec(currency="EUR", reservation_ttl_seconds=3))),
    )


steps = st.lists(st.tuples(st.sampled_from(CIDS), _commands(),
                           st.sampled_from(["gw", "gw-2", "", 'r"t', "r\\t", "ré"]),
                           st.integers(0, 5_000_000)), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps, batch_size=st.integers(1, 6), tz=offsets)
def test_wire_text_is_pydantics(steps, batch_size, tz):
    writer = PartitionWriter(0)
    envelopes = [CommandEnvelope(command_id=uuid.UUID(int=9), drop_id=DROP, occurred_at=T0,
                                 command=CreateDrop(drop=spec(reservation_ttl_seconds=3)))]
    envelopes += [CommandEnvelope(command_id=cid, drop_id=DROP, occurred_at=T0,
                                  reply_to=to or None, command=cmd)
                  for cid, cmd, to, _ in steps]
    micros = [0] + [us for *_, us in steps]
    processed = {}
    for i in range(0, len(envelopes), batch_size):
        now = (T0 + timedelta(microseconds=micros[i])).astimezone(tz)
        batch = writer.decide_batch(envelopes[i:i + batch_size], now, processed)
        outbox = outbox_of(batch)
        expected_events = [e for a in batch.applied for e in a.decision.envelopes()]
        assert [m.json for m in outbox.events] == [e.model_dump_json() for e in expected_events]
        assert [m.key for m in outbox.events] == [str(e.drop_id) for e in expected_events]
        assert [decode_event(m.json.encode()) for m in outbox.events] == expected_events
        assert outbox.decided == [a.reply.model_dump_json() for a in batch.applied]
        sent = [r for r in batch.replies if r.reply_to]
        assert [m.json for m in outbox.replies] == [r.model_dump_json() for r in sent]
        assert [m.key for m in outbox.replies] == [r.reply_to for r in sent]
        assert [decode_reply(m.json.encode()) for m in outbox.replies] == sent
        for a in batch.applied:  # built without validation: what validation would build
            for model in [n.event for n in a.decision.events] + [a.reply]:
                again = type(model).model_validate(model.model_dump())
                assert again == model and again.model_dump_json() == model.model_dump_json()
        writer.commit(batch)
        processed.update({a.envelope.command_id: a.reply for a in batch.applied})


def test_envelopes_without_a_cause_and_dates_as_pydantic_writes_them():
    d = PartitionWriter(0).decide_batch(
        [CommandEnvelope(command_id=uuid.uuid4(), drop_id=DROP, occurred_at=T0,
                         command=CreateDrop(drop=spec()))], T0, {}).applied[0].decision
    wire = envelopes_json(DROP, d.events, T0, None)
    assert wire == [e.model_copy(update={"causation_id": None}).model_dump_json()
                    for e in d.envelopes()]
    for at in (T0, T0.replace(microsecond=120_000), T0.replace(microsecond=7),
               T0.astimezone(timezone(timedelta(hours=9)))):
        assert dt_json(at) == f'"{at.astimezone(UTC).isoformat().replace("+00:00", "Z")}"'


def writer_with_drop() -> PartitionWriter:
    writer = PartitionWriter(0)
    writer.commit(writer.decide_batch(
        [CommandEnvelope(command_id=uuid.uuid4(), drop_id=DROP, occurred_at=T0,
                         command=CreateDrop(drop=spec()))], T0, {}))
    return writer


def test_reply_json_falls_back_to_pydantic_for_what_it_does_not_template():
    writer = writer_with_drop()
    batch = writer.decide_batch([CommandEnvelope(
        command_id=uuid.uuid4(), drop_id=DROP, occurred_at=T0, reply_to="gw",
        command=RestockDrop(drop_id=DROP, total_stock=9))], T0, {})
    reply = batch.applied[0].reply.model_copy(update={"detail": "why"})
    assert reply_json(reply) == reply.model_dump_json()
    assert reply_json(batch.applied[0].reply) == batch.applied[0].reply.model_dump_json()
