"""The WebSocket as a document a tool can read: AsyncAPI 3.0, served at
``/asyncapi.json`` (API.md "Real time"; the notifier README's protocol).

One channel, ``/ws``, with its query (``drops``, ``since``) as the WebSocket binding's
query schema; every message type of ``domain.messages.MessageType`` with its payload
schema (what ``domain.drops`` builds: the envelope ``{type, drop_id, seq, data}`` and
each type's ``data``, no member left out) and an example; the text ``ping`` a client
may send and the ``pong`` it gets; the close codes of ``service.CloseCode``, with what a
client should do, in the channel's description and as ``x-close-codes``.

Built from the code's own names (message types, close codes, limits), so a type or a
code added there and not here fails the tests that check this document.
"""

from __future__ import annotations

from typing import Any

from .domain.messages import MessageType
from .service import CloseCode

VERSION = "3.0.0"
_DROP = "5f0c6d2e-8a4b-4c61-9d1e-2b7f3a9c8e10"
_AT = "2026-11-27T10:00:05Z"

# -- the payloads' parts (JSON Schema, draft 7: AsyncAPI's schema format) -----------------
_INT = {"type": "integer", "minimum": 0}
_TIME = {"type": "string", "format": "date-time"}
_TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
STOCK = {
    "available_stock": {**_INT, "description": "Pairs anyone may hold now."},
    "total_stock": _INT, "held": {**_INT, "description": "Pairs in active holds."},
    "sold": _INT,
}
DROP = {
    "name": {"type": "string"}, "price_cents": _INT,
    "currency": {"type": "string", "pattern": "^[A-Z]{3}$"}, "total_stock": _INT,
    "status": {"enum": ["draft", "scheduled", "live", "ended"]},
    "starts_at": _TIME_OR_NULL, "ends_at": _TIME_OR_NULL,
    "per_user_limit": {"type": "integer", "minimum": 1},
    "reservation_ttl_seconds": {"type": "integer", "minimum": 1},
}
OCCURRED = {"occurred_at": {**_TIME, "description": "When the inventory decided it."}}
PURCHASER: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "required": ["username", "quantity", "purchased_at"],
    "properties": {"username": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1},
                   "purchased_at": _TIME},
}
LATEST = {"type": "array", "maxItems": 3, "items": PURCHASER,
          "description": "The 3 latest purchases, newest first."}
QUEUE = {
    "serving": {**_INT, "description": "Places up to here are admitted."},
    "waiting": {**_INT, "description": "Places issued and not served yet."},
    "sold_out": {"type": "boolean", "description": "Nothing available, nothing held: stop "
                 "waiting."},
    "issued": {**_INT, "description": "Places handed out so far."},
    "admit_per_s": {"type": "number", "exclusiveMinimum": 0},
    "at": {**_TIME, "description": "When the gateway counted these figures."},
}


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": properties,
            "required": list(properties) if required is None else required}


_DROP_DATA = _object({**DROP, **STOCK, **OCCURRED})
DATA: dict[MessageType, dict[str, Any]] = {
    MessageType.DROP_CREATED: _DROP_DATA,
    MessageType.DROP_UPDATED: _DROP_DATA,
    MessageType.DROP_DELETED: _object(OCCURRED),
    MessageType.STOCK_UPDATED: _object({**STOCK, **OCCURRED}),
    MessageType.PURCHASE_COMPLETED: _object({**PURCHASER["properties"], **OCCURRED}),
    MessageType.ACTIVITY_UPDATED: _object({"latest_purchasers": LATEST, **OCCURRED}),
    MessageType.RESERVATION_EXPIRED: _object({
        "reservation_id": {"type": "string", "format": "uuid"},
        "quantity": {"type": "integer", "minimum": 1}, **OCCURRED}),
    MessageType.QUEUE_UPDATED: _object(QUEUE),
    MessageType.SNAPSHOT: _object({
        "deleted": {"type": "boolean"}, "latest_purchasers": LATEST,
        "drop": _object(DROP), **STOCK, "queue": _object(QUEUE),
    }, required=["deleted", "latest_purchasers"]),
}

