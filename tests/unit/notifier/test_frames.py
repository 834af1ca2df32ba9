"""WebSocket frames: a message's pre-built frame is a valid RFC 6455 server text frame;
the client frame reader takes what clients may send and refuses the rest."""

from __future__ import annotations

import json
import struct
import uuid

import pytest
from stampede_notifier.adapters.frames import (
    BINARY,
    CLOSE,
    PING,
    TEXT,
    FrameError,
    close_code_of,
    close_frame,
    read_frames,
)
from stampede_notifier.domain.messages import Message, MessageType
from websockets.speedups import apply_mask


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


def client_frame(opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True,
                 rsv: int = 0) -> bytes:
    mask = b"\x01\x02\x03\x04"
    size = len(payload)
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    marker = 0x80 if masked else 0
    if size < 126:
        head += bytes([marker | size])
    elif size < 1 << 16:
        head += bytes([marker | 126]) + struct.pack("!H", size)
    else:
        head += bytes([marker | 127]) + struct.pack("!Q", size)
    if not masked:
        return head + payload
    return head + mask + apply_mask(payload, mask)


def test_read_frames_takes_whole_frames_and_leaves_the_rest():
    data = (client_frame(TEXT, b"ping") + client_frame(PING, b"hi")
            + client_frame(TEXT, b"x" * 300) + client_frame(CLOSE, struct.pack("!H", 1000)))
    buffer = bytearray(data[:-3])
    frames = read_frames(buffer, 1024)
    assert frames == [(TEXT, b"ping"), (PING, b"hi"), (TEXT, b"x" * 300)]
    buffer += data[-3:]
    [(opcode, payload)] = read_frames(buffer, 1024)
    assert opcode == CLOSE and close_code_of(payload) == 1000 and buffer == bytearray()


@pytest.mark.parametrize(("frame", "code"), [
    (client_frame(TEXT, b"ping", masked=False), 1002),
    (client_frame(TEXT, b"ping", rsv=0x40), 1002),
    (client_frame(PING, b"x" * 126), 1002),
    (client_frame(PING, b"x", fin=False), 1002),
    (client_frame(0x3, b""), 1002),
    (client_frame(BINARY, b"x" * 2000), 1009),
])
def test_read_frames_refuses_what_no_client_may_send(frame, code):
    with pytest.raises(FrameError) as caught:
        read_frames(bytearray(frame), 1024)
    assert caught.value.code == code


def test_control_frames():
    frame = close_frame(4008, "slow consumer")
    assert frame[0] == 0x88 and frame[1] == len(frame) - 2
    assert close_code_of(frame[2:]) == 4008 and frame[4:] == b"slow consumer"
    assert close_code_of(b"") is None
