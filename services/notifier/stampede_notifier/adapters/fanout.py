"""The fan-out's write: the same bytes to many sockets, with no Python per socket.

``write_all`` runs ``os.write`` over a list of descriptors through ``map`` (the loop
and the calls stay in C), so a fan-out's cost is the kernel's send on each socket and
little else. A socket that does not take the payload whole (its buffer is full,
EAGAIN, or the connection broke) stops nothing: the loop resumes after it, and the
caller gets the index and how much was written, to hand the rest to that socket's
transport.

The caller makes sure every descriptor is still its connection's (``Hub._write_ready``
checks the transports first): uvloop closes a descriptor on a read error before the
connection hears of it, and the kernel may give the number to a new socket meanwhile.
"""

from __future__ import annotations

import os
from itertools import repeat


def write_all(fds: list[int], payload: bytes) -> list[tuple[int, int]]:
    """Write ``payload`` to each of ``fds``; ``(index, bytes written)`` of those that did
    not take it whole (0 written on an error), in order."""
    results: list[int] = []
    writes = map(os.write, fds, repeat(payload))
    while True:
        try:
            results.extend(writes)  # stops at the first error; the map resumes after it
            break
        except OSError:
            results.append(0)
    size = len(payload)
    if results.count(size) == len(results):
        return []
    return [(i, written) for i, written in enumerate(results) if written != size]
