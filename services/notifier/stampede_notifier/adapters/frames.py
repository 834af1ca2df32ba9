"""WebSocket frames (RFC 6455) a server reads from clients and its control frames.

Clients only ever send small things (the text ``ping``, pongs, close), so the reader
is minimal: it checks what the RFC requires of a client frame (masked, no reserved
bits, control frames short and whole, a size limit) and hands back (opcode, payload)
pairs; the connection decides what to do with them. Data frames that are not the
whole text ``ping`` are read and ignored.
"""

from __future__ import annotations

import struct

from websockets.speedups import apply_mask

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
CONTROL = frozenset({CLOSE, PING, PONG})
KNOWN = CONTROL | {CONTINUATION, TEXT, BINARY}

PROTOCOL_ERROR = 1002
TOO_BIG = 1009


class FrameError(Exception):
    """The client broke the protocol; close the connection with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def read_frames(buffer: bytearray, max_size: int) -> list[tuple[int, bytes]]:
    """Take every whole frame off the front of ``buffer`` (what is left is an
    incomplete frame); raise ``FrameError`` on a frame no client may send."""
    frames: list[tuple[int, bytes]] = []
    while len(buffer) >= 2:
        first, second = buffer[0], buffer[1]
        opcode, length, start = first & 0x0F, second & 0x7F, 2
        if first & 0x70:
            raise FrameError(PROTOCOL_ERROR, "reserved bits set")
        if opcode not in KNOWN:
            raise FrameError(PROTOCOL_ERROR, "unknown opcode")
        if not second & 0x80:
            raise FrameError(PROTOCOL_ERROR, "client frames must be masked")
        if opcode in CONTROL and (length > 125 or not first & 0x80):
            raise FrameError(PROTOCOL_ERROR, "bad control frame")
        if length == 126:
            if len(buffer) < 4:
                break
            length, start = struct.unpack_from("!H", buffer, 2)[0], 4
        elif length == 127:
            if len(buffer) < 10:
                break
            length, start = struct.unpack_from("!Q", buffer, 2)[0], 10
        if length > max_size:
            raise FrameError(TOO_BIG, "message too big")
        end = start + 4 + length
        if len(buffer) < end:
            break
        payload = apply_mask(bytes(buffer[start + 4:end]), bytes(buffer[start:start + 4]))
        frames.append((opcode, payload))
        del buffer[:end]
    return frames


def _frame(opcode: int, payload: bytes) -> bytes:
    return bytes((0x80 | opcode, len(payload))) + payload  # control frames: < 126 bytes


def close_frame(code: int, reason: str = "") -> bytes:
    return _frame(CLOSE, struct.pack("!H", code) + reason.encode()[:120])


def close_code_of(payload: bytes) -> int | None:
    """The code of a client's close frame (None: it gave none)."""
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None


def pong_frame(payload: bytes) -> bytes:
    return _frame(PONG, payload)


PING_FRAME = _frame(PING, b"stampede")
PONG_TEXT_FRAME = _frame(TEXT, b"pong")
"""The answer to the text ``ping`` browsers send (they cannot send protocol pings)."""