SUMMARY: dict[MessageType, str] = {
    MessageType.DROP_CREATED: "A drop was created: the drop and its four stock numbers.",
    MessageType.DROP_UPDATED: "An admin changed the drop (fields, window, restock): the drop "
                              "after the change.",
    MessageType.DROP_DELETED: "The drop was deleted; nothing more comes for it.",
    MessageType.STOCK_UPDATED: "The stock now (may be coalesced: the last one sent always "
                               "equals the stock after the last decision).",
    MessageType.PURCHASE_COMPLETED: "Someone bought: who, how many, when.",
    MessageType.ACTIVITY_UPDATED: "The activity feed: the 3 latest purchases.",
    MessageType.RESERVATION_EXPIRED: "A hold expired; its stock is back (a STOCK_UPDATED "
                                     "follows).",
    MessageType.QUEUE_UPDATED: "The drop's waiting room: who is served, how many wait, sold "
                               "out (a few per second at most).",
    MessageType.SNAPSHOT: "On a resume whose missed messages left the recent window: the "
                          "drop's whole state, standing for everything up to its seq.",
}

_STOCK_EXAMPLE = {"available_stock": 212, "total_stock": 300, "held": 40, "sold": 48}
_DROP_EXAMPLE = {
    "name": "Air Max 1 '86 OG", "price_cents": 17000, "currency": "USD", "total_stock": 300,
    "status": "live", "starts_at": "2026-11-27T10:00:00Z", "ends_at": None,
    "per_user_limit": 1, "reservation_ttl_seconds": 60,
}
_PURCHASER_EXAMPLE = {"username": "sneakerhead_42", "quantity": 1, "purchased_at": _AT}
_QUEUE_EXAMPLE = {"serving": 3400, "waiting": 1200, "sold_out": False, "issued": 4600,
                  "admit_per_s": 50.0, "at": _AT}
EXAMPLE: dict[MessageType, tuple[int, dict[str, Any]]] = {  # (seq, data)
    MessageType.DROP_CREATED: (4, {**_DROP_EXAMPLE, **_STOCK_EXAMPLE, "available_stock": 300,
                                   "held": 0, "sold": 0, "occurred_at": _AT}),
    MessageType.DROP_UPDATED: (412, {**_DROP_EXAMPLE, **_STOCK_EXAMPLE, "occurred_at": _AT}),
    MessageType.DROP_DELETED: (416, {"occurred_at": _AT}),
    MessageType.STOCK_UPDATED: (406, {**_STOCK_EXAMPLE, "occurred_at": _AT}),
    MessageType.PURCHASE_COMPLETED: (400, {**_PURCHASER_EXAMPLE, "occurred_at": _AT}),
    MessageType.ACTIVITY_UPDATED: (401, {"latest_purchasers": [_PURCHASER_EXAMPLE],
                                         "occurred_at": _AT}),
    MessageType.RESERVATION_EXPIRED: (408, {
        "reservation_id": "0b8e4a3c-2f6d-5e71-8a9b-c1d2e3f4a5b6", "quantity": 1,
        "occurred_at": _AT}),
    MessageType.QUEUE_UPDATED: (407, _QUEUE_EXAMPLE),
    MessageType.SNAPSHOT: (406, {"deleted": False, "latest_purchasers": [_PURCHASER_EXAMPLE],
                                 "drop": _DROP_EXAMPLE, **_STOCK_EXAMPLE,
                                 "queue": _QUEUE_EXAMPLE}),
}

#: every close code: (when, what the client should do)
CLOSE_CODES: dict[int, tuple[str, str]] = {
    CloseCode.GOING_AWAY: ("the notifier is shutting down", "reconnect with `since`, to any "
                           "process"),
    CloseCode.RESTARTING: ("the server is restarting", "reconnect with `since`, to any process"),
    CloseCode.POLICY: ("`Origin` not in ALLOWED_ORIGINS", "not retry"),
    CloseCode.PING_TIMEOUT: ("the keepalive ping was not answered", "reconnect with `since`"),
    CloseCode.TRY_AGAIN_LATER: ("MAX_CONNECTIONS reached", "retry later, with backoff"),
    CloseCode.SLOW_CONSUMER: ("slow consumer: its queue of messages overflowed",
                              "reconnect with `since`"),
    CloseCode.BAD_REQUEST: ("malformed `drops` or `since`", "fix the URL"),
    CloseCode.TOO_MANY_FROM_IP: ("MAX_CONNECTIONS_PER_IP reached", "retry later"),
    1002: ("a frame no client may send", "fix the client"),
    1009: ("a frame larger than WS_MAX_MESSAGE_BYTES", "fix the client"),
}


def payload(kind: MessageType) -> dict[str, Any]:
    """The JSON Schema of a whole message of this type."""
    return _object({
        "type": {"const": str(kind)},
        "drop_id": {"type": "string", "format": "uuid"},
        "seq": {**_INT, "description": "Rises per drop, with gaps: resume with `since=<seq>`."},
        "data": DATA[kind],
    })


