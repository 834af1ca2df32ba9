"""How long a consumer loop's fetch may wait at the broker (``FetchWaits``, ``FetchPacer``,
``StarvedFetches``).

Apache Kafka answers a fetch as soon as one byte is there, so a long wait costs nothing.
tansu notices new data only some milliseconds into a fetch's wait (measured alone,
issue 14: ~4 ms median at a 5 ms wait, ~9 ms at 50, ~16 ms at 100) and spends CPU while
a fetch waits (a consumer at 5 ms: ~0.13 cores of the broker and ~0.13 of its own,
whether fetches bring data or not; at 100 ms ~0.04 together). So with tansu the wait is
both a hop's latency and the cost of polling: a loop fetches with the short ``busy_ms``
while messages flow or are expected (``expect()``: a gateway that just sent a command
expects its reply) and with ``idle_ms`` once nothing came for ``idle_after_s``. With
Apache Kafka both may be long.

The floor. tansu (0.6.0, its in-memory store) lists every batch a partition ever held on
each poll of a fetch, ~0.5 µs a batch, and stops listing when the fetch's wait is used
up: the newest batches, the ones a consumer at the log end wants, are the ones cut off
(a fetch's partitions share its wait, one after the other: a late one is cut off first).
Past ~10,000 batches in a partition a 5 ms fetch comes back empty although the log end
is beyond the position, fetch after fetch (a gateway's replies then came only when its
wait went idle, 1.1 s a reserve; ``bench.broker_growth``). Apache Kafka never answers
so. ``StarvedFetches`` finds such answers; ``FetchPacer.starved()`` then doubles the
loop's floor (at most ``max_floor_ms``), below which no wait is paced; the floor halves
again after each ``floor_decay_s`` without such an answer (a storm passed; a log that
keeps growing raises it again).

Who waits (``FetchWaits.pacing``). ``broker`` (Apache Kafka): the fetch waits at the
broker, which answers the moment data is there. tansu instead polls its store while a
fetch waits (at once, then after half the time left, again and again), each poll
~0.15 ms of its CPU: at the log end a 5 ms wait costs it ~0.9 ms, a 100 ms one 1.4 ms
over one partition and 2.4 over eight; a 1 ms wait ~0.55 (a 0 ms wait never delivers:
it lists nothing). With ``client`` the broker waits only the floor (at least
``MIN_BROKER_WAIT_MS``) and the consumer's fetcher pauses the paced wait after an answer
with no new data (``FetchPauses``): cheaper for the broker the more partitions a fetch
names, but slower to deliver (alone, ``bench.broker_waits``: 6.7 ms instead of 3.5 at a
5 ms wait, 54 instead of 15 at 100). So it suits the followers (orders, notifiers);
``idle-client`` lets the broker wait while busy and pauses only once idle, which suits a
loop that is told when data is due (``expect()`` ends an idle pause: the gateway, which
sent a command); the inventory's loop, never told, lets the broker wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

#: who waits for new data: ``broker`` always, ``client`` always, ``idle-client``: the
#: broker while busy, the client once idle (a loop told when data is due: ``expect()``)
Pacing = Literal["client", "broker", "idle-client"]
#: the shortest wait that delivers at tansu (0 ms: it stops listing before the first batch)
MIN_BROKER_WAIT_MS = 1


@dataclass(frozen=True, slots=True)
class FetchWaits:
    busy_ms: int = 5
    idle_ms: int = 100
    idle_after_s: float = 1.0
    max_floor_ms: int = 1_000
    floor_decay_s: float = 10.0
    pacing: Pacing = "client"


class FetchPacer:
    """One loop's fetch wait: ``busy_ms`` until ``idle_after_s`` after messages last came
    or were expected, ``idle_ms`` after that, never below the floor."""

    def __init__(self, waits: FetchWaits) -> None:
        self.waits = waits
        self.floor_ms = 0
        self._busy_until = 0.0
        self._floor_since = 0.0  # when the floor last changed

    def expect(self, now: float) -> None:
        """Messages flow or are expected soon (``now``: time.monotonic())."""
        self._busy_until = now + self.waits.idle_after_s

    def wait_ms(self, now: float) -> int:
        """The paced wait: busy or idle, never below the floor."""
        self._decay(now)
        return max(self._paced_ms(now), self.floor_ms)

    def broker_wait_ms(self, now: float) -> int:
        """What a fetch request asks the broker to wait (its ``max_wait_ms``)."""
        if self._client_paced(now):
            self._decay(now)
            return max(MIN_BROKER_WAIT_MS, self.floor_ms)
        return self.wait_ms(now)

    def pause_s(self, now: float) -> float:
        """How long the fetcher pauses after an answer with no new data (client pacing)."""
        return self._paced_ms(now) / 1000 if self._client_paced(now) else 0.0

    def _paced_ms(self, now: float) -> int:
        return self.waits.busy_ms if now < self._busy_until else self.waits.idle_ms

    def _client_paced(self, now: float) -> bool:
        pacing = self.waits.pacing
        return pacing == "client" or (pacing == "idle-client" and now >= self._busy_until)

    def _decay(self, now: float) -> None:
        """The floor halves after each ``floor_decay_s`` without a starved answer."""
        if self.floor_ms and now - self._floor_since >= self.waits.floor_decay_s:
            self.floor_ms = self.floor_ms // 2 if self.floor_ms // 2 > self.waits.busy_ms else 0
            self._floor_since = now

    def starved(self, now: float) -> int | None:
        """Fetches came back with nothing for a partition whose log end was beyond the
        position: their wait was too short for the broker to list the partition. The
        floor doubles, from the busy wait up (at most ``max_floor_ms``; not from the wait
        in use: an idle wait can starve only in its last polls, when the data came late,
        and the next fetch's first poll gets it); the new floor, or None if it could not
        rise."""
        raised = min(self.waits.max_floor_ms, 2 * max(self.floor_ms, self.waits.busy_ms))
        self._floor_since = now
        if raised <= self.floor_ms:
            return None
        self.floor_ms = raised
        return raised


class StarvedFetches:
    """Finds a partition the broker answered with nothing twice in a row at the same
    position although its log end was beyond it (once can be a race: tansu reads the log
    end after listing). ``look`` right after a ``getmany`` that left nothing buffered:
    ``position`` of a fetched partition returns without suspending, so no answer arrives
    while it looks."""

    def __init__(self) -> None:
        self._polled: dict[TopicPartition, int] = {}  # the last answer judged, by partition
        self._empty_at: dict[TopicPartition, int] = {}  # answered empty behind the end here

    async def look(self, consumer: AIOKafkaConsumer,
                   batches: dict[TopicPartition, list[ConsumerRecord]]
                   ) -> tuple[TopicPartition, int] | None:
        """A starved partition and how far behind its log end it is, or None."""
        found = None
        assigned = consumer.assignment()
        for tp in list(assigned):
            if tp not in assigned:
                continue  # revoked while an earlier position() waited for a reset
            polled = consumer.last_poll_timestamp(tp)  # when its last answer came
            if polled is None or polled == self._polled.get(tp):
                continue  # no answer since the last look
            self._polled[tp] = polled
            high = consumer.highwater(tp)
            if batches.get(tp) or high is None:
                self._empty_at.pop(tp, None)
                continue
            position = await consumer.position(tp)
            assigned = consumer.assignment()  # (position() may have waited)
            if high <= position:
                self._empty_at.pop(tp, None)
            elif self._empty_at.get(tp) != position:
                self._empty_at[tp] = position  # the first empty answer there
            elif found is None:
                del self._empty_at[tp]
                found = (tp, high - position)
        return found


class FetchPauses:
    """Client pacing: the consumer's fetcher pauses ``pause_s()`` after each answer that
    brought no new data, before its next request to that broker. aiokafka's fetcher sends
    one request per broker at a time and sends the next as soon as the last is handled
    (``Fetcher._proc_fetch_request``, which answers whether new data came; checked by a
    test), so the pause is added there, on this consumer's fetcher only. ``wake()`` ends a
    pause longer than ``short_s`` (an idle one): messages are expected now. ``counted``
    is told of every answer, paused after or not (the loop's fetch-answer metric), so it
    is installed on every loop: one that is not client-paced never pauses."""

    def __init__(self, pause_s: Callable[[], float], short_s: float,
                 counted: Callable[[bool], None] | None = None) -> None:
        self._pause_s = pause_s
        self._short_s = short_s
        self._counted = counted  # told of each answer: with new data or not
        self._pausing: asyncio.Future[None] | None = None
        self._long = False
        self.pauses = 0  # how many pauses were taken (seen by tests)

    def install(self, consumer: AIOKafkaConsumer) -> None:
        fetcher = consumer._fetcher
        fetch: Callable[..., Awaitable[bool]] = fetcher._proc_fetch_request

        async def paced(*args: Any) -> bool:
            new = await fetch(*args)
            if self._counted is not None:
                self._counted(new)
            if not new:
                await self._pause()
            return new

        fetcher._proc_fetch_request = paced

    async def _pause(self) -> None:
        pause = self._pause_s()
        if pause <= 0:
            return
        loop = asyncio.get_running_loop()
        self._pausing = waiter = loop.create_future()
        self._long = pause > self._short_s
        timer = loop.call_later(pause, _settle, waiter)
        self.pauses += 1
        try:
            await waiter
        finally:
            timer.cancel()
            self._pausing = None
            self._long = False

    @property
    def idle(self) -> bool:
        """In a pause longer than ``short_s``."""
        return self._pausing is not None and self._long

    def wake(self) -> None:
        """End an idle pause (one longer than ``short_s``); a busy one runs its course."""
        pausing = self._pausing
        if pausing is not None and self._long:
            _settle(pausing)


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def set_fetch_wait(consumer: AIOKafkaConsumer, wait_ms: int) -> None:
    """The wait of the consumer's next fetch requests. aiokafka reads it from its fetcher
    for every request it builds (``Fetcher._fetch_max_wait_ms``; checked by a test)."""
    fetcher = getattr(consumer, "_fetcher", None)
    if fetcher is not None and fetcher._fetch_max_wait_ms != wait_ms:
        fetcher._fetch_max_wait_ms = wait_ms
