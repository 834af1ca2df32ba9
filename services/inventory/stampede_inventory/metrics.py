"""The inventory's own metrics (the consumer loop adds lag, batches and dead letters)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

decisions = Counter(
    "stampede_inventory_decisions_total", "Commands decided, by command and outcome",
    ["command", "outcome"],
)
batch_size = Histogram(
    "stampede_inventory_batch_size", "Commands per committed batch",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000),
)
commit_seconds = Histogram(
    "stampede_inventory_commit_seconds", "Time of one batch transaction (state + offset + outbox)",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
publish_seconds = Histogram(
    "stampede_inventory_publish_seconds", "Time to publish a batch's events and replies",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
holds_active = Gauge("stampede_inventory_holds_active", "Active holds in the owned partitions")
oversell_violations = Gauge(
    "stampede_inventory_oversell_violations",
    "Owned drops whose available + held + sold != total or with a negative count (must be 0)",
)
redecided = Counter(
    "stampede_inventory_batches_redecided_total",
    "Batches decided again: a command in them had been decided before (a re-sent id)",
)
partitions_owned = Gauge("stampede_inventory_partitions_owned", "Command partitions owned")
fenced = Counter(
    "stampede_inventory_fenced_total",
    "Batches refused because another writer claimed the partition",
)
misrouted = Counter(
    "stampede_inventory_misrouted_total", "Commands whose key or drop ids disagree (dead-lettered)"
)
expiries_sent = Counter("stampede_inventory_expiries_sent_total", "ExpireHolds commands produced")
