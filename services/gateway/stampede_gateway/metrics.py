"""The gateway's own metrics (Prometheus; served at /metrics with the shared ones)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

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
