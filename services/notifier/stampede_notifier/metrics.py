"""The notifier's own metrics (the consumer loop's are in stampede_runtime.metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

connections = Gauge("stampede_notifier_connections", "Open WebSocket connections")
connections_rejected = Counter(
    "stampede_notifier_connections_rejected_total",
    "Connections refused at the door", ["reason"],
)
messages_sent = Counter(
    "stampede_notifier_messages_sent_total", "Messages written to client sockets"
)
messages_coalesced = Counter(
    "stampede_notifier_messages_coalesced_total",
    "State messages merged into a newer one before fan-out",
)
slow_clients_dropped = Counter(
    "stampede_notifier_slow_clients_dropped_total",
    "Clients closed with 4008 because their queue overflowed",
)
queue_updates_ignored = Counter(
    "stampede_notifier_queue_updates_ignored_total",
    "Waiting-room updates older than the figures held, or about a deleted drop",
)
held_clients = Gauge(
    "stampede_notifier_held_clients",
    "Clients served one at a time (socket backed up, or catching up after a resume)",
)
duplicate_events = Counter(
    "stampede_notifier_duplicate_events_total", "Republished events ignored (drop_id, seq)"
)
replayed = Counter(
    "stampede_notifier_replayed_messages_total", "Messages sent on resume", ["kind"]
)
fanout_seconds = Histogram(
    "stampede_notifier_fanout_seconds",
    "Time to hand one batch of a drop's messages to every client of its room",
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
direct_writes = Counter(
    "stampede_notifier_direct_writes_total",
    "Payloads written by the shared fan-out (one per ready socket and fan-out)",
)