def _message(kind: MessageType) -> dict[str, Any]:
    seq, data = EXAMPLE[kind]
    return {
        "name": str(kind), "title": str(kind).replace("_", " ").capitalize(),
        "summary": SUMMARY[kind], "contentType": "application/json", "payload": payload(kind),
        "examples": [{"name": str(kind).lower(), "payload": {
            "type": str(kind), "drop_id": _DROP, "seq": seq, "data": data}}],
    }


def _close_codes() -> str:
    rows = "\n".join(f"| {code} | {when} | {then} |"
                     for code, (when, then) in sorted(CLOSE_CODES.items()))
    return f"| code | when | the client should |\n|---|---|---|\n{rows}"


DESCRIPTION = """Real time for Stampede's screens: each drop's stock as it falls, its
purchases, its activity feed, its changes and its waiting room, pushed to every follower.

Every message is one JSON text `{"type", "drop_id", "seq", "data"}`. `seq` rises per drop
(with gaps); a client that reconnects (to any notifier process) with `since=<seq>` gets
what it missed, compacted (every event, the latest of each state), or one `SNAPSHOT` when
that has left the recent window, then the latest `QUEUE_UPDATED`, then the live stream,
with no duplicate and no gap. `since=0` gets the drop's current state at once.
"""


def document(host: str = "localhost:8001", *, max_drops: int = 100) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the WebSocket served on ``host``."""
    kinds = list(MessageType)
    refs = {str(k): {"$ref": f"#/components/messages/{k}"} for k in kinds}
    return {
        "asyncapi": VERSION,
        "id": "urn:stampede:notifier",
        "info": {"title": "Stampede notifier (WebSocket)", "version": "0.1.0",
                 "description": DESCRIPTION,
                 "externalDocs": {"description": "The HTTP API (OpenAPI)",
                                  "url": "http://localhost:8000/docs"}},
        "defaultContentType": "application/json",
        "servers": {"notifier": {"host": host, "protocol": "ws",
                                 "description": "One of any number of notifier processes; "
                                                "a client may resume on any of them."}},
        "channels": {
            "drops": {
                "address": "/ws", "title": "The drops followed",
                "description": "`/ws?drops=<id>,<id>&since=<seq>`. Close codes:\n\n"
                               + _close_codes(),
                "servers": [{"$ref": "#/servers/notifier"}],
                "messages": {**refs, "ping": {"$ref": "#/components/messages/ping"},
                             "pong": {"$ref": "#/components/messages/pong"}},
                "bindings": {"ws": {"method": "GET", "bindingVersion": "0.1.0", "query": {
                    "type": "object", "additionalProperties": False,
                    "properties": {
                        "drops": {"type": "string", "description":
                                  f"Comma-separated drop ids to follow (at most {max_drops});"
                                  " absent: every drop, new ones included.",
                                  "examples": [_DROP]},
                        "since": {"type": "string", "pattern":
                                  r"^(\d+|[0-9a-fA-F-]{36}:\d+(,[0-9a-fA-F-]{36}:\d+)*)$",
                                  "description": "Resume: one seq for every drop followed, or "
                                  "`<drop_id>:<seq>,...`; `0`: the current state at once.",
                                  "examples": ["412", f"{_DROP}:412"]},
                    }}}},
                "x-close-codes": [{"code": code, "when": when, "then": then}
                                  for code, (when, then) in sorted(CLOSE_CODES.items())],
            },
        },
        "operations": {
            "sendDropMessages": {
                "action": "send", "channel": {"$ref": "#/channels/drops"},
                "title": "The notifier pushes each followed drop's messages",
                "messages": [{"$ref": f"#/channels/drops/messages/{k}"} for k in kinds],
            },
            "receivePing": {
                "action": "receive", "channel": {"$ref": "#/channels/drops"},
                "title": "A client (a browser cannot send protocol pings) sends `ping`",
                "messages": [{"$ref": "#/channels/drops/messages/ping"}],
                "reply": {"channel": {"$ref": "#/channels/drops"},
                          "messages": [{"$ref": "#/channels/drops/messages/pong"}]},
            },
        },
        "components": {"messages": {
            **{str(k): _message(k) for k in kinds},
            "ping": {"name": "ping", "contentType": "text/plain", "summary": "The text ping.",
                     "payload": {"const": "ping"}, "examples": [{"payload": "ping"}]},
            "pong": {"name": "pong", "contentType": "text/plain", "summary": "The text pong.",
                     "payload": {"const": "pong"}, "examples": [{"payload": "pong"}]},
        }},
    }
