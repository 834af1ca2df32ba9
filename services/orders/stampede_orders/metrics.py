"""The orders service's own metrics (the consumer loop's are in stampede_runtime)."""

from __future__ import annotations

from prometheus_client import Counter

events_applied = Counter(
    "stampede_orders_events_applied_total", "Inventory events applied to the read model"
)
duplicates_skipped = Counter(
    "stampede_orders_duplicates_skipped_total",
    "Inventory events skipped as already applied (seq not above the drop's last)",
)
purchases_recorded = Counter(
    "stampede_orders_purchases_recorded_total", "Confirmed purchases recorded (new rows)"
)
seq_gaps = Counter(
    "stampede_orders_seq_gaps_total", "Events whose seq skipped ahead of the drop's last + 1"
)
positions_reset = Counter(
    "stampede_orders_positions_reset_total",
    "Stored partition positions reset because the broker lost its log",
)
