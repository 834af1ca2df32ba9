"""Group commit: the writes of concurrent requests gathered into one statement.

``Batcher(write)`` queues items; while fewer than ``max_flushes`` batches are being written,
a flush starts on the next loop iteration and takes everything queued by then (up to
``max_batch``); whatever arrives meanwhile goes in the next batch. So under load batches
grow by themselves, and at rest an item is written at once. ``write(batch)`` returns one
result per item, in order; ``submit`` returns the item's result once its batch is
written (committed: nothing is acknowledged early). ``write`` may give an exception as one item's
result: that item alone fails. ``post`` queues an item without
waiting for it (write-behind, for what is safe to lose in a crash: the completion of an
idempotency record, whose truth the inventory keeps).

A batch that fails fails each of its waiting items (they answer their requests with the
error); a posted item whose batch fails is logged and dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

Write = Callable[[list[T]], Awaitable[Sequence[R | Exception]]]


class Batcher(Generic[T, R]):
    def __init__(self, write: Write[T, R], *, name: str, max_batch: int = 512,
                 max_flushes: int = 2) -> None:
        self._write = write
        self._name = name
        self._max_batch = max_batch
        self._max_flushes = max_flushes
        self._queue: list[tuple[T, asyncio.Future[R] | None]] = []
        self._flushing = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0  # statements written (for tests and metrics)
        self.items = 0

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._enqueue(item, future)
        return await future

    def post(self, item: T) -> None:
        self._enqueue(item, None)

    def _enqueue(self, item: T, future: asyncio.Future[R] | None) -> None:
        self._queue.append((item, future))
        if self._flushing < self._max_flushes:
            self._flushing += 1
            task = asyncio.get_running_loop().create_task(self._flush())
            self._tasks.add(task)  # runs after this iteration: what comes meanwhile joins
            task.add_done_callback(self._tasks.discard)

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                await self._write_batch(batch)
        finally:
            self._flushing -= 1

    async def _write_batch(self, batch: list[tuple[T, asyncio.Future[R] | None]]) -> None:
        try:
            results = await self._write([item for item, _ in batch])
        except asyncio.CancelledError:  # the waiting requests must not hang
            _fail(batch, RuntimeError(f"{self._name}: write cancelled"))
            raise
        except Exception as exc:
            log.warning("%s: a batch of %d failed: %r", self._name, len(batch), exc)
            _fail(batch, exc)
            return
        self.batches += 1
        self.items += len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if future is None or future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def close(self) -> None:
        """Let the batches in progress finish (nothing new is expected)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _fail(batch: list[tuple[T, asyncio.Future[R] | None]], exc: Exception) -> None:
    for _, future in batch:
        if future is not None and not future.done():
            future.set_exception(exc)
