"""How a group loop shares its partitions with the other processes of its service is its
``Membership`` (docs/recovery.md: what each broker supports, and which deployment uses
which): a dynamic Kafka consumer group, KIP-345 static membership (``group.instance.id``
= the process's stable instance id), or fixed slots (no group coordinator: slot ``i`` of
``n`` reads the partitions ``p % n == i`` from the moment it starts; a restarted slot
decides again as soon as it has loaded its state). A graceful stop leaves the group at
once (``leave_on_stop``), static members included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

MembershipMode = Literal["dynamic", "static", "slots"]
_ORDINAL = re.compile(r"(\d+)$")


def slot_of(instance_id: str | None) -> int:
    """The slot a stable instance id names: its trailing number (``inventory-2`` -> 2, a
    StatefulSet pod's ordinal), 0 when it has none (``orders``)."""
    match = _ORDINAL.search(instance_id or "")
    return int(match.group(1)) if match else 0


@dataclass(frozen=True, slots=True)
class Membership:
    """How a group loop shares its topic's partitions (see the module docstring).

    ``dynamic``: a consumer group, a new member at each start; a dead member's partitions
    move once the broker sees its session expire. ``static``: KIP-345, ``group.instance.id``
    = ``instance_id``; a member restarted under its id within the session gets its
    partitions back with no rebalance. ``slots``: no coordinator at all; slot
    ``slot_of(instance_id)`` of ``slots`` reads the partitions ``p % slots == slot``; every
    slot must run (a restarted one takes its partitions back at once) and the handler's own
    fence (the inventory's epoch) keeps two processes of one slot from both writing."""

    mode: MembershipMode = "dynamic"
    instance_id: str | None = None
    slots: int = 1
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 1_000
    leave_on_stop: bool = True  # static members (dynamic ones always leave)

    def __post_init__(self) -> None:
        if self.mode == "static" and not self.instance_id:
            raise ValueError("static membership needs a stable instance id")
        if self.mode == "slots" and not 0 <= slot_of(self.instance_id) < self.slots:
            raise ValueError(f"instance {self.instance_id!r} names slot "
                             f"{slot_of(self.instance_id)}, not one of 0..{self.slots - 1}")

    def owns(self, partition: int) -> bool:
        """In ``slots`` mode: whether this slot reads ``partition``."""
        return partition % self.slots == slot_of(self.instance_id)
