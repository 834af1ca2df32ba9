"""The notifier's AsyncAPI document: valid AsyncAPI 3.0 (against the specification's own
JSON Schema, ``asyncapi-3.0.0.schema.json``, vendored from asyncapi/spec-json-schemas,
``schemas/3.0.0-without-$id.json``, Apache-2.0), one message per type the code can send,
each with a payload schema its example matches, the query and the close codes; and every
message the notifier's domain builds, of every type, matches its payload schema."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from stampede_notifier.asyncapi import CLOSE_CODES, document, payload
from stampede_notifier.domain.drops import DropBook
from stampede_notifier.domain.messages import Message, MessageType
from stampede_notifier.service import CloseCode

from .helpers import (
    T0,
    created,
    deleted,
    envelope,
    expired,
    purchase,
    queue_update,
    reserved,
    stock,
    updated,
)

SPEC = json.loads((Path(__file__).parent / "asyncapi-3.0.0.schema.json").read_text())


def faults(schema: dict[str, Any], value: Any) -> list[str]:
    return [f"{list(e.instance_path)}: {e.message}"
            for e in jsonschema_rs.Draft7Validator(schema).iter_errors(value)]


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return document("127.0.0.1:8001")


def test_the_document_is_asyncapi_3(doc: dict[str, Any]) -> None:
    assert doc["asyncapi"] == "3.0.0"
    assert faults(SPEC, doc) == []
    broken = json.loads(json.dumps(doc))
    del broken["channels"]["drops"]["address"]
    broken["operations"]["sendDropMessages"]["action"] = "publish"  # AsyncAPI 2's word
    assert faults(SPEC, broken) != []  # the check can fail


def test_every_message_type_the_code_can_send_is_documented(doc: dict[str, Any]) -> None:
    kinds = {str(k) for k in MessageType}
    assert len(kinds) == 9  # DROP_CREATED … QUEUE_UPDATED, SNAPSHOT
    messages = doc["components"]["messages"]
    assert kinds <= set(messages)
    assert kinds <= set(doc["channels"]["drops"]["messages"])
    sent = {m["$ref"].rsplit("/", 1)[1] for m in doc["operations"]["sendDropMessages"]
            ["messages"]}
    assert sent == kinds
    for kind in kinds:
        message = messages[kind]
        assert message["payload"]["properties"]["type"] == {"const": kind}
        assert message["examples"], kind
        for example in message["examples"]:
            assert faults(message["payload"], example["payload"]) == [], kind


def test_the_query_and_the_close_codes_are_documented(doc: dict[str, Any]) -> None:
    channel = doc["channels"]["drops"]
    assert set(channel["bindings"]["ws"]["query"]["properties"]) == {"drops", "since"}
    codes = {c["code"] for c in channel["x-close-codes"]}
    named = {v for k, v in vars(CloseCode).items() if k.isupper()}
    assert named <= codes == set(CLOSE_CODES)
    for code in codes:
        assert f"| {code} |" in channel["description"]


def _every_kind_of_message() -> list[Message]:
    """What the domain builds from every kind of event, queue figures and a snapshot."""
    drop = uuid.uuid4()
    book = DropBook(window=4)
    out: list[Message] = []
    events = [created(drop), stock(9, held=1), reserved(), purchase("ana"), expired(),
              updated(drop, "Renamed", available=8), stock(8), updated(drop, "Again")]
    for seq, event in enumerate(events, start=1):
        out += book.apply(envelope(drop, seq, event)) or []
    out.append(book.apply_queue(queue_update(drop, serving=3, issued=9, second=1)))
    out += book.replay(drop, 1, T0 + timedelta(seconds=2))  # beyond the window: a SNAPSHOT
    out += book.apply(envelope(drop, len(events) + 1, deleted(drop))) or []
    return [m for m in out if m is not None]


def test_every_message_the_domain_builds_matches_its_schema() -> None:
    messages = _every_kind_of_message()
    assert {m.type for m in messages} == set(MessageType)
    for message in messages:
        sent = json.loads(message.text)  # the very text a client receives
        assert faults(payload(message.type), sent) == [], sent


def test_a_message_that_drifts_from_its_schema_fails() -> None:
    message = json.loads(_every_kind_of_message()[0].text)
    message["data"]["colour"] = "red"  # a member the document does not name
    assert faults(payload(MessageType.DROP_CREATED), message) != []
