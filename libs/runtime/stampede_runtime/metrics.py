"""Metrics every consumer and producer shares (Prometheus, process-wide registry)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
batch_seconds = Histogram(
    "stampede_batch_seconds",
    "Time to handle one partition batch",
    ["topic"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)

# -- HTTP (every service: ``http.RequestMiddleware``, and the gateway's front door) ----------
http_requests = Counter(
    "stampede_http_requests_total", "HTTP answers by route template, method and status",
    ["route", "method", "status"],
)
http_request_seconds = Histogram(
    "stampede_http_request_duration_seconds",
    "HTTP request duration (arrival to the answer's last byte), by route template",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0),
)
