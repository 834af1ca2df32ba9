"""The notifier's pure parts: drop state and messages, resume window, coalescing,
rooms and per-client outboxes. No I/O, no clock of their own (``now`` is passed in)."""
