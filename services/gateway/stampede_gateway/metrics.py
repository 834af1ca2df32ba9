"""The gateway's own metrics (Prometheus; served at /metrics with the shared ones)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge
from stampede_runtime.metrics import LabelledHistogram

order_answers = Counter(
    "stampede_gateway_order_answers_total",
    "Order-path answers by operation, status and how they were decided",
    ["operation", "status", "by"],  # by: view (at once), inventory, replay, pending
)
reply_timeouts = Counter(
    "stampede_gateway_reply_timeouts_total", "Requests answered 202: no reply in time"
)
late_replies = Counter(
    "stampede_gateway_late_replies_total", "Replies recorded after their request got a 202"
)
waiting_room_tickets = Counter(
    "stampede_gateway_waiting_room_tickets_total", "Places given in a drop's queue (503/302)"
)
waiting_rooms_in_use = Gauge(
    "stampede_gateway_waiting_rooms_in_use", "Drops whose queue has buyers waiting (last tick)"
)
reply_seconds = LabelledHistogram(  # a plain prometheus Histogram costs ~4 µs an answer
    "stampede_gateway_reply_seconds",
    "Order-path latency: the request's arrival to its answer decided, by operation and how",
    ["operation", "by"],
    buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 5.0),
)
waiting_room_depth = Gauge(
    "stampede_gateway_waiting_room_depth",
    "Buyers waiting in a drop's queue (issued - serving) at this process's last tick",
    ["drop_id"],
)
waiting_room_admit_per_s = Gauge(
    "stampede_gateway_waiting_room_admit_per_s", "A drop's configured admission rate",
    ["drop_id"],
)
waiting_room_admitted = Counter(
    "stampede_gateway_waiting_room_admitted_total",
    "Buyers let through a drop's gate by this process (direct: at once; ticket: admitted)",
    ["drop_id", "via"],
)

_answers: dict[tuple[str, int, str], tuple[Counter, tuple[str, str]]] = {}


def answered(operation: str, status: int, by: str, seconds: float) -> None:
    """Count an order-path answer and its latency (the labelled series cached)."""
    key = (operation, status, by)
    pair = _answers.get(key)
    if pair is None:
        pair = _answers[key] = (order_answers.labels(operation, status, by), (operation, by))
    pair[0].inc()
    reply_seconds.observe(pair[1], seconds)
