"""The notifier serves its AsyncAPI document, and what it really sends over the WebSocket
matches it: a message of every kind of event, the queue figures and a snapshot, each
validated against the served document's payload schema of its type."""

from __future__ import annotations

import uuid

import httpx
import jsonschema_rs
import pytest
import websockets
from stampede_contracts import HoldExpired

from .conftest import purchase, receive_until, ws_url

pytestmark = pytest.mark.integration


async def test_the_served_document_describes_every_message_sent(feed, notifier):
    proc = await notifier(STOCK_UPDATES_PER_SECOND="0", RECENT_WINDOW="2")
    async with httpx.AsyncClient(base_url=proc.url, timeout=10) as client:
        r = await client.get("/asyncapi.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    doc = r.json()
    assert doc["asyncapi"] == "3.0.0"
    assert doc["servers"]["notifier"]["host"] == f"127.0.0.1:{proc.port}"
    schemas = {name: m["payload"] for name, m in doc["components"]["messages"].items()}

    drop = await feed.new_drop(10)
    got: list[dict] = []
    async with websockets.connect(ws_url(proc, drops=drop.drop_id, since=0)) as ws:
        got += await receive_until(ws, lambda g: len(g) >= 1)  # DROP_CREATED
        await drop.stock(9)
        await drop.send(purchase("ana"))
        await drop.send(HoldExpired(reservation_id=uuid.uuid4(), user_id=uuid.uuid4(),
                                    quantity=1))
        await drop.update("Dunk Low Retro")
        await drop.queue(serving=2, issued=5)
        # the events and the queue figures are two topics: no order between them
        live = set(schemas) - {"ping", "pong", "SNAPSHOT", "DROP_DELETED"}
        got += await receive_until(ws, lambda g: live <= {m["type"] for m in got + g})
    # a client far behind (the window holds 2 messages) gets a SNAPSHOT
    async with websockets.connect(ws_url(proc, drops=drop.drop_id, since=1)) as ws:
        got += await receive_until(ws, lambda g: "SNAPSHOT" in {m["type"] for m in g})
    async with websockets.connect(ws_url(proc, drops=drop.drop_id)) as ws:
        await drop.delete()
        got += await receive_until(ws, lambda g: "DROP_DELETED" in {m["type"] for m in g})
    kinds = {m["type"] for m in got}
    assert kinds == set(schemas) - {"ping", "pong"}, kinds  # every type, from the wire
    for message in got:
        errors = [e.message for e in
                  jsonschema_rs.Draft7Validator(schemas[message["type"]]).iter_errors(message)]
        assert errors == [], (message, errors)
