"""Metrics every consumer and producer shares (Prometheus, process-wide registry)."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

messages_consumed = Counter(
    "stampede_messages_consumed_total", "Messages handed to a handler", ["topic", "group"]
)
dead_letters = Counter(
    "stampede_dead_letters_total", "Messages sent to the dead-letter topic", ["topic", "reason"]
)
handler_failures = Counter(
    "stampede_handler_failures_total", "Batches whose handler raised (then retried)", ["topic"]
)
log_lost = Counter(
    "stampede_broker_log_lost_total",
    "Partitions whose stored position was beyond the broker's log end (log lost)",
    ["topic"],
)
consumer_lag = Gauge(
    "stampede_consumer_lag", "High watermark minus position", ["topic", "partition"]
)
fetch_wait_floor_ms = Gauge(
    "stampede_fetch_wait_floor_ms",
    "The least fetch wait of a consumer loop, raised by fetches the broker answered empty"
    " behind the log end (fetch_waits.FetchPacer)",
    ["topic"],
)
fetch_answers = Counter(
    "stampede_fetch_answers_total",
    "Fetch answers a consumer loop's fetcher received, with new data or without",
    ["topic", "data"],
)
batch_seconds = Histogram(
    "stampede_batch_seconds",
    "Time to handle one partition batch",
    ["topic"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)

# -- HTTP (every service: ``http.RequestMiddleware``, and the gateway's front door) ----------
class LabelledHistogram(Collector):
    """A histogram (and, with ``counter``, the counter of the same observations) kept in
    plain Python numbers and turned into Prometheus samples when scraped: recording one
    observation is a dict lookup and three additions (~0.5 µs), not the locks of
    prometheus-client's ``Counter`` + ``Histogram`` (~6 µs), which on the front door was
    a real share of an answer. Observed and scraped on one thread (the event loop)."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str],
                 buckets: Sequence[float], counter: str | None = None,
                 counter_documentation: str = "",
                 registry: CollectorRegistry | None = REGISTRY) -> None:
        self.name, self.documentation = name, documentation
        self.labels = list(labels)
        self.buckets = tuple(float(b) for b in buckets)
        self._les = [str(floatToGoString(b))  # type: ignore[no-untyped-call]
                     for b in (*self.buckets, math.inf)]
        self.counter, self.counter_documentation = counter, counter_documentation
        # labels -> [count, sum, per-bucket counts (not cumulative), the last one +Inf]
        self._series: dict[tuple[str, ...], list[Any]] = {}
        if registry is not None:
            registry.register(self)

    def observe(self, labels: tuple[str, ...], value: float) -> None:
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = [0, 0.0, [0] * (len(self.buckets) + 1)]
        series[0] += 1
        series[1] += value
        series[2][bisect_left(self.buckets, value)] += 1

    def describe(self) -> list[Metric]:
        return list(self._families(False))

    def collect(self) -> list[Metric]:
        return list(self._families(True))

    def _families(self, samples: bool) -> Iterator[Metric]:
        histogram = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        counter = None
        if self.counter is not None:
            counter = CounterMetricFamily(self.counter, self.counter_documentation,
                                          labels=self.labels)
        if samples:
            for labels, (count, total, per_bucket) in list(self._series.items()):
                cumulative, running = [], 0
                for le, n in zip(self._les, per_bucket, strict=True):
                    running += n
                    cumulative.append((le, running))
                histogram.add_metric(list(labels), cumulative, total)
                if counter is not None:
                    counter.add_metric(list(labels), count)
        if counter is not None:
            yield counter
        yield histogram


http_requests = LabelledHistogram(
    "stampede_http_request_duration_seconds",
    "HTTP request duration (arrival to the answer's last byte), by route template",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0),
    counter="stampede_http_requests",
    counter_documentation="HTTP answers by route template, method and status",
)
