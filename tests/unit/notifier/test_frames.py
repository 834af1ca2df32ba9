"""The pre-built WebSocket frame of a message is a valid RFC 6455 server text frame."""

from __future__ import annotations

import json
import struct
import uuid

import pytest
from stampede_notifier.domain.messages import Message, MessageType


@pytest.mark.parametrize("size", [1, 90, 125, 126, 1_000, 65_535, 70_000])
def test_frame_header_and_payload(size):
    m = Message(MessageType.STOCK_UPDATED, uuid.uuid4(), 6, {"pad": "x" * size})
    frame = m.frame
    assert frame[0] == 0x81  # FIN + text
    assert frame[1] & 0x80 == 0  # servers never mask
    length = frame[1] & 0x7F
    start = 2
    if length == 126:
        length, start = struct.unpack("!H", frame[2:4])[0], 4
    elif length == 127:
        length, start = struct.unpack("!Q", frame[2:10])[0], 10
    payload = frame[start:]
    assert len(payload) == length
    assert json.loads(payload) == json.loads(m.text)
    assert json.loads(m.text)["data"]["pad"] == "x" * size
