"""Owned background tasks: started in a lifespan, cancelled and awaited on the way out.

A task that dies unexpectedly is logged with its trace and marks the owner
unhealthy (``healthy`` turns false), so /readyz tells and an orchestrator restarts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class TaskOwner:
    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[Any]] = []
        self.failed: list[str] = []

    def start(self, name: str, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._on_done)
        self._tasks.append(task)
        return task

    def _on_done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.failed.append(task.get_name())
            log.error("background task %s died", task.get_name(), exc_info=exc)

    @property
    def healthy(self) -> bool:
        return not self.failed

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
