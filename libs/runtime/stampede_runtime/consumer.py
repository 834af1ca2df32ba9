"""The one consumer loop. Every service's consumer is this loop plus a handler.

The loop fetches, hands each partition's batch to the handler (``delivery``: decoded; a
malformed message is dead-lettered, never passed on), and only then records progress:
the handler may store its position in its own database (the inventory and
orders do, in the same transaction as their state) and the loop also commits it
to Kafka for visibility. Two modes:

- group mode (``group_id``): partitions are shared by the group; on assignment
  the handler tells where to resume; on revocation the batch in hand is finished
  first (the processing lock) and the handler lets go.
- broadcast mode (no ``group_id``): this process reads every partition (the
  notifier and the gateway's drop view).

By default the partitions of one fetch are handled one after another. With
``concurrent_partitions=True`` (the inventory) they are handled at the same time, one
task per partition, so each partition's order is kept, and all under the lock a
revocation waits for.

A stored position beyond the broker's log end means the broker lost its log
(the embedded broker keeps it in memory). tansu answers such a fetch with no
error and no data, so the loop compares positions with the fetch's high
watermark when a partition is idle, logs, counts, and lets the handler decide
where to go (by default: the start of the new log).

What becomes of one partition's fetched records is ``delivery``'s: ``select`` (optional)
looks at each record before it is decoded (a gateway decodes only its own replies), a
malformed message is dead-lettered, the handler's failures are retried and a poison
message isolated, and with a ``span_name`` (the inventory's ``inventory decide``, orders'
``orders project``, the notifier's ``notifier push``) each traced message gets a consumer
span.

A broadcast loop may read more topics in the same fetches (``also``: each a
``Subscription`` with its own decoder, handler and start): one fetch request instead of
one per topic, which is what a fetch costs the broker.

How long a fetch may wait is paced (``fetch_waits``): short while messages flow or are
expected (``expect()``), long once nothing came for a while, and never below a floor
that fetches answered empty behind the log end raised (``StarvedFetches``); at the broker
(Apache Kafka), or, for the embedded broker, mostly in the client (``FetchPauses``).
Every fetch answer is counted, with new data or without
(``stampede_fetch_answers_total``): the fetches a hold costs the broker.

How a group loop shares its partitions with the other processes of its service is its
``Membership`` (``membership``): a dynamic group, static membership or fixed slots.

The handler's side of the contract (``Delivered``, ``PartitionHandler``, ``BaseHandler``)
is in ``handlers``.

``ready`` means the loop is deciding: it holds its partitions (a group member: its first
assignment came, possibly empty) and has caught up with the log end as it was when they
were assigned. A revocation clears it until the next assignment has caught up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord
from stampede_contracts import TopicSpec

from . import metrics
from .dead_letters import DeadLetterSink
from .delivery import Delivery, Subscription
from .errors import RetryPolicy
from .fetch_waits import FetchPacer, FetchPauses, FetchWaits, StarvedFetches, set_fetch_wait
from .handlers import PartitionHandler
from .kafka_config import KafkaConnection
from .membership import Membership

log = logging.getLogger(__name__)
DEFAULT_POLICY = RetryPolicy()

T = TypeVar("T")


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: ConsumerLoop[object]) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._loop._revoke(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._loop._assign(assigned)


class ConsumerLoop(Generic[T]):
    def __init__(
        self,
        *,
        bootstrap_servers: str | KafkaConnection,
        topic: TopicSpec,
        decode: Callable[[bytes | None], T],
        handler: PartitionHandler[T],
        dead_letters: DeadLetterSink,
        group_id: str | None = None,
        client_id: str = "stampede",
        from_beginning: bool = True,
        max_records: int = 500,
        policy: RetryPolicy = DEFAULT_POLICY,
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 1_000,
        membership: Membership | None = None,
        fetch_waits: FetchWaits = FetchWaits(),
        concurrent_partitions: bool = False,
        select: Callable[[ConsumerRecord], bool] | None = None,
        partitions: Callable[[list[int]], list[int]] | None = None,
        also: Sequence[Subscription[Any]] = (),
        span_name: str | None = None,
    ) -> None:
        if also and group_id is not None:
            raise ValueError("a group's loop reads one topic; 'also' is for broadcast loops")
        if partitions is not None and group_id is not None:
            raise ValueError("a group shares out the partitions; 'partitions' is for the others")
        self._connection = KafkaConnection.of(bootstrap_servers)
        self._topic = topic
        self._subs: dict[str, Subscription[Any]] = {
            sub.topic.name: sub
            for sub in (Subscription(topic, decode, handler, select, from_beginning,
                                     partitions), *also)
        }
        self._delivery = Delivery(dead_letters, policy, span_name, group_id or "-")
        self._group_id = group_id
        self._client_id = client_id
        self._max_records = max_records
        self._membership = membership or Membership(
            session_timeout_ms=session_timeout_ms, heartbeat_interval_ms=heartbeat_interval_ms)
        # a group shared by the broker's coordinator (not slots, not broadcast)
        self._grouped = group_id is not None and self._membership.mode != "slots"
        self._waits = fetch_waits
        self._pacer = FetchPacer(fetch_waits)
        answers = (metrics.fetch_answers.labels(topic.name, "no"),
                   metrics.fetch_answers.labels(topic.name, "yes"))
        self.pauses = FetchPauses(lambda: self._pacer.pause_s(time.monotonic()),
                                  short_s=fetch_waits.busy_ms / 1000,
                                  counted=lambda new: answers[new].inc())
        self._floor_shown = 0  # the floor the metric shows
        self._starving = StarvedFetches()
        self._concurrent = concurrent_partitions
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()
        self._assigned: set[TopicPartition] = set()
        self._last_idle_check = 0.0
        self._behind: dict[TopicPartition, int | None] = {}  # log ends to reach
        self._assignments = 0
        self.started = asyncio.Event()
        self.caught_up = asyncio.Event()

    @property
    def ready(self) -> bool:
        """Deciding: it holds its partitions and has caught up (see the module docstring)."""
        return self.started.is_set() and self.caught_up.is_set()

    @property
    def assigned(self) -> frozenset[int]:
        """The partitions of the (first) topic this loop holds."""
        return frozenset(tp.partition for tp in self._assigned if tp.topic == self._topic.name)

    def expect(self) -> None:
        """Messages flow or are expected soon: fetch with the short wait for a while."""
        self._pacer.expect(time.monotonic())
        self._pace()
        self.pauses.wake()

    def _pace(self) -> None:
        if self._consumer is not None:
            set_fetch_wait(self._consumer, self._pacer.broker_wait_ms(time.monotonic()))
            if self._pacer.floor_ms != self._floor_shown:
                self._floor_shown = self._pacer.floor_ms
                metrics.fetch_wait_floor_ms.labels(self._topic.name).set(self._floor_shown)

    async def run(self) -> None:
        """Consume until cancelled. Never returns on a bad message."""
        consumer = AIOKafkaConsumer(**self.client_kwargs())
        self._consumer = consumer
        await consumer.start()
        self.pauses.install(consumer)  # counts answers; pauses only if client-paced
        try:
            await self._subscribe(consumer)
            self.started.set()
            while True:
                # a few fetch waits, so a starved fetch is looked at (StarvedFetches) soon
                timeout_ms = min(200, max(20, 4 * self._pacer.wait_ms(time.monotonic())))
                batches = await consumer.getmany(timeout_ms=timeout_ms,
                                                 max_records=self._max_records)
                if sum(map(len, batches.values())) < self._max_records:  # none left buffered
                    await self._check_starved(consumer, batches)
                if batches:
                    self.expect()
                else:
                    self._pace()
                async with self._lock:
                    work = [(tp, records) for tp, records in batches.items()
                            if tp in self._assigned and records]
                    if self._concurrent and len(work) > 1:
                        await self._process_concurrently(consumer, work)
                    else:
                        for tp, records in work:
                            await self._process(consumer, tp, records)
                    await self._check_idle(consumer, set(batches))
                    if self._behind or not self.caught_up.is_set():
                        await self._check_caught_up(consumer)
        finally:
            self.started.clear()
            self.caught_up.clear()
            try:
                self._prepare_leave(consumer)
                await consumer.stop()
            finally:
                self._consumer = None

    async def _check_starved(self, consumer: AIOKafkaConsumer,
                             batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """Raise the fetch wait's floor if the broker starved a partition (``fetch_waits``)."""
        starved = await self._starving.look(consumer, batches)
        if starved is not None:
            floor = self._pacer.starved(time.monotonic())
            if floor is not None:
                tp, behind = starved
                log.warning("%s: the broker answered %s[%d] with nothing, %d behind its log"
                            " end; fetches now wait at least %d ms (the embedded broker lists"
                            " a partition's whole log on each fetch)", self._topic.name,
                            tp.topic, tp.partition, behind, floor)

    def client_kwargs(self) -> dict[str, Any]:
        """What the aiokafka consumer is made with (unit-tested: TLS, SASL, the group)."""
        m = self._membership
        return dict(
            **self._connection.aiokafka_kwargs(),
            group_id=self._group_id if self._grouped else None,
            group_instance_id=m.instance_id if self._grouped and m.mode == "static" else None,
            client_id=self._client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest" if self._subs[self._topic.name].from_beginning
            else "latest",
            session_timeout_ms=m.session_timeout_ms,
            heartbeat_interval_ms=m.heartbeat_interval_ms,
            max_poll_interval_ms=60_000,
            fetch_max_wait_ms=self._pacer.broker_wait_ms(time.monotonic()),
            metadata_max_age_ms=5_000,
        )

    def _prepare_leave(self, consumer: AIOKafkaConsumer) -> None:
        """A graceful stop leaves the group at once, so the partitions move now rather than
        when the session expires. aiokafka leaves for a dynamic member, not for a static
        one (KIP-345: a restart within the session needs no rebalance); with
        ``leave_on_stop`` a static one leaves too. Its LeaveGroup then names its member id
        (aiokafka has no v3 LeaveGroup with the instance id), which Apache Kafka and tansu
        both accept. Called right before ``stop()``, which closes the coordinator before
        any other task runs, so no join goes out without the instance id."""
        coordinator = getattr(consumer, "_coordinator", None)
        m = self._membership
        if coordinator is not None and self._grouped and m.mode == "static" and m.leave_on_stop:
            coordinator._group_instance_id = None

    async def _subscribe(self, consumer: AIOKafkaConsumer) -> None:
        if self._grouped:
            consumer.subscribe([self._topic.name], listener=_Rebalance(self))  # type: ignore[arg-type]
            return
        tps: list[TopicPartition] = []
        for name, sub in self._subs.items():
            partitions = consumer.partitions_for_topic(name)
            while not partitions:
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(name)
                if not partitions:
                    await asyncio.sleep(0.2)
            if self._group_id is not None:  # slots: this slot's share
                partitions = {p for p in partitions if self._membership.owns(p)}
            chosen = sorted(partitions)
            if sub.partitions is not None:
                chosen = sorted(set(sub.partitions(chosen)) & partitions)
            tps += [TopicPartition(name, p) for p in chosen]
        consumer.assign(tps)
        await self._assign(tps)

    async def _assign(self, tps: list[TopicPartition]) -> None:
        consumer = self._consumer
        assert consumer is not None
        for name, sub in self._subs.items():
            partitions = sorted(tp.partition for tp in tps if tp.topic == name)
            if not partitions:
                continue
            positions = await sub.handler.on_assigned(partitions)
            for p in partitions:
                tp = TopicPartition(name, p)
                if p in positions:
                    consumer.seek(tp, positions[p])
                elif not self._grouped:
                    if sub.from_beginning:
                        await consumer.seek_to_beginning(tp)
                    else:
                        await consumer.seek_to_end(tp)
            log.info("%s: assigned partitions %s", name, partitions)
        self._assigned.update(tps)
        self._last_idle_check = 0.0  # look for a lost log at the first idle moment
        self._assignments += 1
        self._behind.update(dict.fromkeys(tps))  # their log ends: the first fetch tells
        self.caught_up.clear()

    async def _check_caught_up(self, consumer: AIOKafkaConsumer) -> None:
        """``caught_up`` once every assigned partition's position reached the log end of
        the first fetch after its assignment (no extra request: a new assignment has no
        high watermark until it is fetched). A position beyond it (a lost log) counts: the
        idle check sees to that. A group member assigned nothing is caught up at once."""
        if self._grouped and not self._assignments:
            return  # no assignment yet: the group has not formed
        for tp, end in list(self._behind.items()):
            if tp not in self._assigned:
                del self._behind[tp]
                continue
            high = consumer.highwater(tp)
            if high is None:
                continue  # not fetched yet
            if end is None:
                self._behind[tp] = end = high
            if await consumer.position(tp) >= end:  # (fetched: the position is known)
                del self._behind[tp]
        if not self._behind and not self.caught_up.is_set():
            self.caught_up.set()
            log.info("%s: caught up with partitions %s", self._topic.name, sorted(
                tp.partition for tp in self._assigned if tp.topic == self._topic.name))

    async def _revoke(self, tps: list[TopicPartition]) -> None:
        self.caught_up.clear()  # not deciding until the next assignment caught up
        async with self._lock:  # the batch in hand finishes first
            self._assigned.difference_update(tps)
            for tp in tps:
                self._behind.pop(tp, None)
            for name, sub in self._subs.items():
                partitions = sorted(tp.partition for tp in tps if tp.topic == name)
                await sub.handler.on_revoked(partitions)
                log.info("%s: revoked partitions %s", name, partitions)

    async def _process(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[ConsumerRecord]
    ) -> None:
        await self._delivery.deliver(self._subs[tp.topic], tp.partition, records)
        next_offset = records[-1].offset + 1
        if self._grouped:
            try:
                await consumer.commit({tp: next_offset})
            except Exception as exc:  # the handler's own store is the source of truth
                log.warning("kafka commit failed for %s: %r", tp, exc)
        high = consumer.highwater(tp)
        if high is not None:
            metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(
                max(0, high - next_offset)
            )

    async def _process_concurrently(
        self, consumer: AIOKafkaConsumer, work: list[tuple[TopicPartition, list[ConsumerRecord]]]
    ) -> None:
        """``concurrent_partitions``: the batches of different partitions are handled at
        the same time (one task per partition, so each partition's order is kept), all
        under the processing lock: a revocation still waits for every batch in hand. One
        partition's database round trips then overlap another's CPU work. Every task is
        finished before an error is raised, so none runs on outside the lock."""
        results = await asyncio.gather(
            *(self._process(consumer, tp, records) for tp, records in work),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _check_idle(self, consumer: AIOKafkaConsumer, busy: set[TopicPartition]) -> None:
        now = time.monotonic()
        if now - self._last_idle_check < 1.0:
            return
        self._last_idle_check = now
        for tp in sorted(self._assigned - busy):
            high = consumer.highwater(tp)
            if high is None:
                continue
            position = await consumer.position(tp)
            metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(
                max(0, high - position))
            if position > high:
                metrics.log_lost.labels(topic=tp.topic).inc()
                target = await self._subs[tp.topic].handler.on_log_lost(
                    tp.partition, position, high)
                log.error(
                    "%s[%d]: position %d is beyond the log end %d: the broker lost its log; "
                    "continuing at %d", tp.topic, tp.partition, position, high, target,
                )
                consumer.seek(tp, target)
