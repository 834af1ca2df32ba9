"""Waiting for the system to converge (read models and screens follow decisions)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T]], timeout_s: float = 20.0, every_s: float = 0.2
) -> T:
    """Await ``check`` until it returns something true, and return that; fail after
    ``timeout_s`` naming the check (its docstring says what was awaited)."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            what = check.__doc__ or getattr(check, "__name__", repr(check))
            raise AssertionError(f"not true within {timeout_s}s: {what}")
        await asyncio.sleep(every_s)
